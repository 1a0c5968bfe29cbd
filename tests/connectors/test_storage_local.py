"""LocalFolderStore specifics: its files on disk, path safety, atomic writes, bounded memory."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tracemalloc
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from connectors.storage import IntegrityError, InvalidKey, LocalFolderStore, StorageError

MIB = 1024 * 1024


def test_objects_are_plain_files_with_a_hidden_json_sidecar(local_store: LocalFolderStore) -> None:
    stored = local_store.put_stream(
        "recordings/2024/r1.mp3", [b"ID3", b"audio"], content_type="audio/mpeg", metadata={"case": "REL-1"}
    )

    folder = local_store.root / "recordings" / "2024"
    assert sorted(p.name for p in folder.iterdir()) == [".r1.mp3.meta.json", "r1.mp3"]
    assert (folder / "r1.mp3").read_bytes() == b"ID3audio"
    sidecar = json.loads((folder / ".r1.mp3.meta.json").read_text())
    assert sidecar == {
        "format": 1,
        "key": "recordings/2024/r1.mp3",
        "sha256": hashlib.sha256(b"ID3audio").hexdigest(),
        "size": 8,
        "content_type": "audio/mpeg",
        "metadata": {"case": "REL-1"},
        "stored_at": stored.stored_at.isoformat() if stored.stored_at else None,
    }
    assert datetime.fromisoformat(sidecar["stored_at"]).utcoffset() is not None
    for path in (folder / "r1.mp3", folder / ".r1.mp3.meta.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # recordings are personal data


def test_the_root_is_created_and_checked(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path / "new" / "store")

    assert store.root.is_dir()
    store.check()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(StorageError, match="cannot create the storage folder"):
        LocalFolderStore(tmp_path / "a-file")


def test_a_symlink_inside_the_root_cannot_lead_outside(local_store: LocalFolderStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not yours")
    (local_store.root / "escape").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidKey, match="outside the storage folder"):
        local_store.put_stream("escape/x.txt", [b"x"], content_type="text/plain")
    with pytest.raises(InvalidKey):
        local_store.open_stream("escape/secret.txt")
    with pytest.raises(InvalidKey):
        local_store.delete_many(["escape/secret.txt"])
    assert list(local_store.iter_keys("escape/")) == []
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_a_key_cannot_be_both_an_object_and_a_folder(local_store: LocalFolderStore) -> None:
    local_store.put_stream("a/b", [b"object"], content_type="text/plain")
    with pytest.raises(InvalidKey, match="parent"):
        local_store.put_stream("a/b/c", [b"x"], content_type="text/plain")

    local_store.put_stream("x/y/z", [b"object"], content_type="text/plain")
    with pytest.raises(InvalidKey, match="folder"):
        local_store.put_stream("x/y", [b"x"], content_type="text/plain")

    assert list(local_store.iter_keys()) == ["a/b", "x/y/z"]
    assert local_store.delete_many(["x/y"]) == []  # a folder is not an object: nothing to delete
    assert local_store.exists("x/y/z")


def test_a_data_file_without_its_sidecar_is_not_an_object(local_store: LocalFolderStore) -> None:
    (local_store.root / "orphan.bin").write_bytes(b"left by a crash between the renames")

    assert not local_store.exists("orphan.bin")
    assert list(local_store.iter_keys()) == []


def test_a_missing_data_file_or_a_damaged_sidecar_is_an_integrity_error(local_store: LocalFolderStore) -> None:
    local_store.put_stream("gone.bin", [b"x"], content_type="application/octet-stream")
    local_store.put_stream("bad-sidecar.bin", [b"x"], content_type="application/octet-stream")
    (local_store.root / "gone.bin").unlink()
    (local_store.root / ".bad-sidecar.bin.meta.json").write_text("{not json")

    with pytest.raises(IntegrityError, match="file is missing"):
        local_store.open_stream("gone.bin")
    with pytest.raises(IntegrityError, match="sidecar"):
        local_store.head("bad-sidecar.bin")


def test_bytes_appended_to_a_file_are_detected(local_store: LocalFolderStore) -> None:
    local_store.put_stream("r.wav", [b"RIFF....WAVE"], content_type="audio/wav")
    with open(local_store.root / "r.wav", "ab") as file:
        file.write(b"extra")

    with pytest.raises(IntegrityError):
        local_store.open_stream("r.wav").read()


def test_deleting_removes_both_files_and_empty_folders(local_store: LocalFolderStore) -> None:
    local_store.put_stream("cases/c1/r.mp3", [b"x"], content_type="audio/mpeg")
    local_store.put_stream("cases/c2/r.mp3", [b"x"], content_type="audio/mpeg")

    assert local_store.delete_many(["cases/c1/r.mp3"]) == []

    assert sorted(p.name for p in (local_store.root / "cases").iterdir()) == ["c2"]
    assert local_store.delete_many(["cases/c2/r.mp3"]) == []
    assert list(local_store.root.iterdir()) == []


def test_a_key_that_cannot_be_deleted_is_reported(local_store: LocalFolderStore) -> None:
    local_store.put_stream("stuck.bin", [b"x"], content_type="application/octet-stream")
    local_store.put_stream("fine.bin", [b"x"], content_type="application/octet-stream")
    sidecar = local_store.root / ".stuck.bin.meta.json"
    sidecar.unlink()
    (sidecar / "blocker").mkdir(parents=True)  # the sidecar's name is now a non-empty folder

    failures = local_store.delete_many(["stuck.bin", "fine.bin"])

    assert [(f.key, f.code) for f in failures] == [("stuck.bin", "EISDIR")]
    assert not local_store.exists("fine.bin")


def test_a_failed_write_removes_its_temporary_file_and_new_folders(local_store: LocalFolderStore) -> None:
    def source() -> Iterator[bytes]:
        yield b"x" * MIB
        assert [p.name for p in (local_store.root / "new" / "folder").iterdir()][0].endswith(".tmp")
        raise ConnectionResetError("download dropped")

    with pytest.raises(ConnectionResetError):  # the source's own OSError is not wrapped
        local_store.put_stream("new/folder/r.wav", source(), content_type="audio/wav")

    assert list(local_store.root.iterdir()) == []


def test_memory_stays_bounded_whatever_the_object_size(local_store: LocalFolderStore) -> None:
    size = 48 * MIB

    def source() -> Iterator[bytes]:
        for _ in range(size // (256 * 1024)):
            yield os.urandom(256 * 1024)

    tracemalloc.start()
    try:
        stored = local_store.put_stream("big.bin", source(), content_type="application/octet-stream")
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with local_store.open_stream("big.bin") as reader:
            read = sum(len(chunk) for chunk in reader)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (stored.size, read) == (size, size)
    assert put_peak < 2 * MIB
    assert read_peak < 2 * MIB
