"""Benchmark: search a catalogue of 1,000,000 recordings by number and a one-week window, against no indexes.

The catalogue is built once in a SQLite file under ``bench/.data/`` (rows generated in Python and
inserted with executemany, indexes created afterwards) and reused while it is complete. An
unindexed copy of the ``recording`` table (``CREATE TABLE ... AS SELECT``: no primary key, no
index) is made beside it in the same run. Each search is the whole use case a person triggers:
``engine.catalogue.search_recordings`` in a transaction, which checks and normalises the typed
number, runs the query and appends the ``recording.searched`` audit event, then commits. Numbers
are typed as people type them (``07700 900123``, ``01248 123401``) and are chosen from the data, with
a week that holds at least one of their calls.

Printed: p50 and p95 of our search, the same on the unindexed copy (fewer iterations: each scans
the table), and the ratio of the two p95s (how many times faster the indexes make it). With
``--postgres URL`` the same catalogue is copied into PostgreSQL (schemas ``bench_catalogue`` and
``bench_catalogue_unindexed``, analysed, reused while complete) and the same searches run there.

    python bench/catalogue_search.py                  # 1,000,000 recordings
    python bench/catalogue_search.py --rows 100000
    python bench/catalogue_search.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, create_engine, text
from sqlalchemy.exc import ProgrammingError

from engine.catalogue import search_recordings
from engine.db import Base, Database
from engine.models.audit import AuditEvent
from engine.models.recording import CatalogueSyncState, Recording

DATA_DIR = Path(__file__).resolve().parent / ".data"
FORMAT = "catalogue-bench-2"  # change whenever generate() changes
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAYS = 90
BATCH = 50_000
RECORDING = cast(Table, Recording.__table__)
AUDIT = cast(Table, AuditEvent.__table__)
TABLES = [RECORDING, cast(Table, CatalogueSyncState.__table__), AUDIT]
COLUMNS = [c.name for c in RECORDING.columns]


def _stored(moment: datetime) -> str:
    """A time as SQLAlchemy stores ``UTCDateTime`` in SQLite (naive UTC, microseconds)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def generate(rows: int, seed: int = 1) -> Any:
    """The bench rows in batches: 20,000 callers (a few call often), 40 extensions, 90 days of calls."""
    rng = random.Random(seed)
    callers = [f"+447700{n:06d}" if n % 2 else f"+441134{n:06d}" for n in range(20_000)]
    staff = [(str(100 + n), f"+4412481234{n:02d}", f"Staff Member {n:02d}") for n in range(1, 41)]
    start = NOW - timedelta(days=DAYS)
    span_us = DAYS * 86_400 * 1_000_000
    step = span_us / rows
    for first in range(0, rows, BATCH):
        batch = []
        for n in range(first, min(first + BATCH, rows)):
            began = start + timedelta(microseconds=int(n * step + rng.random() * step))
            ext, ddi, name = staff[int(rng.random() * 40)]
            when = _stored(began)
            batch.append((
                n + 1, "ringcentral", f"CL{n:09d}", f"{9_000_000_000 + n}", f"S{n // 2:09d}", f"s-{n:012x}",
                when, int(rng.expovariate(1 / 180)), "Inbound" if rng.random() < 0.65 else "Outbound",
                callers[int(len(callers) * rng.random() ** 2)], ddi, ext, f"ext-{ext}", name,
                "Automatic" if rng.random() < 0.95 else "OnDemand", None,
                f"https://media.example/restapi/v1.0/account/~/recording/{9_000_000_000 + n}/content",
                _stored(began + timedelta(days=90)), None, None, None, None, when, when,
            ))
        yield batch


def open_catalogue(rows: int) -> tuple[Path, str]:
    """The SQLite file of the indexed bench catalogue, built unless a complete one exists."""
    path = DATA_DIR / f"catalogue_{rows}.sqlite3"
    if path.exists() and _is_complete(path, rows):
        return path, "reused"
    for stale in DATA_DIR.glob(f"{path.name}*"):
        stale.unlink()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    db = Database(f"sqlite:///{path}")
    # A throwaway bench database, like the tests' ones: create_all stands in for the migrations.
    Base.metadata.create_all(db.engine, tables=TABLES)
    db.dispose()
    with sqlite3.connect(path, isolation_level=None) as conn:
        for index in RECORDING.indexes:
            conn.execute(f"DROP INDEX {index.name}")  # build them after the rows: much faster
        conn.execute("BEGIN")
        placeholders = ", ".join("?" for _ in COLUMNS)
        for batch in generate(rows):
            conn.executemany(f"INSERT INTO recording ({', '.join(COLUMNS)}) VALUES ({placeholders})", batch)
        conn.execute("COMMIT")
    db = Database(f"sqlite:///{path}")
    for index in RECORDING.indexes:
        index.create(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_meta (format TEXT, rows INTEGER)"))
        conn.execute(text("INSERT INTO bench_meta VALUES (:f, :n)"), {"f": FORMAT, "n": rows})
    db.dispose()
    return path, f"built in {time.perf_counter() - started:.1f} s"


def _is_complete(path: Path, rows: int) -> bool:
    try:
        with sqlite3.connect(path) as conn:
            meta = conn.execute("SELECT format, rows FROM bench_meta").fetchone()
            count = conn.execute("SELECT max(id) FROM recording").fetchone()[0]
    except sqlite3.Error:
        return False
    return tuple(meta or ()) == (FORMAT, rows) and count == rows


def unindexed_copy(source: Path) -> Path:
    """A fresh file holding the same recordings in a table without any index, and an empty audit table."""
    path = source.with_name(source.stem + "_unindexed.sqlite3")
    for stale in DATA_DIR.glob(f"{path.name}*"):
        stale.unlink()
    db = Database(f"sqlite:///{path}")
    Base.metadata.create_all(db.engine, tables=[AUDIT])
    db.dispose()
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("ATTACH DATABASE ? AS source", (str(source),))
        conn.execute("CREATE TABLE recording AS SELECT * FROM source.recording")
        conn.execute("DETACH DATABASE source")
    return path


def searches(path: Path, count: int, seed: int = 2) -> list[dict[str, Any]]:
    """``count`` searches by a number typed as people type it, in a week holding one of its calls."""
    rng = random.Random(seed)
    with sqlite3.connect(path) as conn:
        ids = [rng.randrange(1, _max_id(conn) + 1) for _ in range(count)]
        sample = conn.execute("SELECT external_number, extension_number, start_time FROM recording "
                              f"WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()
    out = []
    for external, extension, started in sample:
        number = extension if rng.random() < 0.2 else external
        moment = datetime.fromisoformat(started).replace(tzinfo=UTC)
        week_from = moment - timedelta(days=rng.random() * 7)
        out.append({"number": _as_typed(number, rng), "date_from": week_from, "date_to": week_from + timedelta(days=7)})
    rng.shuffle(out)
    return out


def _max_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT max(id) FROM recording").fetchone()[0])


def _as_typed(e164: str, rng: random.Random) -> str:
    national = "0" + e164.removeprefix("+44")
    spaced = f"{national[:5]} {national[5:]}"
    return rng.choice([national, spaced, f"+44 {spaced[1:]}", f"({national[:5]}) {national[5:]}"])


def time_searches(db: Database, criteria: list[dict[str, Any]]) -> tuple[list[float], list[list[int]]]:
    """Milliseconds each search use case took, and the ids each found."""
    found, times = [], []
    for one in criteria:
        started = time.perf_counter()
        with db.transaction() as session:
            page = search_recordings(session, actor="bench", now=NOW, limit=50, **one)
        times.append((time.perf_counter() - started) * 1000)
        found.append([hit.id for hit in page.results])
    return times, found


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="recordings in the catalogue (default 1,000,000)")
    parser.add_argument("--searches", type=int, default=1000, help="searches timed on the indexed table")
    parser.add_argument("--baseline-searches", type=int, default=20, help="searches timed on the unindexed copy")
    parser.add_argument("--postgres", metavar="URL", help="run the same searches on PostgreSQL at URL instead "
                        "(schemas bench_catalogue and bench_catalogue_unindexed, loaded from the SQLite file)")
    args = parser.parse_args()

    path, how = open_catalogue(args.rows)
    print(f"catalogue: {args.rows:,} recordings in {path} ({how})")
    if args.postgres:
        how = load_postgres(args.postgres, path, args.rows)
        print(f"PostgreSQL: schema {PG_SCHEMA} ({how})")
        indexed, unindexed = _pg_database(args.postgres, PG_SCHEMA), _pg_database(args.postgres, PG_UNINDEXED)
    else:
        indexed, copy = Database(f"sqlite:///{path}"), unindexed_copy(path)
        unindexed = Database(f"sqlite:///{copy}")
    criteria = searches(path, args.searches)
    time_searches(indexed, criteria[:20])  # warm the page cache and the statement cache
    ours, found = time_searches(indexed, criteria)
    if not all(found):
        raise SystemExit("every bench search should find the call it was chosen for")
    print(f"indexed:   {len(ours)} searches, {sum(map(len, found)):,} results, p50 {statistics.median(ours):.2f} ms, "
          f"p95 {p95(ours):.2f} ms (target: p95 <= 10 ms)")

    baseline_criteria = criteria[: args.baseline_searches]
    time_searches(unindexed, baseline_criteria[:1])
    theirs, found_there = time_searches(unindexed, baseline_criteria)
    for db in (indexed, unindexed):
        db.dispose()
    if not args.postgres:
        for stale in DATA_DIR.glob(f"{copy.name}*"):
            stale.unlink()
    if found_there != found[: len(baseline_criteria)]:
        raise SystemExit("the unindexed copy answered differently: the comparison would be meaningless")
    print(f"unindexed: {len(theirs)} searches, p50 {statistics.median(theirs):.2f} ms, p95 {p95(theirs):.2f} ms")
    print(f"ratio unindexed/indexed p95: {p95(theirs) / p95(ours):.0f}x")


# --- PostgreSQL ---------------------------------------------------------------------------------

PG_SCHEMA = "bench_catalogue"
PG_UNINDEXED = "bench_catalogue_unindexed"


def _pg_database(url: str, schema: str) -> Database:
    return Database(url, connect_args={"options": f"-csearch_path={schema}"})


def load_postgres(url: str, source: Path, rows: int) -> str:
    """The bench catalogue in PostgreSQL (copied from the SQLite file), with an unindexed copy beside it."""
    admin = create_engine(url)
    try:
        with admin.connect() as conn:
            meta = conn.execute(text(f"SELECT format, rows FROM {PG_SCHEMA}.bench_meta")).first()
        if meta is not None and tuple(meta) == (FORMAT, rows):
            return "reused"
    except ProgrammingError:
        pass
    finally:
        admin.dispose()
    started = time.perf_counter()
    admin = create_engine(url)
    with admin.begin() as conn:
        for schema in (PG_SCHEMA, PG_UNINDEXED):
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    db = _pg_database(url, PG_SCHEMA)
    Base.metadata.create_all(db.engine, tables=TABLES)
    raw = db.engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")  # the SQLite file holds naive UTC text
        for index in RECORDING.indexes:
            cursor.execute(f"DROP INDEX {index.name}")
        with sqlite3.connect(source) as lite, cursor.copy(
                f"COPY recording ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in lite.execute(f"SELECT {', '.join(COLUMNS)} FROM recording ORDER BY id"):
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    for index in RECORDING.indexes:
        index.create(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("SELECT setval(pg_get_serial_sequence('recording', 'id'), (SELECT max(id) FROM recording))"))
        conn.execute(text("ANALYZE recording"))
        conn.execute(text("CREATE TABLE bench_meta (format TEXT, rows INTEGER)"))
        conn.execute(text("INSERT INTO bench_meta VALUES (:f, :n)"), {"f": FORMAT, "n": rows})
    db.dispose()
    copy_db = _pg_database(url, PG_UNINDEXED)
    Base.metadata.create_all(copy_db.engine, tables=[AUDIT])
    with copy_db.engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE recording AS SELECT * FROM {PG_SCHEMA}.recording"))
        conn.execute(text("ANALYZE recording"))
    copy_db.dispose()
    return f"loaded in {time.perf_counter() - started:.1f} s"


if __name__ == "__main__":
    main()
