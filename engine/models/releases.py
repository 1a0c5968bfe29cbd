"""The tables of the recording release lifecycle (policy 1.2, 2.3 and Appendix 1).

* ``release_recording`` — which catalogue recordings a release case concerns (a projection of the
  case's ``recording_ids``, written by the locate step), so that access decisions query a table,
  never a case's serialized state.
* ``listening_grant`` — time-limited listening access for the requester of an internal review.
* ``disclosure_package`` — what was put together for a third party (audio, PDF form, manifest) and
  the delivery link that fetches it: only the SHA-256 of the link's token is stored.
* ``disclosure_register`` — the policy's record of every release: who received what, why, on what
  lawful basis, authorised by whom and when, and when it was disclosed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

import engine.models.recording  # noqa: F401  (the ``recording`` table the rows below refer to)
from engine.db import Base, UTCDateTime

__all__ = ["DisclosurePackage", "DisclosureRecord", "ListeningGrant", "ReleaseRecording"]

_ID = BigInteger().with_variant(Integer, "sqlite")


class ReleaseRecording(Base):
    """One recording a release case concerns: the case's link to the catalogue."""

    __tablename__ = "release_recording"
    __table_args__ = (
        UniqueConstraint("case_ref", "recording_id"),
        Index("ix_release_recording_recording", "recording_id"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id"))
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ListeningGrant(Base):
    """Time-limited listening access to one recording for one person, under one case."""

    __tablename__ = "listening_grant"
    __table_args__ = (Index("ix_listening_grant_user_recording", "username", "recording_id", "expires_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40), index=True)
    username: Mapped[str] = mapped_column(String(80))
    recording_id: Mapped[int] = mapped_column(ForeignKey("recording.id"))
    granted_by: Mapped[str] = mapped_column(String(80))
    """The authoriser whose decision the grant carries out."""
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DisclosurePackage(Base):
    """A disclosure package for a third party and its delivery link.

    The link's token is shown once (in the mail that delivers it) and only its SHA-256 is kept, so
    nobody with read access to the database can use a link. ``files`` lists every file of the
    package as ``{"name", "key", "sha256", "size", "content_type", "recording_id"}``; the manifest
    itself is ``manifest_key`` (its hash in ``manifest_sha256``).
    """

    __tablename__ = "disclosure_package"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    recipient_organisation: Mapped[str | None] = mapped_column(String(200))
    delivered_to: Mapped[str | None] = mapped_column(String(320))
    """The address the link was mailed to."""
    terms: Mapped[str] = mapped_column(Text)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    manifest_key: Mapped[str] = mapped_column(String(1024))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    """The name the recipient typed when accepting the terms."""
    first_download_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_download_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DisclosureRecord(Base):
    """One row of the disclosure register: a release, as the policy's form records it.

    ``disclosed_at`` is the date of disclosure: when listening access was granted, or, for a
    package, its first download (empty until then).
    """

    __tablename__ = "disclosure_register"
    __table_args__ = (Index("ix_disclosure_register_recorded", "recorded_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40), unique=True)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("disclosure_package.id"))
    kind: Mapped[str] = mapped_column(String(20))
    """``package`` (to a third party) or ``listening`` (internal review)."""
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disclosed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(80))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    recipient_job_title: Mapped[str | None] = mapped_column(String(200))
    recipient_organisation: Mapped[str | None] = mapped_column(String(200))
    third_party: Mapped[bool] = mapped_column(Boolean, default=False)
    third_party_details: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(40))
    """The Appendix 1 reason (``crime``, ``complaint`` ...)."""
    purpose: Mapped[str] = mapped_column(Text)
    lawful_basis: Mapped[str] = mapped_column(String(60))
    delivery_method: Mapped[str | None] = mapped_column(String(40))
    recordings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """What was disclosed: ``{"recording_id", "provider_recording_id", "sha256"}`` per recording."""
    authoriser: Mapped[str] = mapped_column(String(80))
    authorised_at: Mapped[datetime] = mapped_column(UTCDateTime())
