"""Benchmark: a first catalogue sync of 100,000 recorded calls from the simulator, against fetching alone.

The telephony simulator runs in this process (its rate limit off) with enough generated calls that
about 100,000 of the last 90 days' call-log records carry a recording. The run syncs them with
``engine.catalogue.CatalogueSync`` through ``RingCentralClient`` over HTTP into a fresh SQLite file
under ``bench/.data/`` (commit per page of 1,000, cursor saved with each page), then fetches exactly
the same windows and pages again with the same client, doing nothing with the records: the least
any sync must do. The fetching is timed twice, before and after the sync, and the faster time is the
baseline. The last line is the ratio of the two wall-clock times (sync / fetch; 1.0 would mean storing is
free); the line before it is the same ratio of CPU time (simulator, client and sync all run in this
process), which a busy machine disturbs less.

    python bench/sync.py                 # about 100,000 records
    python bench/sync.py --records 20000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, func, select

from connectors.telephony import CallLogRecord, RingCentralClient
from connectors.telephony.simulator import start_simulator
from engine.catalogue import CatalogueSync
from engine.clock import FakeClock
from engine.db import Base, Database
from engine.models.recording import CatalogueSyncState, Recording

DATA_DIR = Path(__file__).resolve().parent / ".data"
RECORDED_SHARE = 0.784  # of the simulator's calls: answered (about 83%) and then recorded (94%)
TABLES = [cast(Table, Recording.__table__), cast(Table, CatalogueSyncState.__table__)]


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


def fresh_database() -> Database:
    """An empty catalogue in ``bench/.data/sync.sqlite3`` (create_all stands in for the migrations)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "sync.sqlite3"
    for stale in DATA_DIR.glob(f"{path.name}*"):
        stale.unlink()
    db = Database(f"sqlite:///{path}")
    Base.metadata.create_all(db.engine, tables=TABLES)
    return db


Window = tuple[datetime, datetime, dict[str, Any]]


def time_fetch(client: RingCentralClient, windows: list[Window]) -> tuple[float, float, int]:
    """Wall and CPU seconds to fetch and parse every record of ``windows``, and how many there were."""
    count = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for date_from, date_to, options in windows:
        for _ in client.iter_call_log(date_from, date_to, **options):
            count += 1
    return time.perf_counter() - wall, time.process_time() - cpu, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="recorded call-log records (about)")
    args = parser.parse_args()

    calls = round(args.records / RECORDED_SHARE)
    started = time.perf_counter()
    with start_simulator(calls=calls, seed=11, rate_limit=None) as sim, RingCentralClient(sim.settings()) as client:
        print(f"simulator: {calls:,} calls generated in {time.perf_counter() - started:.1f} s at {sim.base_url}")
        db = fresh_database()
        logged = WindowLog(client)
        sync = CatalogueSync(db, logged, clock=FakeClock(sim.now))
        planned = [(start, end, {"recording_type": "All", "per_page": 1000})
                   for start, end in _planned_windows(sync, sim.now)]
        fetch_before, cpu_before, fetched = time_fetch(client, planned)

        wall, cpu = time.perf_counter(), time.process_time()
        report = sync.run()
        sync_seconds, sync_cpu = time.perf_counter() - wall, time.process_time() - cpu
        fetch_after, cpu_after, fetched_again = time_fetch(client, logged.windows)
    if logged.windows != planned:
        raise SystemExit("the sync asked for other windows than the fetch-only pass: fix _planned_windows")

    with db.reading() as session:
        stored = session.scalar(select(func.count()).select_from(Recording))
    db.dispose()
    if not report.records == fetched == fetched_again == stored:
        raise SystemExit(f"counts differ: synced {report.records}, stored {stored}, fetched {fetched}/{fetched_again}")
    fetch_seconds, fetch_cpu = min(fetch_before, fetch_after), min(cpu_before, cpu_after)
    print(f"windows: {len(logged.windows)} (seven days each), {report.records:,} records in pages of 1,000")
    print(f"fetch only: {fetch_before:.2f} s before the sync, {fetch_after:.2f} s after "
          f"= {fetched / fetch_seconds:,.0f} records/s at best (CPU {cpu_before:.2f} s, {cpu_after:.2f} s)")
    print(f"sync:       {sync_seconds:.2f} s = {report.records / sync_seconds:,.0f} records/s "
          f"({stored:,} recordings stored; CPU {sync_cpu:.2f} s)")
    print(f"CPU ratio sync/fetch: {sync_cpu / fetch_cpu:.2f} (what the sync adds, whatever else the machine runs)")
    print(f"ratio sync/fetch: {sync_seconds / fetch_seconds:.2f} (target <= 1.5)")


def _planned_windows(sync: CatalogueSync, now: datetime) -> list[tuple[datetime, datetime]]:
    """The windows a first run of ``sync`` at ``now`` reads, oldest first."""
    start, windows = now - sync.history, []
    while start < now:
        end = min(start + sync.window, now)
        windows.append((start, end))
        start = end
    return windows


if __name__ == "__main__":
    main()
