"""Streaming helpers shared by the stores: reading a caller's chunk source, and verified reads."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import BinaryIO

from ._errors import IntegrityError
from ._model import StoredObject

DEFAULT_CHUNK_SIZE = 64 * 1024


def iter_source(chunks: Iterable[bytes] | BinaryIO, read_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """Yield non-empty ``bytes`` from an iterable of chunks or a binary file object.

    ``bytes`` itself is refused: iterating it would yield ints, and a whole object in memory is what
    the streaming API exists to avoid (wrap small data as ``[data]`` if you really mean it).
    """
    if isinstance(chunks, bytes | bytearray | memoryview):
        raise TypeError("put_stream needs an iterable of chunks or a binary file, not bytes; pass [data]")
    if hasattr(chunks, "read"):
        reader: BinaryIO = chunks  # type: ignore[assignment]
        while block := reader.read(read_size):
            yield _as_bytes(block)
        return
    for chunk in chunks:
        if chunk:
            yield _as_bytes(chunk)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"chunk source yielded {type(chunk).__name__}, expected bytes")


class ObjectReader:
    """The chunks of one stored object: an iterator of ``bytes`` and a context manager.

    On a full read the SHA-256 of the bytes is compared with the recorded digest (and the caller's
    ``expected_sha256``) once the source is exhausted. The last chunk is held back until that check has
    passed, so a consumer never receives a complete copy of a corrupted object: on a mismatch
    :class:`IntegrityError` is raised instead of the last chunk.

    A caller serving HTTP has by then sent most of the body with a ``200``/``Content-Length``; it must
    abort the response (let the exception close the connection, never send the missing tail) so the
    client sees a truncated transfer rather than a good one, and record the incident. To answer with an
    error status instead, buffer the object (to a temporary file for large ones) before responding.
    Range reads are not verified: a part cannot be checked against a whole-object digest.

    Attributes: ``stored`` (the :class:`StoredObject`), ``first`` and ``last`` (inclusive byte offsets
    of this read, ``last`` is ``-1`` for an empty object), ``length`` (bytes this read yields) and
    ``verified`` (true once a full read has passed the check).
    """

    def __init__(
        self,
        stored: StoredObject,
        chunks: Iterator[bytes],
        *,
        close: Callable[[], None],
        first: int,
        last: int,
        verify_against: Iterable[str] | None,
    ) -> None:
        self.stored = stored
        self.first = first
        self.last = last
        self.length = last - first + 1
        self.verified = False
        self._chunks = chunks
        self._close = close
        self._closed = False
        self._expected = tuple(dict.fromkeys(verify_against)) if verify_against is not None else None
        self._digest = hashlib.sha256() if self._expected is not None else None
        self._held: bytes | None = None
        self._exhausted = False

    @property
    def key(self) -> str:
        """The key being read."""
        return self.stored.key

    def __iter__(self) -> ObjectReader:
        return self

    def __next__(self) -> bytes:
        if self._exhausted:
            raise StopIteration
        try:
            while True:
                try:
                    chunk = next(self._chunks)
                except StopIteration:
                    return self._finish()
                if self._digest is not None:
                    self._digest.update(chunk)
                held, self._held = self._held, chunk
                if held is not None:
                    return held
        except BaseException:
            self._exhausted = True
            self.close()
            raise

    def _finish(self) -> bytes:
        self._exhausted = True
        self.close()
        if self._digest is not None and self._expected is not None:
            actual = self._digest.hexdigest()
            wrong = [digest for digest in self._expected if digest != actual]
            if wrong:
                raise IntegrityError(
                    f"object {self.key!r} failed its integrity check: the bytes read hash to SHA-256 "
                    f"{actual}, not {wrong[0]}",
                    key=self.key,
                )
            self.verified = True
        held, self._held = self._held, None
        if held is None:
            raise StopIteration
        return held

    def read(self) -> bytes:
        """Read the rest of the object into memory; for small objects and tests only."""
        with self:
            return b"".join(self)

    def close(self) -> None:
        """Release the underlying file or HTTP response; safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
