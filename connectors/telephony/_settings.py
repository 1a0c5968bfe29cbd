"""Settings of the RingCentral client, read from ``CALLGOV_RC_*`` variables, and secret redaction.

The client secret and the JWT never appear in ``repr``, in exception messages or in our log
lines; :class:`SecretRedactingFilter` is a second line of defence an application can put on its
log handlers so that no record anywhere (ours, httpx's, its own) can carry them out.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, fields

import httpx

from .errors import TelephonyConfigError

DEFAULT_SERVER_URL = "https://platform.ringcentral.com"
REDACTED = "[redacted]"

_SECRET_FIELDS = frozenset({"client_secret", "jwt"})


@dataclass(frozen=True, repr=False)
class RingCentralSettings:
    """How to reach a RingCentral (BT Cloud Work) account and how hard to try.

    ``media_hosts`` names extra hosts trusted to receive the token when fetching audio, besides
    the server's own host and ``*.ringcentral.com``. ``token_safety_margin`` is how many seconds
    before expiry a token is renewed (at most a quarter of its lifetime).
    """

    server_url: str = DEFAULT_SERVER_URL
    client_id: str = ""
    client_secret: str = ""
    jwt: str = ""
    media_hosts: tuple[str, ...] = ()
    max_tries: int = 5
    timeout: float = 30.0
    token_safety_margin: float = 300.0
    delete_batch_size: int = 100

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RingCentralSettings:
        """Read ``CALLGOV_RC_SERVER_URL``, ``_CLIENT_ID``, ``_CLIENT_SECRET``, ``_JWT`` and the optional
        ``_MEDIA_HOSTS`` (comma-separated), ``_MAX_TRIES`` and ``_TIMEOUT`` (seconds)."""
        env = os.environ if environ is None else environ
        try:
            max_tries = int(env.get("CALLGOV_RC_MAX_TRIES", "5"))
            timeout = float(env.get("CALLGOV_RC_TIMEOUT", "30"))
        except ValueError as exc:
            raise TelephonyConfigError(f"CALLGOV_RC_MAX_TRIES / CALLGOV_RC_TIMEOUT must be numbers: {exc}") from None
        hosts = tuple(h.strip().lower() for h in env.get("CALLGOV_RC_MEDIA_HOSTS", "").split(",") if h.strip())
        settings = cls(
            server_url=env.get("CALLGOV_RC_SERVER_URL", "").strip() or DEFAULT_SERVER_URL,
            client_id=env.get("CALLGOV_RC_CLIENT_ID", "").strip(),
            client_secret=env.get("CALLGOV_RC_CLIENT_SECRET", "").strip(),
            jwt=env.get("CALLGOV_RC_JWT", "").strip(),
            media_hosts=hosts,
            max_tries=max_tries,
            timeout=timeout,
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise :class:`TelephonyConfigError` naming every missing or malformed setting."""
        problems = [
            f"{name} is empty (set CALLGOV_RC_{name.upper()})"
            for name in ("client_id", "client_secret", "jwt")
            if not getattr(self, name)
        ]
        url = httpx.URL(self.server_url)
        if url.scheme not in ("https", "http") or not url.host:
            problems.append(f"server_url {self.server_url!r} is not an http(s) URL")
        if self.max_tries < 1:
            problems.append("max_tries must be at least 1")
        if self.timeout <= 0:
            problems.append("timeout must be positive")
        if not 1 <= self.delete_batch_size <= 1000:
            problems.append("delete_batch_size must be between 1 and 1000")
        if problems:
            raise TelephonyConfigError("RingCentral settings: " + "; ".join(problems))

    def __repr__(self) -> str:
        parts = []
        for item in fields(self):
            value = getattr(self, item.name)
            shown = (REDACTED if value else "''") if item.name in _SECRET_FIELDS else repr(value)
            parts.append(f"{item.name}={shown}")
        return f"RingCentralSettings({', '.join(parts)})"


class SecretRedactingFilter(logging.Filter):
    """A logging filter that replaces every registered secret in a record's message with ``[redacted]``.

    Clients register their credentials and tokens here; put the shared instance
    :data:`secret_filter` on your log handlers to cover every logger, not only ours.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._holders: weakref.WeakSet[_SecretHolder] = weakref.WeakSet()

    def register(self, holder: _SecretHolder) -> None:
        """Track ``holder``; its current secrets are redacted for as long as it lives."""
        with self._lock:
            self._holders.add(holder)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = [s for holder in list(self._holders) for s in holder.secrets() if len(s) >= 6]
        if not secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in secrets:
            redacted = redacted.replace(secret, REDACTED)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class _SecretHolder:
    """Something that knows secrets which must never reach a log (a client and its tokens)."""

    def secrets(self) -> tuple[str, ...]:  # pragma: no cover - interface
        return ()


#: The process-wide redacting filter; already installed on the ``connectors.telephony`` logger.
secret_filter = SecretRedactingFilter()
logging.getLogger("connectors.telephony").addFilter(secret_filter)
