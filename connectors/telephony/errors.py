"""Errors raised by the telephony connector.

Every error carries a message a person can act on; none carries a secret (client secret, JWT,
access or refresh token). The engine wraps these at its boundary.

    TelephonyError            base class; never raised itself
    ├── TelephonyConfigError  settings are missing or malformed (an empty client id, a bad server URL)
    ├── TelephonyAuthError    the token endpoint refused our credentials, or a fresh token still got 401
    ├── TelephonyUnavailable  retries ran out: 429, 5xx, timeouts or connection errors every time
    ├── TelephonyRequestError the provider refused a request for good (4xx other than 401 and 429)
    │   └── RecordingNotFound the recording's metadata or audio answered 404 (deleted or expired)
    ├── UnexpectedResponse    an answer was not JSON, not the expected shape, or pointed at an untrusted host
    └── DownloadIncomplete    the audio stream stopped before all announced bytes arrived; discard the copy
"""

from __future__ import annotations


class TelephonyError(Exception):
    """Base of every error the telephony connector raises."""


class TelephonyConfigError(TelephonyError):
    """The connector's settings are missing or malformed."""


class TelephonyAuthError(TelephonyError):
    """The provider refused our credentials or our freshly obtained token."""


class TelephonyUnavailable(TelephonyError):
    """The provider kept failing (rate limits, server errors, timeouts) until the retries ran out."""


class TelephonyRequestError(TelephonyError):
    """The provider refused a request in a way retrying will not fix.

    ``status`` is the HTTP status and ``error_code`` RingCentral's ``errorCode`` when it sent one.
    """

    def __init__(self, message: str, *, status: int, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


class RecordingNotFound(TelephonyRequestError):
    """The recording no longer exists at the provider (deleted, or past its 90 days)."""


class UnexpectedResponse(TelephonyError):
    """An answer could not be understood, or pointed somewhere we will not send a token."""


class DownloadIncomplete(TelephonyError):
    """An audio download ended early; whatever the sink received must be thrown away.

    ``received`` counts the bytes that arrived and ``expected`` the bytes announced by
    ``Content-Length`` (``None`` when the server did not announce a length).
    """

    def __init__(self, message: str, *, recording_id: str, received: int, expected: int | None) -> None:
        super().__init__(message)
        self.recording_id = recording_id
        self.received = received
        self.expected = expected
