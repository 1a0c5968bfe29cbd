"""The values the telephony connector hands out, and their tolerant parsing from RingCentral JSON.

RingCentral's schemas make every property optional and may add new ones at any time, so parsing
reads what it knows, ignores what it does not, and never fails on a missing optional field. Only a
record without ``id`` or ``startTime`` cannot be used (nothing could refer to it, and its expiry is
unknown); :func:`parse_call_log_record` answers ``None`` for such a record and the caller skips it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("connectors.telephony")


@dataclass(frozen=True, slots=True)
class CallParty:
    """One end of a call as the call log shows it; any part may be missing."""

    phone_number: str | None = None
    name: str | None = None
    extension_number: str | None = None
    extension_id: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class RecordingRef:
    """The recording attached to a call-log record: its id, mode and where its audio lives."""

    id: str
    type: str | None = None
    content_uri: str | None = None


@dataclass(frozen=True, slots=True)
class CallLogRecord:
    """One record (one leg) of the account call log; several may share ``session_id``.

    ``start_time`` and ``last_modified_time`` are timezone-aware UTC; ``duration`` is in seconds.
    """

    id: str
    start_time: datetime
    session_id: str | None = None
    telephony_session_id: str | None = None
    duration: int | None = None
    direction: str | None = None
    from_party: CallParty = CallParty()
    to_party: CallParty = CallParty()
    extension_id: str | None = None
    result: str | None = None
    recording: RecordingRef | None = None
    last_modified_time: datetime | None = None
    call_type: str | None = None


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """A recording's metadata: where to fetch its audio, in what format, and how long it lasts."""

    id: str
    content_uri: str | None = None
    content_type: str | None = None
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What a completed download delivered to the sink: its type, byte count and SHA-256 (hex)."""

    content_type: str | None
    size: int
    sha256: str


def parse_call_log_record(raw: object) -> CallLogRecord | None:
    """Build a :class:`CallLogRecord` from one element of ``records``; ``None`` if it is unusable."""
    if not isinstance(raw, dict):
        return None
    record_id = _text(raw.get("id"))
    start_time = parse_time(raw.get("startTime"))
    if record_id is None or start_time is None:
        return None
    extension = raw.get("extension")
    return CallLogRecord(
        id=record_id,
        start_time=start_time,
        session_id=_text(raw.get("sessionId")),
        telephony_session_id=_text(raw.get("telephonySessionId")),
        duration=_integer(raw.get("duration")),
        direction=_text(raw.get("direction")),
        from_party=_party(raw.get("from")),
        to_party=_party(raw.get("to")),
        extension_id=_text(extension.get("id")) if isinstance(extension, dict) else None,
        result=_text(raw.get("result")),
        recording=_recording_ref(raw.get("recording")),
        last_modified_time=parse_time(raw.get("lastModifiedTime")),
        call_type=_text(raw.get("type")),
    )


def parse_recording_info(raw: object, recording_id: str) -> RecordingInfo:
    """Build a :class:`RecordingInfo` from a ``GetCallRecordingResponse``; ``id`` defaults to the asked."""
    data: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    return RecordingInfo(
        id=_text(data.get("id")) or recording_id,
        content_uri=_text(data.get("contentUri")),
        content_type=_text(data.get("contentType")),
        duration=_integer(data.get("duration")),
    )


def parse_time(value: object) -> datetime | None:
    """Read an ISO 8601 timestamp as aware UTC; a timestamp without a zone is taken to be UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        logger.debug("ignoring unreadable timestamp %r", value)
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """Write an aware datetime the way RingCentral does: UTC with milliseconds and a ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("telephony times must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _party(raw: object) -> CallParty:
    if not isinstance(raw, dict):
        return CallParty()
    return CallParty(
        phone_number=_text(raw.get("phoneNumber")),
        name=_text(raw.get("name")),
        extension_number=_text(raw.get("extensionNumber")),
        extension_id=_text(raw.get("extensionId")),
        location=_text(raw.get("location")),
    )


def _recording_ref(raw: object) -> RecordingRef | None:
    if not isinstance(raw, dict):
        return None
    recording_id = _text(raw.get("id"))
    if recording_id is None:
        return None
    return RecordingRef(id=recording_id, type=_text(raw.get("type")), content_uri=_text(raw.get("contentUri")))


def _text(value: object) -> str | None:
    if type(value) is str:
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
