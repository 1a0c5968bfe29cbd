"""Each job's schedule and last outcome in ``scheduler_job``, shared by every would-be runner.

Keeping the schedule in the database rather than in the runner's memory means a new runner (after
a failover or a restart) carries on where the old one stopped instead of running every job at once,
and a due slot is claimed by compare-and-set, so it runs once even if two processes briefly both
believe they are the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine import audit
from engine.db import Database
from engine.models.scheduler import SchedulerJob

__all__ = ["JobState", "claim", "ensure_jobs", "following", "job_states", "record_failure", "record_success"]

SYSTEM_ACTOR = "system:scheduler"
_JOB = cast(Table, SchedulerJob.__table__)
_MAX_ERROR = 8000
_MAX_SUMMARY = 500  # scheduler_job.last_summary
_MAX_AUDIT_ERROR = 500


@dataclass(frozen=True)
class JobState:
    """A job's row as the status command shows it."""

    name: str
    next_run_at: datetime
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str | None
    last_summary: str | None
    last_error: str | None
    last_run_by: str | None
    consecutive_failures: int


def following(due: datetime, every: timedelta, now: datetime) -> datetime:
    """The first slot after ``now`` on the grid ``due + k * every``: fixed rate, missed runs coalesced.

    Keeping to the grid stops a job drifting by the tick's lateness each time it runs; skipping the
    slots missed while no runner was alive runs a job once on recovery, not once per missed slot.
    """
    if due > now:
        return due
    return due + ((now - due) // every + 1) * every


def ensure_jobs(db: Database, names: list[str], now: datetime) -> None:
    """Give each named job a row (due ``now``) unless it already has one."""
    if not names:
        return
    insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
    with db.transaction() as session:
        session.execute(
            insert(_JOB)
            .values([{"name": name, "next_run_at": now, "consecutive_failures": 0} for name in names])
            .on_conflict_do_nothing(index_elements=["name"])
        )


def claim(db: Database, name: str, every: timedelta, now: datetime, holder: str) -> bool:
    """Claim the job's due slot: True if it is due at ``now`` and nobody else claimed it first.

    A job is due when ``next_run_at`` has come, or lies further ahead than one interval (its
    ``every`` was shortened since the row was written). The write is conditional on the value read,
    so of two claimants of one slot exactly one succeeds.
    """
    with db.transaction() as session:
        due = session.execute(select(_JOB.c.next_run_at).where(_JOB.c.name == name)).scalar_one_or_none()
        if due is None or now < due <= now + every:
            return False
        result = session.execute(
            update(_JOB)
            .where(_JOB.c.name == name, _JOB.c.next_run_at == due)
            .values(next_run_at=following(min(due, now), every, now), last_started_at=now, last_run_by=holder)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def record_success(db: Database, name: str, finished_at: datetime, summary: str) -> None:
    """Note a run that finished normally and reset the failure count."""
    with db.transaction() as session:
        session.execute(
            update(_JOB).where(_JOB.c.name == name).values(
                last_finished_at=finished_at, last_outcome="ok", last_summary=summary[:_MAX_SUMMARY] or None,
                consecutive_failures=0,
            )
        )


def record_failure(db: Database, name: str, finished_at: datetime, error: BaseException, trace: str) -> int:
    """Note a failed run and write ``job.failed`` to the audit trail; returns the failure count.

    Both happen in one transaction of their own, apart from whatever the job did and rolled back.
    """
    with db.transaction() as session:
        failures = (session.execute(
            select(_JOB.c.consecutive_failures).where(_JOB.c.name == name)
        ).scalar_one_or_none() or 0) + 1
        session.execute(
            update(_JOB).where(_JOB.c.name == name).values(
                last_finished_at=finished_at, last_outcome="failed", last_error=trace[-_MAX_ERROR:],
                consecutive_failures=failures,
            )
        )
        audit.record(
            session, action="job.failed", actor=SYSTEM_ACTOR, at=finished_at,
            detail={"job": name, "error": short_error(error), "consecutive_failures": failures},
        )
    return failures


def short_error(error: BaseException) -> str:
    """``ExceptionType: message`` on one line, cut to a length fit for an audit event."""
    text = f"{type(error).__name__}: {error}".strip().rstrip(":")
    return text if len(text) <= _MAX_AUDIT_ERROR else text[: _MAX_AUDIT_ERROR - 1] + "…"


def job_states(db: Database) -> dict[str, JobState]:
    """Every job row, by name (including rows of jobs no longer registered)."""
    with db.reading() as session:
        rows = session.scalars(select(SchedulerJob).order_by(SchedulerJob.name)).all()
        return {
            row.name: JobState(
                name=row.name, next_run_at=row.next_run_at, last_started_at=row.last_started_at,
                last_finished_at=row.last_finished_at, last_outcome=row.last_outcome,
                last_summary=row.last_summary, last_error=row.last_error, last_run_by=row.last_run_by,
                consecutive_failures=row.consecutive_failures,
            )
            for row in rows
        }
