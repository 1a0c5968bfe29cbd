"""The tamper-evident audit trail: append events to a hash chain, walk the chain to verify it.

Each event's ``hash`` is SHA-256 over its canonical form (``canonical_bytes``): the fields below,
as text, joined by U+001F (the ASCII unit separator), UTF-8 encoded::

    callgov.audit.v1 | seq | at | actor | action | case_ref | task_id | recording_id | detail | prev_hash

``at`` is ISO-8601 UTC with microseconds and a ``Z`` (``2026-01-05T09:00:00.000000Z``), an absent
value is a single U+0000, ``detail`` is the stored canonical JSON and ``prev_hash`` is the previous
event's hash (64 zeros for event 1). ``record`` refuses control characters in the text fields and
canonical JSON never contains them, so the join is unambiguous for every event the application
writes: no other set of field values has the same bytes. Because ``seq`` is hashed, a deleted,
inserted or reordered event breaks the chain even if its neighbours are untouched.

What the chain proves, and what it does not (an attacker who rewrites the whole tail, or deletes
the newest events), is in ``docs/audit.md``: compare the head with an externally kept copy
(``chain_head``, ``verify(anchor=...)``) to close those gaps.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Select, String, Table, bindparam, func, insert, select, type_coerce
from sqlalchemy.orm import Session

from engine.fastsql import FastRead, FastWrite
from engine.models.audit import AuditEvent

__all__ = [
    "FORMAT_TAG",
    "GENESIS_HASH",
    "MAX_DETAIL_BYTES",
    "ChainHead",
    "VerifyResult",
    "append",
    "append_only_ddl",
    "canonical_bytes",
    "canonical_detail",
    "canonical_time",
    "chain_head",
    "event_hash",
    "events_for",
    "postgres_append_only_ddl",
    "record",
    "sqlite_append_only_ddl",
    "verify",
]

FORMAT_TAG = "callgov.audit.v1"
GENESIS_HASH = "0" * 64
MAX_DETAIL_BYTES = 8 * 1024
MAX_EVENTS_PAGE = 1000

# pg_advisory_xact_lock key that serialises appends to the chain: b"callgov\x01" as a signed bigint.
CHAIN_LOCK_KEY = 0x63616C6C676F7601

_SEP = "\x1f"
_ABSENT = "\x00"
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_TEXT_LIMITS = {"actor": 120, "action": 80, "case_ref": 40, "task_id": 36, "recording_id": 120}
_TABLE = cast(Table, AuditEvent.__table__)
_INSERT = FastWrite(insert(_TABLE))
_CHAIN_LOCK = select(func.pg_advisory_xact_lock(CHAIN_LOCK_KEY))
_TAIL = FastRead(select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1))


# --- the canonical form -------------------------------------------------------------------------


def canonical_time(at: datetime) -> str:
    """``at`` as hashed: ISO-8601 in UTC with microseconds and ``Z``; naive datetimes are refused."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit times must be timezone-aware (UTC); got a naive datetime")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_detail(detail: Mapping[str, Any] | None) -> str:
    """``detail`` as stored and hashed: JSON with sorted keys, no spaces, ASCII only, at most 8 KB.

    Raises ``ValueError`` for anything that is not a JSON object of JSON values, or is too big (an
    audit event says what happened; the data itself belongs with the case).
    """
    if detail is None:
        return "{}"
    if not isinstance(detail, Mapping):
        raise ValueError(f"audit detail must be a mapping, not {type(detail).__name__}")
    try:
        text = json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit detail must contain only JSON values (str, number, bool, None, "
                         f"list, dict): {exc}") from exc
    if len(text) > MAX_DETAIL_BYTES:  # ASCII-only, so characters are bytes
        raise ValueError(f"audit detail is {len(text)} bytes; the limit is {MAX_DETAIL_BYTES}")
    return text


def canonical_bytes(
    seq: int,
    at: str,
    actor: str,
    action: str,
    case_ref: str | None,
    task_id: str | None,
    recording_id: str | None,
    detail: str,
    prev_hash: str,
) -> bytes:
    """The exact bytes an event's hash covers (see the module docstring); ``at`` is canonical text."""
    return (
        f"{FORMAT_TAG}{_SEP}{seq}{_SEP}{at}{_SEP}{actor}{_SEP}{action}"
        f"{_SEP}{_ABSENT if case_ref is None else case_ref}"
        f"{_SEP}{_ABSENT if task_id is None else task_id}"
        f"{_SEP}{_ABSENT if recording_id is None else recording_id}"
        f"{_SEP}{detail}{_SEP}{prev_hash}"
    ).encode()


def event_hash(
    seq: int,
    at: str,
    actor: str,
    action: str,
    case_ref: str | None,
    task_id: str | None,
    recording_id: str | None,
    detail: str,
    prev_hash: str,
) -> str:
    """SHA-256, lowercase hex, of ``canonical_bytes`` of the same arguments."""
    return hashlib.sha256(
        canonical_bytes(seq, at, actor, action, case_ref, task_id, recording_id, detail, prev_hash)
    ).hexdigest()


# --- writing ------------------------------------------------------------------------------------


def record(
    session: Session,
    *,
    action: str,
    actor: str,
    case_ref: str | None = None,
    task_id: str | None = None,
    recording_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (it never commits).

    The chain stays linear with concurrent writers because appends are serialised until the
    transaction ends: on PostgreSQL by a transaction-scoped advisory lock taken here, on SQLite by
    the engine's ``BEGIN IMMEDIATE`` (one writer at a time, see ``engine.db``). Call it late in a use
    case, after the work that might fail or wait, so the lock is held briefly. A stale read that got
    past the lock would reuse a ``seq`` and fail on the primary key rather than fork the chain.
    Returns the event as written (detached: it is not in the session).
    """
    values = _append(session.connection(), action=action, actor=actor, case_ref=case_ref, task_id=task_id,
                     recording_id=recording_id, detail=detail, at=at)
    return AuditEvent(**{("detail_json" if key == "detail" else key): value for key, value in values.items()})


def append(
    connection: Connection,
    *,
    action: str,
    actor: str,
    case_ref: str | None = None,
    task_id: str | None = None,
    recording_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime,
) -> ChainHead:
    """``record`` for the engine's hot path: the same event, on the transaction's connection, and
    only the new head of the chain back (building an ORM object per event costs more than the insert)."""
    values = _append(connection, action=action, actor=actor, case_ref=case_ref, task_id=task_id,
                     recording_id=recording_id, detail=detail, at=at)
    return ChainHead(seq=values["seq"], hash=values["hash"], at=values["at"])


def _append(connection: Connection, *, action: str, actor: str, case_ref: str | None, task_id: str | None,
            recording_id: str | None, detail: Mapping[str, Any] | None, at: datetime) -> dict[str, Any]:
    at_text = canonical_time(at)
    _check_text_fields(actor=actor, action=action, case_ref=case_ref, task_id=task_id,
                       recording_id=recording_id)
    detail_json = canonical_detail(detail)

    if connection.dialect.name == "postgresql":
        connection.execute(_CHAIN_LOCK)
    # else SQLite: the transaction began IMMEDIATE, so this connection is already the only writer.
    tail = _TAIL.first(connection)
    seq, prev_hash = (tail.seq + 1, tail.hash) if tail is not None else (1, GENESIS_HASH)
    # Straight into the table, not through the unit of work: the row is there at once, so the next
    # append in this transaction sees it as the tail.
    values = {
        "seq": seq, "at": at.astimezone(UTC), "actor": actor, "action": action, "case_ref": case_ref,
        "task_id": task_id, "recording_id": recording_id, "detail": detail_json, "prev_hash": prev_hash,
        "hash": event_hash(seq, at_text, actor, action, case_ref, task_id, recording_id, detail_json, prev_hash)}
    _INSERT.execute(connection, values)
    return values


def _check_text_fields(**fields: str | None) -> None:
    for name, value in fields.items():
        if value is None:
            if name in ("actor", "action"):
                raise ValueError(f"audit {name} is required")
            continue
        if not isinstance(value, str):
            raise ValueError(f"audit {name} must be a string, not {type(value).__name__}")
        if len(value) > _TEXT_LIMITS[name]:
            raise ValueError(f"audit {name} is longer than {_TEXT_LIMITS[name]} characters: {value[:40]!r}…")
        if _CONTROL_CHARS.search(value):
            raise ValueError(f"audit {name} must not contain control characters: {value!r}")
    if not fields["actor"]:
        raise ValueError("audit actor is required")
    if not _ACTION.fullmatch(fields["action"] or ""):
        raise ValueError(f"audit action must be dotted lowercase words such as 'task.completed', "
                         f"not {fields['action']!r}")


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainHead:
    """The newest event's position and hash: the value to keep outside the database (anchoring)."""

    seq: int
    hash: str
    at: datetime

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def chain_head(session: Session) -> ChainHead | None:
    """The newest event's ``seq``, ``hash`` and time, or ``None`` when nothing was recorded yet."""
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash, AuditEvent.at).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return None if row is None else ChainHead(seq=row.seq, hash=row.hash, at=row.at)


def events_for(
    session: Session,
    *,
    case_ref: str | None = None,
    recording_id: str | None = None,
    actor: str | None = None,
    limit: int = 100,
    before_seq: int | None = None,
) -> list[AuditEvent]:
    """Events matching every filter given, newest first; page on with ``before_seq=<last seq>``.

    With no filter it lists the newest events of all. ``limit`` is capped at 1000. The events are
    detached from ``session`` (they never change), so they stay usable after it closes.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = select(AuditEvent)
    if case_ref is not None:
        query = query.where(AuditEvent.case_ref == case_ref)
    if recording_id is not None:
        query = query.where(AuditEvent.recording_id == recording_id)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    query = query.order_by(AuditEvent.seq.desc()).limit(min(limit, MAX_EVENTS_PAGE))
    events = list(session.scalars(query))
    for event in events:
        session.expunge(event)
    return events


# --- verifying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify`` found: ``ok``, or the first broken link (``first_bad_seq``) and why.

    ``first_bad_seq`` names an event that is in the table, except when the newest events were
    deleted (found only with an anchor): then it is the first missing one. ``head_seq`` and
    ``head_hash`` are the last event checked, worth keeping outside the database when ``ok``.
    """

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None


def verify(
    source: Session | Connection,
    *,
    batch_size: int = 10_000,
    progress: Callable[[int], None] | None = None,
    anchor: tuple[int, str] | None = None,
) -> VerifyResult:
    """Walk the whole chain in ``seq`` order and report the first event that breaks it.

    Detects an edited event (its content no longer matches its hash), a deleted one (a gap in
    ``seq``), an inserted or reordered one (``prev_hash`` does not match the event before). It reads
    plain rows in keyset batches of ``batch_size``, so memory stays flat for any chain length;
    ``progress`` is called with the number of events checked after each batch. ``anchor``, a
    ``(seq, hash)`` kept outside the database, also catches a rewritten or deleted newest part.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    connection = source.connection() if isinstance(source, Session) else source
    dialect = connection.dialect.name
    query = _chain_batch_query(dialect, batch_size)
    to_canonical_at = _canonical_from_text if dialect == "postgresql" else _canonical_from_sqlite
    anchor_seq, anchor_hash = anchor if anchor is not None else (None, None)
    sha256 = hashlib.sha256
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0

    while True:
        rows = connection.execute(query, {"after": expected_seq - 1 if checked else -(2**63)}).all()
        if not rows:
            break
        for seq, at, actor, action, case_ref, task_id, recording_id, detail, row_prev, row_hash in rows:
            if seq != expected_seq or row_prev != prev_hash:
                return _broken_link(checked, seq, expected_seq, prev_hash, row_prev)
            digest = sha256(
                canonical_bytes(seq, to_canonical_at(at), actor, action, case_ref, task_id,
                                recording_id, detail, row_prev)
            ).hexdigest()
            if digest != row_hash:
                return _bad(checked, seq, f"event {seq}: its content does not match its hash — it was "
                                          "changed after it was written")
            if seq == anchor_seq and row_hash != anchor_hash:
                return _bad(checked, seq, f"event {seq}: its hash is not the anchored one kept outside "
                                          "the database — the chain was rewritten up to here")
            prev_hash = row_hash
            expected_seq = seq + 1
            checked += 1
        if progress is not None:
            progress(checked)

    if anchor_seq is not None and anchor_seq >= expected_seq:
        last = f"the chain ends at event {expected_seq - 1}" if checked else "the chain is empty"
        return _bad(checked, expected_seq, f"event {anchor_seq} was anchored but {last} — the newest "
                                           f"events from {expected_seq} on were deleted")
    head_seq = expected_seq - 1 if checked else None
    head_hash = prev_hash if checked else None
    return VerifyResult(ok=True, events_checked=checked, head_seq=head_seq, head_hash=head_hash)


def _broken_link(checked: int, seq: int, expected: int, prev_hash: str, row_prev: str) -> VerifyResult:
    if seq > expected:
        missing = f"event {expected} before it is" if seq == expected + 1 else \
            f"events {expected} to {seq - 1} before it are"
        return _bad(checked, seq, f"event {seq}: {missing} missing — deleted after being written")
    if seq < expected:
        return _bad(checked, seq, f"event {seq}: a sequence number before the first event — it was "
                                  "inserted")
    after = f"event {seq - 1}" if seq > 1 else "the start of the chain"
    return _bad(checked, seq, f"event {seq}: it does not follow {after} (prev_hash {row_prev[:12]}… "
                              f"should be {prev_hash[:12]}…) — events were inserted, removed or "
                              "reordered here")


def _bad(checked: int, seq: int, problem: str) -> VerifyResult:
    return VerifyResult(ok=False, events_checked=checked, first_bad_seq=seq, problem=problem)


def _chain_batch_query(dialect: str, batch_size: int) -> Select[Any]:
    """The next ``batch_size`` events after ``:after``, as plain rows in hashing order (keyset paging)."""
    return (
        select(
            _TABLE.c.seq, _at_text_column(dialect), _TABLE.c.actor, _TABLE.c.action, _TABLE.c.case_ref,
            _TABLE.c.task_id, _TABLE.c.recording_id, _TABLE.c.detail, _TABLE.c.prev_hash, _TABLE.c.hash,
        )
        .where(_TABLE.c.seq > bindparam("after"))
        .order_by(_TABLE.c.seq)
        .limit(batch_size)
    )


def _at_text_column(dialect: str) -> ColumnElement[Any]:
    """Select ``at`` as text, skipping per-row datetime objects (verify's hottest loop).

    PostgreSQL formats the canonical text itself. SQLite stores SQLAlchemy's fixed text form
    ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC, see ``engine.db.UTCDateTime``), which is rewritten into the
    canonical form by slicing; anything else stored there is parsed (``_canonical_from_sqlite``).
    """
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", _TABLE.c.at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    return type_coerce(_TABLE.c.at, String)


def _canonical_from_text(value: Any) -> str:
    return str(value)


def _canonical_from_sqlite(value: Any) -> str:
    if type(value) is str and len(value) == 26 and value[10] == " ":
        return f"{value[:10]}T{value[11:]}Z"
    try:  # not written by the application: normalise if it is a time at all, so the hash decides
        parsed = datetime.fromisoformat(str(value))
        return canonical_time(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    except ValueError:
        return f"unreadable time {value!r}"


# --- database protection ------------------------------------------------------------------------

_REFUSAL = "audit_event is append-only: events are never updated or deleted"


def postgres_append_only_ddl() -> list[str]:
    """PostgreSQL statements making ``audit_event`` refuse UPDATE, DELETE and TRUNCATE.

    A trigger function raising an exception, a row-level BEFORE UPDATE OR DELETE trigger and a
    statement-level BEFORE TRUNCATE trigger. Idempotent; run by the migration and test fixtures.
    The table owner can still disable triggers: give the application a role without that power.
    """
    return [
        "CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        f"    RAISE EXCEPTION USING MESSAGE = '{_REFUSAL} (' || TG_OP || ' refused)',\n"
        "        HINT = 'The audit trail is tamper-evident; see docs/audit.md.';\n"
        "    RETURN NULL;\n"
        "END;\n"
        "$$",
        "DROP TRIGGER IF EXISTS audit_event_no_update_delete ON audit_event",
        "CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()",
        "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()",
    ]


def sqlite_append_only_ddl() -> list[str]:
    """SQLite statements making ``audit_event`` refuse UPDATE and DELETE (``RAISE(ABORT, ...)``).

    Cheap protection against mistakes; anyone who can write the file can drop them. Idempotent.
    """
    statements = []
    for operation in ("UPDATE", "DELETE"):
        name = f"audit_event_no_{operation.lower()}"
        statements += [
            f"DROP TRIGGER IF EXISTS {name}",
            f"CREATE TRIGGER {name} BEFORE {operation} ON audit_event "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL} ({operation} refused)'); END",
        ]
    return statements


def append_only_ddl(dialect: str) -> list[str]:
    """The append-only statements for ``dialect`` (``postgresql`` or ``sqlite``)."""
    if dialect == "postgresql":
        return postgres_append_only_ddl()
    if dialect == "sqlite":
        return sqlite_append_only_ddl()
    raise ValueError(f"no append-only triggers for database dialect {dialect!r}")
