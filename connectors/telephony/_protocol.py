"""What callgov needs from a telephony provider, as a protocol both the client and the fake satisfy."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import BinaryIO, Protocol, TypeAlias, runtime_checkable

from ._models import CallLogRecord, DownloadResult, RecordingInfo

#: Where downloaded audio goes: a writable binary file, or a function taking each chunk.
#: The sink must not treat the bytes as final until ``download_recording`` has returned;
#: if it raises, whatever was written is incomplete and must be discarded.
Sink: TypeAlias = BinaryIO | Callable[[bytes], object]


@runtime_checkable
class TelephonyProvider(Protocol):
    """The telephony cloud where recordings live for their first 90 days."""

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
        """Yield the account's voice call-log records that started in ``[date_from, date_to)``.

        Pages are fetched lazily, one at a time, newest first. ``phone_number`` is E.164 (with or
        without ``+``) and matches either party; ``recording_type`` is ``Automatic``,
        ``OnDemand``, ``All`` (only recorded calls) or ``None`` (recorded or not);
        ``direction`` is ``Inbound``, ``Outbound`` or ``None`` for both.
        """
        ...

    def get_recording(self, recording_id: str) -> RecordingInfo:
        """Return a recording's metadata; raise ``RecordingNotFound`` once it is gone."""
        ...

    def download_recording(self, recording_id: str, sink: Sink, *, content_uri: str | None = None) -> DownloadResult:
        """Stream a recording's audio into ``sink`` in chunks, never holding the whole file.

        ``content_uri`` (from the call log's ``RecordingRef``) saves a metadata request. Returns
        only when every announced byte arrived; otherwise raises ``DownloadIncomplete`` (or another
        ``TelephonyError``) and the sink's content must be thrown away.
        """
        ...

    def delete_recordings(self, recording_ids: Sequence[str]) -> None:
        """Delete recordings at the provider, immediately and permanently."""
        ...


def sink_writer(sink: Sink) -> Callable[[bytes], object]:
    """The function that writes one chunk to ``sink`` (its ``write`` method, or the sink itself)."""
    write = getattr(sink, "write", None)
    if callable(write):
        return write
    if callable(sink):
        return sink
    raise TypeError("sink must be a writable binary file or a callable taking bytes")
