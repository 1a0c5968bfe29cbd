"""Searching the catalogue: by number, extension, time window and direction, newest first, a page at a time.

Every search is an audit event (``recording.searched``, the criteria in its detail) written in the
caller's transaction, so no caller can search without leaving a trace.

Pages are keyset-paginated on ``(start_time, id)``: the token of a page's last row says where the
next page starts. Each page costs the same however deep it is (an offset would make the database
walk and discard every earlier row: a hundred thousand rows to reach page 2,000 of a week's
calls), and the pages stay consistent while the sync adds newer calls at the top. The UI keeps the
tokens of the pages it has shown to go back; it does not need "jump to page 37" over a call log.

A number matches either party. ``external_number = :n OR extension_number = :n`` would make both
databases merge two index scans and then sort; asking each index for its newest rows separately
and taking the newest of the union reads at most two pages of index entries instead.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, or_, select, union
from sqlalchemy.orm import Session

from engine import audit
from engine.catalogue._rows import DIRECTIONS
from engine.errors import InvalidInput
from engine.models.recording import Recording
from engine.phone import InvalidPhoneNumber, parse_number

MAX_PAGE_SIZE = 200
DAY = timedelta(days=1)
_EXTENSION = re.compile(r"[0-9]{1,10}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COLUMNS = (
    Recording.id,
    Recording.provider_recording_id,
    Recording.session_id,
    Recording.start_time,
    Recording.duration_seconds,
    Recording.direction,
    Recording.external_number,
    Recording.extension_number,
    Recording.extension,
    Recording.staff_name,
    Recording.recording_type,
    Recording.provider_expires_at,
    Recording.retained_at,
    Recording.deleted_at_provider,
)


@dataclass(frozen=True)
class SearchCriteria:
    """A search after its input was checked: the number in E.164, the window in aware UTC."""

    number: str | None = None
    extension: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    direction: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The criteria as JSON values (times in ISO 8601 UTC), as the audit event records them."""
        return {
            "number": self.number, "extension": self.extension, "direction": self.direction,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }


@dataclass(frozen=True)
class RecordingHit:
    """One recording in a result: when, who, how long, and how long the provider still keeps it."""

    id: int
    provider_recording_id: str
    session_id: str | None
    start_time: datetime
    duration_seconds: int | None
    direction: str | None
    external_number: str | None
    extension_number: str | None
    extension: str | None
    staff_name: str | None
    recording_type: str | None
    expires_at: datetime
    days_left: int
    """Whole days until the provider deletes the recording (0 on its last day, and once gone)."""
    available_at_provider: bool
    retained: bool
    """Whether a copy is kept in our own store (it outlives the provider's 90 days)."""

    def to_dict(self) -> dict[str, Any]:
        """The hit as JSON values (times in ISO 8601 UTC)."""
        values = dict(self.__dict__)
        values["start_time"] = self.start_time.isoformat()
        values["expires_at"] = self.expires_at.isoformat()
        return values


@dataclass(frozen=True)
class Page:
    """One page of results, newest first; ``next_after`` fetches the next (``None`` on the last)."""

    results: tuple[RecordingHit, ...]
    next_after: str | None
    criteria: SearchCriteria
    limit: int

    @property
    def has_more(self) -> bool:
        """Whether another page follows."""
        return self.next_after is not None

    def to_dict(self) -> dict[str, Any]:
        """The page as JSON values."""
        return {"results": [hit.to_dict() for hit in self.results], "next_after": self.next_after,
                "criteria": self.criteria.to_dict(), "limit": self.limit}


def search_recordings(
    session: Session,
    *,
    actor: str,
    now: datetime,
    number: str | None = None,
    extension: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    direction: str | None = None,
    limit: int = 50,
    after: str | None = None,
) -> Page:
    """Recordings matching every criterion given, newest first, ``limit`` at a time.

    ``number`` is any common UK format (or international with ``+``/``00``) and matches either
    party; ``extension`` is the short internal number (``101``); the window is ``date_from``
    (inclusive) to ``date_to`` (exclusive), both timezone-aware; ``direction`` is ``Inbound`` or
    ``Outbound`` (any case); ``after`` is a previous page's ``next_after``. ``now`` gives the days
    left before expiry and the audit event's time; ``actor`` is who searched. Raises
    ``InvalidInput`` with a message per bad field, before anything is read or recorded.
    """
    criteria, cursor = parse_criteria(number=number, extension=extension, date_from=date_from, date_to=date_to,
                                      direction=direction, limit=limit, after=after)
    statement, values = _page_query(criteria, cursor, limit + 1)
    rows = session.connection().execute(statement, values).all()
    hits = tuple(_hit(row, now) for row in rows[:limit])
    next_after = encode_cursor(hits[-1].start_time, hits[-1].id) if len(rows) > limit else None
    audit.record(session, action="recording.searched", actor=actor, at=now,
                 detail={**criteria.to_dict(), "limit": limit, "after": after, "results": len(hits)})
    return Page(hits, next_after, criteria, limit)


def recordings_by_id(session: Session, ids: Sequence[int], *, now: datetime) -> list[RecordingHit]:
    """The catalogue's recordings with these ids (unknown ids are left out), newest first."""
    if not ids:
        return []
    rows = session.execute(select(Recording).where(Recording.id.in_(list(ids)))
                           .order_by(Recording.start_time.desc(), Recording.id.desc())).scalars()
    return [_hit(row, now) for row in rows]


def parse_criteria(
    *,
    number: str | None = None,
    extension: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    direction: str | None = None,
    limit: int = 50,
    after: str | None = None,
) -> tuple[SearchCriteria, tuple[datetime, int] | None]:
    """Check and normalise search input; raise ``InvalidInput`` naming every bad field at once."""
    problems: dict[str, str] = {}
    e164 = None
    if number is not None and number.strip():
        try:
            e164 = parse_number(number)
        except InvalidPhoneNumber as error:
            problems["number"] = f"{number.strip()[:40]!r} is not a telephone number: {error}"
    ext = extension.strip() if extension is not None and extension.strip() else None
    if ext is not None and not _EXTENSION.fullmatch(ext):
        problems["extension"] = "An extension is the short internal number, such as 101 (use the number search for " \
                                "full numbers)"
    for field, moment in (("date_from", date_from), ("date_to", date_to)):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            problems[field] = "The time must say its time zone"
    if date_from and date_to and "date_from" not in problems and "date_to" not in problems and date_from >= date_to:
        problems["date_to"] = "The end of the window must be after its start"
    way = None
    if direction is not None and direction.strip():
        way = next((d for d in DIRECTIONS if d.lower() == direction.strip().lower()), None)
        if way is None:
            problems["direction"] = "The direction is Inbound or Outbound"
    if not 1 <= limit <= MAX_PAGE_SIZE:
        problems["limit"] = f"A page holds from 1 to {MAX_PAGE_SIZE} results"
    cursor = None
    if after:
        try:
            cursor = decode_cursor(after)
        except ValueError:
            problems["after"] = "This is not a page token from an earlier search"
    if problems:
        raise InvalidInput(f"The search was not run: correct the {', '.join(problems)}", problems)
    return SearchCriteria(e164, ext, date_from.astimezone(UTC) if date_from else None,
                          date_to.astimezone(UTC) if date_to else None, way), cursor


def encode_cursor(start_time: datetime, recording_id: int) -> str:
    """A page token: where the next page starts, opaque to callers."""
    micros = (start_time - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{recording_id}".encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, int]:
    """The ``(start_time, id)`` of a page token; ``ValueError`` if it is not one."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        micros, recording_id = (int(part) for part in text.split(":"))
        return _EPOCH + timedelta(microseconds=micros), recording_id
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise ValueError(f"not a page token: {token[:40]!r}") from None


def _page_query(criteria: SearchCriteria, cursor: tuple[datetime, int] | None,
                size: int) -> tuple[Select[*tuple[Any, ...]], dict[str, Any]]:
    """The statement for this combination of criteria (built once per combination) and its values."""
    values: dict[str, Any] = {"number": criteria.number, "extension": criteria.extension,
                              "direction": criteria.direction, "date_from": criteria.date_from,
                              "date_to": criteria.date_to, "size": size}
    if cursor is not None:
        values["after_time"], values["after_id"] = cursor
    shape = tuple(values.get(name) is not None for name in _OPTIONAL)
    statement = _statements.get(shape)
    if statement is None:
        statement = _statements[shape] = _build_query(*shape)
    return statement, {name: value for name, value in values.items() if value is not None}


_OPTIONAL = ("number", "extension", "direction", "date_from", "date_to", "after_time")
_statements: dict[tuple[bool, ...], Select[*tuple[Any, ...]]] = {}


def _build_query(number: bool, extension: bool, direction: bool, date_from: bool, date_to: bool,
                 after: bool) -> Select[*tuple[Any, ...]]:
    # Building a statement with subqueries costs milliseconds of Python, far more than running it:
    # each shape is built once, with bound parameters, and SQLAlchemy caches its compiled form.
    newest = (Recording.start_time.desc(), Recording.id.desc())
    size = bindparam("size", type_=Integer())
    if not number:
        filters = _filters(extension, direction, date_from, date_to, after, steer=False)
        return select(*_COLUMNS).where(*filters).order_by(*newest).limit(size)
    filters = _filters(extension, direction, date_from, date_to, after, steer=True)
    branches = [
        select(*_COLUMNS).where(column == bindparam("number"), *filters).order_by(*newest).limit(size).subquery()
        for column in (Recording.external_number, Recording.extension_number)
    ]
    both = union(*(select(branch) for branch in branches)).subquery()
    return select(both).order_by(both.c.start_time.desc(), both.c.id.desc()).limit(size)


def _filters(extension: bool, direction: bool, date_from: bool, date_to: bool, after: bool,
             *, steer: bool) -> list[ColumnElement[bool]]:
    """The conditions besides the number. With ``steer``, the extension and direction are compared
    through ``coalesce`` so no index can serve them: a number is far more selective than either,
    and SQLite, which keeps no statistics by default, would otherwise as soon walk an extension's
    twenty-five thousand calls looking for one caller's."""
    filters: list[ColumnElement[bool]] = []
    if extension:
        column = func.coalesce(Recording.extension, "") if steer else Recording.extension
        filters.append(column == bindparam("extension"))
    if direction:
        column = func.coalesce(Recording.direction, "") if steer else Recording.direction
        filters.append(column == bindparam("direction"))
    if date_from:
        filters.append(Recording.start_time >= bindparam("date_from"))
    if date_to:
        filters.append(Recording.start_time < bindparam("date_to"))
    if after:
        filters.append(Recording.start_time <= bindparam("after_time"))  # the bound an index range scan uses
        filters.append(or_(Recording.start_time < bindparam("after_time"), Recording.id < bindparam("after_id")))
    return filters


def _hit(row: Any, now: datetime) -> RecordingHit:
    expires_at: datetime = row.provider_expires_at
    available = row.deleted_at_provider is None and now < expires_at
    return RecordingHit(
        id=row.id,
        provider_recording_id=row.provider_recording_id,
        session_id=row.session_id,
        start_time=row.start_time,
        duration_seconds=row.duration_seconds,
        direction=row.direction,
        external_number=row.external_number,
        extension_number=row.extension_number,
        extension=row.extension,
        staff_name=row.staff_name,
        recording_type=row.recording_type,
        expires_at=expires_at,
        days_left=(expires_at - now) // DAY if available else 0,
        available_at_provider=available,
        retained=row.retained_at is not None,
    )
