"""Timer event definitions that read the engine's clock, not the wall clock.

SpiffWorkflow's timers call ``datetime.now()`` themselves and expect ISO text from the expression.
Ours take the time from the script engine's ``Clock`` (so tests move time and a case that was down
fires its overdue timers when it comes back), and accept what our expression language produces:
ISO text, a ``datetime`` or ``date``, a ``timedelta`` or a calendar ``Duration``, or a cycle.

Each timer stores its due time in the task's internal data as ISO text (``event_value``), which is
what the engine projects into the ``timer`` table.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)

from engine.errors import ExpressionError
from engine.expressions import Duration, TimerCycle, parse_timer_literal


def clock_now(my_task: Any) -> datetime:
    """The engine clock's now, through the workflow's script engine."""
    now: datetime = my_task.workflow.top_workflow.script_engine.clock.now()
    return now


def _value(my_task: Any, expression: str) -> Any:
    value = my_task.workflow.script_engine.evaluate(my_task, expression)
    if isinstance(value, str):
        literal = parse_timer_literal(value)
        if literal is None:
            raise ExpressionError(f"'{value}' is not a date, duration or cycle")
        return literal
    return value


def as_moment(value: Any) -> datetime:
    """A point in time from a timer value (aware UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ExpressionError(f"A timer date must be a date or time, not {type(value).__name__}")


def after(value: Any, start: datetime) -> datetime:
    """``start`` plus a duration value."""
    if isinstance(value, timedelta):
        return start + value
    if isinstance(value, Duration):
        return value.add_to(start)
    raise ExpressionError(f"A timer duration must be a duration like P5D, not {type(value).__name__}")


class _ClockTimer:
    """Shared firing logic: compute the due time once, fire when the clock reaches it.

    A timer usually owns its task's ``event_value``. Behind an event-based gateway several timers
    share the gateway's task, so each keeps its own ``event_value:<name>`` there.
    """

    expression: str
    name: str

    def due_time(self, my_task: Any, now: datetime) -> datetime:
        raise NotImplementedError

    def _key(self, my_task: Any) -> str:
        return "event_value" if my_task.task_spec.event_definition is self else f"event_value:{self.name}"

    def has_fired(self, my_task: Any) -> bool:
        own = my_task.task_spec.event_definition is self
        if own and my_task._get_internal_data("event_fired", False):
            return True
        now = clock_now(my_task)
        key = self._key(my_task)
        due = my_task.internal_data.get(key)
        if due is None:
            due = self.due_time(my_task, now).isoformat()
            my_task.internal_data[key] = due
        if datetime.fromisoformat(due) > now:
            return False
        if own:
            my_task._set_internal_data(event_fired=True)
            return True
        # Behind an event-based gateway only the first event wins, even when several are overdue.
        return due == min(v for k, v in my_task.internal_data.items()
                          if k.startswith("event_value:") and isinstance(v, str))

    def reset(self, my_task: Any) -> None:
        my_task.internal_data.pop(self._key(my_task), None)
        super().reset(my_task)  # type: ignore[misc]


class ClockTimeDate(_ClockTimer, TimeDateEventDefinition):
    """``bpmn:timeDate``: fires at a date and time."""

    def due_time(self, my_task: Any, now: datetime) -> datetime:
        return as_moment(_value(my_task, self.expression))


class ClockDuration(_ClockTimer, DurationTimerEventDefinition):
    """``bpmn:timeDuration``: fires a duration after the timer started waiting."""

    def due_time(self, my_task: Any, now: datetime) -> datetime:
        return after(_value(my_task, self.expression), now)


class ClockCycle(CycleTimerEventDefinition):
    """``bpmn:timeCycle`` (``R3/PT1H``, ``R/P1D``): fires repeatedly, on a non-interrupting boundary."""

    def cycle_complete(self, my_task: Any) -> bool:
        now = clock_now(my_task)
        state = my_task._get_internal_data("event_value")
        if state is None:
            cycle = _value(my_task, self.expression)
            if not isinstance(cycle, TimerCycle):
                raise ExpressionError("A timer cycle must look like R/P1D or R3/PT1H")
            first = cycle.period.add_to(cycle.start or now)
            state = {"cycles": -1 if cycle.repetitions is None else cycle.repetitions,
                     "next": first.isoformat(), "period": cycle.period.isoformat()}
        ready = False
        if state["cycles"] != 0:
            due = datetime.fromisoformat(state["next"])
            if due <= now:
                state["next"] = Duration.parse(state["period"]).add_to(due).isoformat()
                state["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
            return False
        my_task._set_internal_data(event_value=state)
        return ready


def due_of(my_task: Any) -> datetime | None:
    """When a waiting task's earliest timer is next due, from what its timer definitions stored."""
    dues = []
    for key, value in my_task.internal_data.items():
        if key != "event_value" and not key.startswith("event_value:"):
            continue
        if isinstance(value, dict) and value.get("cycles", 0) != 0:
            dues.append(datetime.fromisoformat(value["next"]))
        elif isinstance(value, str):
            dues.append(datetime.fromisoformat(value))
    return min(dues, default=None)


def waits_on_timer(task_spec: Any) -> bool:
    """Whether a task spec's event definition is, or includes, one of our timers."""
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return any(isinstance(d, TIMER_CLASSES) for d in definition.event_definitions)
    return isinstance(definition, TIMER_CLASSES)


TIMER_CLASSES = (ClockTimeDate, ClockDuration, ClockCycle)
