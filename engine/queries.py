"""Facade methods that serve the web UI's pages (users administration, case lists, access checks).

``Callgov`` inherits them; each method is still one use case in one transaction through
``self._tx()`` or ``self.db.reading()``. Administration is checked here, in the engine, as well as
by the web UI: only holders of the ``admin`` role manage users, and every change is audited.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine import audit
from engine import definitions as defs
from engine import users as people
from engine.access import case_viewer_roles, may_do_task, may_view_case
from engine.breach_evidence import case_subjects, cases_about
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.facade_parts import FacadeParts
from engine.forms import FormSpec
from engine.models import (
    DefinitionVersion,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
    TaskHistory,
    User,
)
from engine.models.throttle import SignInThrottle

if TYPE_CHECKING:
    from engine.facade import InstanceView, Person

ACCESS_ACTIONS = frozenset({"user.login", "user.login_failed", "user.logout", "access.denied"})
"""The audit actions ``record_access`` accepts from the web UI."""

INBOX_SORTS = {
    "due": (HumanTask.due_order, HumanTask.created_at, HumanTask.id),
    "oldest": (HumanTask.created_at, HumanTask.id),
    "newest": (HumanTask.created_at.desc(), HumanTask.id.desc()),
    "case": (HumanTask.case_ref, HumanTask.created_at, HumanTask.id),
}
"""Inbox orderings by name: due soonest (tasks without a due date last), oldest, newest, case."""

CANCELLERS = frozenset({"dpo", "admin"})
INBOX_PAGE = 50
"""Tasks per inbox page."""
MANY_CANDIDATES = 2000
"""Above this many candidate tasks the inbox walks the sort index and probes each task's candidates;
below it, it filters the user's tasks first and sorts the few it found."""
"""Roles that may cancel any case they can act on (besides the person who started it)."""


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failed sign-ins within ``window`` lock a key, and for how long."""

    max_failures: int
    window: timedelta
    lockout: timedelta


@dataclass(frozen=True)
class SignInResult:
    """The outcome of a sign-in: the user, or nobody (with ``locked_until`` when throttled)."""

    user: people.UserView | None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class InboxItem:
    """One row of "My tasks"."""

    id: str
    case_ref: str
    process_id: str
    process_name: str
    title: str
    case_started_by: str
    started_by_name: str
    created_at: datetime
    due_at: datetime | None
    assignee: str | None
    claimed_by: str | None

    def overdue(self, now: datetime) -> bool:
        """Whether the due date has passed at ``now``."""
        return self.due_at is not None and self.due_at < now


@dataclass(frozen=True)
class Inbox:
    """A page of "My tasks", with the processes to filter by and the time it was read."""

    items: tuple[InboxItem, ...]
    more: bool
    processes: tuple[tuple[str, str], ...]
    now: datetime
    page: int = 1


@dataclass(frozen=True)
class CaseSummary:
    """One row of "My requests": a case and its state."""

    case_ref: str
    process_id: str
    process_name: str
    status: str
    current_step: str
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class Answer:
    """One submitted value of a completed task, labelled from the task's form."""

    label: str
    value: Any
    type: str


@dataclass(frozen=True)
class TimelineEntry:
    """A completed step of a case with its answers labelled, for the case page."""

    title: str
    actor: str
    at: datetime
    outcome: str
    note: str | None
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class CasePage:
    """What the case page shows someone allowed to see the case, and what they may do there."""

    case: InstanceView
    timeline: tuple[TimelineEntry, ...]
    my_task_ids: tuple[str, ...]
    may_cancel: bool


@dataclass(frozen=True)
class TaskConflict:
    """Why a task can no longer be done: ``done`` (by whom, when), ``claimed`` (by whom) or ``gone``."""

    kind: str
    by: str | None = None
    at: datetime | None = None


class QueriesMixin(FacadeParts):
    """Read models and administration use cases for the web UI (mixed into ``Callgov``)."""

    account_throttle = ThrottlePolicy(max_failures=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
    """Failed sign-ins to one account that lock it for a while (whoever tries)."""
    address_throttle = ThrottlePolicy(max_failures=20, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
    """Failed sign-ins from one client address (an office shares one) that lock that address."""

    # -- signing in ------------------------------------------------------------------------------

    def sign_in(self, username: str, password: str, *, address: str | None) -> SignInResult:
        """Check a password, throttled per account and per client address, and audit the attempt.

        While an account or address is locked the password is not even checked. A success clears
        the account's failures (not the address's: one good account must not reset guessing at
        others from the same place). The slow password check runs outside the write transaction,
        so sign-ins never hold the database's write lock for it; attempts already in flight when a
        lock starts are still counted.
        """
        name = username.strip().lower()[:80]
        keys = {f"account:{name}": self.account_throttle, f"address:{_address_key(address)}": self.address_throttle}
        actor = name if people.USERNAME.fullmatch(name) else "unknown"
        detail: dict[str, Any] = {"address": address or "unknown", "username": name}
        with self.db.reading() as s:
            locks = [until for until in s.scalars(select(SignInThrottle.locked_until).where(
                SignInThrottle.key.in_(keys), SignInThrottle.locked_until > self.clock.now())) if until]
            row = None if locks else s.scalars(select(User).where(User.username == name)).first()
            user = people.view_of(row) if not locks and people.verify_password(row, password) and row else None
            reason = "locked" if locks else "no such user" if row is None else \
                "disabled" if not row.active else "wrong password"
        with self._tx() as s:
            now = self.clock.now()
            if user is not None:
                s.execute(delete(SignInThrottle).where(SignInThrottle.key == f"account:{name}"))
                audit.record(s, action="user.login", actor=name, at=now, detail={"address": detail["address"]})
                return SignInResult(user)
            audit.record(s, action="user.login_failed", actor=actor, at=now, detail={**detail, "reason": reason})
            if locks:
                return SignInResult(None, max(locks))
            until = [_count_failure(_throttle_row(s, key, now), policy, now) for key, policy in keys.items()]
            s.execute(delete(SignInThrottle).where(SignInThrottle.expires_at < now))
            locked_now = [u for u in until if u is not None]
            return SignInResult(None, max(locked_now) if locked_now else None)

    def user_for_session(self, username: str, session_epoch: int) -> people.UserView | None:
        """The signed-in user of a web session, or None if they are gone, disabled or signed out everywhere."""
        with self.db.reading() as s:
            row = s.scalars(select(User).where(User.username == username.strip().lower())).first()
            if row is None or not row.active or row.session_epoch != session_epoch:
                return None
            return people.view_of(row)

    def record_access(self, action: str, *, actor: str, detail: Mapping[str, Any] | None = None,
                      case_ref: str | None = None, task_id: str | None = None) -> None:
        """Audit a sign-out or a refused page (``ACCESS_ACTIONS``); ``actor`` is a username or ``anonymous``."""
        if action not in ACCESS_ACTIONS:
            raise InvalidInput(f"'{action}' is not an access event", {"action": "unknown"})
        with self._tx() as s:
            audit.record(s, action=action, actor=actor or "anonymous", case_ref=case_ref, task_id=task_id,
                         detail=detail, at=self.clock.now())

    # -- administering users ---------------------------------------------------------------------

    def list_users(self, *, actor: str) -> list[people.UserView]:
        """Every user, by username (administrators only)."""
        with self.db.reading() as s:
            self._require_admin(s, actor)
            return [people.view_of(u) for u in s.scalars(select(User).order_by(User.username))]

    def managed_user(self, username: str, *, actor: str) -> people.UserView:
        """One user, for an administrator's page about them."""
        with self.db.reading() as s:
            self._require_admin(s, actor)
            return people.view_of(people.find_user(s, username))

    def create_user(self, username: str, *, actor: str, roles: Iterable[str], password: str,
                    display_name: str = "", email: str | None = None,
                    job_title: str | None = None) -> people.UserView:
        """Add a user with roles and a first password (administrators only; audited ``user.added``)."""
        with self._tx() as s:
            self._require_admin(s, actor)
            row = people.add_user(s, username, roles=roles, password=password, now=self.clock.now(),
                                  display_name=display_name, email=email or None, job_title=job_title or None)
            audit.record(s, action="user.added", actor=actor, at=self.clock.now(),
                         detail={"username": row.username, "roles": sorted(row.role_names)})
            return people.view_of(row)

    def set_user_roles(self, username: str, roles: Iterable[str], *, actor: str) -> people.UserView:
        """Give and take roles (administrators only; audited ``user.roles_changed``)."""
        with self._tx() as s:
            admin = self._require_admin(s, actor)
            row = people.find_user(s, username)
            before = row.role_names
            wanted = set(people.check_roles(roles))
            if row.username == admin.username and "admin" not in wanted:
                raise InvalidInput("You cannot take the administrator role from yourself; ask another "
                                   "administrator", {"roles": "keep admin"})
            people.set_roles(row, wanted)
            s.flush()
            after = row.role_names
            if after != before:
                audit.record(s, action="user.roles_changed", actor=admin.username, at=self.clock.now(),
                             detail={"username": row.username, "added": sorted(after - before),
                                     "removed": sorted(before - after)})
            return people.view_of(row)

    def set_user_active(self, username: str, active: bool, *, actor: str) -> people.UserView:
        """Disable a user (signing them out everywhere) or enable them again; audited."""
        with self._tx() as s:
            admin = self._require_admin(s, actor)
            row = people.find_user(s, username)
            if row.username == admin.username and not active:
                raise InvalidInput("You cannot disable your own account", {"active": "yourself"})
            if row.active != active:
                row.active = active
                if not active:
                    row.session_epoch += 1
                audit.record(s, action="user.enabled" if active else "user.disabled", actor=admin.username,
                             at=self.clock.now(), detail={"username": row.username})
            return people.view_of(row)

    def sign_out_everywhere(self, username: str, *, actor: str) -> people.UserView:
        """End every session of a user (an administrator, or the user themselves); audited."""
        with self._tx() as s:
            person = self._active_user(s, actor)
            if person.username != username.strip().lower() and "admin" not in person.role_names:
                raise PermissionDenied("Only an administrator can sign someone else out")
            row = people.find_user(s, username)
            row.session_epoch += 1
            audit.record(s, action="user.signed_out_everywhere", actor=person.username, at=self.clock.now(),
                         detail={"username": row.username})
            return people.view_of(row)

    def set_password(self, username: str, password: str, *, actor: str) -> people.UserView:
        """Give a user a new password, signing them out everywhere and lifting any sign-in lock on the
        account; audited ``user.password_set``.

        ``actor`` is an administrator, the user themselves, or a ``system:`` actor (an operator's
        command line, which already has the server).
        """
        with self._tx() as s:
            if not actor.startswith("system:"):
                person = self._active_user(s, actor)
                if person.username != username.strip().lower() and "admin" not in person.role_names:
                    raise PermissionDenied("Only an administrator can set someone else's password")
            row = people.find_user(s, username)
            people.set_password(row, password)
            s.execute(delete(SignInThrottle).where(SignInThrottle.key == f"account:{row.username}"))
            audit.record(s, action="user.password_set", actor=actor, at=self.clock.now(),
                         detail={"username": row.username})
            return people.view_of(row)

    # -- requests, inbox, starting ---------------------------------------------------------------

    def startable_processes(self, *, user: str) -> list[defs.DefinitionView]:
        """The published processes ``user`` may start (for now: every published one), by name."""
        with self.db.reading() as s:
            self._active_user(s, user)
            rows = s.execute(select(DefinitionVersion, ProcessDefinition).join(ProcessDefinition)
                             .where(DefinitionVersion.status == "published").order_by(ProcessDefinition.name))
            return [defs.view_of(v, d) for v, d in rows]

    def requests_of(self, *, user: str, limit: int = 200) -> list[CaseSummary]:
        """The cases ``user`` started, newest first (less any breach case that concerns them: a report
        naming its own reporter as the person concerned is then out of their sight too)."""
        with self.db.reading() as s:
            person = self._active_user(s, user)
            about_me = cases_about(s, person.username)
            rows = s.execute(
                select(ProcessInstance, ProcessDefinition.name)
                .join(ProcessDefinition, ProcessDefinition.process_id == ProcessInstance.process_id)
                .where(ProcessInstance.started_by == person.username)
                .order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc()).limit(limit))
            return [CaseSummary(i.case_ref, i.process_id, name, i.status, i.current_step, i.started_at,
                                i.updated_at, i.ended_at) for i, name in rows if i.case_ref not in about_me]

    def inbox(self, *, user: str, process_id: str | None = None, overdue: bool = False, claimed: str | None = None,
              sort: str = "due", page: int = 1, limit: int | None = None) -> Inbox:
        """"My tasks": ready tasks ``user`` may do, filtered (process, overdue, ``claimed`` = ``me`` or
        ``nobody``) and sorted (``INBOX_SORTS``), page ``page`` of ``limit`` tasks."""
        if sort not in INBOX_SORTS:
            raise InvalidInput(f"Sort by one of {', '.join(INBOX_SORTS)}", {"sort": "unknown"})
        page, limit = max(1, page), limit or INBOX_PAGE
        with self.db.reading() as s:
            person = self._active_user(s, user)
            now = self.clock.now()
            match = or_(
                (TaskCandidate.kind == "user") & (TaskCandidate.value == person.username),
                (TaskCandidate.kind == "role") & TaskCandidate.value.in_(sorted(person.role_names)),
            )
            many = (s.scalar(select(func.count()).select_from(
                select(TaskCandidate.task_id).where(match).limit(MANY_CANDIDATES).subquery())) or 0) >= MANY_CANDIDATES
            allowed = (exists().where(TaskCandidate.task_id == HumanTask.id, match) if many
                       else HumanTask.id.in_(select(TaskCandidate.task_id).where(match)))
            query = (select(HumanTask, ProcessDefinition.name, User.display_name)
                     .join(ProcessDefinition, ProcessDefinition.process_id == HumanTask.process_id)
                     .outerjoin(User, User.username == HumanTask.case_started_by)
                     .where(allowed))
            if process_id:
                query = query.where(HumanTask.process_id == process_id)
            if overdue:
                query = query.where(HumanTask.due_at < now)
            if claimed == "me":
                query = query.where(HumanTask.claimed_by == person.username)
            elif claimed == "nobody":
                query = query.where(HumanTask.claimed_by.is_(None))
            ordered = query.order_by(*INBOX_SORTS[sort])
            # Segregation of duties (``excluded_users``, a JSON list) is applied to each row here, so
            # rows are read in chunks until the page and one more are found; the database stops early.
            wanted = page * limit + 1
            about_me = cases_about(s, person.username)
            items: list[InboxItem] = []
            offset = 0
            while len(items) < wanted:
                rows = s.execute(ordered.limit(wanted).offset(offset)).all()
                items += [_inbox_item(task, process_name, starter_name) for task, process_name, starter_name in rows
                          if person.username not in task.excluded_users and task.case_ref not in about_me]
                if len(rows) < wanted:
                    break
                offset += wanted
            processes = tuple((row.process_id, row.name) for row in s.execute(
                select(ProcessDefinition.process_id, ProcessDefinition.name).order_by(ProcessDefinition.name)))
            shown = items[(page - 1) * limit:page * limit]
            return Inbox(tuple(shown), len(items) > page * limit, processes, now, page)

    def task_conflict(self, task_id: str) -> TaskConflict:
        """Why a task someone tried to open or complete is not theirs to do any more."""
        with self.db.reading() as s:
            done = s.execute(select(TaskHistory.actor, TaskHistory.at).where(TaskHistory.task_id == task_id)
                             .limit(1)).first()
            if done is not None:
                return TaskConflict("done", done.actor, done.at)
            claimer = s.scalar(select(HumanTask.claimed_by).where(HumanTask.id == task_id))
            return TaskConflict("claimed", claimer) if claimer else TaskConflict("gone")

    # -- cases -----------------------------------------------------------------------------------

    def may_view_case(self, case_ref: str, username: str) -> bool:
        """Whether ``username`` may see case ``case_ref`` (``engine.access.may_view_case``); False if either
        does not exist or the user is disabled."""
        with self.db.reading() as s:
            try:
                self._viewable_case(s, case_ref, username)
            except (NotFound, PermissionDenied):
                return False
            return True

    def case_for(self, case_ref: str, *, user: str) -> CasePage:
        """A case with its timeline and the viewer's possible actions; ``PermissionDenied`` if not theirs to see."""
        with self.db.reading() as s:
            instance, person, tasks = self._viewable_case(s, case_ref, user)
            mine = tuple(t.id for t in tasks if may_do_task(t, person.username, person.role_names))
            may_cancel = instance.status == "running" and (
                person.username == instance.started_by or bool(person.role_names & CANCELLERS))
            forms = {k: v.form for k, v in self.specs.get(s, instance.definition_version_id).user_tasks.items()}
            instance_id = instance.id
        case = self.instance(instance_id)
        timeline = tuple(TimelineEntry(h.title, h.actor, h.at, h.outcome, h.note,
                                       _answers(forms.get(h.element_id), h.values)) for h in case.history)
        return CasePage(case, timeline, mine, may_cancel)

    def case_diagram(self, case_ref: str, *, user: str) -> str:
        """The BPMN XML of the definition version a case runs on, for someone allowed to see the case."""
        with self.db.reading() as s:
            instance, _, _ = self._viewable_case(s, case_ref, user)
            version = s.get(DefinitionVersion, instance.definition_version_id)
            assert version is not None
            return version.bpmn_xml

    # -- helpers ---------------------------------------------------------------------------------

    def _require_admin(self, session: Session, actor: str, *, to: str = "manage users") -> Person:
        person = self._active_user(session, actor)
        if "admin" not in person.role_names:
            raise PermissionDenied(f"Only an administrator can {to}")
        return person

    def _viewable_case(self, session: Session, case_ref: str,
                       username: str) -> tuple[ProcessInstance, Person, list[HumanTask]]:
        person = self._active_user(session, username)
        instance = session.scalars(select(ProcessInstance).where(
            ProcessInstance.case_ref == case_ref.strip().upper())).first()
        if instance is None:
            raise NotFound(f"There is no case {case_ref}")
        participants = session.scalars(select(TaskHistory.actor).where(
            TaskHistory.instance_id == instance.id).distinct()).all()
        tasks = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)
                                     .order_by(HumanTask.created_at)))
        if not may_view_case(person.username, person.role_names, started_by=instance.started_by,
                             participants=participants, open_tasks=tasks,
                             barred=case_subjects(session, instance.case_ref),
                             viewer_roles=case_viewer_roles(instance.process_id)):
            raise PermissionDenied(f"You are not involved in case {instance.case_ref}")
        return instance, person, tasks


def _inbox_item(task: HumanTask, process_name: str, starter_name: str | None) -> InboxItem:
    return InboxItem(task.id, task.case_ref, task.process_id, process_name, task.title, task.case_started_by,
                     starter_name or task.case_started_by, task.created_at, task.due_at, task.assignee,
                     task.claimed_by)


def _answers(form: FormSpec | None, values: Mapping[str, Any]) -> tuple[Answer, ...]:
    """Submitted values in the order the form declares them, labelled; choices shown by their names."""
    fields = list(form.fields) if form is not None else []
    answers = []
    for f in fields:
        if f.id in values:
            value = values[f.id]
            shown = dict(f.options).get(str(value), value) if f.type == "enum" and value is not None else value
            answers.append(Answer(f.label, shown, f.type))
    declared = {f.id for f in fields}
    answers += [Answer(key.replace("_", " ").capitalize(), value, "string")
                for key, value in values.items() if key not in declared]
    return tuple(answers)


def _address_key(address: str | None) -> str:
    """A client address as a throttling key: IPv4 as is, IPv6 by its /64 (one client holds a whole /64)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:120]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _throttle_row(session: Session, key: str, now: datetime) -> SignInThrottle:
    """The throttle row for ``key``, created if missing and locked for this transaction."""
    insert = postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(SignInThrottle).values(key=key, failures=0, window_started_at=now, locked_until=None,
                                                  expires_at=now).on_conflict_do_nothing())
    row = session.get(SignInThrottle, key, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def _count_failure(row: SignInThrottle, policy: ThrottlePolicy, now: datetime) -> datetime | None:
    """Count one failed sign-in against ``row``; return the lock's end if this failure locks the key."""
    if now - row.window_started_at >= policy.window:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    row.expires_at = max(row.window_started_at + policy.window, row.locked_until or now)
    if row.failures < policy.max_failures:
        return None
    row.locked_until = now + policy.lockout
    row.failures, row.window_started_at = 0, now
    row.expires_at = row.locked_until
    return row.locked_until
