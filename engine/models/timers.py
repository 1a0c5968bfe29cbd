"""The next due timer of every waiting case, so the scheduler wakes only what is due."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class Timer(Base):
    """One row per case that waits on at least one timer: when the earliest one is due.

    Written in the same transaction as the case's state (``engine.instances``); the scheduler's
    ``fire_due_timers`` reads only rows whose ``due_at`` has passed, through the index on it.
    """

    __tablename__ = "timer"

    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class StartTimer(Base):
    """When the scheduler next starts a case of a process on its own (a timer start event).

    Rewritten when a version is published; a cycle (``R/P3Y``) moves ``due_at`` on by its period
    each time it starts a case, a date or duration is removed once used.
    """

    __tablename__ = "start_timer"

    process_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    element_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    definition_version_id: Mapped[int] = mapped_column(ForeignKey("definition_version.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    period: Mapped[str | None] = mapped_column(String(40))
    """ISO-8601 period of a cycle; None for a one-off date or duration."""
    remaining: Mapped[int | None] = mapped_column()
    """Cycles still to run; None without limit."""
