"""The simulator's moving parts besides the data: tokens, rate limits, injected faults, request log."""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

#: RingCentral's published limits per user and app: requests per window (seconds).
REALISTIC_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "Heavy": (10, 60),
    "Medium": (40, 60),
    "Light": (50, 60),
    "Auth": (5, 60),
}
_UNLIMITED = (1_000_000, 60)


@dataclass(frozen=True)
class SimulatorCredentials:
    """The client id, secret and JWT the simulator accepts; for demos and tests only."""

    client_id: str = "callgov-simulator"
    client_secret: str = "simulator-secret-not-for-production"
    jwt: str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYWxsZ292LXNpbXVsYXRvciJ9.c2ltdWxhdG9yLW9ubHk"


@dataclass(frozen=True)
class LoggedRequest:
    """One request the simulator received, as it arrived (``target`` is the raw path and query).

    ``grant_type`` is set for token requests; ``host`` is ``api`` or ``media``.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    target: str
    host: str
    authorization: str | None
    status: int
    grant_type: str | None = None


class RateLimiter:
    """Fixed-window counters per rate-limit group, as RingCentral reports them in ``X-Rate-Limit-*``."""

    def __init__(self, limits: Mapping[str, tuple[int, int]] | None = None) -> None:
        self._lock = threading.Lock()
        self._limits: dict[str, tuple[int, int]] = {}
        self._windows: dict[str, tuple[float, int]] = {}
        self.set(limits)

    def set(self, limits: Mapping[str, tuple[int, int]] | None) -> None:
        """Replace the limits; groups not named are unlimited. Counters start afresh."""
        with self._lock:
            self._limits = dict(limits or {})
            self._windows.clear()

    def take(self, group: str) -> tuple[dict[str, str], int | None]:
        """Count one request; return the headers to send and, if over the limit, the Retry-After."""
        now = time.monotonic()
        with self._lock:
            limit, window = self._limits.get(group, _UNLIMITED)
            started, count = self._windows.get(group, (now, 0))
            if now - started >= window:
                started, count = now, 0
            count += 1
            self._windows[group] = (started, count)
        headers = {
            "X-Rate-Limit-Group": group,
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(0, limit - count)),
            "X-Rate-Limit-Window": str(window),
        }
        retry_after = max(1, math.ceil(started + window - now)) if count > limit else None
        return headers, retry_after


@dataclass
class _Token:
    expires_at: float
    uses_left: int | None


class TokenBook:
    """Issues and checks access and refresh tokens; lifetimes and revocations are adjustable."""

    def __init__(self, expires_in: int = 3600, refresh_expires_in: int = 604800) -> None:
        self._lock = threading.Lock()
        self.expires_in = expires_in
        self.refresh_expires_in = refresh_expires_in
        self.max_uses: int | None = None
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, float] = {}
        self.ever_issued: set[str] = set()

    def issue(self) -> dict[str, object]:
        """Create a token pair and return the token endpoint's JSON answer."""
        access, refresh = "SIM-AT-" + secrets.token_urlsafe(24), "SIM-RT-" + secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._access[access] = _Token(now + self.expires_in, self.max_uses)
            self._refresh[refresh] = now + self.refresh_expires_in
            self.ever_issued.update((access, refresh))
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": refresh,
            "refresh_token_expires_in": self.refresh_expires_in,
            "scope": "ReadCallLog ReadCallRecording EditCallLog",
            "owner_id": "401234567009",
            "endpoint_id": "sim-endpoint",
        }

    def use(self, access: str) -> str | None:
        """Count one use of ``access``: ``None`` if valid, else ``TokenExpired`` or ``TokenInvalid``."""
        with self._lock:
            token = self._access.get(access)
            if token is None:
                return "TokenInvalid"
            if time.monotonic() >= token.expires_at or token.uses_left == 0:
                return "TokenExpired"
            if token.uses_left is not None:
                token.uses_left -= 1
            return None

    def redeem_refresh(self, refresh: str) -> bool:
        """Consume a refresh token; ``True`` if it was valid."""
        with self._lock:
            expires_at = self._refresh.pop(refresh, None)
        return expires_at is not None and time.monotonic() < expires_at

    def expire_all(self) -> None:
        """Make every access token issued so far answer ``TokenExpired`` (refresh tokens stay valid)."""
        with self._lock:
            for token in self._access.values():
                token.expires_at = 0.0


@dataclass
class FaultRule:
    """A misbehaviour to inject into the next ``count`` matching requests."""

    kind: str
    count: int
    path: str | None = None
    status: int = 503
    retry_after: int | None = None
    fraction: float = 0.5
    seconds: float = 0.0


@dataclass
class Faults:
    """Misbehaviours waiting for the next requests; tests arm them through :class:`RunningSimulator`."""

    _rules: list[FaultRule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(
        self, count: int = 1, status: int = 503, *, path: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next ``count`` requests (whose path contains ``path``) with ``status``."""
        self._add(FaultRule("status", count, path, status=status, retry_after=retry_after))

    def rate_limit_next(self, count: int = 1, retry_after: int = 1, *, path: str | None = None) -> None:
        """Answer the next ``count`` requests with 429 and ``Retry-After: retry_after``."""
        self.fail_next(count, 429, path=path, retry_after=retry_after)

    def cut_next_download(self, count: int = 1, fraction: float = 0.5) -> None:
        """Send only ``fraction`` of the next ``count`` recordings' audio, then drop the connection."""
        self._add(FaultRule("cut", count, "/content", fraction=fraction))

    def stall_next(self, count: int = 1, seconds: float = 1.0, *, path: str | None = None) -> None:
        """Wait ``seconds`` before answering the next ``count`` requests (to provoke client timeouts)."""
        self._add(FaultRule("stall", count, path, seconds=seconds))

    def reject_next_refresh(self, count: int = 1) -> None:
        """Refuse the next ``count`` refresh-token grants with ``invalid_grant``."""
        self._add(FaultRule("reject-refresh", count))

    def clear(self) -> None:
        """Disarm every pending fault."""
        with self._lock:
            self._rules.clear()

    def take(self, kind: str, path: str) -> FaultRule | None:
        """Consume one use of the first armed rule of ``kind`` matching ``path``."""
        with self._lock:
            for rule in self._rules:
                if rule.kind == kind and (rule.path is None or rule.path in path):
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def _add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)


class RequestLog:
    """The most recent requests the simulator received, for tests to inspect."""

    def __init__(self, size: int = 20000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=size)

    def add(self, entry: LoggedRequest) -> None:
        """Remember one request."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        """A copy of the log, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every logged request."""
        with self._lock:
            self._entries.clear()
