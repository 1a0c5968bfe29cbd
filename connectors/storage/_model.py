"""What a store returns, and the protocol every store implements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._streams import ObjectReader


@dataclass(frozen=True)
class StoredObject:
    """One object as the store recorded it: enough to serve it, verify it and audit it.

    ``sha256`` is the lowercase hex digest computed while the object was written; it is empty only for
    an object that was not written through a callgov store (such an object cannot be read in full).
    """

    key: str
    size: int
    sha256: str
    content_type: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    stored_at: datetime | None = None


@dataclass(frozen=True)
class DeleteFailure:
    """A key that ``delete_many`` could not delete, with the store's reason."""

    key: str
    code: str
    message: str


@runtime_checkable
class ObjectStore(Protocol):
    """Where retained copies of recordings and disclosure packages are kept.

    Implementations: :class:`LocalFolderStore` (the default) and :class:`S3Store`. Every method raises
    only :class:`StorageError` subclasses, apart from exceptions raised by the caller's own chunk
    source in :meth:`put_stream`, which propagate unchanged.
    """

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes] | BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Store the bytes from ``chunks`` under ``key``, hashing them on the way.

        Memory use is bounded whatever the object's size. The object becomes visible only once it is
        complete: if the chunk source or the store fails part-way, nothing is left under the key (a
        previous object under the same key stays as it was).
        """
        ...

    def open_stream(
        self,
        key: str,
        *,
        expected_sha256: str | None = None,
        byte_range: tuple[int, int | None] | None = None,
    ) -> ObjectReader:
        """Open ``key`` for reading as an iterator of byte chunks; use it as a context manager.

        A full read is checked against the recorded SHA-256 (and ``expected_sha256`` if given) when the
        source is exhausted, before the last chunk is handed over. ``byte_range`` is inclusive like
        HTTP's ``Range: bytes=first-last`` (``last`` ``None`` = to the end); range reads are not checked.
        """
        ...

    def head(self, key: str) -> StoredObject | None:
        """Return what is recorded about ``key``, or ``None`` if nothing is stored there."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys that start with ``prefix``, in lexicographic order."""
        ...

    def delete_many(self, keys: Iterable[str]) -> list[DeleteFailure]:
        """Delete ``keys`` (missing ones count as deleted) and return the ones that could not be deleted."""
        ...

    def presigned_url(self, key: str, expires_in: timedelta) -> str | None:
        """A URL that lets anyone holding it GET ``key`` until it expires, or ``None`` if unsupported."""
        ...

    def check(self) -> None:
        """Raise a :class:`StorageError` if the store cannot be used (missing bucket, unwritable folder)."""
        ...
