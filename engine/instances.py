"""Cases at run time: start, complete a task, cancel — each one transaction on one case.

The case row holds SpiffWorkflow's state; the ``human_task`` rows are a projection of its ready
user tasks, rewritten in the same transaction as the state (DESIGN decisions 3 and 4), as are the
``timer`` row and, for processes with message events, the ``message_subscription`` rows. Messages
a case throws are written to ``message_undelivered`` in the same transaction (an outbox) and
delivered after it commits (``engine.messages``). This is the hot path of the engine, so it speaks
SQLAlchemy Core on the session's connection: a handful of statements per use case and no
unit-of-work bookkeeping.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from engine import audit
from engine.access import excluded_users
from engine.bpmn.compiler import CompiledDefinition, unwrap_expression
from engine.bpmn.messages import Subscription, subscriptions_of, take_thrown
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.serializer import StateSerializer
from engine.bpmn.specs import ExternalTaskSpec, HumanTaskSpec
from engine.bpmn.timers import due_of, waits_on_timer
from engine.clock import Clock
from engine.errors import CallgovError, Conflict, ExpressionError, NotFound, WorkflowFailed
from engine.expressions import Duration, evaluate, parse_timer_literal
from engine.fastsql import FastRead, FastWrite
from engine.models import (
    CaseCounter,
    HumanTask,
    MessageSubscription,
    ProcessInstance,
    TaskCandidate,
    TaskHistory,
    Timer,
    UndeliveredMessage,
)
from engine.operations import OperationContext, OperationRegistry, read_only
from engine.roles import role_for_name
from engine.views import TaskView, json_ready

MAX_ENGINE_ROUNDS = 50
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)
"""What ``human_task.due_order`` holds for a task without a due date (it sorts last)."""
CASES = cast(Table, ProcessInstance.__table__)
TASKS = cast(Table, HumanTask.__table__)
CANDIDATES = cast(Table, TaskCandidate.__table__)
HISTORY = cast(Table, TaskHistory.__table__)
TIMERS = cast(Table, Timer.__table__)
SUBSCRIPTIONS = cast(Table, MessageSubscription.__table__)
KEPT = cast(Table, UndeliveredMessage.__table__)
AFTER_COMMIT = "callgov.after_commit"
"""``session.info`` key: message work to do once the use case's transaction has committed, as
("message", undelivered id) and ("subscribed", subscriptions) items (``engine.messages``)."""
CASE_FIELDS = ("id", "case_ref", "process_id", "definition_version_id", "status", "current_step", "started_by",
               "started_at", "updated_at", "ended_at", "end_reason", "state", "serializer_version", "lock_version")

# Statements of the hot path are built once: building and cache-keying a statement costs several
# times more than executing it.
_SELECT_CASE = select(*(CASES.c[name] for name in CASE_FIELDS))
_CASE_BY_ID = FastRead(_SELECT_CASE.where(CASES.c.id == bindparam("key")))
_CASE_BY_REF = FastRead(_SELECT_CASE.where(CASES.c.case_ref == bindparam("key")))
_CASE_BY_ID_LOCKED = FastRead(_SELECT_CASE.where(CASES.c.id == bindparam("key")).with_for_update())
_CASE_BY_REF_LOCKED = FastRead(_SELECT_CASE.where(CASES.c.case_ref == bindparam("key")).with_for_update())
_INSERT_CASE = FastWrite(insert(CASES).returning(CASES.c.id))
# SET lists only the columns given (compiled once per set): a save writes what changed, so the
# indexes on columns that did not change (case_ref, started_by, definition version) are not touched.
_UPDATE_CASE = FastWrite(update(CASES).where(
    CASES.c.id == bindparam("where_id"), CASES.c.lock_version == bindparam("where_version")))
_TASK_BY_ID = FastRead(select(TASKS).where(TASKS.c.id == bindparam("task_id")))
_TASKS_BY_IDS = select(TASKS).where(TASKS.c.id.in_(bindparam("ids", expanding=True)))
_DELETE_TASK = FastWrite(delete(TASKS).where(TASKS.c.id == bindparam("task_id")))
_INSERT_TASK = FastWrite(insert(TASKS))
_INSERT_CANDIDATE = FastWrite(insert(CANDIDATES))
_INSERT_HISTORY = FastWrite(insert(HISTORY))
_DELETE_TIMER = delete(TIMERS).where(TIMERS.c.instance_id == bindparam("instance_id"))
_INSERT_TIMER = insert(TIMERS)
_DELETE_SUBSCRIPTIONS = delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.instance_id == bindparam("instance_id"))
_INSERT_SUBSCRIPTION = insert(SUBSCRIPTIONS)
_INSERT_KEPT = insert(KEPT).returning(KEPT.c.id)


@dataclass
class CaseRecord:
    """One ``process_instance`` row, read and written with Core."""

    id: int | None
    case_ref: str
    process_id: str
    definition_version_id: int
    status: str
    current_step: str
    started_by: str
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    state: str
    serializer_version: str
    lock_version: int
    stored: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    """The values of ``CASE_FIELDS`` as last read or written (None: not stored yet)."""

    @classmethod
    def from_row(cls, row: Any) -> CaseRecord:
        """From a row of ``CASE_FIELDS`` in that order."""
        record = cls(*row)
        record.stored = tuple(row)
        return record

    def values(self) -> tuple[Any, ...]:
        """The values of ``CASE_FIELDS``, in that order."""
        return tuple(getattr(self, name) for name in CASE_FIELDS)

    def changes(self) -> dict[str, Any]:
        """The columns whose values differ from the stored row (all of them if unknown)."""
        values = self.values()
        if self.stored is None:
            return dict(zip(CASE_FIELDS[1:], values[1:], strict=True))
        return {name: new for name, new, old in zip(CASE_FIELDS, values, self.stored, strict=True)
                if new != old and name != "id"}


def load_case(connection: Connection, ref: str | int, *, lock: bool = False) -> CaseRecord:
    """A case by reference (``REL-2026-00001``) or id; ``lock`` takes the row lock on PostgreSQL."""
    key: int | str
    if isinstance(ref, int) or ref.strip().isdigit():
        query, key = (_CASE_BY_ID_LOCKED if lock else _CASE_BY_ID), int(ref)
    else:
        query, key = (_CASE_BY_REF_LOCKED if lock else _CASE_BY_REF), ref.strip().upper()
    row = query.first(connection, {"key": key})
    if row is None:
        raise NotFound(f"There is no case {ref}")
    return CaseRecord.from_row(row)


def task_view(row: Any) -> TaskView:
    """A ``TaskView`` from a ``human_task`` row (Core row or ORM object)."""
    return TaskView(row.id, row.case_ref, row.process_id, row.element_id, row.title,
                    tuple(row.candidate_roles or ()), row.assignee, row.claimed_by, row.case_started_by,
                    row.created_at, row.due_at, tuple(row.excluded_users or ()))


def load_task(connection: Connection, task_id: str) -> TaskView | None:
    """The ready task ``task_id`` or None."""
    row = _TASK_BY_ID.first(connection, {"task_id": task_id})
    return None if row is None else task_view(row)


def all_tasks(workflow: BpmnWorkflow) -> Iterator[Any]:
    """Every task of the workflow and its subprocesses, in creation order.

    Reading the task dictionaries is several times cheaper than SpiffWorkflow's tree iterator,
    and the engine asks this question on every save.
    """
    yield from workflow.tasks.values()
    for subprocess in workflow.subprocesses.values():
        yield from subprocess.tasks.values()


def ready_human_tasks(workflow: BpmnWorkflow) -> list[Any]:
    """The workflow's ready user tasks (ours)."""
    return [t for t in all_tasks(workflow) if t.state == TaskState.READY and isinstance(t.task_spec, HumanTaskSpec)]


@dataclass(frozen=True)
class WorkflowSummary:
    """What the projection and the views need from a workflow, gathered in one walk of its tasks."""

    ready_human: list[Any]
    data: dict[str, Any]
    completed_elements: tuple[str, ...]
    next_due: datetime | None = None

    @classmethod
    def of(cls, workflow: BpmnWorkflow) -> WorkflowSummary:
        ready_human: list[Any] = []
        data: dict[str, Any] = {}
        completed: dict[str, None] = {}
        any_ready = False
        for task in all_tasks(workflow):
            state = task.state
            if state == TaskState.READY:
                any_ready = True
                data.update(task.data)
                if isinstance(task.task_spec, HumanTaskSpec):
                    ready_human.append(task)
            elif state == TaskState.COMPLETED:
                bpmn_id = getattr(task.task_spec, "bpmn_id", None)
                if bpmn_id:
                    completed[bpmn_id] = None
        if not any_ready and workflow.last_task is not None:
            data = dict(workflow.last_task.data)
        return cls(ready_human, data, tuple(completed), next_timer_due(workflow))


def due_timer_elements(workflow: BpmnWorkflow, now: datetime) -> list[str]:
    """The diagram ids of the timers that are due at ``now`` (they fire at the next refresh)."""
    return sorted({task.task_spec.bpmn_id for task in workflow.event_manager.tasks.values()
                   if waits_on_timer(task.task_spec) and (due := due_of(task)) is not None and due <= now})


def next_timer_due(workflow: BpmnWorkflow) -> datetime | None:
    """When the earliest timer this workflow waits on is due (None if it waits on none)."""
    dues = [due for task in workflow.event_manager.tasks.values()
            if waits_on_timer(task.task_spec) and (due := due_of(task)) is not None]
    return min(dues, default=None)


@dataclass(frozen=True)
class Snapshot:
    """What a case's projections hold when it is loaded; ``save`` writes only what changed since."""

    ready: frozenset[str] = frozenset()
    due: datetime | None = None
    subscriptions: frozenset[Subscription] | None = None
    """None for a process without message events: nothing is projected or collected for it."""

    @classmethod
    def of(cls, workflow: BpmnWorkflow, compiled: CompiledDefinition) -> Snapshot:
        return cls(frozenset(str(t.id) for t in ready_human_tasks(workflow)), next_timer_due(workflow),
                   subscriptions_of(workflow) if compiled.has_messages else None)

    @classmethod
    def new(cls, compiled: CompiledDefinition) -> Snapshot:
        """The snapshot of a case not stored yet: no projection rows at all."""
        return cls(subscriptions=frozenset() if compiled.has_messages else None)


def choose_entry(workflow: BpmnWorkflow, compiled: CompiledDefinition, entry: str | None) -> None:
    """Start a new workflow at one start event: ``entry`` (a timer or message start), or, for a person,
    the plain start events (all of them if the process has none). The others are cancelled."""
    if not compiled.start_timers and not compiled.start_messages:
        return  # every start event is a plain one: nothing to choose
    starts = [t for t in workflow.get_tasks() if isinstance(t.task_spec, StartEvent) and t.workflow is workflow]
    if len(starts) < 2:
        return
    if entry is None:
        triggered = {e for e, _ in compiled.start_timers} | {e for e, _ in compiled.start_messages}
        chosen = {t.task_spec.name for t in starts} - triggered or {t.task_spec.name for t in starts}
    else:
        chosen = {entry}
    for task in starts:
        if task.task_spec.name not in chosen:
            task.cancel()


@dataclass
class InstanceContext:
    """Who and what a case is, for operations."""

    case_ref: str
    process_id: str
    started_by: str
    instance_id: int | None = None


class InstanceRunner:
    """Runs SpiffWorkflow for one use case inside the caller's session and transaction."""

    def __init__(self, session: Session, clock: Clock, operations: OperationRegistry,
                 serializer: StateSerializer, services: Any = None) -> None:
        self.session = session
        self.connection = session.connection()
        self.clock = clock
        self.operations = operations
        self.serializer = serializer
        self.services = services
        self._parked_errors = False

    # -- building and restoring workflows -------------------------------------------------------

    def new_workflow(self, compiled: CompiledDefinition, context: InstanceContext) -> BpmnWorkflow:
        """A fresh workflow for ``compiled`` with our script engine bound to ``context``."""
        return BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=self._script_engine(context))

    def restore(self, case: CaseRecord, compiled: CompiledDefinition) -> BpmnWorkflow:
        """The workflow of a stored case."""
        workflow = self.serializer.loads(case.state, case.serializer_version, compiled.spec,
                                         compiled.subprocess_specs)
        workflow.script_engine = self._script_engine(
            InstanceContext(case.case_ref, case.process_id, case.started_by, case.id))
        return workflow

    def _script_engine(self, context: InstanceContext) -> SafeScriptEngine:
        def call(task: Any, topic: str) -> Mapping[str, Any] | None:
            registered = self.operations.get(topic)
            if registered is None:
                raise WorkflowFailed(f"The operation '{topic}' is not registered")
            self._parked_errors = True  # a business error may be parked on the task
            return registered.function(OperationContext(
                case_ref=context.case_ref, process_id=context.process_id, instance_id=context.instance_id,
                started_by=context.started_by, element_id=task.task_spec.name, data=read_only(task.data),
                clock=self.clock, session=self.session, services=self.services,
            ))

        return SafeScriptEngine(self.clock, call)

    # -- running ---------------------------------------------------------------------------------

    def advance(self, workflow: BpmnWorkflow, *, timers: bool = False) -> None:
        """Run engine steps to the next wait, throwing parked business errors to their boundaries.

        With ``timers``, timers that came due while the engine ran (``do_engine_steps`` refreshes
        them last) are run too, so a case never rests on a timer that has already fired.
        """
        try:
            for _ in range(MAX_ENGINE_ROUNDS):
                self._parked_errors = False
                workflow.do_engine_steps()
                thrown = self._parked_errors and self._throw_business_errors(workflow)
                due = timers and workflow.get_next_task(state=TaskState.READY, manual=False) is not None
                if not thrown and not due:
                    return
            raise WorkflowFailed("The process kept raising errors without reaching a wait state")
        except CallgovError:
            raise
        except SpiffWorkflowException as error:
            raise WorkflowFailed(_describe(error)) from error

    def _throw_business_errors(self, workflow: BpmnWorkflow) -> bool:
        thrown = False
        for task in workflow.get_tasks(state=TaskState.STARTED):
            if not isinstance(task.task_spec, ExternalTaskSpec):
                continue
            parked = task.internal_data.pop("business_error", None)
            if parked is None:
                continue
            code, message = parked["code"], parked["message"]
            event = BpmnEvent(ErrorEventDefinition(code, code=code), payload={"error_message": message},
                              target=task.workflow)
            if not workflow.event_manager.catch(event):
                raise WorkflowFailed(f"Step '{_title(task)}' raised '{code}' ({message}) and the diagram has "
                                     "no error boundary for it")
            thrown = True
        return thrown

    # -- saving and projecting -------------------------------------------------------------------

    def insert(self, case: CaseRecord, workflow: BpmnWorkflow,
               compiled: CompiledDefinition) -> tuple[list[TaskView], WorkflowSummary]:
        """Store a new case (its id is set on ``case``) with its projection; return its ready tasks."""
        before = Snapshot.new(compiled)
        thrown = take_thrown(workflow) if before.subscriptions is not None else []
        summary = self._stamp(case, workflow)
        values = {name: getattr(case, name) for name in CASE_FIELDS if name != "id"}
        case.id = _INSERT_CASE.execute(self.connection, values, returning=True)
        case.stored = case.values()
        self._project_timer(case, None, summary.next_due)
        self._project_messages(case, workflow, before, thrown)
        return self._project(case, summary.ready_human, before=set()), summary

    def save(self, case: CaseRecord, workflow: BpmnWorkflow,
             before: Snapshot) -> tuple[list[TaskView], WorkflowSummary]:
        """Write the state and the projections of a stored case; ``before`` is what they held at load.

        The row is updated only if nobody else saved it since it was read (``lock_version``);
        otherwise ``Conflict``.
        """
        thrown = take_thrown(workflow) if before.subscriptions is not None else []
        summary = self._stamp(case, workflow)
        expected = case.lock_version
        case.lock_version += 1
        updated = _UPDATE_CASE.execute(
            self.connection, {"where_id": case.id, "where_version": expected, **case.changes()})
        case.stored = case.values()
        if updated != 1:
            raise Conflict(f"Case {case.case_ref} was changed by someone else at the same moment; "
                           "reload and try again")
        self._project_timer(case, before.due, summary.next_due)
        self._project_messages(case, workflow, before, thrown)
        return self._project(case, summary.ready_human, set(before.ready)), summary

    def _project_timer(self, case: CaseRecord, before: datetime | None, after: datetime | None) -> None:
        if after == before:
            return
        if before is not None:
            self.connection.execute(_DELETE_TIMER, {"instance_id": case.id})
        if after is not None:
            self.connection.execute(_INSERT_TIMER, {"instance_id": case.id, "case_ref": case.case_ref,
                                                    "due_at": after})

    def _project_messages(self, case: CaseRecord, workflow: BpmnWorkflow, before: Snapshot,
                          thrown: list[Any]) -> None:
        """Rewrite the case's subscriptions if they changed; put what it threw in the outbox."""
        if before.subscriptions is None:
            return
        after = subscriptions_of(workflow) if case.status == "running" else frozenset()
        later = self.session.info.setdefault(AFTER_COMMIT, [])
        if after != before.subscriptions:
            if before.subscriptions:
                self.connection.execute(_DELETE_SUBSCRIPTIONS, {"instance_id": case.id})
            if after:
                self.connection.execute(_INSERT_SUBSCRIPTION, [
                    {"instance_id": case.id, "case_ref": case.case_ref, "message_name": name,
                     "correlation_key": key, "correlation_value": value} for name, key, value in sorted(
                        after, key=lambda s: (s[0], s[1], s[2] or ""))])
            if after - before.subscriptions:
                later.append(("subscribed", after - before.subscriptions))
        now = self.clock.now()
        for event in thrown:
            name = event.event_definition.name
            message_id = self.connection.execute(_INSERT_KEPT, {
                "name": name, "correlation": event.correlations, "payload": event.payload, "sent_at": now,
                "sender": case.case_ref, "source_case_ref": case.case_ref, "attempts": 0, "delivered": 0,
            }).scalar_one()
            audit.record(self.session, action="message.sent", actor="system:messages", at=now,
                         case_ref=case.case_ref, detail={"message_id": message_id, "name": name,
                                                         "correlation": event.correlations,
                                                         "fields": sorted(event.payload)})
            later.append(("message", message_id))

    def _stamp(self, case: CaseRecord, workflow: BpmnWorkflow) -> WorkflowSummary:
        now = self.clock.now()
        case.state = self.serializer.dumps(workflow)
        case.serializer_version = self.serializer.VERSION
        case.updated_at = now
        summary = WorkflowSummary.of(workflow)
        case.current_step = "; ".join(_title(t) for t in summary.ready_human)[:300]
        if case.status == "running" and workflow.is_completed():
            case.status, case.ended_at = "completed", now
        return summary

    def _project(self, case: CaseRecord, ready: list[Any], before: set[str]) -> list[TaskView]:
        wanted = {str(t.id): t for t in ready}
        gone = before - set(wanted)
        if gone:
            _DELETE_TASK.execute(self.connection, [{"task_id": task_id} for task_id in sorted(gone)])
        kept = [tid for tid in wanted if tid in before]
        views = {}
        if kept:
            views = {row.id: task_view(row) for row in self.connection.execute(_TASKS_BY_IDS, {"ids": kept})}
        new = [self._new_task(case, wanted[tid]) for tid in wanted if tid not in before]
        if new:
            _INSERT_TASK.execute(self.connection, [_row_values(v, case.id) for v in new])
            _INSERT_CANDIDATE.execute(self.connection, [
                {"task_id": v.id, "kind": kind, "value": value} for v in new for kind, value in candidates_of(v)])
            views.update((v.id, v) for v in new)
        return [views[tid] for tid in wanted]

    def _new_task(self, case: CaseRecord, task: Any) -> TaskView:
        spec: HumanTaskSpec = task.task_spec
        now = self.clock.now()
        roles = list(spec.candidate_groups)
        if not roles and not spec.assignee and spec.lane:
            lane_role = role_for_name(spec.lane)
            roles = [lane_role] if lane_role else []
        assignee = self._assignee(spec, task)
        return TaskView(
            id=str(task.id), case_ref=case.case_ref, process_id=case.process_id, element_id=spec.name,
            title=_title(task), candidate_roles=tuple(dict.fromkeys(roles)), assignee=assignee, claimed_by=None,
            case_started_by=case.started_by, created_at=now, due_at=self._due(spec, task, now),
            excluded_users=tuple(self._excluded(spec, task, case)),
        )

    def _assignee(self, spec: HumanTaskSpec, task: Any) -> str | None:
        if not spec.assignee:
            return None
        text = spec.assignee.strip()
        if not text.startswith("${"):
            return text
        value = self._evaluate(text, task, "assignee")
        return str(value) if value else None

    def _excluded(self, spec: HumanTaskSpec, task: Any, case: CaseRecord) -> list[str]:
        declared = spec.extensions.get("excludeUsers")
        extra: list[str] = []
        if declared:
            value = self._evaluate(declared, task, "excludeUsers")
            extra = [str(v) for v in (value if isinstance(value, list | tuple) else [value]) if v]
        return excluded_users(spec.candidate_groups, case.started_by, spec.assignee, extra)

    def _due(self, spec: HumanTaskSpec, task: Any, now: datetime) -> datetime | None:
        if not spec.due_date:
            return None
        text = unwrap_expression(spec.due_date)
        literal = parse_timer_literal(text)
        value: Any = literal if literal is not None else self._evaluate(text, task, "due date")
        return as_due_time(value, now)

    def _evaluate(self, text: str, task: Any, what: str) -> Any:
        try:
            return evaluate(unwrap_expression(text), task.data, clock=self.clock)
        except ExpressionError as error:
            raise WorkflowFailed(f"The {what} of '{_title(task)}' could not be worked out: {error}") from None

    def record_history(self, case: CaseRecord, task: Any, actor: str, values: Mapping[str, Any],
                       outcome: str = "completed", note: str | None = None) -> None:
        """Keep what was done with a user task, for the case page and the audit trail."""
        _INSERT_HISTORY.execute(self.connection, {
            "instance_id": case.id, "task_id": str(task.id), "element_id": task.task_spec.name,
            "title": _title(task), "outcome": outcome, "actor": actor, "at": self.clock.now(),
            "values": json_ready(values), "note": note})


def _row_values(view: TaskView, instance_id: int | None) -> dict[str, Any]:
    return {"id": view.id, "instance_id": instance_id, "case_ref": view.case_ref, "process_id": view.process_id,
            "element_id": view.element_id, "title": view.title, "lane": None, "assignee": view.assignee,
            "claimed_by": None, "excluded_users": list(view.excluded_users),
            "candidate_roles": list(view.candidate_roles), "case_started_by": view.case_started_by,
            "created_at": view.created_at, "due_at": view.due_at, "due_order": view.due_at or NO_DUE_DATE}


def candidates_of(view: TaskView) -> list[tuple[str, str]]:
    """The (kind, value) pairs the inbox looks a task up by."""
    pairs = [("role", role) for role in view.candidate_roles]
    if view.assignee:
        pairs.append(("user", view.assignee))
    return pairs


def as_due_time(value: Any, now: datetime) -> datetime | None:
    """Turn a due-date value (datetime, date, duration, ISO text) into an aware time."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        literal = parse_timer_literal(value)
        if literal is None:
            raise ExpressionError(f"'{value}' is not a date, time or duration")
        value = literal
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, 23, 59, tzinfo=UTC)
    if isinstance(value, timedelta):
        return now + value
    if isinstance(value, Duration):
        return value.add_to(now)
    raise ExpressionError(f"A due date must be a date, time or duration, not {type(value).__name__}")


_COUNTERS = cast(Table, CaseCounter.__table__)
_NEXT_NUMBER = FastWrite(update(_COUNTERS).where(
    _COUNTERS.c.prefix == bindparam("key_prefix"), _COUNTERS.c.year == bindparam("key_year")
).values(last_number=_COUNTERS.c.last_number + 1).returning(_COUNTERS.c.last_number))
_FIRST_NUMBER = insert(_COUNTERS)


def next_case_ref(session: Session, prefix: str, year: int) -> str:
    """Hand out the next case reference for ``prefix`` in ``year`` (``REL-2026-00001``)."""
    connection = session.connection()
    number = _NEXT_NUMBER.execute(connection, {"key_prefix": prefix, "key_year": year}, returning=True)
    if number is None:
        connection.execute(_FIRST_NUMBER, {"prefix": prefix, "year": year, "last_number": 1})
        number = 1
    return f"{prefix}-{year}-{number:05d}"


def find_ready_task(workflow: BpmnWorkflow, task_id: str, case_ref: str) -> Any:
    """The ready user task ``task_id`` in ``workflow``, or ``Conflict`` if it is no longer ready."""
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except (ValueError, KeyError, SpiffWorkflowException):
        task = None
    if task is None or task.state != TaskState.READY or not isinstance(task.task_spec, HumanTaskSpec):
        raise Conflict(f"This task of case {case_ref} has already been done or is no longer needed")
    return task


def with_claim(view: TaskView, claimed_by: str | None) -> TaskView:
    """``view`` with another claimer."""
    return replace(view, claimed_by=claimed_by)


def _title(task: Any) -> str:
    return str(task.task_spec.bpmn_name or task.task_spec.name)


def _describe(error: SpiffWorkflowException) -> str:
    message = str(error.args[0]) if error.args else error.__class__.__name__
    task = getattr(error, "task", None)
    where = f" at '{_title(task)}'" if task is not None and getattr(task, "task_spec", None) else ""
    return f"The process failed{where}: {message}"
