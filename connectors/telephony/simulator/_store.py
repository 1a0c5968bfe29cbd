"""The simulator's call log in memory, indexed so a page of 1,000 out of 100,000 is served fast.

Records are kept oldest first with their start times in a parallel list (for bisecting date
windows) and an index per phone number; the positions matching a query are cached until the data
changes, so following ``nextPage`` through a large result never re-filters it.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta

from ._data import CallGenerator, SimCall

_QueryKey = tuple[int, int, str | None, str | None, frozenset[str] | None, frozenset[str] | None]


class CallStore:
    """All call-log records of the simulated account; safe to share between request threads."""

    def __init__(self, generator: CallGenerator, calls: int, now: datetime, days: int = 90) -> None:
        self._generator = generator
        self._lock = threading.RLock()
        self.now = now
        self.calls: list[SimCall] = []
        self._starts: list[int] = []
        self._by_id: dict[str, SimCall] = {}
        self._by_recording: dict[str, SimCall] = {}
        self._by_number: dict[str, list[int]] = {}
        self.deleted_recordings: set[str] = set()
        self.change_seq = 0
        self._cache: OrderedDict[_QueryKey, Sequence[int]] = OrderedDict()
        self._append(generator.calls(calls, now - timedelta(days=days), now), mark_changed=False)

    def query(
        self,
        date_from_ms: int,
        date_to_ms: int,
        digits: str | None = None,
        recording_type: str | None = None,
        directions: frozenset[str] | None = None,
        types: frozenset[str] | None = None,
    ) -> Sequence[int]:
        """Positions of the records matching the filters, newest first (a cached, read-only sequence)."""
        key: _QueryKey = (date_from_ms, date_to_ms, digits, recording_type, directions, types)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                cached = self._cache[key] = self._compute(key)
                if len(self._cache) > 64:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            return cached

    def _compute(self, key: _QueryKey) -> Sequence[int]:
        date_from_ms, date_to_ms, digits, recording_type, directions, types = key
        if types is not None and "Voice" not in types:
            return ()
        lo = bisect.bisect_left(self._starts, date_from_ms)
        hi = bisect.bisect_left(self._starts, date_to_ms)
        if digits is not None:
            positions = self._by_number.get(digits, [])
            candidates: Sequence[int] = positions[bisect.bisect_left(positions, lo) : bisect.bisect_left(positions, hi)]
            candidates = candidates[::-1]
        else:
            candidates = range(hi - 1, lo - 1, -1)
        if recording_type is None and directions is None:
            return candidates
        calls = self.calls
        return [
            p
            for p in candidates
            if (directions is None or calls[p].direction in directions)
            and (recording_type is None or _recorded_as(calls[p], recording_type))
        ]

    def call(self, call_id: str) -> SimCall | None:
        """The record with this id, if any."""
        return self._by_id.get(call_id)

    def by_recording(self, recording_id: str) -> SimCall | None:
        """The record holding this recording, if the recording still exists."""
        call = self._by_recording.get(recording_id)
        return call if call is not None and call.recording_id == recording_id else None

    def delete_recordings(self, recording_ids: Sequence[str], now_ms: int) -> list[str]:
        """Delete recordings for good (their records stay, without them); return the ids deleted."""
        deleted = []
        with self._lock:
            for recording_id in recording_ids:
                call = self.by_recording(recording_id)
                if call is None:
                    continue
                call.recording_id = call.recording_type = None
                call.modified_ms = max(call.modified_ms, now_ms)
                self.change_seq += 1
                call.change_seq = self.change_seq
                self.deleted_recordings.add(recording_id)
                deleted.append(recording_id)
            if deleted:
                self._cache.clear()
        return deleted

    def advance(self, delta: timedelta, calls: int) -> list[SimCall]:
        """Move the simulated clock forward by ``delta`` and add ``calls`` records made in that time."""
        with self._lock:
            start, self.now = self.now, self.now + delta
            new = self._generator.calls(calls, start, self.now) if calls else []
            self._append(new, mark_changed=True)
            return new

    def changed_since(self, seq: int, limit: int) -> list[SimCall]:
        """Records added or changed after change number ``seq``, in the order they changed."""
        with self._lock:
            changed = [c for c in self.calls if c.change_seq > seq]
        changed.sort(key=lambda c: c.change_seq)
        return changed[:limit]

    def _append(self, calls: list[SimCall], *, mark_changed: bool) -> None:
        calls = [c for c in calls if not self._starts or c.start_ms >= self._starts[-1]]
        for call in calls:
            position = len(self.calls)
            self.calls.append(call)
            self._starts.append(call.start_ms)
            self._by_id[call.id] = call
            if call.recording_id:
                self._by_recording[call.recording_id] = call
            for digits in call.numbers():
                self._by_number.setdefault(digits, []).append(position)
            if mark_changed:
                self.change_seq += 1
                call.change_seq = self.change_seq
        self._cache.clear()


def _recorded_as(call: SimCall, recording_type: str) -> bool:
    if call.recording_id is None:
        return False
    return recording_type == "All" or call.recording_type == recording_type
