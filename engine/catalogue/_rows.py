"""From call-log records to catalogue rows, and the one batch upsert that writes them.

The sync writes a batch of rows with ``INSERT ... VALUES (...), (...) ON CONFLICT DO UPDATE``, a
few hundred rows a statement (SQLite and PostgreSQL both have it; SQLAlchemy's dialect inserts spell
it), so re-reading a record updates its row instead of adding another, and no ORM object is built
per row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from itertools import chain
from sqlite3 import sqlite_version_info
from typing import Any, cast

from sqlalchemy import Insert, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from connectors.telephony import CallLogRecord, CallParty
from engine.models.recording import Recording
from engine.phone import normalise_number

#: How long the provider keeps a recording (Automatic and OnDemand alike): DOMAIN, "90 days".
PROVIDER_RETENTION = timedelta(days=90)
DIRECTIONS = ("Inbound", "Outbound")

_TABLE = cast(Table, Recording.__table__)
_KEY = ("provider", "provider_recording_id")
# Columns a later sync may change; the retained copy, deletion and first sighting are ours to keep.
_REFRESHED = (
    "provider_record_id",
    "session_id",
    "telephony_session_id",
    "start_time",
    "duration_seconds",
    "direction",
    "external_number",
    "extension_number",
    "extension",
    "extension_id",
    "staff_name",
    "recording_type",
    "content_uri",
    "provider_expires_at",
    "last_synced_at",
)
#: What ``recording_row`` fills in, in table order; the retained copy, deletion and content type
#: are not the call log's to change.
ROW_COLUMNS = (
    "provider", "provider_record_id", "provider_recording_id", "session_id", "telephony_session_id", "start_time",
    "duration_seconds", "direction", "external_number", "extension_number", "extension", "extension_id",
    "staff_name", "recording_type", "content_uri", "provider_expires_at", "first_seen_at", "last_synced_at",
)
_RECORDING_ID = ROW_COLUMNS.index("provider_recording_id")
# The provider's text, cut to fit (E.164 numbers, the direction and the provider's name are ours and fit).
_LIMITS = [(ROW_COLUMNS.index(c.name), c.type.length) for c in _TABLE.columns
           if c.name in ROW_COLUMNS and isinstance(c.type, String) and c.type.length
           and c.name not in ("provider", "direction", "external_number", "extension_number")]
_upserts: dict[str, _Upsert] = {}
_ROWS_PER_STATEMENT = 500


def recording_row(record: CallLogRecord, *, provider: str, now: datetime) -> dict[str, Any] | None:
    """The catalogue row for a call-log record, or ``None`` when the record carries no recording.

    The organisation's side of the call is the ``to`` party of an inbound call and the ``from``
    party of an outbound one (or, without a direction, the party that has an extension number).
    """
    values = _row_values(record, provider, now)
    return None if values is None else dict(zip(ROW_COLUMNS, values, strict=True))


def _row_values(record: CallLogRecord, provider: str, now: datetime) -> list[Any] | None:
    """``recording_row``'s values in ``ROW_COLUMNS`` order (the sync's fast path: no dictionary)."""
    recording = record.recording
    if recording is None:
        return None
    external, internal = _parties(record)
    values: list[Any] = [
        provider,
        record.id,
        recording.id,
        record.session_id,
        record.telephony_session_id,
        record.start_time,
        record.duration,
        record.direction if record.direction in DIRECTIONS else None,
        normalise_number(external.phone_number),
        normalise_number(internal.phone_number),
        internal.extension_number,
        record.extension_id or internal.extension_id,
        internal.name,
        recording.type,
        recording.content_uri,
        record.start_time + PROVIDER_RETENTION,
        now,
        now,
    ]
    for index, limit in _LIMITS:  # the provider's text is not ours to trust with a length
        value = values[index]
        if value is not None and len(value) > limit:
            values[index] = value[:limit]
    return values


class RecordingBatch:
    """Call-log records turned into upsert parameters one by one as they arrive, until stored.

    Converting at once lets each record object go: holding thousands of them between commits makes
    Python's garbage collector walk the whole heap again and again, which costs more than storing
    them. A recording id seen twice keeps its latest row (PostgreSQL refuses to update one row
    twice in a statement). ``now`` is the batch's "first seen" and "last synced" time.
    """

    def __init__(self, dialect: Dialect, provider: str, now: datetime) -> None:
        self.provider = provider
        self.now = now
        self._upsert = _upsert_for(dialect)
        self._memo: dict[int, tuple[Any, Any]] = {}
        self._positions: dict[str, int] = {}
        self._parameters: list[Any] = []
        self.records = 0
        """Call-log records added, with or without a recording."""
        self.oldest: datetime | None = None
        """The earliest start time among those read since the last window ended (the call log is
        read window by window, oldest first, each window newest first)."""
        self.windows_ended = 0
        """Windows whose last record is in this batch (or that had none)."""

    def add(self, record: CallLogRecord) -> None:
        """Convert one record (one without a recording is counted, not stored)."""
        self.records += 1
        if self.oldest is None or record.start_time < self.oldest:
            self.oldest = record.start_time
        values = _row_values(record, self.provider, self.now)
        if values is not None:
            self._add_values(values)

    def end_window(self) -> None:
        """Note that the window being read was read to its end; later records start the next one."""
        self.windows_ended += 1
        self.oldest = None

    def add_row(self, row: Mapping[str, Any]) -> None:
        """Add a row made by ``recording_row`` (of this batch's provider)."""
        self.records += 1
        if self.oldest is None or row["start_time"] < self.oldest:
            self.oldest = row["start_time"]
        self._add_values([row[name] for name in ROW_COLUMNS])

    def _add_values(self, values: list[Any]) -> None:
        recording_id = values[_RECORDING_ID]
        parameters = self._upsert.convert(values, self._memo)
        position = self._positions.get(recording_id)
        if position is None:
            self._positions[recording_id] = len(self._parameters)
            self._parameters.append(parameters)
        else:
            self._parameters[position] = parameters

    def store(self, session: Session) -> int:
        """Upsert the batch, a few hundred rows a statement, in the session's transaction; return
        how many recordings were new to the catalogue."""
        if not self._parameters:
            return 0
        upsert, provider = self._upsert, self.provider
        ids = list(self._positions)
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        known = 0
        try:
            for start in range(0, len(ids), upsert.rows_per_statement):
                chunk = ids[start : start + upsert.rows_per_statement]
                cursor.execute(*upsert.count_known(provider, chunk))
                known += cursor.fetchone()[0]
                rows = self._parameters[start : start + len(chunk)]
                cursor.execute(upsert.statement(len(rows)), list(chain.from_iterable(rows)))
        finally:
            cursor.close()
        return len(ids) - known


def upsert_recordings(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Store ``rows`` from ``recording_row`` (one provider) in one statement, in the caller's
    transaction; return how many were new to the catalogue. The sync does the same a batch at a time."""
    if not rows:
        return 0
    batch = RecordingBatch(session.get_bind().dialect, rows[0]["provider"], rows[0]["last_synced_at"])
    for row in rows:
        batch.add_row(row)
    return batch.store(session)


def _upsert_for(dialect: Dialect) -> _Upsert:
    upsert = _upserts.get(dialect.name)
    if upsert is None:
        upsert = _upserts[dialect.name] = _Upsert(dialect)
    return upsert


class _Upsert:
    """The batch upsert compiled once for a dialect, run with many rows a statement on the driver.

    SQLAlchemy would otherwise rebuild every row's parameters through several layers, which costs
    more than SQLite takes to store the row; here each value goes through its column type's own
    bind processor (``UTCDateTime`` included) and nothing else. A statement carries a few hundred
    rows (``VALUES (...), (...), ...``), each preceded by a count of which of its recordings are
    already catalogued, both straight on the driver: on SQLite this costs the same as one
    ``executemany`` (the database does the same work), on PostgreSQL it is one round trip per
    statement, and counting no longer has SQLAlchemy build a 10,000-parameter ``IN`` per batch.
    """

    def __init__(self, dialect: Dialect) -> None:
        if dialect.name == "postgresql":
            pg = postgresql.insert(_TABLE)
            statement: Insert = pg.on_conflict_do_update(
                index_elements=list(_KEY), set_={name: pg.excluded[name] for name in _REFRESHED})
        elif dialect.name == "sqlite":
            lite = sqlite.insert(_TABLE)
            statement = lite.on_conflict_do_update(
                index_elements=list(_KEY), set_={name: lite.excluded[name] for name in _REFRESHED})
        else:  # pragma: no cover - callgov runs on SQLite and PostgreSQL only
            raise NotImplementedError(f"no upsert for the {dialect.name} dialect")
        compiled = statement.compile(dialect=dialect, column_keys=list(ROW_COLUMNS), for_executemany=True)
        head, rest = compiled.string.split(" VALUES ", 1)
        row, tail = rest.split(" ON CONFLICT ", 1)
        if compiled.positional:
            names, marker = tuple(compiled.positiontup or ()), "?"
        else:  # psycopg's named markers become positional ones, in the order they appear
            names, marker = tuple(re.findall(r"%\((\w+)\)s", row)), "%s"
        if sorted(names) != sorted(ROW_COLUMNS):  # pragma: no cover - a change in SQLAlchemy's output
            raise RuntimeError(f"unexpected upsert compiled for {dialect.name}: {compiled.string}")
        self._head, self._row, self._tail = head, "(" + ", ".join([marker] * len(names)) + ")", tail
        self._statements: dict[int, str] = {}
        table, column = _TABLE.name, _TABLE.c.provider_recording_id.name
        if dialect.name == "postgresql":
            self._count = f"SELECT count(*) FROM {table} WHERE provider = %s AND {column} = ANY(%s)"
        else:
            self._count = f"SELECT count(*) FROM {table} WHERE provider = ? AND {column} IN "
        self.rows_per_statement = _ROWS_PER_STATEMENT
        """Rows in one statement: SQLite (before 3.32) allows 999 parameters a statement."""
        if dialect.name == "sqlite" and sqlite_version_info < (3, 32):  # pragma: no cover - old SQLite
            self.rows_per_statement = 999 // len(ROW_COLUMNS)
        self.order = [ROW_COLUMNS.index(name) for name in names]
        self.in_order = self.order == list(range(len(ROW_COLUMNS)))
        self.processors = [
            (index, _fast_equivalent(processor)) for index, name in enumerate(ROW_COLUMNS)
            if (processor := _TABLE.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]

    def statement(self, rows: int) -> str:
        """The upsert of ``rows`` rows, parameters row after row in ``order``."""
        sql = self._statements.get(rows)
        if sql is None:
            sql = f"{self._head} VALUES {', '.join([self._row] * rows)} ON CONFLICT {self._tail}"
            self._statements[rows] = sql
        return sql

    def count_known(self, provider: str, ids: list[str]) -> tuple[str, Sequence[Any]]:
        """The query counting which of ``ids`` the catalogue already holds, and its parameters."""
        if self._count.endswith("IN "):
            return f"{self._count}({', '.join('?' * len(ids))})", [provider, *ids]
        return self._count, (provider, ids)

    def convert(self, values: list[Any], memo: dict[int, tuple[Any, Any]]) -> tuple[Any, ...]:
        """Driver parameters for a row's values in ``ROW_COLUMNS`` order (the list is reused): a tuple
        in ``order``, each value through its column's bind processor. ``memo`` remembers the last
        value converted per column, so a batch's shared "now" is converted once."""
        for index, processor in self.processors:
            value = values[index]
            if value is None:
                continue
            last = memo.get(index)
            if last is not None and last[0] is value:
                values[index] = last[1]
            else:
                values[index] = converted = processor(value)
                memo[index] = (value, converted)
        if self.in_order:
            return tuple(values)
        return tuple(values[i] for i in self.order)


_SAMPLE_TIMES = (
    datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, 59, 123456, tzinfo=UTC),
    datetime(2025, 7, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=1))),
)


def _sqlite_utc_text(value: datetime) -> str:
    if value.tzinfo is UTC:  # as the connector parses every time: no conversion, and "+00:00" cut off
        return value.isoformat(" ", "microseconds")[:-6]
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _fast_equivalent(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``processor``, or a faster function proven to give the same results.

    ``UTCDateTime`` on SQLite becomes text through two SQLAlchemy layers, several microseconds a
    value; ``isoformat`` gives the same text in a fraction of that. The shortcut is used only
    while it matches SQLAlchemy's own output on sample times, so a change there cannot skew the
    stored format (which searches compare as text).
    """
    try:
        if all(_sqlite_utc_text(sample) == processor(sample) for sample in _SAMPLE_TIMES):
            return _sqlite_utc_text
    except (TypeError, ValueError, AttributeError):
        pass
    return processor


def _parties(record: CallLogRecord) -> tuple[CallParty, CallParty]:
    """``(external, internal)`` parties of a record."""
    if record.direction == "Inbound":
        return record.from_party, record.to_party
    if record.direction == "Outbound":
        return record.to_party, record.from_party
    if record.from_party.extension_number and not record.to_party.extension_number:
        return record.to_party, record.from_party
    return record.from_party, record.to_party


