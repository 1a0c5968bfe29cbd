"""Behaviour every ObjectStore shares, run against the local folder and against S3 (moto's server)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from connectors.storage import (
    IntegrityError,
    InvalidKey,
    InvalidRange,
    InvalidRequest,
    ObjectNotFound,
    ObjectStore,
    StoredObject,
)

from .conftest import StoreBackdoor

MIB = 1024 * 1024


def chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """The data as a stream of ``size``-byte chunks, as a download would arrive."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


class SourceFailed(Exception):
    """Raised by a chunk source to simulate a download that breaks part-way."""


def breaking_source(chunks: int, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
    """Yield ``chunks`` chunks of data, then fail like a dropped connection."""
    for n in range(chunks):
        yield bytes([n % 251]) * chunk_size
    raise SourceFailed("connection reset by peer")


def test_both_stores_satisfy_the_protocol(object_store: ObjectStore) -> None:
    assert isinstance(object_store, ObjectStore)
    object_store.check()


def test_put_then_read_back_what_was_stored(object_store: ObjectStore) -> None:
    data = bytes(range(256)) * 1000 + b"tail"
    stored = object_store.put_stream(
        "recordings/2024/05/r-1.mp3",
        chunked(data, 1000),
        content_type="audio/mpeg",
        metadata={"recording-id": "r-1", "case": "REL-7"},
    )

    assert stored.key == "recordings/2024/05/r-1.mp3"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.content_type == "audio/mpeg"
    head = object_store.head("recordings/2024/05/r-1.mp3")
    assert head is not None
    assert (head.size, head.sha256, head.content_type) == (stored.size, stored.sha256, "audio/mpeg")
    assert dict(head.metadata) == {"recording-id": "r-1", "case": "REL-7"}
    assert head.stored_at is not None and head.stored_at.tzinfo is not None
    assert object_store.exists("recordings/2024/05/r-1.mp3")
    with object_store.open_stream("recordings/2024/05/r-1.mp3", expected_sha256=stored.sha256) as reader:
        assert b"".join(reader) == data
        assert reader.verified
        assert (reader.first, reader.last, reader.length) == (0, len(data) - 1, len(data))


def test_put_accepts_a_binary_file(object_store: ObjectStore) -> None:
    data = b"RIFF" + b"\x01" * 300_000
    stored = object_store.put_stream("a.wav", io.BytesIO(data), content_type="audio/wav")

    assert stored.size == len(data)
    assert object_store.open_stream("a.wav").read() == data


def test_an_empty_object_round_trips(object_store: ObjectStore) -> None:
    stored = object_store.put_stream("empty.txt", iter(()), content_type="text/plain")

    assert (stored.size, stored.sha256) == (0, hashlib.sha256(b"").hexdigest())
    with object_store.open_stream("empty.txt") as reader:
        assert list(reader) == []
        assert reader.verified


def test_put_refuses_a_bare_bytes_object(object_store: ObjectStore) -> None:
    with pytest.raises(TypeError, match="not bytes"):
        object_store.put_stream("x.bin", b"abc", content_type="application/octet-stream")  # type: ignore[arg-type]


def test_a_second_put_replaces_the_object(object_store: ObjectStore) -> None:
    object_store.put_stream("notes/n.txt", [b"first version"], content_type="text/plain")
    second = object_store.put_stream("notes/n.txt", [b"second"], content_type="text/plain; charset=utf-8")

    head = object_store.head("notes/n.txt")
    assert head is not None
    expected = StoredObject("notes/n.txt", 6, second.sha256, "text/plain; charset=utf-8", {}, head.stored_at)
    assert head == expected
    assert object_store.open_stream("notes/n.txt").read() == b"second"


def test_missing_objects(object_store: ObjectStore) -> None:
    assert object_store.head("nothing/here") is None
    assert not object_store.exists("nothing/here")
    with pytest.raises(ObjectNotFound) as caught:
        object_store.open_stream("nothing/here")
    assert caught.value.key == "nothing/here"


@pytest.mark.parametrize(
    ("byte_range", "expected"),
    [
        ((0, 9), (0, 9)),
        ((100, 199), (100, 199)),
        ((990, None), (990, 999)),
        ((995, 5000), (995, 999)),
        ((999, 999), (999, 999)),
    ],
)
def test_range_reads(
    object_store: ObjectStore, byte_range: tuple[int, int | None], expected: tuple[int, int]
) -> None:
    data = bytes(i % 256 for i in range(1000))
    object_store.put_stream("r.bin", [data], content_type="application/octet-stream")

    with object_store.open_stream("r.bin", byte_range=byte_range) as reader:
        assert b"".join(reader) == data[expected[0] : expected[1] + 1]
        assert (reader.first, reader.last) == expected
        assert reader.length == expected[1] - expected[0] + 1
        assert not reader.verified  # a part cannot be checked against the whole object's digest


@pytest.mark.parametrize("byte_range", [(1000, None), (1000, 2000), (5000, 6000)])
def test_a_range_past_the_end_is_refused(
    object_store: ObjectStore, byte_range: tuple[int, int | None]
) -> None:
    object_store.put_stream("r.bin", [b"x" * 1000], content_type="application/octet-stream")

    with pytest.raises(InvalidRange):
        object_store.open_stream("r.bin", byte_range=byte_range)


@pytest.mark.parametrize("byte_range", [(-1, 5), (5, 4), ("0", 5), (0,)])
def test_a_malformed_range_is_refused_before_any_request(object_store: ObjectStore, byte_range: Any) -> None:
    with pytest.raises(InvalidRange):
        object_store.open_stream("never-stored.bin", byte_range=byte_range)


def test_a_wrong_expected_digest_fails_at_the_end_of_the_stream(object_store: ObjectStore) -> None:
    data = b"a" * 200_000
    object_store.put_stream("recordings/r-2.mp3", chunked(data), content_type="audio/mpeg")

    received = bytearray()
    with pytest.raises(IntegrityError) as caught:
        with object_store.open_stream("recordings/r-2.mp3", expected_sha256="0" * 64) as reader:
            for chunk in reader:
                received += chunk

    assert "recordings/r-2.mp3" in str(caught.value)
    assert caught.value.key == "recordings/r-2.mp3"
    # The last chunk is held back until the check passes, so the consumer never has the whole object.
    assert 0 < len(received) < len(data)
    assert not reader.verified


def test_a_corrupted_object_is_detected_on_a_full_read(
    object_store: ObjectStore, store_backdoor: StoreBackdoor
) -> None:
    object_store.put_stream("recordings/r-3.wav", [b"original audio" * 1000], content_type="audio/wav")
    store_backdoor.corrupt("recordings/r-3.wav", b"tampered audio" * 1000)

    with pytest.raises(IntegrityError, match="recordings/r-3.wav"):
        object_store.open_stream("recordings/r-3.wav").read()
    # A range read is not checked: it is served as stored.
    assert object_store.open_stream("recordings/r-3.wav", byte_range=(0, 7)).read() == b"tampered"


def test_a_malformed_expected_digest_is_refused(object_store: ObjectStore) -> None:
    object_store.put_stream("x.bin", [b"x"], content_type="application/octet-stream")

    with pytest.raises(InvalidRequest, match="64 hexadecimal"):
        object_store.open_stream("x.bin", expected_sha256="abc")
    upper = hashlib.sha256(b"x").hexdigest().upper()
    assert object_store.open_stream("x.bin", expected_sha256=upper).read() == b"x"


@pytest.mark.parametrize("chunks", [3, 30], ids=["small", "past-one-s3-part"])
def test_an_interrupted_upload_leaves_nothing_behind(
    object_store: ObjectStore, store_backdoor: StoreBackdoor, chunks: int
) -> None:
    with pytest.raises(SourceFailed):  # the caller's own error, unwrapped
        object_store.put_stream("recordings/broken.wav", breaking_source(chunks), content_type="audio/wav")

    assert object_store.head("recordings/broken.wav") is None
    assert list(object_store.iter_keys()) == []
    assert store_backdoor.leftovers() == []


def test_an_interrupted_overwrite_keeps_the_previous_object(
    object_store: ObjectStore, store_backdoor: StoreBackdoor
) -> None:
    first = object_store.put_stream("recordings/keep.wav", [b"good copy"], content_type="audio/wav")

    with pytest.raises(SourceFailed):
        object_store.put_stream("recordings/keep.wav", breaking_source(30), content_type="audio/wav")

    head = object_store.head("recordings/keep.wav")
    assert head is not None and (head.size, head.sha256) == (first.size, first.sha256)
    assert object_store.open_stream("recordings/keep.wav").read() == b"good copy"
    assert store_backdoor.leftovers() == []


BAD_KEYS = [
    "",
    "../etc/passwd",
    "a/../../b",
    "/absolute/path",
    "a/./b",
    "a//b",
    "trailing/",
    "nul\x00byte",
    "back\\slash",
    ".hidden",
    "a/.sidecar",
    "space here",
    "tilde~",
    "ünïcode",
    "x" * 513,
    "a/" + "y" * 201,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused_everywhere(object_store: ObjectStore, key: str) -> None:
    consumed: list[bytes] = []

    def source() -> Iterator[bytes]:
        consumed.append(b"x")
        yield b"x"

    with pytest.raises(InvalidKey):
        object_store.put_stream(key, source(), content_type="text/plain")
    assert consumed == []  # refused before reading the source
    for call in (
        lambda: object_store.open_stream(key),
        lambda: object_store.head(key),
        lambda: object_store.exists(key),
        lambda: object_store.delete_many([key]),
        lambda: object_store.presigned_url(key, timedelta(minutes=5)),
    ):
        with pytest.raises(InvalidKey):
            call()


def test_keys_must_be_strings(object_store: ObjectStore) -> None:
    with pytest.raises(InvalidKey):
        object_store.head(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        object_store.delete_many("a-single-str")


@pytest.mark.parametrize(
    ("content_type", "metadata"),
    [
        ("not a mime type", None),
        ("audio/mpeg\r\nX-Injected: 1", None),
        ("audio/mpeg", {"Upper": "x"}),
        ("audio/mpeg", {"sha256": "mine"}),
        ("audio/mpeg", {"case": "line\nbreak"}),
        ("audio/mpeg", {"case": "é"}),
        ("audio/mpeg", {"big": "x" * 2000}),
    ],
)
def test_bad_content_types_and_metadata_are_refused(
    object_store: ObjectStore, content_type: str, metadata: dict[str, str] | None
) -> None:
    with pytest.raises(InvalidRequest):
        object_store.put_stream("x.bin", [b"x"], content_type=content_type, metadata=metadata)
    assert not object_store.exists("x.bin")


def test_iter_keys_lists_in_order_and_by_prefix(object_store: ObjectStore) -> None:
    keys = ["b", "a/b", "a.c", "a/a/x", "ab", "recordings/2024-05/r1", "recordings/2024-06/r2"]
    for key in keys:
        object_store.put_stream(key, [key.encode()], content_type="text/plain")

    assert list(object_store.iter_keys()) == sorted(keys)
    assert list(object_store.iter_keys("a/")) == ["a/a/x", "a/b"]
    assert list(object_store.iter_keys("a")) == ["a.c", "a/a/x", "a/b", "ab"]
    assert list(object_store.iter_keys("recordings/2024-0")) == keys[-2:]
    assert list(object_store.iter_keys("recordings/2024-06/")) == ["recordings/2024-06/r2"]
    assert list(object_store.iter_keys("nothing/")) == []
    with pytest.raises(InvalidKey):
        list(object_store.iter_keys("../"))


def test_delete_many_deletes_and_ignores_missing_keys(object_store: ObjectStore) -> None:
    for n in range(5):
        object_store.put_stream(f"cases/c{n}/recording.mp3", [b"audio"], content_type="audio/mpeg")
    object_store.put_stream("cases/keep.mp3", [b"audio"], content_type="audio/mpeg")

    failures = object_store.delete_many(f"cases/c{n}/recording.mp3" for n in range(5))
    failures += object_store.delete_many(["cases/never-stored.mp3"])

    assert failures == []
    assert list(object_store.iter_keys()) == ["cases/keep.mp3"]
    assert not object_store.exists("cases/c0/recording.mp3")


@pytest.mark.parametrize("expires_in", [timedelta(0), timedelta(seconds=-5), timedelta(days=8)])
def test_presigned_url_expiry_is_bounded(object_store: ObjectStore, expires_in: timedelta) -> None:
    with pytest.raises(InvalidRequest, match="expires_in"):
        object_store.presigned_url("x.bin", expires_in)
