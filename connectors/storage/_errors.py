"""The exceptions every object store raises, whatever its backend.

Backend errors (``OSError`` from the local folder, botocore's ``ClientError`` and friends from S3) are
wrapped at the store's boundary so callers handle one tree::

    StorageError            base class: an object store could not do what was asked
    ├── InvalidRequest      the call itself is wrong (metadata, content type, expiry, digest); a ValueError
    │   ├── InvalidKey      a key is empty, absolute, has `..`, NUL or characters outside the safe set
    │   └── InvalidRange    a byte range is malformed or starts at or past the end of the object
    ├── ObjectNotFound      no object is stored under the key
    ├── IntegrityError      the bytes read do not hash to the SHA-256 recorded or expected for the key
    ├── StorageConfigError  the store's settings are missing, malformed or contradictory
    ├── BucketNotFound      the configured S3 bucket does not exist
    ├── AccessDenied        no credentials were found, or the store refused them for this operation
    └── StorageUnavailable  the store could not be reached, timed out or kept failing

An exception raised by the *caller's* chunk source during ``put_stream`` is not wrapped: it propagates
unchanged after the store has removed everything it wrote.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "BucketNotFound",
    "IntegrityError",
    "InvalidKey",
    "InvalidRange",
    "InvalidRequest",
    "ObjectNotFound",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailable",
]


class StorageError(Exception):
    """Base class: an object store could not do what was asked.

    ``key`` names the object concerned when there is one, so that an audit entry or a log line can
    say which retained copy was affected.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class InvalidRequest(StorageError, ValueError):
    """The call itself is wrong: no store could accept it, so retrying cannot help."""


class InvalidKey(InvalidRequest):
    """A key is empty, absolute, contains `..`, NUL or characters outside the safe set."""


class InvalidRange(InvalidRequest):
    """A byte range is malformed, or starts at or past the end of the object (HTTP 416)."""


class ObjectNotFound(StorageError):
    """No object is stored under the key."""


class IntegrityError(StorageError):
    """The bytes read do not hash to the SHA-256 recorded for the key or expected by the caller."""


class StorageConfigError(StorageError):
    """The store's settings are missing, malformed or contradictory."""


class BucketNotFound(StorageError):
    """The configured S3 bucket does not exist."""


class AccessDenied(StorageError):
    """No credentials were found, or the store refused them for this operation."""


class StorageUnavailable(StorageError):
    """The store could not be reached, timed out, or kept failing after retries."""
