"""Recordings fetched from the telephony provider for playback, kept for a few minutes.

A browser's audio player asks for a recording in several byte ranges: the start, often the end (for
the duration), and again at every seek. Recording content is in RingCentral's Heavy rate-limit group
(about ten requests a minute), so fetching the whole recording from the provider for each range
would stall the player within a minute. ``AudioCache`` keeps each recording fetched for playback in
a private temporary folder for ``ttl`` (ten minutes by default), so one listening costs one provider
download. Every request is still authorised and audited by ``open_playback`` before the cache is
touched; the cache only decides where the bytes come from.

The files live in a folder only this process's user can read, are removed when they expire or are
evicted (at most ``max_entries`` recordings and ``max_bytes`` in all), and on ``clear``; the folder
goes when the cache does, or when the process exits. An open
reader keeps its file readable after removal (POSIX), so eviction never cuts a stream short.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from connectors.telephony import DownloadResult

DEFAULT_TTL_SECONDS = 600.0
DEFAULT_MAX_ENTRIES = 16
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


@dataclass
class _Entry:
    path: Path
    size: int
    content_type: str | None
    fetched_at: float


@dataclass(frozen=True)
class CachedAudio:
    """An open reader of a cached recording, with its size and content type."""

    reader: IO[bytes]
    size: int
    content_type: str | None
    fetched: bool
    """True when this call downloaded it from the provider; False when the cache already held it."""


class AudioCache:
    """A small, short-lived cache of provider audio, shared by the threads of one process."""

    def __init__(self, *, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_entries: int = DEFAULT_MAX_ENTRIES,
                 max_bytes: int = DEFAULT_MAX_BYTES, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._now = monotonic
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._fetching: dict[str, threading.Lock] = {}
        self._folder: Path | None = None

    def open(self, key: str, fetch: Callable[[IO[bytes]], DownloadResult]) -> CachedAudio:
        """A reader of recording ``key``: the cached copy while it is fresh, else what ``fetch`` writes
        into a new file (one download even when several requests for it arrive together). A failed
        fetch leaves nothing behind and raises."""
        with self._lock:
            gate = self._fetching.setdefault(key, threading.Lock())
        with gate:
            entry = self._fresh(key)
            if entry is not None:
                return CachedAudio(entry.path.open("rb"), entry.size, entry.content_type, fetched=False)
            descriptor, name = tempfile.mkstemp(dir=self._private_folder(), suffix=".audio")
            path = Path(name)
            try:
                with os.fdopen(descriptor, "wb") as sink:
                    result = fetch(sink)
                reader = path.open("rb")
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            with self._lock:
                self._entries[key] = _Entry(path, result.size, result.content_type, self._now())
                self._entries.move_to_end(key)
                self._evict()
            return CachedAudio(reader, result.size, result.content_type, fetched=True)

    def clear(self) -> None:
        """Remove every cached recording."""
        with self._lock:
            for entry in self._entries.values():
                entry.path.unlink(missing_ok=True)
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _fresh(self, key: str) -> _Entry | None:
        with self._lock:
            self._evict()
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def _evict(self) -> None:
        """Drop expired entries, then the least recently used beyond the limits (lock held)."""
        now = self._now()
        for key in [k for k, e in self._entries.items() if now - e.fetched_at >= self._ttl]:
            self._entries.pop(key).path.unlink(missing_ok=True)
        while self._entries and (len(self._entries) > self._max_entries
                                 or sum(e.size for e in self._entries.values()) > self._max_bytes):
            _, oldest = self._entries.popitem(last=False)
            oldest.path.unlink(missing_ok=True)
        for key in [k for k, gate in self._fetching.items() if k not in self._entries and not gate.locked()]:
            del self._fetching[key]

    def _private_folder(self) -> Path:
        with self._lock:
            if self._folder is None or not self._folder.is_dir():
                self._folder = Path(tempfile.mkdtemp(prefix="callgov-audio-"))  # mode 0700
                weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)  # also at exit
            return self._folder
