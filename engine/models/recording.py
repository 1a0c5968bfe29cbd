"""The recordings catalogue: one row per recording held by the telephony provider, and the sync cursor.

The audio itself stays with the provider for its 90 days (DESIGN decision 9: referenced, not
embedded); a row says where it is, whose call it was, when it expires there and, once the release
process has kept a copy, where that copy lives in our own storage.

Indexes serve the searches people make, newest first, at a million rows on SQLite and PostgreSQL:
a number (either party's) with or without a time window, an extension, a window alone, and a
direction within a window. Each ends in ``(start_time, id)`` so that one backward index scan
yields rows already in ``ORDER BY start_time DESC, id DESC`` order and keyset pagination can
resume exactly where a page ended. Both databases scan a B-tree backwards as cheaply as forwards,
so ascending indexes serve the descending order (DESC key columns would add nothing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime

__all__ = ["CatalogueSyncState", "Recording"]


class Recording(Base):
    """A call recording at the telephony provider (one call-log record's ``recording``).

    ``external_number`` and ``extension_number`` are E.164 (``+441248123456``) or ``None`` when the
    provider gave no usable number (withheld, internal-only); ``extension`` is the short internal
    extension (``"101"``) as text. ``provider_expires_at`` is ``start_time`` plus the provider's 90
    days; after it (or after ``deleted_at_provider``) only a retained copy, if any, remains.
    """

    __tablename__ = "recording"
    __table_args__ = (
        UniqueConstraint("provider", "provider_recording_id"),
        Index("ix_recording_external_number_start", "external_number", "start_time", "id"),
        Index("ix_recording_extension_number_start", "extension_number", "start_time", "id"),
        Index("ix_recording_extension_start", "extension", "start_time", "id"),
        Index("ix_recording_direction_start", "direction", "start_time", "id"),
        Index("ix_recording_start", "start_time", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    """Our own id (on SQLite the rowid); task data refers to recordings by it."""
    provider: Mapped[str] = mapped_column(String(40))
    """Which telephony account family the ids belong to: ``ringcentral`` (BT Cloud Work)."""
    provider_record_id: Mapped[str] = mapped_column(String(64))
    """The call-log record's ``id`` (one leg of a call)."""
    provider_recording_id: Mapped[str] = mapped_column(String(64))
    """The recording's ``id`` at the provider: what audio download and deletion take."""
    session_id: Mapped[str | None] = mapped_column(String(64))
    """The call's ``sessionId``, shared by every leg of one call (not indexed: no search uses it, and
    every index costs the sync; add one with the first query that needs it)."""
    telephony_session_id: Mapped[str | None] = mapped_column(String(64))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    direction: Mapped[str | None] = mapped_column(String(10))
    """``Inbound`` or ``Outbound``, as seen from the organisation."""
    external_number: Mapped[str | None] = mapped_column(String(20))
    """The other party's number (the caller on inbound calls, the called on outbound), E.164."""
    extension_number: Mapped[str | None] = mapped_column(String(20))
    """The organisation's side: the extension's direct number, E.164."""
    extension: Mapped[str | None] = mapped_column(String(20))
    """The short internal extension number, such as ``101``."""
    extension_id: Mapped[str | None] = mapped_column(String(64))
    staff_name: Mapped[str | None] = mapped_column(String(200))
    """The extension's name at the provider: the member of staff on the call."""
    recording_type: Mapped[str | None] = mapped_column(String(16))
    """``Automatic`` or ``OnDemand``."""
    content_type: Mapped[str | None] = mapped_column(String(100))
    """``audio/mpeg`` or ``audio/wav``; the call log does not say, so it is filled when audio is fetched."""
    content_uri: Mapped[str | None] = mapped_column(String(1000))
    provider_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the provider deletes the recording by itself: ``start_time`` + 90 days."""
    retained_key: Mapped[str | None] = mapped_column(String(1024))
    """Storage key of the copy kept in our own store (set by the release process), if any."""
    retained_sha256: Mapped[str | None] = mapped_column(String(64))
    retained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at_provider: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When we deleted the recording at the provider (it is gone there from then on)."""
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_synced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When a sync last read this recording from the provider's call log."""


class CatalogueSyncState(Base):
    """Where the catalogue sync of one provider stands: its watermark, its run, and who runs it.

    ``synced_until`` is the watermark: every window before it was read completely. While a run is
    under way, ``run_from``/``run_to`` bound it, ``window_from``/``window_to`` name the window being
    read and ``window_resume_to`` the start time (exclusive) below which that window is still unread.
    Records arrive newest first, and each page is committed with this cursor in the same
    transaction, so after a crash the next run reads ``[window_from, window_resume_to)`` and goes on.
    ``lease_owner``/``lease_expires_at`` keep two syncs (a scheduler job and a CLI run) apart.
    """

    __tablename__ = "catalogue_sync_state"

    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    synced_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_resume_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_records: Mapped[int] = mapped_column(Integer, default=0)
    """Call-log records read by the current run (or the last one, once it finished)."""
    run_new: Mapped[int] = mapped_column(Integer, default=0)
    """Recordings the current (or last) run added to the catalogue."""
    last_run_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(1000))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
