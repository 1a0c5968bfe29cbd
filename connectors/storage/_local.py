"""The default object store: a folder on the local disk.

Layout under the root, for the key ``recordings/2024/r1.mp3``::

    recordings/2024/r1.mp3              the bytes, exactly as stored (operators can find and copy them)
    recordings/2024/.r1.mp3.meta.json   the sidecar: sha256, size, content_type, metadata, stored_at
    recordings/2024/.r1.mp3.XXXXXX.tmp  a write in progress (removed on failure)

Key segments never start with ``.``, so sidecars and temporary files can never be mistaken for keys.
The sidecar is the commit record: an object exists when its sidecar does. A write goes to a temporary
file in the destination folder (same filesystem, so the rename is atomic), is fsynced, renamed into
place, then its sidecar is written the same way and the folder fsynced.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from ._errors import IntegrityError, InvalidKey, InvalidRange, ObjectNotFound, StorageError
from ._model import DeleteFailure, StoredObject
from ._streams import DEFAULT_CHUNK_SIZE, ObjectReader, iter_source
from ._validation import (
    batched_keys,
    is_valid_key,
    validate_content_type,
    validate_expiry,
    validate_key,
    validate_metadata,
    validate_prefix,
    validate_range,
    validate_sha256,
)

__all__ = ["LocalFolderStore"]

logger = logging.getLogger(__name__)

_SIDECAR_SUFFIX = ".meta.json"
_SIDECAR_FORMAT = 1


class LocalFolderStore:
    """An :class:`ObjectStore` keeping objects as files under ``root``, each with a JSON sidecar.

    Keys map to paths below the root and are validated so that no key (nor a symlink planted inside
    the root) can reach outside it. Files are created readable by the owner only. A key cannot be both
    an object and a "folder" of other keys here (``a/b`` and ``a/b/c``); S3 allows it, this store
    refuses the second with :class:`InvalidKey`. Overwriting a key that another process is reading is
    not supported: retained copies are written once.
    """

    def __init__(self, root: str | os.PathLike[str], *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        """Use ``root`` (created, owner-only, if missing); ``chunk_size`` is the read size for streams."""
        self._root = Path(root).absolute()
        try:
            self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._real_root = os.path.realpath(self._root)
        except OSError as error:
            raise StorageError(f"cannot create the storage folder {str(self._root)!r}: {error}") from error
        self._chunk_size = chunk_size

    @property
    def root(self) -> Path:
        """The folder objects are stored under."""
        return self._root

    def __repr__(self) -> str:
        return f"LocalFolderStore({str(self._root)!r})"

    # -- writing -------------------------------------------------------------------------------------

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes] | BinaryIO,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Write the chunks to a temporary file, then rename it into place with its sidecar."""
        key = validate_key(key)
        content_type = validate_content_type(content_type)
        user_metadata = validate_metadata(metadata)
        target = self._path(key)
        if target.is_dir():
            raise InvalidKey(f"object key {key!r} is already a folder of other keys", key=key)
        temp: Path | None = None
        try:
            temp, fd = self._make_temp(target, key)
            digest, size = self._write_data(fd, chunks, key)
            stored = StoredObject(
                key=key,
                size=size,
                sha256=digest,
                content_type=content_type,
                metadata=user_metadata,
                stored_at=datetime.now(UTC),
            )
            self._commit(target, temp, stored)
        except BaseException:
            if temp is not None:
                with contextlib.suppress(OSError):
                    temp.unlink()
            self._prune(target.parent)
            raise
        return stored

    def _make_temp(self, target: Path, key: str) -> tuple[Path, int]:
        # A concurrent delete may prune the folder between makedirs and mkstemp: try again a few times.
        for attempt in range(3):
            try:
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
                return Path(name), fd
            except FileNotFoundError:
                if attempt == 2:
                    raise StorageError(f"folder for {key!r} keeps disappearing", key=key) from None
            except (FileExistsError, NotADirectoryError):
                raise InvalidKey(f"object key {key!r}: a parent of it is an object", key=key) from None
            except OSError as error:
                raise StorageError(f"cannot write {key!r}: {error}", key=key) from error
        raise AssertionError("unreachable")

    def _write_data(self, fd: int, chunks: Iterable[bytes] | BinaryIO, key: str) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        with open(fd, "wb") as out:
            for chunk in iter_source(chunks, self._chunk_size):  # the caller's errors propagate as they are
                digest.update(chunk)
                size += len(chunk)
                with _os_errors("write", key):
                    out.write(chunk)
            with _os_errors("write", key):
                out.flush()
                os.fsync(out.fileno())
        return digest.hexdigest(), size

    def _commit(self, target: Path, temp: Path, stored: StoredObject) -> None:
        sidecar = _sidecar_path(target)
        record = {
            "format": _SIDECAR_FORMAT,
            "key": stored.key,
            "sha256": stored.sha256,
            "size": stored.size,
            "content_type": stored.content_type,
            "metadata": dict(stored.metadata),
            "stored_at": stored.stored_at.isoformat() if stored.stored_at else None,
        }
        with _os_errors("write", stored.key):
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.meta.", suffix=".tmp")
            sidecar_temp = Path(name)
            try:
                with open(fd, "w", encoding="utf-8") as out:
                    json.dump(record, out, indent=1, sort_keys=True)
                    out.flush()
                    os.fsync(out.fileno())
                # Hide any previous object first, so a crash between the renames leaves no object
                # rather than new bytes beside an old digest.
                with contextlib.suppress(FileNotFoundError):
                    sidecar.unlink()
                try:
                    os.replace(temp, target)
                except IsADirectoryError:
                    raise InvalidKey(f"object key {stored.key!r} is a folder", key=stored.key) from None
                os.replace(sidecar_temp, sidecar)
            except BaseException:
                with contextlib.suppress(OSError):
                    sidecar_temp.unlink()
                raise
            _fsync_dir(target.parent)

    # -- reading -------------------------------------------------------------------------------------

    def open_stream(
        self,
        key: str,
        *,
        expected_sha256: str | None = None,
        byte_range: tuple[int, int | None] | None = None,
    ) -> ObjectReader:
        """Open the file; a full read is verified against the sidecar's digest (and ``expected_sha256``)."""
        key = validate_key(key)
        expected = validate_sha256(expected_sha256)
        wanted = validate_range(byte_range)
        stored = self._read_sidecar(key)
        if stored is None:
            raise ObjectNotFound(f"no object stored under {key!r}", key=key)
        try:
            handle = open(self._path(key), "rb")  # closed by the reader
        except FileNotFoundError:
            raise IntegrityError(f"object {key!r} is recorded but its file is missing", key=key) from None
        except OSError as error:
            raise StorageError(f"cannot read {key!r}: {error}", key=key) from error
        try:
            size = os.fstat(handle.fileno()).st_size
            if wanted is None:
                first, last = 0, size - 1
                verify = [stored.sha256] + ([expected] if expected else [])
            else:
                first, last = wanted[0], size - 1 if wanted[1] is None else min(wanted[1], size - 1)
                if first >= size:
                    raise InvalidRange(
                        f"byte range {byte_range} starts past the end of {key!r} ({size} bytes)", key=key
                    )
                verify = None
            chunks = self._file_chunks(handle, key, first, None if wanted is None else last - first + 1)
        except BaseException:
            handle.close()
            raise
        return ObjectReader(stored, chunks, close=handle.close, first=first, last=last, verify_against=verify)

    def _file_chunks(self, handle: BinaryIO, key: str, first: int, length: int | None) -> Iterator[bytes]:
        # A full read goes to end of file, not to the recorded size, so appended bytes are caught too.
        with _os_errors("read", key):
            handle.seek(first)
        remaining = length
        while remaining is None or remaining > 0:
            size = self._chunk_size if remaining is None else min(self._chunk_size, remaining)
            with _os_errors("read", key):
                block = handle.read(size)
            if not block:
                return
            if remaining is not None:
                remaining -= len(block)
            yield block

    def head(self, key: str) -> StoredObject | None:
        """Return the sidecar's record of ``key``, or ``None``."""
        return self._read_sidecar(validate_key(key))

    def exists(self, key: str) -> bool:
        """Whether ``key`` has a sidecar, i.e. a completed write."""
        return self.head(key) is not None

    def _read_sidecar(self, key: str) -> StoredObject | None:
        sidecar = _sidecar_path(self._path(key))
        try:
            with open(sidecar, encoding="utf-8") as source:
                record = json.load(source)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (ValueError, UnicodeDecodeError) as error:
            raise IntegrityError(f"the metadata sidecar of {key!r} is corrupt: {error}", key=key) from error
        except OSError as error:
            raise StorageError(f"cannot read the metadata of {key!r}: {error}", key=key) from error
        try:
            stored_at = datetime.fromisoformat(record["stored_at"]) if record.get("stored_at") else None
            return StoredObject(
                key=key,
                size=int(record["size"]),
                sha256=str(record["sha256"]),
                content_type=str(record["content_type"]),
                metadata={str(k): str(v) for k, v in record.get("metadata", {}).items()},
                stored_at=stored_at,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise IntegrityError(f"the sidecar of {key!r} is incomplete: {error!r}", key=key) from error

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Yield stored keys starting with ``prefix`` in lexicographic order, walking only what it needs."""
        prefix = validate_prefix(prefix)
        folder, _, _ = prefix.rpartition("/")
        start = self._root.joinpath(*folder.split("/")) if folder else self._root
        if folder and os.path.realpath(start) != os.path.join(self._real_root, *folder.split("/")):
            return
        base = f"{folder}/" if folder else ""
        yield from (key for key in self._walk(start, base) if key.startswith(prefix))

    def _walk(self, folder: Path, base: str) -> Iterator[str]:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as error:
            raise StorageError(f"cannot list {str(folder)!r}: {error}") from error
        # Sort as full keys would sort: a folder "a" holds keys "a/...", which sort after "a.b".
        found: list[tuple[str, bool]] = []
        for entry in entries:
            name = entry.name
            if name.startswith(".") and name.endswith(_SIDECAR_SUFFIX):
                candidate = name[1 : -len(_SIDECAR_SUFFIX)]
                if is_valid_key(candidate):
                    found.append((candidate, False))
            elif entry.is_dir(follow_symlinks=False) and is_valid_key(name):
                found.append((name + "/", True))
        for name, is_folder in sorted(found):
            if is_folder:
                yield from self._walk(folder / name[:-1], base + name)
            else:
                yield base + name

    # -- deleting and the rest -----------------------------------------------------------------------

    def delete_many(self, keys: Iterable[str]) -> list[DeleteFailure]:
        """Delete each key's sidecar, then its data file; missing keys count as deleted."""
        failures: list[DeleteFailure] = []
        for batch in batched_keys(keys):
            failures.extend(self._delete_batch(batch))
        return failures

    def _delete_batch(self, keys: list[str]) -> list[DeleteFailure]:
        failures: list[DeleteFailure] = []
        targets = [(key, self._path(key)) for key in keys]
        for key, target in targets:
            try:
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    _sidecar_path(target).unlink()
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    if not target.is_dir():  # a "folder" of other keys is not an object: nothing to do
                        target.unlink()
                _fsync_dir(target.parent)
            except OSError as error:
                code = errno.errorcode.get(error.errno or 0, "OSError")
                failures.append(DeleteFailure(key, code, str(error)))
                continue
            self._prune(target.parent)
        return failures

    def presigned_url(self, key: str, expires_in: timedelta) -> str | None:
        """Always ``None``: the application streams local objects itself, after its own checks."""
        validate_key(key)
        validate_expiry(expires_in)
        return None

    def check(self) -> None:
        """Raise :class:`StorageError` unless the root is a writable folder."""
        if not self._root.is_dir() or not os.access(self._root, os.W_OK | os.X_OK):
            raise StorageError(f"storage folder {str(self._root)!r} is missing or not writable")

    # -- paths ---------------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file for a validated key; refuses any path that a symlink would lead elsewhere."""
        segments = key.split("/")
        path = self._root.joinpath(*segments)
        if os.path.realpath(path) != os.path.join(self._real_root, *segments):
            raise InvalidKey(f"object key {key!r} resolves outside the storage folder", key=key)
        return path

    def _prune(self, folder: Path) -> None:
        """Remove empty folders from ``folder`` up to (not including) the root, as S3 has none."""
        while folder != self._root and self._root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


def _sidecar_path(target: Path) -> Path:
    return target.with_name(f".{target.name}{_SIDECAR_SUFFIX}")


def _fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _os_errors(action: str, key: str) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise StorageError(f"cannot {action} {key!r}: {error}", key=key) from error
