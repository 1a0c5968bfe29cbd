"""The scheduler's two small tables: the runner's lease (SQLite election) and each job's schedule.

``scheduler_lock`` elects the single runner where PostgreSQL advisory locks are not available
(SQLite); ``scheduler_job`` keeps every periodic job's next due time and last outcome in the
database, so whichever process is the runner — now or after a failover — runs each due job once
per interval and anyone can see when a job last failed and why (see ``engine.scheduler``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class SchedulerLock(Base):
    """A lease on the scheduler: the process named by ``holder`` runs the jobs until ``expires_at``.

    The runner renews the lease (``heartbeat_at``, ``expires_at``) on every tick; another process
    may take it only once ``expires_at`` has passed or the holder released it (``holder`` empty).
    One row per lock ``name`` (``scheduler`` by default).
    """

    __tablename__ = "scheduler_lock"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    """``hostname:pid:random`` of the runner, or empty once it released the lease on a clean stop."""
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the current holder became the runner."""
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The holder's last renewal."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """After this time the lease is free for the taking (a runner that stopped renewing has died)."""


class SchedulerJob(Base):
    """One registered periodic job's schedule and last run, shared by every would-be runner.

    ``next_run_at`` is moved forward with a compare-and-set before the job runs, so one due slot is
    claimed by one process only, even across a change of runner.
    """

    __tablename__ = "scheduler_job"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The job is due once the clock reaches this time."""
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_outcome: Mapped[str | None] = mapped_column(String(10))
    """``ok`` or ``failed``; empty until the job first finishes."""
    last_summary: Mapped[str | None] = mapped_column(String(500))
    """What the last successful run reported (``JobOutcome.summary``)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    """The traceback of the last failure (kept after later successes, until the next failure)."""
    last_run_by: Mapped[str | None] = mapped_column(String(200))
    """The holder id of the runner that started the last run."""
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    """Failures since the last success: what monitoring should alert on."""
