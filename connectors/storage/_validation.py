"""Checks on everything a caller hands to a store, shared by every backend.

Keys are validated the same way for the local folder and for S3, so that a key accepted by one store
is accepted by the other and can never name a file outside the local root.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta

from ._errors import InvalidKey, InvalidRange, InvalidRequest

MAX_KEY_LENGTH = 512
# Leaves room under the usual 255-byte file-name limit for the local store's sidecar and temp names.
MAX_SEGMENT_LENGTH = 200
MAX_METADATA_BYTES = 1800  # S3 allows 2 KiB of user metadata; the rest is kept for our sha256 entry
RESERVED_METADATA = frozenset({"sha256"})

# A segment starts with a letter, digit or underscore, so "." and ".." are impossible and names the
# local store uses for its own files (".name.meta.json", ".name.XXXX.tmp") never collide with a key.
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_PREFIX_TAIL = re.compile(r"[A-Za-z0-9._-]*")
_METADATA_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_METADATA_VALUE = re.compile(r"[\x20-\x7e]*")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[\w.+-]+(\s*;\s*[\w.+-]+=(\"[\x20-\x7e]*\"|[\w.+-]+))*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_PRESIGN_EXPIRY = timedelta(days=7)  # the SigV4 limit


def validate_key(key: object) -> str:
    """Return ``key`` if it is a safe relative key such as ``recordings/2024/05/123.mp3``.

    Segments are separated by ``/``; each starts with a letter, digit or ``_`` and holds only
    letters, digits, ``.``, ``_`` and ``-``. Raises :class:`InvalidKey` otherwise.
    """
    if not isinstance(key, str):
        raise InvalidKey(f"object key must be a str, not {type(key).__name__}")
    shown = repr(key if len(key) <= 80 else key[:80] + "...")
    if not key:
        raise InvalidKey("object key is empty", key=key)
    if "\x00" in key:
        raise InvalidKey(f"object key {shown} contains NUL", key=key)
    if key.startswith("/") or "\\" in key:
        raise InvalidKey(f"object key {shown} is absolute or uses backslashes", key=key)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"object key {shown} is longer than {MAX_KEY_LENGTH} characters", key=key)
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"object key {shown} has an empty, '.' or '..' segment", key=key)
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidKey(f"object key {shown} has a segment over {MAX_SEGMENT_LENGTH} chars", key=key)
        if not _SEGMENT.fullmatch(segment):
            raise InvalidKey(
                f"object key {shown}: segment {segment!r} must start with a letter, digit or '_' "
                "and hold only letters, digits, '.', '_' and '-'",
                key=key,
            )
    return key


def is_valid_key(key: str) -> bool:
    """Whether ``key`` would pass :func:`validate_key` (used to skip foreign objects when listing)."""
    try:
        validate_key(key)
    except InvalidKey:
        return False
    return True


def batched_keys(keys: Iterable[str], size: int = 1000) -> Iterator[list[str]]:
    """Yield lists of up to ``size`` validated keys, each list checked whole before it is yielded.

    A store deletes batch by batch, so an invalid key stops the call before any key of its batch is
    touched (earlier batches are already done; deleting is idempotent, so the call can be repeated).
    """
    if isinstance(keys, str):
        raise InvalidKey("delete_many needs an iterable of keys, not a single str")
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield [validate_key(k) for k in batch]
            batch = []
    if batch:
        yield [validate_key(k) for k in batch]


def validate_prefix(prefix: object) -> str:
    """Return a listing prefix: empty, or whole valid segments then a partial one (``recordings/2024-0``)."""
    if not isinstance(prefix, str):
        raise InvalidKey(f"key prefix must be a str, not {type(prefix).__name__}")
    if not prefix:
        return prefix
    head, _, tail = prefix.rpartition("/")
    if head:
        validate_key(head)
    if not _PREFIX_TAIL.fullmatch(tail) or tail.startswith("."):
        raise InvalidKey(f"key prefix {prefix!r} has characters outside the safe set", key=prefix)
    return prefix


def validate_content_type(content_type: object) -> str:
    """Return ``content_type`` if it is a MIME type (``audio/mpeg``, ``text/plain; charset=utf-8``)."""
    if not isinstance(content_type, str) or len(content_type) > 255:
        raise InvalidRequest(f"content type {content_type!r} is not a valid MIME type")
    if not _CONTENT_TYPE.fullmatch(content_type):
        raise InvalidRequest(f"content type {content_type!r} is not a valid MIME type")
    return content_type


def validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Return a copy of user metadata that both stores can keep (S3 sends it as ``x-amz-meta-*`` headers).

    Names are lowercase letters, digits and ``-``; values printable ASCII; ``sha256`` is reserved.
    """
    if metadata is None:
        return {}
    checked: dict[str, str] = {}
    total = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or not _METADATA_NAME.fullmatch(name):
            raise InvalidRequest(f"metadata name {name!r} must be lowercase letters, digits and '-'")
        if name in RESERVED_METADATA:
            raise InvalidRequest(f"metadata name {name!r} is reserved for the store")
        if not isinstance(value, str) or not _METADATA_VALUE.fullmatch(value):
            raise InvalidRequest(f"metadata value for {name!r} must be printable ASCII text")
        total += len(name) + len(value)
        checked[name] = value
    if total > MAX_METADATA_BYTES:
        raise InvalidRequest(f"metadata is {total} bytes; the limit is {MAX_METADATA_BYTES}")
    return checked


def validate_sha256(digest: str | None) -> str | None:
    """Return a hex SHA-256 in lowercase, or ``None``; raise :class:`InvalidRequest` if malformed."""
    if digest is None:
        return None
    lowered = digest.lower() if isinstance(digest, str) else ""
    if not _SHA256.fullmatch(lowered):
        raise InvalidRequest(f"expected_sha256 {digest!r} is not 64 hexadecimal digits")
    return lowered


def validate_range(byte_range: tuple[int, int | None] | None) -> tuple[int, int | None] | None:
    """Check an inclusive ``(first, last)`` byte range as in HTTP ``Range: bytes=first-last``.

    ``last`` may be ``None`` for "to the end". Whether ``first`` lies inside the object is checked by
    the store, which knows the size.
    """
    if byte_range is None:
        return None
    try:
        first, last = byte_range
    except (TypeError, ValueError):
        raise InvalidRange(f"byte range {byte_range!r} must be a (first, last) pair") from None
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise InvalidRange(f"byte range {byte_range!r}: first byte must be an int >= 0")
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < first):
        raise InvalidRange(f"byte range {byte_range!r}: last byte must be None or an int >= first")
    return first, last


def validate_expiry(expires_in: timedelta) -> int:
    """Return a presigned URL's lifetime in whole seconds: at least one second, at most seven days."""
    if not isinstance(expires_in, timedelta):
        raise InvalidRequest(f"expires_in must be a timedelta, not {type(expires_in).__name__}")
    seconds = int(expires_in.total_seconds())
    if seconds < 1 or expires_in > MAX_PRESIGN_EXPIRY:
        raise InvalidRequest(f"expires_in must be between 1 second and 7 days, not {expires_in}")
    return seconds
