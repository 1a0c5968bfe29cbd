"""Benchmark: a first catalogue sync of 100,000 recorded calls from the simulator, against fetching alone.

The telephony simulator runs in a process of its own (its rate limit off), as RingCentral runs on
machines of its own, with enough generated calls that about 100,000 of the last 90 days' call-log
records carry a recording. Each round syncs them with ``engine.catalogue.CatalogueSync`` through
``RingCentralClient`` over HTTP into a fresh SQLite file under ``bench/.data/``, with the sync's
own defaults (a commit with the cursor every 5 seconds or 10,000 records). The baseline fetches
exactly the same windows and pages from the same simulator with the same client, parsing every
record into a ``CallLogRecord`` and doing nothing with it: the least any sync must do. Fetching is
timed before the first round, between rounds and after the last, so each sync lies between two
fetch-only passes; a round's ratio is its sync's wall-clock time over the mean of those two.

The machine is shared, and other people's work slows some passes more than others; several
rounds show how much. Printed per round: the times, the ratio, and the same ratio of CPU seconds
(this process and the simulator's together), which a busy machine disturbs less. The last line is
the median round's ratio (1.0 would mean storing is free).

    python bench/sync.py                      # about 100,000 records, three rounds
    python bench/sync.py --records 20000 --rounds 1

Measured on the shared 2-core development machine (30 November 2026, ten runs): median ratio 1.42-1.47
at quiet moments, 1.29-1.76 under heavy load; CPU ratio 1.35-1.69. ``docs/connectors.md`` has more.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, func, select

from connectors.telephony import CallLogRecord, RingCentralClient, RingCentralSettings
from connectors.telephony.simulator import start_simulator
from engine.catalogue import CatalogueSync, SyncReport
from engine.clock import FakeClock
from engine.db import Base, Database
from engine.models.recording import CatalogueSyncState, Recording

DATA_DIR = Path(__file__).resolve().parent / ".data"
RECORDED_SHARE = 0.784  # of the simulator's calls: answered (about 83%) and then recorded (94%)
SEED = 11
TABLES = [cast(Table, Recording.__table__), cast(Table, CatalogueSyncState.__table__)]
Window = tuple[datetime, datetime, dict[str, Any]]


class SimulatorProcess:
    """The telephony simulator serving from a child process; ``cpu()`` is that process's CPU seconds."""

    def __init__(self, calls: int, now: datetime) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, calls, now), name="telephony-simulator")
        self._process.start()
        child.close()
        if not self._conn.poll(300):
            self.stop()
            raise SystemExit("the simulator process did not start within 5 minutes")
        self.settings: RingCentralSettings = self._conn.recv()

    def cpu(self) -> float:
        self._conn.send("cpu")
        return cast(float, self._conn.recv())

    def stop(self) -> None:
        if self._process.is_alive():
            self._conn.send("stop")
            self._process.join(30)
        if self._process.is_alive():
            self._process.terminate()
        self._conn.close()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _serve(conn: Connection, calls: int, now: datetime) -> None:
    """The child process: generate the calls, serve them, answer ``cpu`` and ``stop`` on ``conn``."""
    with start_simulator(calls=calls, seed=SEED, rate_limit=None, now=now) as sim:
        conn.send(sim.settings())
        while (message := conn.recv()) != "stop":
            if message == "cpu":
                conn.send(time.process_time())


class WindowLog:
    """Passes call-log requests to ``client`` and notes each window asked for."""

    def __init__(self, client: RingCentralClient) -> None:
        self.client = client
        self.windows: list[Window] = []

    def iter_call_log(self, date_from: datetime, date_to: datetime, **options: Any) -> Iterator[CallLogRecord]:
        self.windows.append((date_from, date_to, options))
        return self.client.iter_call_log(date_from, date_to, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@dataclass(frozen=True)
class Timed:
    """One pass: wall-clock seconds, CPU seconds of both processes, and the records it read."""

    wall: float
    cpu: float
    records: int


def fresh_database() -> Database:
    """An empty catalogue in ``bench/.data/sync.sqlite3`` (create_all stands in for the migrations)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "sync.sqlite3"
    for stale in DATA_DIR.glob(f"{path.name}*"):
        stale.unlink()
    db = Database(f"sqlite:///{path}")
    Base.metadata.create_all(db.engine, tables=TABLES)
    return db


def time_fetch(sim: SimulatorProcess, client: RingCentralClient, windows: list[Window]) -> Timed:
    """Fetch and parse every record of ``windows``, doing nothing with them."""
    count = 0
    wall, cpu = time.perf_counter(), time.process_time() + sim.cpu()
    for date_from, date_to, options in windows:
        for _ in client.iter_call_log(date_from, date_to, **options):
            count += 1
    return Timed(time.perf_counter() - wall, time.process_time() + sim.cpu() - cpu, count)


def time_sync(sim: SimulatorProcess, client: RingCentralClient, now: datetime,
              planned: list[Window]) -> tuple[Timed, SyncReport]:
    """A first full sync into a fresh catalogue, checked to read exactly ``planned`` and store it all."""
    db = fresh_database()
    logged = WindowLog(client)
    sync = CatalogueSync(db, logged, clock=FakeClock(now))
    wall, cpu = time.perf_counter(), time.process_time() + sim.cpu()
    report = sync.run()
    timed = Timed(time.perf_counter() - wall, time.process_time() + sim.cpu() - cpu, report.records)
    with db.reading() as session:
        stored = session.scalar(select(func.count()).select_from(Recording))
    db.dispose()
    if logged.windows != planned:
        raise SystemExit("the sync asked for other windows than the fetch-only pass: fix planned_windows")
    if report.new != stored or report.records < stored:
        raise SystemExit(f"the sync read {report.records} records, reports {report.new} new, stored {stored}")
    return timed, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="recorded call-log records (about)")
    parser.add_argument("--rounds", type=int, default=3, help="syncs, each between two fetch-only passes")
    args = parser.parse_args()

    calls = round(args.records / RECORDED_SHARE)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    with SimulatorProcess(calls, now) as sim, RingCentralClient(sim.settings) as client:
        print(f"simulator: {calls:,} calls generated in {time.perf_counter() - started:.1f} s "
              f"in process of its own at {sim.settings.server_url}")
        planning = fresh_database()
        planned = [(start, end, {"recording_type": "All", "per_page": 1000})
                   for start, end in planned_windows(CatalogueSync(planning, client), now)]
        planning.dispose()
        fetches = [time_fetch(sim, client, planned)]
        rounds: list[tuple[Timed, SyncReport]] = []
        for _ in range(args.rounds):
            rounds.append(time_sync(sim, client, now, planned))
            fetches.append(time_fetch(sim, client, planned))

    records = fetches[0].records
    if any(f.records != records for f in fetches) or any(r.records != records for _, r in rounds):
        raise SystemExit(f"counts differ: fetched {[f.records for f in fetches]}, "
                         f"synced {[r.records for _, r in rounds]}")
    stored = rounds[0][1].new
    print(f"windows: {len(planned)} (seven days each), {records:,} records in pages of 1,000, "
          f"{stored:,} recordings stored per sync")
    ratios = []
    for number, ((sync, _), before, after) in enumerate(zip(rounds, fetches, fetches[1:], strict=False), 1):
        fetch_wall, fetch_cpu = (before.wall + after.wall) / 2, (before.cpu + after.cpu) / 2
        ratios.append(sync.wall / fetch_wall)
        print(f"round {number}: fetch only {before.wall:.2f} s / {after.wall:.2f} s "
              f"({records / fetch_wall:,.0f} records/s), sync {sync.wall:.2f} s ({records / sync.wall:,.0f} records/s)"
              f"; ratio {ratios[-1]:.2f}, CPU ratio {sync.cpu / fetch_cpu:.2f}")
    spread = f" (rounds {min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
    print(f"ratio sync/fetch: {statistics.median(ratios):.2f}{spread} (target <= 1.5)")


def planned_windows(sync: CatalogueSync, now: datetime) -> list[tuple[datetime, datetime]]:
    """The windows a first run of ``sync`` at ``now`` reads, oldest first."""
    start, windows = now - sync.history, []
    while start < now:
        end = min(start + sync.window, now)
        windows.append((start, end))
        start = end
    return windows


if __name__ == "__main__":
    main()
