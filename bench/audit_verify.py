"""Benchmark: verify an audit chain of 1,000,000 events, against plain SHA-256 over the same bytes.

The chain is built once in a SQLite file under ``bench/.data/`` (hashes computed in Python, rows
inserted with executemany in large batches) and reused while it is complete and of the current
format. The run then times ``engine.audit.verify`` over it, and times ``hashlib.sha256(...)
.hexdigest()`` over the same canonical bytes of the same events: the least any verifier must do.
The last line printed is the ratio of the two times (verify / sha256; lower is better).

    python bench/audit_verify.py               # 1,000,000 events
    python bench/audit_verify.py --events 50000
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from engine import audit
from engine.db import Base, Database
from engine.models.audit import AuditEvent

DATA_DIR = Path(__file__).resolve().parent / ".data"
BUILD_BATCH = 20_000
CHAIN_FORMAT = f"{audit.FORMAT_TAG}/bench-2"  # change the suffix whenever synthetic_chain changes
T0 = datetime(2024, 1, 1, tzinfo=UTC)
ACTIONS = [
    "recording.searched", "recording.played", "recording.downloaded", "task.completed", "instance.started",
    "timer.fired", "access.denied", "user.login", "recording.released", "message.delivered",
]

Event = tuple[dict[str, Any], bytes]


def synthetic_chain(count: int) -> Iterator[list[Event]]:
    """The bench chain, deterministically, in batches: each event's row (keyed by column) and its bytes."""
    prev_hash = audit.GENESIS_HASH
    for start in range(1, count + 1, BUILD_BATCH):
        batch: list[Event] = []
        for seq in range(start, min(start + BUILD_BATCH, count + 1)):
            at = T0 + timedelta(seconds=seq * 2, microseconds=seq * 7919 % 1_000_000)
            action = ACTIONS[seq % len(ACTIONS)]
            row: dict[str, Any] = {
                "seq": seq,
                "at": at,
                "actor": "system:timers" if seq % 10 == 0 else f"user{seq % 250:03d}",
                "action": action,
                "case_ref": None if seq % 5 == 0 else f"CR-2024-{seq // 20:06d}",
                "task_id": f"{seq:08x}-4f89-41d3-9a0c-0305e82c3301" if seq % 2 else None,
                "recording_id": str(800_000_000_000 + seq // 3) if action.startswith("recording.") else None,
                "detail": audit.canonical_detail(
                    {"ip": f"10.0.{seq % 256}.{seq * 7 % 256}", "n": seq, "outcome": "ok" if seq % 9 else "denied"}
                ),
                "prev_hash": prev_hash,
            }
            blob = audit.canonical_bytes(
                seq, audit.canonical_time(at), row["actor"], action, row["case_ref"], row["task_id"],
                row["recording_id"], row["detail"], prev_hash,
            )
            prev_hash = row["hash"] = hashlib.sha256(blob).hexdigest()
            batch.append((row, blob))
        yield batch


def open_chain(count: int) -> tuple[Database, str]:
    """The database holding the bench chain of ``count`` events, built unless a valid one exists."""
    path = DATA_DIR / f"audit_verify_{count}.sqlite"
    if path.exists():
        db = Database(f"sqlite:///{path}")
        if _is_complete(db, count):
            return db, "reused"
        db.dispose()
        for stale in DATA_DIR.glob(f"{path.name}*"):
            stale.unlink()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{path}")
    started = time.perf_counter()
    # A throwaway bench database, like the tests' ones: create_all stands in for the migrations.
    Base.metadata.create_all(db.engine, tables=[Base.metadata.tables["audit_event"]])
    head = ""
    with db.engine.begin() as conn:
        for batch in synthetic_chain(count):
            conn.execute(insert(AuditEvent), [row for row, _ in batch])
            head = batch[-1][0]["hash"]
        conn.execute(text("CREATE TABLE bench_meta (format TEXT, events INTEGER, head_hash TEXT)"))
        conn.execute(text("INSERT INTO bench_meta VALUES (:f, :n, :h)"),
                     {"f": CHAIN_FORMAT, "n": count, "h": head})
    return db, f"built in {time.perf_counter() - started:.1f} s"


def _is_complete(db: Database, count: int) -> bool:
    """Whether the file holds the whole chain this script builds, in the current canonical format."""
    try:
        with db.engine.connect() as conn:
            meta = conn.execute(text("SELECT format, events, head_hash FROM bench_meta")).one()
            last = conn.execute(text("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1")).one()
    except Exception:  # a missing table, an empty or broken file: rebuild
        return False
    return tuple(meta) == (CHAIN_FORMAT, count, last.hash) and last.seq == count


def time_verify(db: Database, batch_size: int) -> float:
    """Seconds ``engine.audit.verify`` takes over the whole chain (which must verify)."""
    with db.reading() as session:
        started = time.perf_counter()
        result = audit.verify(session, batch_size=batch_size)
        elapsed = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"the bench chain does not verify: {result.problem} (delete {DATA_DIR} to rebuild)")
    return elapsed


def time_sha256(count: int) -> float:
    """Seconds plain ``sha256(bytes).hexdigest()`` takes over the same events' canonical bytes."""
    sha256 = hashlib.sha256
    elapsed = 0.0
    for batch in synthetic_chain(count):
        blobs = [blob for _, blob in batch]
        started = time.perf_counter()
        for blob in blobs:
            sha256(blob).hexdigest()
        elapsed += time.perf_counter() - started
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="chain length (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=10_000, help="verify's batch size")
    args = parser.parse_args()

    db, how = open_chain(args.events)
    print(f"chain: {args.events:,} events in {db.url.removeprefix('sqlite:///')} ({how})")
    verify_seconds = time_verify(db, args.batch_size)
    db.dispose()
    sha256_seconds = time_sha256(args.events)
    for name, seconds in (("verify", verify_seconds), ("sha256", sha256_seconds)):
        print(f"{name}: {args.events:,} events in {seconds:.2f} s = {args.events / seconds:,.0f} events/s")
    print(f"ratio verify/sha256: {verify_seconds / sha256_seconds:.1f}")


if __name__ == "__main__":
    main()
