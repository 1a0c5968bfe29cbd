"""Cases at run time: start, complete a task, cancel — each one transaction on one instance.

The instance row holds SpiffWorkflow's state; the ``human_task`` rows are a projection of its
ready user tasks, rewritten in the same transaction as the state (DESIGN decisions 3 and 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.access import excluded_users, may_do_task
from engine.bpmn.compiler import CompiledDefinition, unwrap_expression
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.serializer import StateSerializer
from engine.bpmn.specs import ExternalTaskSpec, HumanTaskSpec
from engine.clock import Clock
from engine.errors import CallgovError, Conflict, ExpressionError, NotFound, WorkflowFailed
from engine.expressions import Duration, evaluate, parse_timer_literal
from engine.models import CaseCounter, HumanTask, ProcessInstance, TaskCandidate, TaskHistory
from engine.operations import OperationContext, OperationRegistry, read_only
from engine.roles import role_for_name

MAX_ENGINE_ROUNDS = 50


@dataclass
class InstanceContext:
    """Who and what an instance is, for operations and projections."""

    case_ref: str
    process_id: str
    started_by: str
    instance_id: int | None = None


class InstanceRunner:
    """Runs SpiffWorkflow for one use case inside the caller's session and transaction."""

    def __init__(self, session: Session, clock: Clock, operations: OperationRegistry,
                 serializer: StateSerializer, services: Any = None) -> None:
        self.session = session
        self.clock = clock
        self.operations = operations
        self.serializer = serializer
        self.services = services

    # -- building and restoring workflows -------------------------------------------------------

    def new_workflow(self, compiled: CompiledDefinition, context: InstanceContext) -> BpmnWorkflow:
        """A fresh workflow for ``compiled`` with our script engine bound to ``context``."""
        return BpmnWorkflow(compiled.spec, compiled.subprocess_specs,
                            script_engine=self._script_engine(context))

    def restore(self, instance: ProcessInstance, compiled: CompiledDefinition) -> BpmnWorkflow:
        """The workflow of a stored instance."""
        workflow = self.serializer.loads(instance.state, instance.serializer_version,
                                         compiled.spec, compiled.subprocess_specs)
        workflow.script_engine = self._script_engine(InstanceContext(
            instance.case_ref, instance.process_id, instance.started_by, instance.id))
        return workflow

    def _script_engine(self, context: InstanceContext) -> SafeScriptEngine:
        def call(task: Any, topic: str) -> Mapping[str, Any] | None:
            registered = self.operations.get(topic)
            if registered is None:
                raise WorkflowFailed(f"The operation '{topic}' is not registered")
            return registered.function(OperationContext(
                case_ref=context.case_ref, process_id=context.process_id, instance_id=context.instance_id,
                started_by=context.started_by, element_id=task.task_spec.name, data=read_only(task.data),
                clock=self.clock, session=self.session, services=self.services,
            ))

        return SafeScriptEngine(self.clock, call)

    # -- running ---------------------------------------------------------------------------------

    def advance(self, workflow: BpmnWorkflow) -> None:
        """Run engine steps to the next wait, throwing parked business errors to their boundaries."""
        try:
            for _ in range(MAX_ENGINE_ROUNDS):
                workflow.do_engine_steps()
                if not self._throw_business_errors(workflow):
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
                raise WorkflowFailed(f"Step '{task.task_spec.bpmn_name or task.task_spec.name}' raised "
                                     f"'{code}' ({message}) and the diagram has no error boundary for it")
            thrown = True
        return thrown

    # -- saving and projecting -------------------------------------------------------------------

    def save(self, instance: ProcessInstance, workflow: BpmnWorkflow, *, new: bool = False) -> list[HumanTask]:
        """Write the state and rewrite the human-task projection of ``instance``; return its ready tasks.

        A stale version counter surfaces as ``StaleDataError`` when the session flushes; the facade
        turns it into ``Conflict``.
        """
        now = self.clock.now()
        instance.state = self.serializer.dumps(workflow)
        instance.serializer_version = self.serializer.VERSION
        instance.updated_at = now
        ready = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                 if isinstance(t.task_spec, HumanTaskSpec)]
        instance.current_step = "; ".join(_title(t) for t in ready)[:300]
        if workflow.is_completed() and instance.status == "running":
            instance.status = "completed"
            instance.ended_at = now
        return self._project(instance, ready, new)

    def _project(self, instance: ProcessInstance, ready: list[Any], new: bool) -> list[HumanTask]:
        kept: dict[str, HumanTask] = {}
        if not new:
            kept = {row.id: row for row in self.session.scalars(
                select(HumanTask).where(HumanTask.instance_id == instance.id))}
        wanted = {str(t.id): t for t in ready}
        gone = set(kept) - set(wanted)
        if gone:
            self.session.execute(delete(HumanTask).where(HumanTask.id.in_(gone)),
                                 execution_options={"synchronize_session": False})
            for task_id in gone:
                self.session.expunge(kept.pop(task_id))
        rows = []
        for task_id, task in wanted.items():
            row = kept.get(task_id)
            if row is None:
                row = self._human_task(instance, task)
                self.session.add(row)
                self.session.add_all(TaskCandidate(task_id=row.id, kind=kind, value=value)
                                     for kind, value in candidates_of(row))
            rows.append(row)
        return rows

    def _human_task(self, instance: ProcessInstance, task: Any) -> HumanTask:
        spec: HumanTaskSpec = task.task_spec
        now = self.clock.now()
        roles = list(spec.candidate_groups)
        if not roles and spec.lane:
            lane_role = role_for_name(spec.lane)
            roles = [lane_role] if lane_role else []
        assignee = self._assignee(spec, task)
        row = HumanTask(
            id=str(task.id), instance_id=instance.id, case_ref=instance.case_ref,
            process_id=instance.process_id, element_id=spec.name, title=_title(task), lane=spec.lane,
            assignee=assignee, claimed_by=None, excluded_users=self._excluded(spec, task, instance),
            case_started_by=instance.started_by, created_at=now, due_at=self._due(spec, task, now),
        )
        row.candidate_roles = list(dict.fromkeys(roles))
        return row

    def _assignee(self, spec: HumanTaskSpec, task: Any) -> str | None:
        if not spec.assignee:
            return None
        text = spec.assignee.strip()
        if not text.startswith("${"):
            return text
        value = self._evaluate(text, task, "assignee")
        return str(value) if value else None

    def _excluded(self, spec: HumanTaskSpec, task: Any, instance: ProcessInstance) -> list[str]:
        declared = spec.extensions.get("excludeUsers")
        extra: list[str] = []
        if declared:
            value = self._evaluate(declared, task, "excludeUsers")
            extra = [str(v) for v in (value if isinstance(value, list | tuple) else [value]) if v]
        return excluded_users(spec.candidate_groups or [], instance.started_by, spec.assignee, extra)

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

    def record_history(self, instance: ProcessInstance, task: Any, actor: str, values: Mapping[str, Any],
                       outcome: str = "completed", note: str | None = None) -> TaskHistory:
        """Keep what was done with a user task, for the case page and the audit trail."""
        entry = TaskHistory(instance_id=instance.id, task_id=str(task.id), element_id=task.task_spec.name,
                            title=_title(task), outcome=outcome, actor=actor, at=self.clock.now(),
                            values=json_ready(values), note=note)
        self.session.add(entry)
        return entry


def candidates_of(row: HumanTask) -> list[tuple[str, str]]:
    """The (kind, value) pairs the inbox looks a task up by."""
    pairs = [("role", role) for role in row.candidate_roles]
    if row.assignee:
        pairs.append(("user", row.assignee))
    return pairs


def as_due_time(value: Any, now: datetime) -> datetime | None:
    """Turn a due-date value (datetime, date, duration, ISO text) into an aware time."""
    from datetime import UTC

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


def json_ready(values: Mapping[str, Any]) -> dict[str, Any]:
    """Submitted values with dates as ISO text, for JSON columns."""
    return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in values.items()}


def next_case_ref(session: Session, prefix: str, year: int) -> str:
    """Hand out the next case reference for ``prefix`` in ``year`` (``REL-2026-00001``)."""
    counter = session.get(CaseCounter, (prefix, year), with_for_update=True)
    if counter is None:
        counter = CaseCounter(prefix=prefix, year=year, last_number=0)
        session.add(counter)
    counter.last_number += 1
    session.flush()
    return f"{prefix}-{year}-{counter.last_number:05d}"


def find_ready_task(workflow: BpmnWorkflow, task_id: str, case_ref: str) -> Any:
    """The ready user task ``task_id`` in ``workflow``, or ``Conflict`` if it is no longer ready."""
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except (ValueError, KeyError, SpiffWorkflowException):
        task = None
    if task is None or task.state != TaskState.READY or not isinstance(task.task_spec, HumanTaskSpec):
        raise Conflict(f"This task of case {case_ref} has already been done or is no longer needed")
    return task


def ensure_may_do(row: HumanTask, username: str, roles: frozenset[str]) -> None:
    """Raise ``PermissionDenied`` unless the user may complete the task of this row."""
    may_do_task(row, username, roles, raise_error=True)


def _title(task: Any) -> str:
    return str(task.task_spec.bpmn_name or task.task_spec.name)


def _describe(error: SpiffWorkflowException) -> str:
    message = str(error.args[0]) if error.args else error.__class__.__name__
    task = getattr(error, "task", None)
    where = f" at '{_title(task)}'" if task is not None and getattr(task, "task_spec", None) else ""
    return f"The process failed{where}: {message}"


__all__ = ["InstanceContext", "InstanceRunner", "NotFound", "next_case_ref"]
