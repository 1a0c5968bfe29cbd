"""``Scheduler``: one tick every few seconds; on the elected runner only, each due job runs once.

A tick campaigns in the election, then — if this process is the runner — claims and runs each
registered job whose slot is due, renewing its leadership between jobs. A job that raises is
logged with its traceback, recorded (``scheduler_job.last_error``, audit ``job.failed``) and does
not stop the others. ``start`` runs ticks on an APScheduler background thread, ``run_forever``
blocks until SIGINT or SIGTERM (``callgov scheduler run``), ``tick`` runs one directly.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.scheduler import state
from engine.scheduler.election import SCHEDULER_LOCK_KEY, Election, make_election, new_holder_id
from engine.scheduler.jobs import Job, JobContext, JobOutcome, JobRegistry
from engine.scheduler.state import JobState

__all__ = ["DEFAULT_INTERVAL", "JobRun", "Scheduler", "SchedulerStatus", "TickReport"]

logger = logging.getLogger("engine.scheduler")

DEFAULT_INTERVAL = timedelta(seconds=15)
LEASE_TICKS = 3
"""A runner that misses this many ticks in a row is replaced (the lease is this many intervals)."""
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class JobRun:
    """One run of one job within a tick."""

    name: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    summary: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json`` output."""
        return {"name": self.name, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(), "ok": self.ok, "summary": self.summary,
                "detail": dict(self.detail), "error": self.error}


@dataclass(frozen=True)
class TickReport:
    """What one tick did: whether this process was the runner, and the jobs it ran."""

    at: datetime
    holder: str
    leader: bool
    """Whether this process was the runner when the tick began."""
    runs: tuple[JobRun, ...] = ()
    problem: str | None = None
    """Why this process could not campaign (the database was unreachable), if it could not."""

    @property
    def ran(self) -> list[str]:
        """Names of the jobs run, in order."""
        return [run.name for run in self.runs]

    @property
    def failed(self) -> list[str]:
        """Names of the jobs that raised."""
        return [run.name for run in self.runs if not run.ok]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json`` output."""
        return {"at": self.at.isoformat(), "holder": self.holder, "leader": self.leader,
                "problem": self.problem, "runs": [run.to_dict() for run in self.runs]}


@dataclass(frozen=True)
class SchedulerStatus:
    """The runner's holder id (None when no process holds the post) and every registered job's state.

    A job's state is None until a runner has seen it for the first time.
    """

    runner: str | None
    jobs: tuple[tuple[Job, JobState | None], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json`` output."""
        return {"runner": self.runner, "jobs": [
            {"name": job.name, "every_seconds": job.every.total_seconds(), "description": job.description,
             **({} if row is None else {key: value.isoformat() if isinstance(value, datetime) else value
                                        for key, value in asdict(row).items() if key != "name"})}
            for job, row in self.jobs]}


class Scheduler:
    """Runs the registry's jobs, on one elected process among all that start a scheduler.

    ``interval`` is the tick period (15 s by default); the runner's lease is ``lease`` (default
    three intervals): a runner silent for that long is replaced. ``lock_key`` is the PostgreSQL
    advisory lock key, to be changed only when two installations share one database. Use it as a
    context manager, or call ``stop`` when done, so leadership is handed over at once.
    """

    def __init__(
        self,
        db: Database,
        registry: JobRegistry,
        *,
        clock: Clock | None = None,
        interval: timedelta = DEFAULT_INTERVAL,
        lease: timedelta | None = None,
        lock_key: int = SCHEDULER_LOCK_KEY,
        election: Election | None = None,
    ) -> None:
        if interval <= timedelta(0):
            raise ValueError("the scheduler interval must be positive")
        self.db = db
        self.registry = registry
        self.clock = clock or SystemClock()
        self.interval = interval
        self.lease = lease or interval * LEASE_TICKS
        if self.lease <= interval:
            raise ValueError("the lease must be longer than the tick interval, or the runner would "
                             "lose it between two ticks")
        self.election = election or make_election(db, new_holder_id(), lease=self.lease, key=lock_key)
        self._leader = False
        self._problem: str | None = None
        self._known_jobs: set[str] = set()
        self._tick_lock = threading.Lock()
        self._background: BackgroundScheduler | None = None

    @property
    def holder(self) -> str:
        """This scheduler's id in the election: ``hostname:pid:random``."""
        return self.election.holder

    @property
    def is_leader(self) -> bool:
        """Whether the last campaign made (or kept) this process the runner."""
        return self._leader

    # --- one tick -------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Campaign, then run every due job if this process is the runner; never raises for a job.

        ``now`` (default: the clock) is the time the tick acts at, for the election and for which
        jobs are due. Ticks within one process never overlap.
        """
        with self._tick_lock:
            at = now or self.clock.now()
            current: Callable[[], datetime] = (lambda: at) if now is not None else self.clock.now
            if not self._campaign(at):
                return TickReport(at=at, holder=self.holder, leader=False, problem=self._problem)
            runs: list[JobRun] = []
            renew = False
            for job in self.registry:
                # Renew the post after each job that ran: a long job must not outlive the lease
                # unnoticed, and a runner that lost the post leaves the rest to the new one.
                if renew and not self._campaign(current()):
                    logger.warning("scheduler: lost the runner post mid-tick; leaving %s to the new runner",
                                   job.name)
                    break
                run = self._run_if_due(job, at)
                renew = run is not None
                if run is not None:
                    runs.append(run)
            return TickReport(at=at, holder=self.holder, leader=True, runs=tuple(runs))

    def _campaign(self, now: datetime) -> bool:
        was_leader, self._problem = self._leader, None
        try:
            self._leader = self.election.campaign(now)
            if self._leader:
                self._ensure_rows(now)
        except SQLAlchemyError as error:
            self._leader = False
            self._problem = f"the database could not be reached: {error}"
            logger.error("scheduler: could not campaign for the runner post: %s", error)
        if self._leader and not was_leader:
            logger.info("scheduler: %s is now the runner", self.holder)
        elif was_leader and not self._leader:
            logger.warning("scheduler: %s is no longer the runner", self.holder)
        return self._leader

    def _ensure_rows(self, now: datetime) -> None:
        missing = [job.name for job in self.registry if job.name not in self._known_jobs]
        if missing:
            state.ensure_jobs(self.db, missing, now)
            self._known_jobs.update(missing)

    def _run_if_due(self, job: Job, now: datetime) -> JobRun | None:
        try:
            if not state.claim(self.db, job.name, job.every, now, self.holder):
                return None
        except SQLAlchemyError as error:
            logger.error("scheduler: could not claim job %s: %s", job.name, error)
            return None
        job_logger = logging.getLogger(f"engine.scheduler.job.{job.name}")
        started = time.monotonic()
        try:
            outcome = job.func(JobContext(name=job.name, clock=self.clock, logger=job_logger, now=now))
        except Exception as error:
            return self._failed(job, now, error, time.monotonic() - started)
        outcome = outcome if isinstance(outcome, JobOutcome) else JobOutcome()
        finished = self.clock.now()
        logger.info("scheduler: job %s finished in %.3f s%s", job.name, time.monotonic() - started,
                    f": {outcome.summary}" if outcome.summary else "")
        try:
            state.record_success(self.db, job.name, finished, outcome.summary)
        except SQLAlchemyError as error:
            logger.error("scheduler: could not record job %s's success: %s", job.name, error)
        return JobRun(name=job.name, started_at=now, finished_at=finished, ok=True,
                      summary=outcome.summary, detail=dict(outcome.detail))

    def _failed(self, job: Job, now: datetime, error: Exception, seconds: float) -> JobRun:
        finished = self.clock.now()
        trace = "".join(traceback.format_exception(error))
        logger.error("scheduler: job %s failed after %.3f s", job.name, seconds, exc_info=error)
        try:
            failures = state.record_failure(self.db, job.name, finished, error, trace)
            if failures > 1:
                logger.error("scheduler: job %s has now failed %d times in a row", job.name, failures)
        except (SQLAlchemyError, ValueError) as record_error:
            logger.error("scheduler: could not record job %s's failure: %s", job.name, record_error)
        return JobRun(name=job.name, started_at=now, finished_at=finished, ok=False,
                      error=state.short_error(error))

    # --- running in the background ----------------------------------------------------------------

    def start(self) -> None:
        """Tick now and then every ``interval`` on a background thread (APScheduler), until ``stop``."""
        if self._background is not None:
            raise RuntimeError("this scheduler is already started")
        background = BackgroundScheduler(timezone=UTC, daemon=True)
        background.add_job(
            self._scheduled_tick, IntervalTrigger(seconds=self.interval.total_seconds(), timezone=UTC),
            id="tick", name="callgov scheduler tick", max_instances=1, coalesce=True,
            misfire_grace_time=None, next_run_time=datetime.now(UTC),
        )
        background.start()
        self._background = background
        logger.info("scheduler: started as %s, ticking every %s", self.holder, self.interval)

    def _scheduled_tick(self) -> None:
        try:
            report = self.tick()
        except Exception:  # the tick thread must survive anything, to try again next time
            logger.exception("scheduler: the tick failed")
            return
        if report.failed:
            logger.warning("scheduler: failed this tick: %s", ", ".join(report.failed))

    def stop(self) -> None:
        """Stop ticking (waiting for a running tick), hand leadership over and close the lock's connection.

        Safe to call more than once, and on a scheduler that was never started (after ``tick``).
        """
        background, self._background = self._background, None
        if background is not None:
            background.shutdown(wait=True)
        with self._tick_lock:
            try:
                self.election.release(self.clock.now())
            except SQLAlchemyError as error:
                logger.error("scheduler: could not release the runner post (it expires by itself): %s", error)
            if self._leader:
                logger.info("scheduler: %s stopped and released the runner post", self.holder)
            self._leader = False

    def run_forever(self, *, stop_event: threading.Event | None = None) -> None:
        """Run in the foreground until SIGINT or SIGTERM (or ``stop_event`` is set), then stop cleanly.

        Signal handlers are installed only when called from the main thread, and restored afterwards.
        """
        stop = stop_event or threading.Event()
        received: list[int] = []  # the handler only appends: it must not take a lock the loop may hold
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, lambda number, _frame: received.append(number))
        try:
            self.start()
            while not received and not stop.is_set():
                time.sleep(_POLL_SECONDS)
            logger.info("scheduler: stopping%s", f" on signal {received[0]}" if received else "")
        finally:
            self.stop()
            for number, handler in previous.items():
                signal.signal(number, handler)

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- status -----------------------------------------------------------------------------------

    def status(self) -> SchedulerStatus:
        """Who is the runner now, and each registered job with its stored schedule and last outcome."""
        states = state.job_states(self.db)
        return SchedulerStatus(runner=self.election.current_holder(self.clock.now()),
                               jobs=tuple((job, states.get(job.name)) for job in self.registry))
