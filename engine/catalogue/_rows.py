"""From call-log records to catalogue rows, and the one batch upsert that writes them.

The sync writes a batch of rows in one ``INSERT ... ON CONFLICT DO UPDATE`` executed with
executemany (SQLite and PostgreSQL both have it; SQLAlchemy's dialect inserts spell it), so
re-reading a record updates its row instead of adding another, and no ORM object is built per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import Insert, String, Table, func, select
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
# What ``recording_row`` fills in; the retained copy, deletion and content type stay as they are.
_ROW_COLUMNS = (
    "provider", "provider_record_id", "provider_recording_id", "session_id", "telephony_session_id", "start_time",
    "duration_seconds", "direction", "external_number", "extension_number", "extension", "extension_id",
    "staff_name", "recording_type", "content_uri", "provider_expires_at", "first_seen_at", "last_synced_at",
)
_LIMITS = [(c.name, c.type.length) for c in _TABLE.columns
           if c.name in _ROW_COLUMNS and isinstance(c.type, String) and c.type.length]
_upserts: dict[str, _Upsert] = {}


def recording_row(record: CallLogRecord, *, provider: str, now: datetime) -> dict[str, Any] | None:
    """The catalogue row for a call-log record, or ``None`` when the record carries no recording.

    The organisation's side of the call is the ``to`` party of an inbound call and the ``from``
    party of an outbound one (or, without a direction, the party that has an extension number).
    """
    recording = record.recording
    if recording is None:
        return None
    external, internal = _parties(record)
    direction = record.direction if record.direction in DIRECTIONS else None
    row: dict[str, Any] = {
        "provider": provider,
        "provider_record_id": record.id,
        "provider_recording_id": recording.id,
        "session_id": record.session_id,
        "telephony_session_id": record.telephony_session_id,
        "start_time": record.start_time,
        "duration_seconds": record.duration,
        "direction": direction,
        "external_number": normalise_number(external.phone_number),
        "extension_number": normalise_number(internal.phone_number),
        "extension": internal.extension_number,
        "extension_id": record.extension_id or internal.extension_id,
        "staff_name": internal.name,
        "recording_type": recording.type,
        "content_uri": recording.content_uri,
        "provider_expires_at": record.start_time + PROVIDER_RETENTION,
        "first_seen_at": now,
        "last_synced_at": now,
    }
    for name, limit in _LIMITS:  # the provider's text is not ours to trust with a length
        value = row[name]
        if value is not None and len(value) > limit:
            row[name] = value[:limit]
    return row


class RecordingBatch:
    """Call-log records turned into upsert parameters as each page arrives, until they are stored.

    Converting at once lets the page's record objects go (holding thousands of them between commits
    makes Python's garbage collector walk them again and again), and the driver's parameters are
    all that is kept. A recording id seen twice keeps its latest row (PostgreSQL refuses to update
    one row twice in a statement).
    """

    def __init__(self, dialect: Dialect, provider: str) -> None:
        self.provider = provider
        self._upsert = _upsert_for(dialect)
        self._positions: dict[str, int] = {}
        self._parameters: list[Any] = []
        self.records = 0
        """Call-log records added, with or without a recording."""
        self.oldest: datetime | None = None
        """The earliest start time among them."""

    def add(self, records: Sequence[CallLogRecord], now: datetime) -> None:
        """Convert ``records`` (their ``recording``-less ones are counted, not stored)."""
        if not records:
            return
        rows = [row for row in (recording_row(r, provider=self.provider, now=now) for r in records) if row]
        for row, parameters in zip(rows, self._upsert.parameters(rows), strict=True):
            recording_id = row["provider_recording_id"]
            position = self._positions.get(recording_id)
            if position is None:
                self._positions[recording_id] = len(self._parameters)
                self._parameters.append(parameters)
            else:
                self._parameters[position] = parameters
        self.records += len(records)
        oldest = min(r.start_time for r in records)
        self.oldest = oldest if self.oldest is None else min(self.oldest, oldest)

    def store(self, session: Session) -> int:
        """Upsert the batch in one statement; return how many recordings were new to the catalogue."""
        if not self._parameters:
            return 0
        ids = list(self._positions)
        connection = session.connection()
        known = connection.execute(
            select(func.count()).select_from(_TABLE).where(
                _TABLE.c.provider == self.provider, _TABLE.c.provider_recording_id.in_(ids))
        ).scalar_one()
        connection.exec_driver_sql(self._upsert.sql, self._parameters)
        return len(ids) - known


def upsert_recordings(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or refresh catalogue ``rows`` (from ``recording_row``, one provider); return how many were new."""
    if not rows:
        return 0
    upsert = _upsert_for(session.get_bind().dialect)
    provider = rows[0]["provider"]
    unique = list({row["provider_recording_id"]: row for row in rows}.values())
    connection = session.connection()
    known = connection.execute(
        select(func.count()).select_from(_TABLE).where(
            _TABLE.c.provider == provider,
            _TABLE.c.provider_recording_id.in_([row["provider_recording_id"] for row in unique]))
    ).scalar_one()
    connection.exec_driver_sql(upsert.sql, upsert.parameters(unique))
    return len(unique) - known


def _upsert_for(dialect: Dialect) -> _Upsert:
    upsert = _upserts.get(dialect.name)
    if upsert is None:
        upsert = _upserts[dialect.name] = _Upsert(dialect)
    return upsert


class _Upsert:
    """The batch upsert compiled once for a dialect, fed straight to the driver's executemany.

    SQLAlchemy would otherwise rebuild every row's parameters through several layers, which costs
    more than SQLite takes to store the row; here each value goes through its column type's own
    bind processor (``UTCDateTime`` included) and nothing else.
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
        compiled = statement.compile(dialect=dialect, column_keys=list(_ROW_COLUMNS), for_executemany=True)
        self.sql = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ()) if compiled.positional else _ROW_COLUMNS
        self.positional = compiled.positional
        self.processors = [
            (index, _fast_equivalent(processor)) for index, name in enumerate(self.names)
            if (processor := _TABLE.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """The driver's parameters for ``rows``: tuples in placeholder order, or dicts by name."""
        out: list[Any] = []
        previous: list[Any] = [None] * len(self.names)
        done: list[Any] = [None] * len(self.names)
        for row in rows:
            values = [row[name] for name in self.names]
            for index, processor in self.processors:
                value = values[index]
                if value is None:
                    continue
                if value is previous[index]:  # the page's shared "now": convert it once
                    values[index] = done[index]
                else:
                    previous[index] = value
                    values[index] = done[index] = processor(value)
            out.append(tuple(values) if self.positional else dict(zip(self.names, values, strict=True)))
        return out


_SAMPLE_TIMES = (
    datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, 59, 123456, tzinfo=UTC),
    datetime(2025, 7, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=1))),
)


def _sqlite_utc_text(value: datetime) -> str:
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


def batched(records: Iterable[CallLogRecord], size: int) -> Iterator[list[CallLogRecord]]:
    """``records`` in lists of ``size`` (the last may be shorter), pulled lazily."""
    batch: list[CallLogRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
