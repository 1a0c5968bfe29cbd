"""Timer start events: the scheduler starts a case of a process when its start timer comes due.

Publishing a version writes one ``start_timer`` row per timer start event of its main process
(replacing the previous version's); ``due_starts`` reads the rows that are due and ``advance``
moves a row on after it started a case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from engine.bpmn.compiler import CompiledDefinition, unwrap_expression
from engine.bpmn.timers import ClockCycle, ClockTimeDate, after, as_moment
from engine.clock import Clock
from engine.errors import ExpressionError
from engine.expressions import Duration, TimerCycle, evaluate, parse_timer_literal
from engine.models import StartTimer

STARTS = cast(Table, StartTimer.__table__)
_DELETE_PROCESS = delete(STARTS).where(STARTS.c.process_id == bindparam("process_id"))
_INSERT = insert(STARTS)
_DUE = select(STARTS).where(STARTS.c.due_at <= bindparam("now")).order_by(STARTS.c.due_at).limit(bindparam("limit"))
_ONE_DUE_LOCKED = select(STARTS).where(
    STARTS.c.process_id == bindparam("process_id"), STARTS.c.element_id == bindparam("element_id"),
    STARTS.c.due_at <= bindparam("now")).with_for_update()
_KEY = (STARTS.c.process_id == bindparam("key_process"), STARTS.c.element_id == bindparam("key_element"))
_MOVE_ON = update(STARTS).where(*_KEY).values(due_at=bindparam("new_due"), remaining=bindparam("new_remaining"))
_REMOVE = delete(STARTS).where(*_KEY)


def schedule(connection: Connection, version_id: int, compiled: CompiledDefinition, clock: Clock) -> None:
    """Replace the start timers of ``compiled``'s process with those of this (published) version."""
    connection.execute(_DELETE_PROCESS, {"process_id": compiled.process_id})
    now = clock.now()
    rows = []
    for element_id, definition in compiled.start_timers:
        due, period, remaining = _first(definition, now, clock)
        rows.append({"process_id": compiled.process_id, "element_id": element_id, "definition_version_id": version_id,
                     "due_at": due, "period": period, "remaining": remaining})
    if rows:
        connection.execute(_INSERT, rows)


def _first(definition: Any, now: datetime, clock: Clock) -> tuple[datetime, str | None, int | None]:
    text = unwrap_expression(definition.expression)
    value = parse_timer_literal(text)
    if value is None:
        value = evaluate(text, {"now": now}, clock=clock)
        if isinstance(value, str):
            value = parse_timer_literal(value)
    if isinstance(definition, ClockCycle):
        if not isinstance(value, TimerCycle):
            raise ExpressionError("A start timer cycle must look like R/P3Y")
        return value.period.add_to(value.start or now), value.period.isoformat(), value.repetitions
    if isinstance(definition, ClockTimeDate):
        return as_moment(value), None, None
    return after(value, now), None, None


def due_starts(connection: Connection, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
    """(process id, element id) of the start timers due at ``now``."""
    return [(r.process_id, r.element_id) for r in connection.execute(_DUE, {"now": now, "limit": limit})]


def claim(connection: Connection, process_id: str, element_id: str, now: datetime) -> Any:
    """Lock a start timer that is still due (None if another scheduler took it) and move it on."""
    row = connection.execute(_ONE_DUE_LOCKED, {"process_id": process_id, "element_id": element_id,
                                               "now": now}).first()
    if row is None:
        return None
    key = {"key_process": process_id, "key_element": element_id}
    remaining = None if row.remaining is None else row.remaining - 1
    if row.period and (remaining is None or remaining > 0):
        due = Duration.parse(row.period).add_to(row.due_at)
        while due <= now:  # after downtime: one case now, then back on the grid
            due = Duration.parse(row.period).add_to(due)
        connection.execute(_MOVE_ON, {**key, "new_due": due, "new_remaining": remaining})
    else:
        connection.execute(_REMOVE, key)
    return row


__all__ = ["claim", "due_starts", "schedule"]
