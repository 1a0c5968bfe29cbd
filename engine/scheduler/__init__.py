"""The scheduler: periodic engine jobs, run by exactly one process however many start.

Jobs are registered in a ``JobRegistry`` (name, function, ``every``); a ``Scheduler`` ticks every
few seconds and, on the process elected runner, runs each job whose slot is due::

    registry = JobRegistry()
    registry.register("timers.fire_due", fire_due, every=timedelta(seconds=15))   # fire_due(ctx) -> ...
    scheduler = Scheduler(facade.db, registry, clock=facade.clock)
    scheduler.run_forever()     # ``callgov scheduler run``; or start() ... stop(); or ``with`` + tick()

Modules, each small:

    jobs        JobRegistry, Job, JobContext (what a job is given), JobOutcome (what it returns)
    election    who runs: AdvisoryLockElection (PostgreSQL), LeaseRowElection (SQLite)
    state       each job's schedule and last outcome in ``scheduler_job``; ``job.failed`` audit events
    runner      Scheduler, TickReport, JobRun, SchedulerStatus
    in_process  should_start_in_process: the web app's "start here?" rule (setting, reloader)

How and why, for operators: ``docs/scheduler.md``.
"""

from engine.scheduler.election import (
    SCHEDULER_LOCK_KEY,
    AdvisoryLockElection,
    Election,
    LeaseRowElection,
    make_election,
    new_holder_id,
)
from engine.scheduler.in_process import should_start_in_process
from engine.scheduler.jobs import Job, JobContext, JobFunction, JobOutcome, JobRegistry
from engine.scheduler.runner import DEFAULT_INTERVAL, JobRun, Scheduler, SchedulerStatus, TickReport
from engine.scheduler.state import SYSTEM_ACTOR, JobState

__all__ = [
    "DEFAULT_INTERVAL",
    "SCHEDULER_LOCK_KEY",
    "SYSTEM_ACTOR",
    "AdvisoryLockElection",
    "Election",
    "Job",
    "JobContext",
    "JobFunction",
    "JobOutcome",
    "JobRegistry",
    "JobRun",
    "JobState",
    "LeaseRowElection",
    "Scheduler",
    "SchedulerStatus",
    "TickReport",
    "make_election",
    "new_holder_id",
    "should_start_in_process",
]
