"""The scheduler: job registry, single-runner election, due jobs once per interval, failures, startup.

Election and scheduling tests drive ``tick()`` with a fake clock (no sleeps) on SQLite and
PostgreSQL; only the APScheduler smoke tests and the signal test use real time, briefly.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from engine import audit
from engine.clock import FakeClock, SystemClock
from engine.db import Database
from engine.models.audit import AuditEvent
from engine.scheduler import (
    SYSTEM_ACTOR,
    AdvisoryLockElection,
    JobContext,
    JobOutcome,
    JobRegistry,
    JobState,
    Scheduler,
    should_start_in_process,
)
from engine.scheduler.state import following
from tests.conftest import BACKENDS

MINUTE = timedelta(minutes=1)
TICK = timedelta(seconds=15)

Ledger = list[tuple[str, datetime]]
MakeScheduler = Callable[..., Scheduler]

only_postgres = pytest.mark.parametrize("database", [p for p in BACKENDS if p != "sqlite"], indirect=True)
"""For tests of PostgreSQL's advisory lock election."""


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def ledger() -> Ledger:
    """Every job run, as (job name, the time it was due at), in the order they ran."""
    return []


@pytest.fixture
def registry(ledger: Ledger) -> JobRegistry:
    """A registry with one job, ``test.every_minute``, that writes to the ledger."""
    registry = JobRegistry()
    registry.register("test.every_minute", _writer(ledger), every=MINUTE, description="counts its runs")
    return registry


@pytest.fixture
def lock_key() -> int:
    """An advisory lock key of this test's own: the key is per database, and tests share one."""
    return uuid.uuid4().int >> 65


@pytest.fixture
def make_scheduler(database: Database, registry: JobRegistry, clock: FakeClock, lock_key: int,
                   ) -> Iterator[MakeScheduler]:
    """Factory: a scheduler on the test database (another process, as far as the election knows).

    Every scheduler made is stopped at the end of the test.
    """
    made: list[Scheduler] = []

    def make(**kwargs: object) -> Scheduler:
        options: dict[str, object] = {"registry": registry, "clock": clock, "lock_key": lock_key, "interval": TICK}
        options.update(kwargs)
        scheduler = Scheduler(database, **options)  # type: ignore[arg-type]
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.stop()


def _writer(ledger: Ledger) -> Callable[[JobContext], None]:
    def job(ctx: JobContext) -> None:
        ledger.append((ctx.name, ctx.now))

    return job


def _kill_runner(database: Database, scheduler: Scheduler) -> None:
    """Make the runner die without releasing: on PostgreSQL its lock session is terminated by the
    server; on SQLite it simply never ticks again (the test then lets its lease expire)."""
    if database.dialect != "postgresql":
        return
    election = scheduler.election
    assert isinstance(election, AdvisoryLockElection) and election.backend_pid is not None
    with database.engine.connect() as connection:
        killed = connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"),
                                    {"pid": election.backend_pid}).scalar_one()
    assert killed


def _state(scheduler: Scheduler, name: str) -> JobState:
    jobs = {job.name: row for job, row in scheduler.status().jobs}
    row = jobs[name]
    assert row is not None
    return row


# --- the registry -------------------------------------------------------------------------------


def test_registry_keeps_jobs_in_registration_order() -> None:
    registry = JobRegistry()
    first = registry.register("timers.fire_due", lambda ctx: None, every=TICK)
    registry.register("retention.sweep", lambda ctx: None, every=timedelta(hours=1), description="sweeps")
    assert [job.name for job in registry] == ["timers.fire_due", "retention.sweep"]
    assert registry.get("timers.fire_due") is first and "retention.sweep" in registry and len(registry) == 2


@pytest.mark.parametrize("name", ["", "Timers", "timers..due", "timers.fire-due", "1timers", "a" * 81])
def test_registry_refuses_malformed_names(name: str) -> None:
    with pytest.raises(ValueError, match="job names"):
        JobRegistry().register(name, lambda ctx: None, every=TICK)


def test_registry_refuses_duplicates_and_non_positive_intervals() -> None:
    registry = JobRegistry()
    registry.register("timers.fire_due", lambda ctx: None, every=TICK)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("timers.fire_due", lambda ctx: None, every=TICK)
    with pytest.raises(ValueError, match="positive"):
        registry.register("sync.calls", lambda ctx: None, every=timedelta(0))


@pytest.mark.parametrize(("due", "now", "expected"), [
    (0, 0, 60),      # run on time: the next slot
    (0, 7, 60),      # run a little late: still the grid, no drift
    (0, 185, 240),   # three slots missed while nobody ran: one run now, then back on the grid
    (120, 60, 120),  # not due yet: unchanged
])
def test_following_keeps_to_the_grid_and_coalesces_missed_slots(due: int, now: int, expected: int) -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    at = start + timedelta(seconds=now)
    assert following(start + timedelta(seconds=due), MINUTE, at) == start + timedelta(seconds=expected)


# --- election -----------------------------------------------------------------------------------


def test_only_one_of_two_schedulers_is_the_runner(make_scheduler: MakeScheduler) -> None:
    first, second = make_scheduler(), make_scheduler()
    assert first.tick().leader
    report = second.tick()
    assert not report.leader and report.runs == () and report.problem is None
    assert first.tick().leader and not second.tick().leader
    assert first.is_leader and not second.is_leader
    assert first.status().runner == second.status().runner == first.holder


def test_each_due_job_runs_once_per_interval_across_both(
    make_scheduler: MakeScheduler, registry: JobRegistry, ledger: Ledger, clock: FakeClock,
) -> None:
    registry.register("test.every_five_minutes", _writer(ledger), every=5 * MINUTE)
    first, second = make_scheduler(), make_scheduler()
    start = clock.now()
    for step in range(40):  # ten minutes of ticks, both processes, taking turns to go first
        for scheduler in (first, second) if step % 2 == 0 else (second, first):
            scheduler.tick()
        clock.advance(TICK)
    assert sorted(ledger) == sorted(
        [("test.every_minute", start + minute * MINUTE) for minute in range(10)]
        + [("test.every_five_minutes", start + minutes * MINUTE) for minutes in (0, 5)]
    )
    assert _state(second, "test.every_minute").last_run_by == first.holder


def test_a_clean_stop_hands_over_at_once(make_scheduler: MakeScheduler) -> None:
    first, second = make_scheduler(), make_scheduler()
    assert first.tick().leader and not second.tick().leader
    first.stop()
    assert not first.is_leader
    assert first.status().runner is None
    assert second.tick().leader  # same instant: no waiting for a lease to run out
    first.stop()  # stopping twice is harmless


def test_a_new_runner_carries_on_the_schedule_instead_of_rerunning(
    make_scheduler: MakeScheduler, registry: JobRegistry, ledger: Ledger, clock: FakeClock,
) -> None:
    registry.register("test.hourly", _writer(ledger), every=timedelta(hours=1))
    first, second = make_scheduler(), make_scheduler()
    start = clock.now()
    assert first.tick().ran == ["test.every_minute", "test.hourly"]
    first.stop()
    clock.advance(TICK)
    report = second.tick()
    assert report.leader and report.ran == []
    clock.set(start + timedelta(hours=1))
    assert second.tick().ran == ["test.every_minute", "test.hourly"]
    assert [at for name, at in ledger if name == "test.hourly"] == [start, start + timedelta(hours=1)]


def test_a_dead_runner_is_replaced_within_one_tick(
    database: Database, make_scheduler: MakeScheduler, ledger: Ledger, clock: FakeClock,
) -> None:
    first, second = make_scheduler(), make_scheduler()
    start = clock.now()
    assert first.tick().ran == ["test.every_minute"]
    _kill_runner(database, first)  # no release: the process is gone as far as anyone can tell

    ticks = 0
    while not second.tick().leader:  # the survivor ticks every TICK, as its APScheduler would
        ticks += 1
        assert ticks < 10, "the survivor never took over"
        clock.advance(TICK)
    if database.dialect == "postgresql":
        assert ticks == 0  # the server freed the lock with the session
    else:  # the first tick after the lease (three ticks) ran out
        assert clock.now() - start == first.lease + TICK

    report = first.tick()  # the old runner, if it comes back, has lost the post and runs nothing
    assert not report.leader and report.runs == ()
    assert second.status().runner == second.holder
    minutes = [at - start for _, at in ledger]
    assert len(minutes) == len(set(minutes)), "a slot ran twice across the takeover"


class _EveryoneWins:
    """An election that a paused old runner might believe in: it always says "you are the runner"."""

    def __init__(self, holder: str) -> None:
        self.holder = holder

    def campaign(self, now: datetime) -> bool:
        return True

    def release(self, now: datetime) -> None:
        pass

    def current_holder(self, now: datetime) -> str | None:
        return self.holder


def test_a_due_slot_runs_once_even_if_two_processes_both_think_they_run(
    make_scheduler: MakeScheduler, ledger: Ledger, clock: FakeClock,
) -> None:
    first = make_scheduler(election=_EveryoneWins("first"))
    second = make_scheduler(election=_EveryoneWins("second"))
    start = clock.now()
    for _ in range(8):
        assert first.tick().leader and second.tick().leader
        clock.advance(TICK)
    assert ledger == [("test.every_minute", start), ("test.every_minute", start + MINUTE)]


def test_a_runner_that_loses_the_post_mid_tick_leaves_the_rest_to_the_new_one(
    database: Database, make_scheduler: MakeScheduler, ledger: Ledger, clock: FakeClock,
) -> None:
    survivor: list[Scheduler] = []

    def stalls(ctx: JobContext) -> None:  # the runner stalls here past its lease; the survivor moves in
        _kill_runner(database, first)
        clock.advance(first.lease + TICK)
        assert survivor[0].tick().ran == ["test.every_minute"]

    registry = JobRegistry()
    registry.register("test.stalls", stalls, every=timedelta(hours=1))
    registry.register("test.every_minute", _writer(ledger), every=MINUTE)
    first = make_scheduler(registry=registry)
    survivor.append(make_scheduler(registry=registry))
    report = first.tick()
    assert report.ran == ["test.stalls"] and not first.is_leader
    assert len(ledger) == 1  # run once, by the survivor, not again by the stalled runner


@only_postgres
def test_a_runner_whose_lock_session_died_takes_it_again_if_free(
    database: Database, make_scheduler: MakeScheduler,
) -> None:
    runner = make_scheduler()
    assert runner.tick().leader
    election = runner.election
    assert isinstance(election, AdvisoryLockElection)
    old_pid = election.backend_pid
    _kill_runner(database, runner)
    assert runner.tick().leader
    assert election.backend_pid not in (None, old_pid)


@only_postgres
def test_the_lock_session_names_its_holder_and_times_out_when_idle(make_scheduler: MakeScheduler) -> None:
    runner = make_scheduler()
    assert runner.tick().leader
    connection = runner.election._connection  # type: ignore[attr-defined]
    assert connection.execute(text("SHOW idle_session_timeout")).scalar_one() == "45s"
    assert runner.status().runner == runner.holder[:63]


def test_an_unreachable_database_is_reported_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(f"sqlite:///{tmp_path}/missing-folder/callgov.sqlite3")
    try:
        with Scheduler(db, JobRegistry(), clock=FakeClock()) as scheduler:
            report = scheduler.tick()
        assert not report.leader and report.problem and "could not be reached" in report.problem
        assert "could not campaign" in caplog.text
    finally:
        db.dispose()


# --- running jobs -------------------------------------------------------------------------------


def test_a_job_gets_its_context_and_its_outcome_is_kept(
    make_scheduler: MakeScheduler, registry: JobRegistry, clock: FakeClock,
) -> None:
    seen: list[JobContext] = []

    def sweep(ctx: JobContext) -> JobOutcome:
        seen.append(ctx)
        return JobOutcome(summary="3 copies swept", detail={"swept": 3})

    registry.register("retention.sweep", sweep, every=timedelta(hours=1))
    report = make_scheduler().tick()
    (ctx,) = seen
    assert (ctx.name, ctx.clock, ctx.now) == ("retention.sweep", clock, clock.now())
    assert ctx.logger.name == "engine.scheduler.job.retention.sweep"
    run = report.runs[-1]
    assert (run.name, run.ok, run.summary, run.detail) == ("retention.sweep", True, "3 copies swept", {"swept": 3})
    assert report.to_dict()["runs"][-1]["detail"] == {"swept": 3}
    row = _state(make_scheduler(), "retention.sweep")
    assert (row.last_outcome, row.last_summary, row.next_run_at) == ("ok", "3 copies swept",
                                                                     clock.now() + timedelta(hours=1))


def test_a_failing_job_is_recorded_and_does_not_stop_the_others(
    database: Database, make_scheduler: MakeScheduler, registry: JobRegistry, ledger: Ledger,
    clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    broken = True

    def sync(ctx: JobContext) -> None:
        if broken:
            raise ConnectionError("telephony API unreachable")

    registry = JobRegistry()  # the failing job first, so "the others" come after it
    registry.register("sync.calls", sync, every=MINUTE)
    registry.register("test.every_minute", _writer(ledger), every=MINUTE)
    scheduler = make_scheduler(registry=registry)

    with caplog.at_level(logging.ERROR, logger="engine.scheduler"):
        report = scheduler.tick()
    assert report.ran == ["sync.calls", "test.every_minute"] and report.failed == ["sync.calls"]
    assert report.runs[0].error == "ConnectionError: telephony API unreachable"
    assert len(ledger) == 1
    logged = [r for r in caplog.records if r.exc_info and "sync.calls" in r.getMessage()]
    assert logged and "telephony API unreachable" in caplog.text and "Traceback" in caplog.text

    clock.advance(MINUTE)
    scheduler.tick()  # fails again; the scheduler keeps going
    row = _state(scheduler, "sync.calls")
    assert (row.last_outcome, row.consecutive_failures) == ("failed", 2)
    assert row.last_error and "Traceback" in row.last_error and "telephony API unreachable" in row.last_error
    assert len(ledger) == 2

    with database.reading() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [(e.action, e.actor) for e in events] == [("job.failed", SYSTEM_ACTOR)] * 2
        assert events[-1].detail == {"job": "sync.calls", "error": "ConnectionError: telephony API unreachable",
                                     "consecutive_failures": 2}
        assert audit.verify(session).ok

    assert json.loads(json.dumps(scheduler.status().to_dict()))["jobs"][0]["consecutive_failures"] == 2

    broken = False
    clock.advance(MINUTE)
    assert scheduler.tick().failed == []
    row = _state(scheduler, "sync.calls")
    assert (row.last_outcome, row.consecutive_failures) == ("ok", 0)


def test_a_shortened_interval_takes_effect_at_once(
    make_scheduler: MakeScheduler, ledger: Ledger, clock: FakeClock,
) -> None:
    daily = JobRegistry()
    daily.register("test.every_minute", _writer(ledger), every=timedelta(days=1))
    old = make_scheduler(registry=daily)
    assert old.tick().ran == ["test.every_minute"]
    old.stop()
    clock.advance(2 * MINUTE)  # the configuration now says every minute, as the registry fixture does
    assert make_scheduler().tick().ran == ["test.every_minute"]
    assert len(ledger) == 2


# --- starting it --------------------------------------------------------------------------------


@pytest.mark.parametrize(("flag", "environ", "use_reloader", "expected"), [
    (False, {}, None, False),                                        # setting off
    (False, {"WERKZEUG_RUN_MAIN": "true"}, None, False),             # setting off, even in the child
    (True, {}, None, True),                                          # gunicorn, waitress, plain app.run
    (True, {"FLASK_DEBUG": "1"}, None, False),                       # flask run --debug: reloader parent
    (True, {"FLASK_DEBUG": "1", "WERKZEUG_RUN_MAIN": "true"}, None, True),  # ... and its serving child
    (True, {"FLASK_DEBUG": "0"}, None, True),                        # debug off: no reloader
    (True, {"FLASK_DEBUG": "1", "FLASK_RUN_RELOAD": "false"}, None, True),  # flask run --debug --no-reload
    (True, {"FLASK_RUN_RELOAD": "true"}, None, False),               # reloader without debug
    (True, {"FLASK_RUN_RELOAD": "true", "WERKZEUG_RUN_MAIN": "true"}, None, True),
    (True, {}, True, False),                                         # caller knows: reloader parent
    (True, {"FLASK_DEBUG": "1"}, False, True),                       # caller knows: no reloader
    (True, {"WERKZEUG_RUN_MAIN": "false"}, None, True),              # only "true" marks the child
])
def test_should_start_in_process(flag: bool, environ: dict[str, str], use_reloader: bool | None,
                                 expected: bool) -> None:
    assert should_start_in_process(flag, environ, use_reloader=use_reloader) is expected


def test_the_background_scheduler_runs_jobs_and_shuts_down_cleanly(
    database: Database, make_scheduler: MakeScheduler, ledger: Ledger,
) -> None:
    registry = JobRegistry()
    registry.register("test.every_tick", _writer(ledger), every=timedelta(milliseconds=10))
    threads_before = set(threading.enumerate())
    options = {"registry": registry, "clock": SystemClock(), "interval": timedelta(milliseconds=50)}
    first, second = make_scheduler(**options), make_scheduler(**options)
    first.start()
    second.start()
    with pytest.raises(RuntimeError, match="already started"):
        first.start()
    deadline = time.monotonic() + 1.5
    while len(ledger) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.stop()
    second.stop()

    assert len(ledger) >= 3
    assert [at for _, at in ledger] == sorted({at for _, at in ledger}), "a run happened twice"
    assert set(threading.enumerate()) == threads_before
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert first.status().runner is None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_forever_stops_cleanly_on_a_signal(
    database: Database, make_scheduler: MakeScheduler, ledger: Ledger, signum: signal.Signals,
) -> None:
    scheduler = make_scheduler(clock=SystemClock(), interval=timedelta(milliseconds=50))
    handler_before = signal.getsignal(signum)
    sender = threading.Timer(0.15, os.kill, (os.getpid(), signum))
    sender.start()
    try:
        scheduler.run_forever()
    finally:
        sender.cancel()
        sender.join()
    assert ledger  # it ticked at least once before the signal
    assert signal.getsignal(signum) == handler_before
    assert scheduler.status().runner is None
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
