"""``Callgov``: the one facade the CLI, the web UI and the scheduler's jobs call.

Each public method is one use case in one transaction. Callers pass usernames, never roles: the
facade reads the roles from the database, so no caller can claim a role it does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import audit, messages, start_timers
from engine import definitions as defs
from engine import users as people
from engine.access import may_do_task
from engine.bpmn.serializer import StateSerializer
from engine.breach_evidence import BreachEvidenceMixin, case_subjects, cases_about
from engine.breaches import BREACH_PROCESS, BreachesMixin
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.editor_choices import EditorChoicesMixin
from engine.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from engine.fastsql import FastRead
from engine.forms import validate_submission
from engine.governance import GovernanceMixin
from engine.instances import (
    AFTER_COMMIT,
    CaseRecord,
    InstanceContext,
    InstanceRunner,
    Snapshot,
    WorkflowSummary,
    choose_entry,
    due_timer_elements,
    find_ready_task,
    load_case,
    load_task,
    next_case_ref,
    task_view,
    with_claim,
)
from engine.mailqueue import MailMixin
from engine.migration import MigrationMixin
from engine.models import (
    DefinitionVersion,
    HumanTask,
    ProcessDefinition,
    TaskCandidate,
    TaskHistory,
    Timer,
    User,
    UserRole,
)
from engine.operations import OperationRegistry
from engine.queries import QueriesMixin
from engine.releases import ReleasesMixin
from engine.sandbox import SandboxMixin
from engine.views import HistoryEntry, InstanceView, Person, TaskDetail, TaskView, json_ready

SHIPPED_BPMN = Path(__file__).resolve().parent.parent / "workflows" / "bpmn"


@dataclass(frozen=True)
class DeployResult:
    """The version a deploy produced (or found: identical content is not stored twice)."""

    definition: defs.DefinitionView
    created: bool


_DUE_TIMERS = select(Timer.instance_id).where(Timer.due_at <= bindparam("now")).order_by(
    Timer.due_at).limit(bindparam("limit"))
_DUE_TIMER_LOCKED = select(Timer.instance_id, Timer.due_at).where(
    Timer.instance_id == bindparam("instance_id"), Timer.due_at <= bindparam("now")).with_for_update()


@dataclass(frozen=True)
class FiredTimers:
    """The timers of one case that fired: which diagram elements, when due, when fired."""

    case_ref: str
    elements: tuple[str, ...]
    due_at: datetime | None
    fired_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return json_ready(self.__dict__)


_PERSON = FastRead(select(User.username, User.active, UserRole.role).outerjoin(
    UserRole, UserRole.user_id == User.id).where(User.username == bindparam("username")))
_HISTORY_OF_CASE = FastRead(select(TaskHistory.__table__).where(
    TaskHistory.instance_id == bindparam("instance_id")).order_by(TaskHistory.at, TaskHistory.id))


class Callgov(QueriesMixin, messages.MessagesMixin, MailMixin, ReleasesMixin, BreachesMixin, BreachEvidenceMixin,
              GovernanceMixin, MigrationMixin, EditorChoicesMixin, SandboxMixin):
    """The engine facade."""

    def __init__(self, db: Database, *, clock: Clock | None = None, operations: OperationRegistry | None = None,
                 services: Any = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.operations = operations or OperationRegistry()
        self.services = services
        self.serializer = StateSerializer()
        self.specs = defs.SpecCache(self.operations)
        self._init_messages()

    @contextmanager
    def _tx(self, *, lean: bool = False) -> Iterator[Session]:
        """One use case's transaction; a lost optimistic-lock race becomes ``Conflict``.

        Messages the use case's cases threw, and kept messages that cases now waiting may take, are
        delivered once the transaction has committed (``engine.messages``). ``lean`` is for the hot
        path, which speaks Core: the ORM session is made only if something needs it
        (``Database.lean_transaction``).
        """
        try:
            with (self.db.lean_transaction() if lean else self.db.transaction()) as session:
                yield session
                later = session.info.pop(AFTER_COMMIT, None)
        except StaleDataError:
            raise Conflict("The case was changed by someone else at the same moment; reload and try again") from None
        if later:
            self._after_commit(later)

    # -- definitions -----------------------------------------------------------------------------

    def deploy(self, content: bytes, *, filename: str, actor: str, publish: bool = False,
               summary: str = "") -> DeployResult:
        """Validate and store a BPMN file as a new draft version, optionally publishing it."""
        with self._tx() as s:
            version, created = defs.deploy(s, self.specs, content, filename=filename, actor=actor,
                                           now=self.clock.now(), summary=summary)
            if created:
                self._audit(s, "definition.deployed", actor, detail={
                    "process_id": version.process_id, "version": version.version, "hash": version.content_hash})
            if publish and version.status != "published":
                defs.publish(s, version, actor=actor, now=self.clock.now())
                self._schedule_starts(s, version.id)
                self._audit(s, "definition.published", actor, detail={
                    "process_id": version.process_id, "version": version.version})
            return DeployResult(defs.view_of(version, _definition(s, version.process_id)), created)

    def publish(self, process_id: str, version: int, *, actor: str) -> defs.DefinitionView:
        """Publish a draft version: new instances of the process start on it."""
        with self._tx() as s:
            row = s.scalars(select(DefinitionVersion).where(
                DefinitionVersion.process_id == process_id, DefinitionVersion.version == version)).first()
            if row is None:
                raise NotFound(f"Process '{process_id}' has no version {version}")
            if row.status != "published":
                defs.publish(s, row, actor=actor, now=self.clock.now())
                self._schedule_starts(s, row.id)
                self._audit(s, "definition.published", actor, detail={"process_id": process_id, "version": version})
            return defs.view_of(row, _definition(s, process_id))

    def _schedule_starts(self, s: Session, version_id: int) -> None:
        """A version was published: its timer and message start events replace the previous version's."""
        compiled = self.specs.get(s, version_id)
        start_timers.schedule(s.connection(), version_id, compiled, self.clock)
        messages.schedule_starts(s.connection(), version_id, compiled)

    def list_definitions(self, *, process_id: str | None = None) -> list[defs.DefinitionView]:
        """Every stored version, newest first within each process."""
        with self.db.reading() as s:
            query = select(DefinitionVersion, ProcessDefinition).join(ProcessDefinition)
            if process_id:
                query = query.where(DefinitionVersion.process_id == process_id)
            rows = s.execute(query.order_by(DefinitionVersion.process_id, DefinitionVersion.version.desc()))
            return [defs.view_of(v, d) for v, d in rows]

    def definition_xml(self, version_id: int) -> str:
        """The BPMN XML of a stored version."""
        with self.db.reading() as s:
            row = s.get(DefinitionVersion, version_id)
            if row is None:
                raise NotFound(f"Definition version {version_id} does not exist")
            return row.bpmn_xml

    def deploy_shipped(self, folder: Path = SHIPPED_BPMN, *, actor: str = "system:bootstrap") -> list[DeployResult]:
        """Deploy and publish the shipped diagrams of processes that have no version yet."""
        results = []
        for path in sorted(folder.glob("*.bpmn")):
            content = path.read_bytes()
            with self.db.reading() as s:
                already = s.scalar(select(DefinitionVersion.id).where(
                    DefinitionVersion.content_hash == defs.content_hash(content)).limit(1))
            if already is None:
                results.append(self.deploy(content, filename=path.name, actor=actor, publish=True,
                                           summary="Shipped with callgov"))
        return results

    # -- instances -------------------------------------------------------------------------------

    def start(self, process_id: str, *, user: str, data: Mapping[str, Any] | None = None) -> InstanceView:
        """Start a case of the published version of ``process_id`` and run it to its first wait."""
        with self._tx(lean=True) as s:
            starter = self._active_user(s, user)
            return self._start_case(s, process_id, starter.username, data)

    def _start_case(self, s: Session, process_id: str, starter: str, data: Mapping[str, Any] | None,
                    *, entry: str | None = None, detail: Mapping[str, Any] | None = None) -> InstanceView:
        """Start a case (in the caller's transaction) as ``starter``: a username or ``system:<job>``.

        ``entry`` is the timer or message start event it starts at (default: the plain start);
        ``detail`` is added to the ``instance.started`` audit event.
        """
        version_id, version_number = defs.published_version_ids(s, process_id)
        compiled = self.specs.get(s, version_id)
        now = self.clock.now()
        case_ref = next_case_ref(s, compiled.case_prefix, now.year)
        runner = self._runner(s)
        workflow = runner.new_workflow(compiled, InstanceContext(case_ref, process_id, starter))
        choose_entry(workflow, compiled, entry)
        initial = {**dict(data or {}), "case_ref": case_ref, "started_by": starter, "started_at": now}
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(initial)
        runner.advance(workflow, timers=compiled.has_timers)
        case = CaseRecord(
            id=None, case_ref=case_ref, process_id=process_id, definition_version_id=version_id,
            status="running", current_step="", started_by=starter, started_at=now, updated_at=now,
            ended_at=None, end_reason=None, state="", serializer_version=self.serializer.VERSION,
            lock_version=1)
        ready, summary = runner.insert(case, workflow, compiled)
        self._audit(s, "instance.started", starter, case_ref=case_ref,
                    detail={"process_id": process_id, "version": version_number, **(detail or {})})
        return self._view(s, case, summary, compiled.name, version_number, ready, history=[])

    def instance(self, ref: str | int, *, user: str | None = None) -> InstanceView:
        """A case by reference (``REL-2026-00001``) or id, with its data, tasks and history."""
        with self.db.reading() as s:
            case = load_case(s.connection(), ref)
            compiled = self.specs.get(s, case.definition_version_id)
            workflow = self._runner(s).restore(case, compiled)
            version = self.specs.version_number(s, case.definition_version_id)
            return self._view(s, case, WorkflowSummary.of(workflow), compiled.name, version)

    def cancel(self, ref: str | int, *, user: str, reason: str) -> InstanceView:
        """Stop a running case, with the reason recorded."""
        if not reason.strip():
            raise InvalidInput("Give a reason for cancelling the case", {"reason": "required"})
        with self._tx() as s:
            actor = self._active_user(s, user)
            case = load_case(s.connection(), ref, lock=True)
            if case.status != "running":
                raise Conflict(f"Case {case.case_ref} is already {case.status}")
            if actor.username != case.started_by and not actor.role_names & {"dpo", "admin"}:
                raise PermissionDenied("Only the person who started the case, the DPO or an administrator "
                                       "can cancel it")
            compiled = self.specs.get(s, case.definition_version_id)
            runner = self._runner(s)
            workflow = runner.restore(case, compiled)
            before = Snapshot.of(workflow, compiled)
            workflow.cancel()
            case.status, case.ended_at, case.end_reason = "cancelled", self.clock.now(), reason.strip()
            ready, summary = runner.save(case, workflow, before)
            self._audit(s, "instance.cancelled", actor.username, case_ref=case.case_ref,
                        detail={"reason": reason.strip()})
            return self._view(s, case, summary, compiled.name,
                              self.specs.version_number(s, case.definition_version_id), ready)

    # -- timers ----------------------------------------------------------------------------------

    def fire_due_timers(self, *, limit: int = 500) -> list[FiredTimers]:
        """Fire every timer whose time has come (late ones too), each case in its own transaction.

        Safe to run from several schedulers at once: a case's timer row is locked and re-read
        before it fires, so each timer fires once.
        """
        now = self.clock.now()
        with self.db.reading() as s:
            due = [row.instance_id for row in s.connection().execute(_DUE_TIMERS, {"now": now, "limit": limit})]
            starts = start_timers.due_starts(s.connection(), now, limit)
        fired = []
        for instance_id in due:
            result = self._fire_case_timers(instance_id)
            if result is not None:
                fired.append(result)
        for process_id, element_id in starts:
            started = self._fire_start_timer(process_id, element_id)
            if started is not None:
                fired.append(started)
        return fired

    def _fire_start_timer(self, process_id: str, element_id: str) -> FiredTimers | None:
        with self._tx() as s:
            now = self.clock.now()
            row = start_timers.claim(s.connection(), process_id, element_id, now)
            if row is None:
                return None
            view = self._start_case(s, process_id, "system:timers", {"started_by_timer": element_id},
                                    entry=element_id)
            self._audit(s, "timer.fired", "system:timers", case_ref=view.case_ref,
                        detail={"elements": [element_id], "due": row.due_at.isoformat(), "started": True})
            return FiredTimers(view.case_ref, (element_id,), row.due_at, now)

    def _fire_case_timers(self, instance_id: int) -> FiredTimers | None:
        with self._tx() as s:
            connection = s.connection()
            now = self.clock.now()
            row = connection.execute(_DUE_TIMER_LOCKED, {"instance_id": instance_id, "now": now}).first()
            if row is None:
                return None  # fired by another scheduler, or rescheduled, since we looked
            case = load_case(connection, instance_id, lock=True)
            compiled = self.specs.get(s, case.definition_version_id)
            runner = self._runner(s)
            workflow = runner.restore(case, compiled)
            # Compare with the row as stored, so a row that disagrees with the case's state is rewritten
            # rather than waking the case again at every tick.
            before = replace(Snapshot.of(workflow, compiled), due=row.due_at)
            elements = due_timer_elements(workflow, now)
            workflow.refresh_timers()
            runner.advance(workflow, timers=True)
            runner.save(case, workflow, before)
            if not elements:
                return None
            self._audit(s, "timer.fired", "system:timers", case_ref=case.case_ref,
                        detail={"elements": elements, "due": row.due_at.isoformat()})
            return FiredTimers(case.case_ref, tuple(elements), row.due_at, now)

    # -- tasks -----------------------------------------------------------------------------------

    def tasks_for(self, user: str) -> list[TaskView]:
        """The ready tasks ``user`` may do: by role, lane or assignment, minus exclusions."""
        with self.db.reading() as s:
            person = self._active_user(s, user)
            match = or_(
                (TaskCandidate.kind == "user") & (TaskCandidate.value == person.username),
                (TaskCandidate.kind == "role") & TaskCandidate.value.in_(sorted(person.role_names)),
            )
            ids = select(TaskCandidate.task_id).where(match).distinct()
            tasks = HumanTask.__table__
            rows = s.connection().execute(select(tasks).where(tasks.c.id.in_(ids)).order_by(
                tasks.c.due_at.is_(None), tasks.c.due_at, tasks.c.created_at))
            about_me = cases_about(s, person.username)
            return [view for view in map(task_view, rows)
                    if person.username not in view.excluded_users and view.case_ref not in about_me]

    def task(self, task_id: str, *, user: str) -> TaskDetail:
        """A ready task with its form, for someone who may do it."""
        with self.db.reading() as s:
            person = self._active_user(s, user)
            row = self._task_row(s, task_id)
            may_do_task(row, person.username, person.role_names, raise_error=True)
            _not_about_them(s, row, person.username)
            case = load_case(s.connection(), row.case_ref)
            compiled = self.specs.get(s, case.definition_version_id)
            workflow = self._runner(s).restore(case, compiled)
            task = find_ready_task(workflow, task_id, row.case_ref)
            info = compiled.user_tasks[row.element_id]
            return TaskDetail(row, info.form, info.documentation, dict(task.data))

    def complete_task(self, task_id: str, *, user: str, data: Mapping[str, Any]) -> InstanceView:
        """Complete a ready task with its submitted form, and run the case to its next wait."""
        with self._tx(lean=True) as s:
            person = self._active_user(s, user)
            row = self._task_row(s, task_id)
            case = load_case(s.connection(), row.case_ref, lock=True)
            may_do_task(row, person.username, person.role_names, raise_error=True)
            _not_about_them(s, row, person.username)
            compiled = self.specs.get(s, case.definition_version_id)
            runner = self._runner(s)
            workflow = runner.restore(case, compiled)
            before = Snapshot.of(workflow, compiled)
            task = find_ready_task(workflow, task_id, row.case_ref)
            values = validate_submission(compiled.user_tasks[row.element_id].form, data)
            task.data.update(values)
            task.data["last_actor"] = person.username
            task.run()
            runner.record_history(case, task, person.username, values)
            runner.advance(workflow, timers=compiled.has_timers)
            ready, summary = runner.save(case, workflow, before)
            self._audit(s, "task.completed", person.username, case_ref=row.case_ref, task_id=task_id,
                        detail={"element_id": row.element_id, "fields": sorted(values)})
            return self._view(s, case, summary, compiled.name,
                              self.specs.version_number(s, case.definition_version_id), ready)

    def claim(self, task_id: str, *, user: str) -> TaskView:
        """Take a group task so colleagues see who has it."""
        with self._tx() as s:
            person = self._active_user(s, user)
            row = self._task_row(s, task_id, lock=True)
            may_do_task(row, person.username, person.role_names, raise_error=True)
            _not_about_them(s, row, person.username)
            self._set_claim(s, task_id, person.username)
            self._audit(s, "task.claimed", person.username, case_ref=row.case_ref, task_id=task_id)
            return with_claim(row, person.username)

    def unclaim(self, task_id: str, *, user: str) -> TaskView:
        """Give a claimed task back to the group (the claimer, or an administrator)."""
        with self._tx() as s:
            person = self._active_user(s, user)
            row = self._task_row(s, task_id, lock=True)
            if "admin" not in person.role_names:
                if row.claimed_by not in (None, person.username):
                    raise PermissionDenied(f"Only {row.claimed_by} or an administrator can give this task back")
                may_do_task(row, person.username, person.role_names, raise_error=True)
            self._set_claim(s, task_id, None)
            self._audit(s, "task.unclaimed", person.username, case_ref=row.case_ref, task_id=task_id)
            return with_claim(row, None)

    # -- users -----------------------------------------------------------------------------------

    def add_user(self, username: str, *, roles: Iterable[str], password: str | None, display_name: str = "",
                 email: str | None = None, job_title: str | None = None,
                 manager: str | None = None, actor: str = "system:cli") -> people.UserView:
        """Create a user with the given roles; ``actor`` is who added them (for the audit trail)."""
        with self._tx() as s:
            row = people.add_user(s, username, roles=roles, password=password, now=self.clock.now(),
                                  display_name=display_name, email=email, job_title=job_title, manager=manager)
            self._audit(s, "user.added", actor, detail={"username": row.username, "roles": sorted(row.role_names)})
            return people.view_of(row, manager)

    def user(self, username: str) -> people.UserView:
        """A user by name."""
        with self.db.reading() as s:
            return people.view_of(people.find_user(s, username))

    def authenticate(self, username: str, password: str) -> people.UserView | None:
        """The user if the password is theirs and they are active; otherwise None."""
        with self._tx() as s:
            row = s.scalars(select(User).where(User.username == username.strip().lower())).first()
            if not people.verify_password(row, password) or row is None:
                return None
            return people.view_of(row)

    # -- helpers ---------------------------------------------------------------------------------

    def _audit(self, session: Session, action: str, actor: str, **fields: Any) -> None:
        """Append an audit event in the use case's transaction (``engine.audit``)."""
        audit.append(session.connection(), action=action, actor=actor, at=self.clock.now(), **fields)

    def _runner(self, session: Session) -> InstanceRunner:
        return InstanceRunner(session, self.clock, self.operations, self.serializer, self.services)

    def _active_user(self, session: Session, username: str) -> Person:
        if username.startswith("system:"):
            raise PermissionDenied("System jobs cannot act as a person")
        rows = _PERSON.all(session.connection(), {"username": username.strip().lower()})
        if not rows:
            raise NotFound(f"There is no user called {username}")
        if not rows[0].active:
            raise PermissionDenied(f"The account {rows[0].username} is disabled")
        return Person(rows[0].username, frozenset(r.role for r in rows if r.role))

    def _task_row(self, session: Session, task_id: str, *, lock: bool = False) -> TaskView:
        connection = session.connection()
        if lock:
            connection.execute(select(HumanTask.id).where(HumanTask.id == task_id).with_for_update())
        row = load_task(connection, task_id)
        if row is None:
            done = connection.execute(select(TaskHistory.actor).where(TaskHistory.task_id == task_id).limit(1)).scalar()
            if done is not None:
                raise Conflict(f"This task has already been done by {done}")
            raise NotFound("There is no such task; it may have been cancelled")
        return row

    @staticmethod
    def _set_claim(session: Session, task_id: str, username: str | None) -> None:
        session.connection().execute(
            update(HumanTask).where(HumanTask.id == task_id).values(claimed_by=username))

    def _view(self, session: Session, case: CaseRecord, summary: WorkflowSummary, process_name: str, version: int,
              ready: list[TaskView] | None = None, history: list[HistoryEntry] | None = None) -> InstanceView:
        connection = session.connection()
        if ready is None:
            tasks = HumanTask.__table__
            ready = [task_view(r) for r in connection.execute(
                select(tasks).where(tasks.c.instance_id == case.id).order_by(tasks.c.created_at))]
        if history is None:
            history = [HistoryEntry(h.element_id, h.title, h.actor, h.at, h.outcome, h.values, h.note)
                       for h in _HISTORY_OF_CASE.all(connection, {"instance_id": case.id})]
        assert case.id is not None
        return InstanceView(
            id=case.id, case_ref=case.case_ref, process_id=case.process_id, process_name=process_name,
            definition_version=version, definition_version_id=case.definition_version_id, status=case.status,
            current_step=case.current_step, started_by=case.started_by, started_at=case.started_at,
            updated_at=case.updated_at, ended_at=case.ended_at, end_reason=case.end_reason,
            data=summary.data, ready_tasks=tuple(ready), history=tuple(history),
            completed_elements=summary.completed_elements,
        )


def _not_about_them(session: Session, task: TaskView, username: str) -> None:
    """Refuse a task of a breach case that concerns ``username``, even one its diagram would let them do
    (a trigger about them may have joined the case after its tasks were made). Only breach cases have
    subjects, so other tasks cost no query (this is on every completion's path)."""
    if task.process_id == BREACH_PROCESS and username in case_subjects(session, task.case_ref):
        raise PermissionDenied(f"You cannot do this task of case {task.case_ref}: the case concerns you, so "
                               "someone else must do it")


def _definition(session: Session, process_id: str) -> ProcessDefinition:
    row = session.get(ProcessDefinition, process_id)
    if row is None:
        raise NotFound(f"There is no process '{process_id}'")
    return row
