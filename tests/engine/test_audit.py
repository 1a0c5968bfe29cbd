"""The audit chain: appending, verifying, tampering caught and located, triggers, concurrent writers.

Runs on SQLite always and on PostgreSQL when ``CALLGOV_TEST_POSTGRES_URL`` is set (in a schema of
its own, dropped at the end). Tampering is done the way an attacker with database access would:
raw SQL with the append-only triggers switched off.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.exc import DBAPIError

from engine import audit
from engine.audit import GENESIS_HASH, VerifyResult, record, verify
from engine.clock import FakeClock
from engine.db import Base, Database, UTCDateTime
from engine.models.audit import AuditEvent

PG_URL = os.environ.get("CALLGOV_TEST_POSTGRES_URL")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
Chain = Callable[[int], list[AuditEvent]]

NO_POSTGRES = pytest.mark.skipif(not PG_URL, reason="needs CALLGOV_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, NO_POSTGRES])]


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    """A schema of this module's own on the test server, so concurrent runs never collide."""
    assert PG_URL is not None
    schema = f"audit_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    yield schema
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Database]:
    """An empty, trigger-protected ``audit_event`` table on each backend."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'audit.db'}")
    else:
        schema = request.getfixturevalue("pg_schema")
        database = Database(str(PG_URL), connect_args={"options": f"-csearch_path={schema}"})
    Base.metadata.create_all(database.engine, tables=[Base.metadata.tables["audit_event"]])
    with database.engine.begin() as conn:
        for statement in audit.append_only_ddl(database.dialect):
            conn.exec_driver_sql(statement)
    yield database
    Base.metadata.drop_all(database.engine, tables=[Base.metadata.tables["audit_event"]])
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def chain(db: Database, clock: FakeClock) -> Chain:
    """Factory: append ``n`` varied events (one transaction) and return them, oldest first."""
    actions = ["instance.started", "task.completed", "recording.played", "access.denied", "user.login"]

    def append(n: int) -> list[AuditEvent]:
        events = []
        with db.transaction() as session:
            for i in range(n):
                events.append(record(
                    session,
                    action=actions[i % len(actions)],
                    actor="system:timers" if i % 7 == 3 else f"user{i % 3}",
                    case_ref=None if i % 4 == 0 else f"CR-2026-{i % 5:05d}",
                    task_id=f"task-{i}" if i % 2 else None,
                    recording_id=f"rec-{i % 6}" if i % 3 else None,
                    detail={"i": i, "note": f"event {i}"} if i % 5 else None,
                    at=clock.advance(timedelta(seconds=1, microseconds=17)),
                ))
        return events

    return append


class Forger:
    """Someone with direct database access: runs raw SQL with the append-only triggers off."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def execute(self, sql: str, **params: Any) -> None:
        statement = text(sql)
        if "at" in params:
            statement = statement.bindparams(bindparam("at", type_=UTCDateTime()))
        with self.db.engine.begin() as conn:
            if self.db.dialect == "postgresql":
                conn.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
            else:
                for name in ("audit_event_no_update", "audit_event_no_delete"):
                    conn.exec_driver_sql(f"DROP TRIGGER {name}")
            conn.execute(statement, params)
            if self.db.dialect == "postgresql":
                conn.exec_driver_sql("ALTER TABLE audit_event ENABLE TRIGGER USER")
            else:
                for ddl in audit.sqlite_append_only_ddl():
                    conn.exec_driver_sql(ddl)

    def swap_seqs(self, a: int, b: int) -> None:
        """Reorder: the two events exchange places, each keeping its own content and hashes."""
        self.execute("UPDATE audit_event SET seq = -1 WHERE seq = :a", a=a)
        self.execute("UPDATE audit_event SET seq = :a WHERE seq = :b", a=a, b=b)
        self.execute("UPDATE audit_event SET seq = :b WHERE seq = -1", b=b)

    def make_room_at(self, seq: int) -> None:
        """Shift every event from ``seq`` on one place later (without rehashing them)."""
        self.execute("UPDATE audit_event SET seq = -seq WHERE seq >= :seq", seq=seq)
        self.execute("UPDATE audit_event SET seq = 1 - seq WHERE seq < 0")

    def insert(self, **row: Any) -> None:
        self.execute(
            "INSERT INTO audit_event (seq, at, actor, action, case_ref, task_id, recording_id, detail, "
            "prev_hash, hash) VALUES (:seq, :at, :actor, :action, :case_ref, :task_id, :recording_id, "
            ":detail, :prev_hash, :hash)",
            **row,
        )


@pytest.fixture
def forger(db: Database) -> Forger:
    return Forger(db)


def check(db: Database, **kwargs: Any) -> VerifyResult:
    with db.reading() as session:
        return verify(session, **kwargs)


def forged_event(seq: int, prev_hash: str, *, actor: str = "mallory", at: datetime = T0) -> dict[str, Any]:
    """An event a forger who knows the algorithm builds, with a correct hash for its position."""
    row = {"seq": seq, "at": at, "actor": actor, "action": "recording.played", "case_ref": "CR-2026-00001",
           "task_id": None, "recording_id": "rec-1", "detail": "{}", "prev_hash": prev_hash}
    digest = audit.event_hash(seq, audit.canonical_time(at), actor, "recording.played", "CR-2026-00001",
                              None, "rec-1", "{}", prev_hash)
    return {**row, "hash": digest}


# --- appending ----------------------------------------------------------------------------------


def test_events_form_a_chain_that_verifies(db: Database, chain: Chain) -> None:
    events = chain(30)

    assert [e.seq for e in events] == list(range(1, 31))
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    result = check(db, batch_size=7)
    assert result == VerifyResult(ok=True, events_checked=30, head_seq=30, head_hash=events[-1].hash)


def test_the_hash_covers_the_documented_canonical_bytes(db: Database, clock: FakeClock) -> None:
    with db.transaction() as session:
        event = record(session, action="recording.played", actor="alice", case_ref="CR-2026-00042",
                       recording_id="812345", detail={"b": 2, "a": "é"}, at=clock.now())

    expected = (
        "callgov.audit.v1\x1f1\x1f2026-01-05T09:00:00.000000Z\x1falice\x1frecording.played"
        "\x1fCR-2026-00042\x1f\x00\x1f812345\x1f" + '{"a":"\\u00e9","b":2}' + "\x1f" + "0" * 64
    ).encode()
    assert event.hash == hashlib.sha256(expected).hexdigest()
    assert event.detail == {"a": "é", "b": 2}


def test_times_in_other_zones_are_stored_and_hashed_as_utc(db: Database) -> None:
    london_summer = datetime(2026, 7, 1, 10, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    with db.transaction() as session:
        event = record(session, action="user.login", actor="alice", at=london_summer)
    with db.reading() as session:
        stored = session.get(AuditEvent, event.seq)
        assert stored is not None and stored.at == datetime(2026, 7, 1, 9, 30, 0, 123456, tzinfo=UTC)
    assert check(db).ok


def test_record_joins_the_callers_transaction_and_never_commits(db: Database, clock: FakeClock) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        record(session, action="instance.started", actor="alice", case_ref="CR-1", at=clock.now())
        raise RuntimeError("the use case failed after writing its event")

    assert check(db).events_checked == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"at": datetime(2026, 1, 5, 9, 0)}, "timezone-aware"),
        ({"detail": {"blob": "x" * audit.MAX_DETAIL_BYTES}}, "limit is 8192"),
        ({"detail": {"when": T0}}, "JSON values"),
        ({"detail": {"x": float("nan")}}, "JSON values"),
        ({"detail": ["not", "a", "mapping"]}, "mapping"),
        ({"action": "Recording Played"}, "dotted lowercase"),
        ({"action": "played"}, "dotted lowercase"),
        ({"actor": ""}, "actor is required"),
        ({"actor": "alice\x1fmallory"}, "control characters"),
        ({"case_ref": "CR-1\n"}, "control characters"),
        ({"case_ref": "C" * 41}, "longer than 40"),
    ],
)
def test_record_refuses_bad_events(db: Database, fields: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"action": "task.completed", "actor": "alice", "at": T0, **fields}
    with pytest.raises(ValueError, match=message), db.transaction() as session:
        record(session, **values)


def test_detail_of_exactly_the_limit_is_accepted(db: Database) -> None:
    padding = audit.MAX_DETAIL_BYTES - len('{"blob":""}')
    with db.transaction() as session:
        event = record(session, action="task.completed", actor="alice", detail={"blob": "x" * padding}, at=T0)
    assert len(event.detail_json) == audit.MAX_DETAIL_BYTES


def test_events_are_not_tied_to_cases_by_foreign_keys() -> None:
    assert not AuditEvent.__table__.foreign_keys


# --- reading ------------------------------------------------------------------------------------


def test_events_for_lists_newest_first_and_pages(db: Database, chain: Chain) -> None:
    events = chain(40)
    of_case = [e.seq for e in reversed(events) if e.case_ref == "CR-2026-00003"]

    with db.reading() as session:
        first_page = audit.events_for(session, case_ref="CR-2026-00003", limit=3)
        second_page = audit.events_for(
            session, case_ref="CR-2026-00003", limit=3, before_seq=first_page[-1].seq
        )
        by_recording = audit.events_for(session, recording_id="rec-1", actor="user1")
        newest = audit.events_for(session, limit=2)
        head = audit.chain_head(session)
        with pytest.raises(ValueError):
            audit.events_for(session, limit=0)

    assert [e.seq for e in first_page + second_page] == of_case[:6]
    assert by_recording and all(e.recording_id == "rec-1" and e.actor == "user1" for e in by_recording)
    assert [e.seq for e in newest] == [40, 39]
    assert head is not None and (head.seq, head.hash) == (40, events[-1].hash)


def test_verify_reports_progress_per_batch_and_accepts_a_connection(
    db: Database, chain: Chain
) -> None:
    chain(10)
    seen: list[int] = []
    with db.engine.connect() as conn:
        result = verify(conn, batch_size=3, progress=seen.append)
    assert result.ok and seen == [3, 6, 9, 10]


def test_an_empty_chain_verifies(db: Database) -> None:
    assert check(db) == VerifyResult(ok=True, events_checked=0)


# --- tampering ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("at", T0 + timedelta(days=1), "does not match its hash"),
        ("actor", "mallory", "does not match its hash"),
        ("action", "recording.deleted", "does not match its hash"),
        ("case_ref", None, "does not match its hash"),
        ("case_ref", "CR-2026-99999", "does not match its hash"),
        ("task_id", "task-forged", "does not match its hash"),
        ("recording_id", "rec-forged", "does not match its hash"),
        ("detail", '{"reason":"forged"}', "does not match its hash"),
        ("hash", "f" * 64, "does not match its hash"),
        ("prev_hash", "0" * 64, "does not follow event 5"),
    ],
)
def test_an_edited_field_is_caught_at_its_event(
    db: Database, chain: Chain, forger: Forger, column: str, value: Any, words: str
) -> None:
    chain(10)
    forger.execute(f"UPDATE audit_event SET {column} = :{column} WHERE seq = 6", **{column: value})

    result = check(db, batch_size=4)

    assert (result.ok, result.first_bad_seq, result.events_checked) == (False, 6, 5)
    assert result.problem is not None and result.problem.startswith("event 6: ") and words in result.problem


@pytest.mark.parametrize(
    ("deleted", "first_bad_seq", "words"),
    [
        ((5, 5), 6, "event 6: event 5 before it is missing"),
        ((4, 6), 7, "event 7: events 4 to 6 before it are missing"),
        ((1, 1), 2, "event 2: event 1 before it is missing"),
    ],
)
def test_a_deleted_event_is_caught_at_the_next_one(
    db: Database, chain: Chain, forger: Forger,
    deleted: tuple[int, int], first_bad_seq: int, words: str,
) -> None:
    chain(10)
    low, high = deleted
    forger.execute("DELETE FROM audit_event WHERE seq BETWEEN :low AND :high", low=low, high=high)

    result = check(db)

    assert (result.ok, result.first_bad_seq) == (False, first_bad_seq)
    assert result.problem is not None and result.problem.startswith(words)


def test_deleting_the_newest_events_needs_an_anchor_to_be_caught(
    db: Database, chain: Chain, forger: Forger
) -> None:
    head = chain(10)[-1]
    forger.execute("DELETE FROM audit_event WHERE seq >= 9")

    assert check(db).ok  # what the chain alone cannot prove (docs/audit.md)
    result = check(db, anchor=(head.seq, head.hash))
    assert (result.ok, result.first_bad_seq) == (False, 9)
    assert result.problem is not None and "newest events from 9 on were deleted" in result.problem


def test_two_events_whose_content_was_swapped_are_caught(
    db: Database, chain: Chain, forger: Forger
) -> None:
    events = chain(10)
    payload = ("at", "actor", "action", "case_ref", "task_id", "recording_id", "detail")
    for seq, other in ((4, events[6]), (7, events[3])):
        values = {name: getattr(other, "detail_json" if name == "detail" else name) for name in payload}
        assignments = ", ".join(f"{column} = :{column}" for column in payload)
        forger.execute(f"UPDATE audit_event SET {assignments} WHERE seq = :seq", seq=seq, **values)

    result = check(db)

    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.problem is not None and "changed after it was written" in result.problem


def test_two_reordered_events_are_caught(
    db: Database, chain: Chain, forger: Forger
) -> None:
    chain(10)
    forger.swap_seqs(4, 7)

    result = check(db)

    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.problem is not None and "does not follow event 3" in result.problem


def test_an_inserted_event_is_caught_even_with_a_correct_hash_for_its_place(
    db: Database, chain: Chain, forger: Forger
) -> None:
    events = chain(10)
    forger.make_room_at(5)
    forger.insert(**forged_event(5, prev_hash=events[3].hash))

    result = check(db)

    assert (result.ok, result.first_bad_seq, result.events_checked) == (False, 6, 5)
    assert result.problem is not None and "does not follow event 5" in result.problem


@pytest.mark.parametrize(("seq", "words"), [(0, "before the first event"), (11, "does not match its hash")])
def test_an_event_inserted_outside_the_chain_is_caught(
    db: Database, chain: Chain, forger: Forger, seq: int, words: str
) -> None:
    events = chain(10)
    forged = forged_event(seq, prev_hash=events[-1].hash if seq == 11 else GENESIS_HASH)
    forger.insert(**{**forged, "hash": "a" * 64})

    result = check(db)

    assert (result.ok, result.first_bad_seq) == (False, seq)
    assert result.problem is not None and words in result.problem


def test_a_rewritten_tail_is_caught_only_against_an_anchor(
    db: Database, chain: Chain, forger: Forger
) -> None:
    events = chain(10)
    anchor = (events[-1].seq, events[-1].hash)
    prev_hash = events[6].hash
    forger.execute("DELETE FROM audit_event WHERE seq >= 8")
    for seq in (8, 9, 10):  # an attacker who recomputes every later hash: no unkeyed chain sees it
        forged = forged_event(seq, prev_hash, at=T0 + timedelta(minutes=seq))
        forger.insert(**forged)
        prev_hash = forged["hash"]

    assert check(db).ok
    result = check(db, anchor=anchor)
    assert (result.ok, result.first_bad_seq) == (False, 10)
    assert result.problem is not None and "not the anchored one" in result.problem


# --- database protection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_event SET actor = 'mallory' WHERE seq = 2", "DELETE FROM audit_event WHERE seq = 2"],
)
def test_the_database_refuses_to_change_events(
    db: Database, chain: Chain, statement: str
) -> None:
    chain(3)
    with pytest.raises(DBAPIError, match="audit_event is append-only"), db.transaction() as session:
        session.execute(text(statement))
    assert check(db).events_checked == 3


@pytest.mark.parametrize("db", BACKENDS[1:], indirect=True)
def test_postgres_refuses_truncate(db: Database, chain: Chain) -> None:
    chain(3)
    with pytest.raises(DBAPIError, match=r"append-only.*TRUNCATE refused"), db.transaction() as session:
        session.execute(text("TRUNCATE audit_event"))
    assert check(db).events_checked == 3


def test_the_protection_statements_can_run_twice(db: Database) -> None:
    with db.engine.begin() as conn:
        for statement in audit.append_only_ddl(db.dialect):
            conn.exec_driver_sql(statement)
    with pytest.raises(ValueError):
        audit.append_only_ddl("mysql")


# --- concurrency --------------------------------------------------------------------------------


def test_concurrent_writers_leave_one_linear_chain(db: Database, clock: FakeClock) -> None:
    writers, events_each = 8, 50
    start = threading.Barrier(writers)

    def write(writer: int) -> None:
        start.wait()
        for n in range(events_each):
            with db.transaction() as session:
                record(session, action="recording.played", actor=f"user{writer}", recording_id=f"rec-{n}",
                       detail={"writer": writer, "n": n}, at=clock.now())

    with ThreadPoolExecutor(writers) as pool:
        for outcome in [pool.submit(write, w) for w in range(writers)]:
            outcome.result()

    result = check(db, batch_size=64)
    assert result.ok, result.problem
    assert result.events_checked == result.head_seq == writers * events_each
