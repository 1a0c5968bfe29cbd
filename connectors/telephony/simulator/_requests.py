"""Reading the simulator's requests: query parameters as RingCentral validates them, Basic auth,
byte ranges and sync tokens."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import datetime
from typing import Any


class Params:
    """Query parameters of a call-log request, validated as RingCentral would."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def get(self, name: str) -> str | None:
        values = self.all(name)
        return values[-1] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self._pairs if k == name]

    def integer(self, name: str, default: int) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"Parameter [{name}] value is invalid")
        return int(raw)

    def time(self, name: str) -> datetime | None:
        raw = self.get(name)
        if raw is None:
            return None
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"Parameter [{name}] value is invalid") from None
        if moment.tzinfo is None:
            raise ValueError(f"Parameter [{name}] must include a timezone")
        return moment

    def filters(self) -> tuple[str | None, str | None, frozenset[str] | None, frozenset[str] | None]:
        number = self.get("phoneNumber")
        digits = number.strip().removeprefix("+") if number else None
        if digits is not None and not digits.isdigit():
            raise ValueError("Parameter [phoneNumber] value is invalid")
        recording_type = self.get("recordingType")
        if recording_type is None and self.get("withRecording") == "true":
            recording_type = "All"
        if recording_type not in (None, "Automatic", "OnDemand", "All"):
            raise ValueError("Parameter [recordingType] value is invalid")
        directions = frozenset(self.all("direction")) or None
        if directions and not directions <= {"Inbound", "Outbound"}:
            raise ValueError("Parameter [direction] value is invalid")
        types = frozenset(self.all("type")) or None
        if types and not types <= {"Voice", "Fax"}:
            raise ValueError("Parameter [type] value is invalid")
        return digits, recording_type, directions, types


def oauth_error(error: str, code: str, message: str) -> dict[str, Any]:
    return {"error": error, "error_description": message, "errors": [{"errorCode": code, "message": message}]}


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def basic_auth_matches(header: str, client_id: str, client_secret: str) -> bool:
    if not header.startswith("Basic "):
        return False
    try:
        given = base64.b64decode(header[6:], validate=True)
    except ValueError:
        return False
    return secrets.compare_digest(given, f"{client_id}:{client_secret}".encode())


def make_sync_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"sim-sync:{seq}".encode()).decode()


def read_sync_token(token: str | None) -> int:
    try:
        prefix, _, seq = base64.urlsafe_b64decode((token or "").encode()).decode().partition(":")
        if prefix != "sim-sync":
            raise ValueError
        return int(seq)
    except ValueError:
        raise ValueError("Parameter [syncToken] value is invalid") from None


def byte_range(header: str | None, total: int) -> tuple[int, int, int]:
    """``(start, end_exclusive, status)`` for a single ``bytes=a-b`` range; the whole file otherwise."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip()) if header else None
    if not match or not (match.group(1) or match.group(2)):
        return 0, total, 200
    first, last = match.groups()
    if first:
        start, end = int(first), min(total, int(last) + 1) if last else total
    else:
        start, end = max(0, total - int(last)), total
    if start >= end:
        return 0, total, 200
    return start, end, 206
