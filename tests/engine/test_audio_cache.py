"""The short-lived cache of provider audio behind playback: one download per listening."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import IO

import pytest

from connectors.telephony import DownloadResult
from engine.audio_cache import AudioCache


class Provider:
    """Counts downloads; each writes ``size`` bytes of the key's letter."""

    def __init__(self, size: int = 1000) -> None:
        self.size, self.downloads, self.fail = size, 0, False
        self.gate = threading.Event()
        self.gate.set()

    def fetch(self, key: str):
        def write(sink: IO[bytes]) -> DownloadResult:
            self.gate.wait(5)
            self.downloads += 1
            sink.write(key[0].encode() * (self.size // 2))
            if self.fail:
                raise OSError("connection reset half-way")
            sink.write(key[0].encode() * (self.size - self.size // 2))
            return DownloadResult("audio/wav", self.size, "0" * 64)
        return write


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def read(cache: AudioCache, key: str, provider: Provider) -> tuple[bytes, bool]:
    audio = cache.open(key, provider.fetch(key))
    with audio.reader:
        return audio.reader.read(), audio.fetched


def files(cache: AudioCache) -> list[Path]:
    folder = cache._folder
    return sorted(folder.iterdir()) if folder else []


def test_repeated_requests_cost_one_download_until_it_expires() -> None:
    clock, provider = Clock(), Provider()
    cache = AudioCache(ttl_seconds=600, monotonic=clock)
    assert read(cache, "a1", provider) == (b"a" * 1000, True)
    clock.now = 599
    assert read(cache, "a1", provider) == (b"a" * 1000, False)
    assert provider.downloads == 1 and len(files(cache)) == 1
    clock.now = 600
    assert read(cache, "a1", provider)[1] is True and provider.downloads == 2
    assert len(files(cache)) == 1, "the expired copy was removed"


def test_the_least_recently_used_go_beyond_the_limits_and_their_files_with_them() -> None:
    provider = Provider(size=100)
    cache = AudioCache(max_entries=2, max_bytes=10_000)
    for key in ("a", "b", "a", "c"):
        read(cache, key, provider)
    assert len(cache) == 2 and provider.downloads == 3
    assert read(cache, "b", provider)[1] is True, "b was the least recently used"
    small = AudioCache(max_entries=10, max_bytes=250)
    for key in ("a", "b", "c"):
        read(small, key, provider)
    assert len(small) == 2 and len(files(small)) == 2


def test_a_reader_outlives_the_eviction_of_its_file() -> None:
    provider = Provider()
    cache = AudioCache(max_entries=1)
    audio = cache.open("a", provider.fetch("a"))
    read(cache, "b", provider)
    with audio.reader:
        assert audio.reader.read() == b"a" * 1000
    assert [p.read_bytes()[:1] for p in files(cache)] == [b"b"]


def test_a_failed_download_leaves_nothing_and_the_next_request_tries_again() -> None:
    provider = Provider()
    provider.fail = True
    cache = AudioCache()
    with pytest.raises(OSError, match="half-way"):
        cache.open("a", provider.fetch("a"))
    assert len(cache) == 0 and files(cache) == []
    provider.fail = False
    assert read(cache, "a", provider) == (b"a" * 1000, True)


def test_requests_arriving_together_share_one_download() -> None:
    provider = Provider()
    provider.gate.clear()
    cache = AudioCache()
    results: list[tuple[bytes, bool]] = []
    threads = [threading.Thread(target=lambda: results.append(read(cache, "a", provider))) for _ in range(4)]
    for thread in threads:
        thread.start()
    provider.gate.set()
    for thread in threads:
        thread.join(5)
    assert provider.downloads == 1 and sorted(fetched for _, fetched in results) == [False, False, False, True]
    assert {body for body, _ in results} == {b"a" * 1000}


def test_the_folder_is_private_and_clear_empties_it() -> None:
    provider = Provider()
    cache = AudioCache()
    read(cache, "a", provider)
    assert cache._folder is not None and cache._folder.stat().st_mode & 0o077 == 0
    cache.clear()
    assert len(cache) == 0 and files(cache) == []


def test_the_folder_goes_with_the_cache() -> None:
    cache = AudioCache()
    read(cache, "a", Provider())
    folder = cache._folder
    assert folder is not None and folder.is_dir()
    del cache
    assert not folder.exists()
