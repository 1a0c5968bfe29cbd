"""``Callgov``: the one facade the CLI, the web UI and the scheduler's jobs call.

Each public method is one use case in one transaction. Callers pass usernames, never roles: the
facade reads the roles from the database, so no caller can claim a role it does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import audit
from engine import definitions as defs
from engine import users as people
from engine.access import may_do_task
from engine.bpmn.serializer import StateSerializer
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from engine.forms import FormSpec, validate_submission
from engine.instances import (
    InstanceContext,
    InstanceRunner,
    find_ready_task,
    json_ready,
    next_case_ref,
)
from engine.models import (
    DefinitionVersion,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
    TaskHistory,
    User,
    UserRole,
)
from engine.operations import OperationRegistry
from engine.queries import QueriesMixin

SHIPPED_BPMN = Path(__file__).resolve().parent.parent / "workflows" / "bpmn"


@dataclass(frozen=True)
class Person:
    """Who is acting: an active user and the roles they hold now."""

    username: str
    role_names: frozenset[str]


@dataclass(frozen=True)
class TaskView:
    """A ready user task as an inbox shows it."""

    id: str
    case_ref: str
    process_id: str
    element_id: str
    title: str
    candidate_roles: tuple[str, ...]
    assignee: str | None
    claimed_by: str | None
    case_started_by: str
    created_at: datetime
    due_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return json_ready({**self.__dict__, "candidate_roles": list(self.candidate_roles)})


@dataclass(frozen=True)
class TaskDetail:
    """A task with what its form needs: fields, instructions, and the case data to show."""

    task: TaskView
    form: FormSpec
    documentation: str
    data: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.task.to_dict(), "form": self.form.to_dict(), "documentation": self.documentation,
                "data": json_ready(self.data)}


@dataclass(frozen=True)
class HistoryEntry:
    """A completed step of a case."""

    element_id: str
    title: str
    actor: str
    at: datetime
    outcome: str
    values: Mapping[str, Any]
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return json_ready(self.__dict__)


@dataclass(frozen=True)
class InstanceView:
    """A case as callers see it."""

    id: int
    case_ref: str
    process_id: str
    process_name: str
    definition_version: int
    definition_version_id: int
    status: str
    current_step: str
    started_by: str
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    data: Mapping[str, Any] = field(default_factory=dict)
    ready_tasks: tuple[TaskView, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    completed_elements: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        plain = {k: v for k, v in self.__dict__.items() if k not in ("ready_tasks", "history", "data")}
        return {**json_ready(plain), "data": json_ready(self.data),
                "completed_elements": list(self.completed_elements),
                "ready_tasks": [t.to_dict() for t in self.ready_tasks],
                "history": [h.to_dict() for h in self.history]}


@dataclass(frozen=True)
class DeployResult:
    """The version a deploy produced (or found: identical content is not stored twice)."""

    definition: defs.DefinitionView
    created: bool


class Callgov(QueriesMixin):
    """The engine facade."""

    def __init__(self, db: Database, *, clock: Clock | None = None, operations: OperationRegistry | None = None,
                 services: Any = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.operations = operations or OperationRegistry()
        self.services = services
        self.serializer = StateSerializer()
        self.specs = defs.SpecCache(self.operations)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        """One use case's transaction; a lost optimistic-lock race becomes ``Conflict``."""
        try:
            with self.db.transaction() as session:
                yield session
        except StaleDataError:
            raise Conflict("The case was changed by someone else at the same moment; reload and try again") from None

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
                self._audit(s, "definition.published", actor, detail={"process_id": process_id, "version": version})
            return defs.view_of(row, _definition(s, process_id))

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
        with self._tx() as s:
            starter = self._active_user(s, user)
            version = defs.published_version(s, process_id)
            compiled = self.specs.get(s, version.id)
            now = self.clock.now()
            case_ref = next_case_ref(s, compiled.case_prefix, now.year)
            runner = self._runner(s)
            context = InstanceContext(case_ref, process_id, starter.username)
            workflow = runner.new_workflow(compiled, context)
            instance = ProcessInstance(
                case_ref=case_ref, process_id=process_id, definition_version_id=version.id, status="running",
                current_step="", started_by=starter.username, started_at=now, updated_at=now,
                serializer_version=self.serializer.VERSION, state="{}",
            )
            s.add(instance)
            s.flush()
            context.instance_id = instance.id
            initial = {**dict(data or {}), "case_ref": case_ref, "started_by": starter.username,
                       "started_at": now}
            for task in workflow.get_tasks(state=TaskState.READY):
                task.data.update(initial)
            runner.advance(workflow)
            ready = runner.save(instance, workflow, new=True)
            self._audit(s, "instance.started", starter.username, case_ref=case_ref,
                        detail={"process_id": process_id, "version": version.version})
            return self._view(s, instance, workflow, compiled.name, version.version, ready)

    def instance(self, ref: str | int, *, user: str | None = None) -> InstanceView:
        """A case by reference (``REL-2026-00001``) or id, with its data, tasks and history."""
        with self.db.reading() as s:
            instance = _instance(s, ref)
            version = s.get(DefinitionVersion, instance.definition_version_id)
            assert version is not None
            compiled = self.specs.get(s, version.id)
            workflow = self._runner(s).restore(instance, compiled)
            return self._view(s, instance, workflow, compiled.name, version.version)

    def cancel(self, ref: str | int, *, user: str, reason: str) -> InstanceView:
        """Stop a running case, with the reason recorded."""
        if not reason.strip():
            raise InvalidInput("Give a reason for cancelling the case", {"reason": "required"})
        with self._tx() as s:
            actor = self._active_user(s, user)
            instance = _instance(s, ref, lock=True)
            if instance.status != "running":
                raise Conflict(f"Case {instance.case_ref} is already {instance.status}")
            if actor.username != instance.started_by and not actor.role_names & {"dpo", "admin"}:
                raise PermissionDenied("Only the person who started the case, the DPO or an administrator "
                                       "can cancel it")
            version = s.get(DefinitionVersion, instance.definition_version_id)
            assert version is not None
            compiled = self.specs.get(s, version.id)
            runner = self._runner(s)
            workflow = runner.restore(instance, compiled)
            workflow.cancel()
            now = self.clock.now()
            instance.status, instance.ended_at, instance.end_reason = "cancelled", now, reason.strip()
            ready = runner.save(instance, workflow)
            self._audit(s, "instance.cancelled", actor.username, case_ref=instance.case_ref,
                        detail={"reason": reason.strip()})
            return self._view(s, instance, workflow, compiled.name, version.version, ready)

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
            rows = s.scalars(select(HumanTask).where(HumanTask.id.in_(ids)).order_by(
                HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at))
            return [_task_view(t) for t in rows if person.username not in t.excluded_users]

    def task(self, task_id: str, *, user: str) -> TaskDetail:
        """A ready task with its form, for someone who may do it."""
        with self.db.reading() as s:
            person = self._active_user(s, user)
            row = self._task_row(s, task_id)
            may_do_task(row, person.username, person.role_names, raise_error=True)
            instance = _instance(s, row.instance_id)
            compiled = self.specs.get(s, instance.definition_version_id)
            workflow = self._runner(s).restore(instance, compiled)
            task = find_ready_task(workflow, task_id, row.case_ref)
            info = compiled.user_tasks[row.element_id]
            return TaskDetail(_task_view(row), info.form, info.documentation, dict(task.data))

    def complete_task(self, task_id: str, *, user: str, data: Mapping[str, Any]) -> InstanceView:
        """Complete a ready task with its submitted form, and run the case to its next wait."""
        with self._tx() as s:
            person = self._active_user(s, user)
            row = self._task_row(s, task_id)
            instance = _instance(s, row.instance_id, lock=True)
            may_do_task(row, person.username, person.role_names, raise_error=True)
            compiled = self.specs.get(s, instance.definition_version_id)
            runner = self._runner(s)
            workflow = runner.restore(instance, compiled)
            task = find_ready_task(workflow, task_id, row.case_ref)
            values = validate_submission(compiled.user_tasks[row.element_id].form, data)
            task.data.update(values)
            task.data["last_actor"] = person.username
            task.run()
            runner.record_history(instance, task, person.username, values)
            runner.advance(workflow)
            ready = runner.save(instance, workflow)
            self._audit(s, "task.completed", person.username, case_ref=row.case_ref, task_id=task_id,
                        detail={"element_id": row.element_id, "fields": sorted(values)})
            version = s.get(DefinitionVersion, instance.definition_version_id)
            assert version is not None
            return self._view(s, instance, workflow, compiled.name, version.version, ready)

    def claim(self, task_id: str, *, user: str) -> TaskView:
        """Take a group task so colleagues see who has it."""
        with self._tx() as s:
            person = self._active_user(s, user)
            row = self._task_row(s, task_id, lock=True)
            may_do_task(row, person.username, person.role_names, raise_error=True)
            row.claimed_by = person.username
            self._audit(s, "task.claimed", person.username, case_ref=row.case_ref, task_id=task_id)
            return _task_view(row)

    def unclaim(self, task_id: str, *, user: str) -> TaskView:
        """Give a claimed task back to the group (the claimer, or an administrator)."""
        with self._tx() as s:
            person = self._active_user(s, user)
            row = self._task_row(s, task_id, lock=True)
            if row.claimed_by not in (None, person.username) and "admin" not in person.role_names:
                raise PermissionDenied(f"Only {row.claimed_by} or an administrator can give this task back")
            row.claimed_by = None
            self._audit(s, "task.unclaimed", person.username, case_ref=row.case_ref, task_id=task_id)
            return _task_view(row)

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
        audit.record(session, action=action, actor=actor, at=self.clock.now(), **fields)

    def _runner(self, session: Session) -> InstanceRunner:
        return InstanceRunner(session, self.clock, self.operations, self.serializer, self.services)

    def _active_user(self, session: Session, username: str) -> Person:
        if username.startswith("system:"):
            raise PermissionDenied("System jobs cannot act as a person")
        rows = session.execute(
            select(User.username, User.active, UserRole.role).outerjoin(UserRole, UserRole.user_id == User.id)
            .where(User.username == username.strip().lower())).all()
        if not rows:
            raise NotFound(f"There is no user called {username}")
        if not rows[0].active:
            raise PermissionDenied(f"The account {rows[0].username} is disabled")
        return Person(rows[0].username, frozenset(r.role for r in rows if r.role))

    def _task_row(self, session: Session, task_id: str, *, lock: bool = False) -> HumanTask:
        row = session.get(HumanTask, task_id, with_for_update=lock or None)
        if row is None:
            done = session.scalar(select(TaskHistory.actor).where(TaskHistory.task_id == task_id).limit(1))
            if done is not None:
                raise Conflict(f"This task has already been done by {done}")
            raise NotFound("There is no such task; it may have been cancelled")
        return row

    def _view(self, session: Session, instance: ProcessInstance, workflow: Any, process_name: str,
              version: int, ready: list[HumanTask] | None = None) -> InstanceView:
        if ready is None:
            ready = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)
                                         .order_by(HumanTask.created_at)))
        history = session.scalars(select(TaskHistory).where(TaskHistory.instance_id == instance.id)
                                  .order_by(TaskHistory.at, TaskHistory.id)).all()
        return InstanceView(
            id=instance.id, case_ref=instance.case_ref, process_id=instance.process_id,
            process_name=process_name, definition_version=version,
            definition_version_id=instance.definition_version_id, status=instance.status,
            current_step=instance.current_step, started_by=instance.started_by,
            started_at=instance.started_at, updated_at=instance.updated_at, ended_at=instance.ended_at,
            end_reason=instance.end_reason, data=case_data(workflow),
            ready_tasks=tuple(_task_view(t) for t in ready),
            history=tuple(HistoryEntry(h.element_id, h.title, h.actor, h.at, h.outcome, h.values, h.note)
                          for h in history),
            completed_elements=completed_elements(workflow),
        )


def case_data(workflow: Any) -> dict[str, Any]:
    """The case's current data: that of its ready tasks, else of the last task that ran."""
    ready = workflow.get_tasks(state=TaskState.READY)
    if ready:
        merged: dict[str, Any] = {}
        for task in ready:
            merged.update(task.data)
        return merged
    last = workflow.last_task
    return dict(last.data) if last is not None else {}


def completed_elements(workflow: Any) -> tuple[str, ...]:
    """BPMN ids of the diagram elements this case has completed, for highlighting."""
    seen = dict.fromkeys(t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)
                         if getattr(t.task_spec, "bpmn_id", None))
    return tuple(seen)


def _definition(session: Session, process_id: str) -> ProcessDefinition:
    row = session.get(ProcessDefinition, process_id)
    if row is None:
        raise NotFound(f"There is no process '{process_id}'")
    return row


def _instance(session: Session, ref: str | int, *, lock: bool = False) -> ProcessInstance:
    query = select(ProcessInstance)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        query = query.where(ProcessInstance.id == int(ref))
    else:
        query = query.where(ProcessInstance.case_ref == ref.strip().upper())
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(f"There is no case {ref}")
    return row


def _task_view(row: HumanTask) -> TaskView:
    return TaskView(row.id, row.case_ref, row.process_id, row.element_id, row.title,
                    tuple(row.candidate_roles), row.assignee, row.claimed_by, row.case_started_by,
                    row.created_at, row.due_at)
