"""An in-memory :class:`TelephonyProvider` for unit tests of the layers above the connector."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from ._models import CallLogRecord, CallParty, DownloadResult, RecordingInfo, RecordingRef
from ._protocol import Sink, sink_writer
from .errors import DownloadIncomplete, RecordingNotFound


class FakeTelephony:
    """Holds call-log records and audio in memory and answers like the real provider would.

    Filtering, ordering (newest first) and deletion behave as RingCentral's do; ``deleted`` lists
    every recording id deleted, ``downloads`` every recording id downloaded, and
    :meth:`interrupt_next_download` makes the next download stop half-way.
    """

    def __init__(self, records: Sequence[CallLogRecord] = (), audio: dict[str, bytes] | None = None) -> None:
        self._records: dict[str, CallLogRecord] = {r.id: r for r in records}
        self._audio: dict[str, bytes] = dict(audio or {})
        self._ids = itertools.count(1)
        self._interrupt = 0
        self.deleted: list[str] = []
        self.downloads: list[str] = []

    def add_call(
        self,
        start_time: datetime,
        *,
        external_number: str = "+447700900123",
        extension_number: str = "101",
        extension_number_e164: str = "+441248123401",
        direction: str = "Inbound",
        duration: int = 60,
        session_id: str | None = None,
        recording_type: str | None = "Automatic",
        audio: bytes = b"RIFF fake audio",
        result: str = "Accepted",
    ) -> CallLogRecord:
        """Add a call (one leg) and, unless ``recording_type`` is ``None``, its recording; return it."""
        number = next(self._ids)
        external = CallParty(phone_number=external_number)
        internal = CallParty(
            phone_number=extension_number_e164,
            extension_number=extension_number,
            name=f"Extension {extension_number}",
        )
        recording = None
        if recording_type is not None:
            recording = RecordingRef(
                id=f"rec-{number}", type=recording_type, content_uri=f"fake://recording/rec-{number}/content"
            )
            self._audio[recording.id] = audio
        record = CallLogRecord(
            id=f"call-{number}",
            start_time=start_time,
            session_id=session_id or f"session-{number}",
            telephony_session_id=f"s-{number}",
            duration=duration,
            direction=direction,
            from_party=external if direction == "Inbound" else internal,
            to_party=internal if direction == "Inbound" else external,
            extension_id=f"ext-{extension_number}",
            result=result,
            recording=recording,
            last_modified_time=start_time + timedelta(seconds=duration),
            call_type="Voice",
        )
        self._records[record.id] = record
        return record

    def interrupt_next_download(self, count: int = 1) -> None:
        """Make the next ``count`` downloads write half the audio and raise ``DownloadIncomplete``."""
        self._interrupt += count

    def iter_call_log(
        self,
        date_from: datetime,
        date_to: datetime,
        *,
        phone_number: str | None = None,
        recording_type: str | None = "All",
        direction: str | None = None,
        per_page: int = 1000,
    ) -> Iterator[CallLogRecord]:
        """Yield the stored records matching the filters, newest first."""
        digits = phone_number.removeprefix("+") if phone_number else None
        matching = [
            r
            for r in self._records.values()
            if date_from <= r.start_time < date_to
            and (digits is None or digits in _numbers(r))
            and (direction is None or r.direction == direction)
            and _recording_matches(r, recording_type)
        ]
        yield from sorted(matching, key=lambda r: (r.start_time, r.id), reverse=True)

    def get_recording(self, recording_id: str) -> RecordingInfo:
        """Return the metadata of a stored recording."""
        if recording_id not in self._audio:
            raise RecordingNotFound(f"recording {recording_id} not found", status=404)
        return RecordingInfo(
            id=recording_id,
            content_uri=f"fake://recording/{recording_id}/content",
            content_type="audio/wav",
            duration=None,
        )

    def download_recording(self, recording_id: str, sink: Sink, *, content_uri: str | None = None) -> DownloadResult:
        """Write the stored audio to ``sink`` in two chunks (or one, then fail, when interrupted)."""
        if recording_id not in self._audio:
            raise RecordingNotFound(f"recording {recording_id} not found", status=404)
        self.downloads.append(recording_id)
        data = self._audio[recording_id]
        write = sink_writer(sink)
        half = len(data) // 2
        write(data[:half])
        if self._interrupt:
            self._interrupt -= 1
            raise DownloadIncomplete(
                f"download of recording {recording_id} interrupted (fake)",
                recording_id=recording_id,
                received=half,
                expected=len(data),
            )
        write(data[half:])
        return DownloadResult(content_type="audio/wav", size=len(data), sha256=hashlib.sha256(data).hexdigest())

    def delete_recordings(self, recording_ids: Sequence[str]) -> None:
        """Forget the recordings' audio and detach them from their call-log records."""
        for recording_id in recording_ids:
            if self._audio.pop(recording_id, None) is not None:
                self.deleted.append(recording_id)
        for record in list(self._records.values()):
            if record.recording is not None and record.recording.id in recording_ids:
                self._records[record.id] = replace(record, recording=None)


def _numbers(record: CallLogRecord) -> set[str]:
    return {p.phone_number.removeprefix("+") for p in (record.from_party, record.to_party) if p.phone_number}


def _recording_matches(record: CallLogRecord, recording_type: str | None) -> bool:
    if recording_type is None:
        return True
    if record.recording is None:
        return False
    return recording_type == "All" or record.recording.type == recording_type
