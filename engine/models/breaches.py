"""The tables of the breach investigation (policy 4 and 8; UK GDPR Art. 33-34).

* ``breach_register`` — one row per breach case, from the moment it opens: the register the DPO
  browses and exports, with its dates, decisions and outcome (written by the process's operations).
* ``breach_trigger`` — every system trigger or report that concerns a case (the first, and any
  repeated trigger about the same person or recording that joined the open case instead of opening
  a new one).
* ``breach_reporter`` — who reported a case. Restricted: only the DPO reads it (``BreachesMixin``);
  an anonymous report shows "anonymous" everywhere else.
* ``breach_hold`` — recordings held while a case is open: they must not be deleted until released.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime

__all__ = ["BreachHold", "BreachRecord", "BreachReporter", "BreachTrigger"]

_ID = BigInteger().with_variant(Integer, "sqlite")


class BreachRecord(Base):
    """One row of the breach register: a breach case, whatever became of it."""

    __tablename__ = "breach_register"
    __table_args__ = (Index("ix_breach_register_opened", "opened_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40), unique=True)
    source: Mapped[str] = mapped_column(String(40))
    """``report`` (a member of staff), ``anonymous_report`` or a system trigger's kind."""
    subject_username: Mapped[str | None] = mapped_column(String(80), index=True)
    """The member of staff the case concerns (under investigation), if any."""
    summary: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    discovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="open")
    """``open`` or ``closed``."""
    classification: Mapped[str | None] = mapped_column(String(20))
    """``personal_data``, ``policy``, ``both`` or ``neither``."""
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    triaged_by: Mapped[str | None] = mapped_column(String(80))
    triaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    aware_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the organisation became aware: the 72-hour clock runs from here."""
    containment: Mapped[str | None] = mapped_column(Text)
    risk_level: Mapped[str | None] = mapped_column(String(20))
    people_affected: Mapped[int | None] = mapped_column(Integer)
    records_affected: Mapped[int | None] = mapped_column(Integer)
    reportable: Mapped[bool | None] = mapped_column(Boolean)
    not_reported_reason: Mapped[str | None] = mapped_column(Text)
    ico_reference: Mapped[str | None] = mapped_column(String(100))
    ico_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ico_late: Mapped[bool | None] = mapped_column(Boolean)
    late_reason: Mapped[str | None] = mapped_column(Text)
    people_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    people_told_how: Mapped[str | None] = mapped_column(Text)
    investigator: Mapped[str | None] = mapped_column(String(80))
    findings: Mapped[str | None] = mapped_column(Text)
    disciplinary_referral: Mapped[bool | None] = mapped_column(Boolean)
    disciplinary_reference: Mapped[str | None] = mapped_column(String(100))
    recommendations: Mapped[str | None] = mapped_column(Text)
    lessons_learned: Mapped[str | None] = mapped_column(Text)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    closed_by: Mapped[str | None] = mapped_column(String(80))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BreachTrigger(Base):
    """One trigger (or report) recorded on a breach case."""

    __tablename__ = "breach_trigger"
    __table_args__ = (Index("ix_breach_trigger_subject", "subject_username", "at"),
                      Index("ix_breach_trigger_recording", "recording_id", "at"))

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    """``refused_playback``, ``pci_flag``, ``link_misuse``, ``complaint``, ``report``, ``anonymous_report``."""
    subject_username: Mapped[str | None] = mapped_column(String(80))
    recording_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    raised_by: Mapped[str] = mapped_column(String(120))
    joined: Mapped[bool] = mapped_column(Boolean, default=False)
    """True when the trigger joined an already open case instead of opening one."""
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BreachReporter(Base):
    """Who reported a breach case (restricted: the DPO alone reads it)."""

    __tablename__ = "breach_reporter"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40), unique=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BreachHold(Base):
    """A recording held by a breach case: not to be deleted while the hold stands."""

    __tablename__ = "breach_hold"
    __table_args__ = (UniqueConstraint("case_ref", "recording_id"),
                      Index("ix_breach_hold_recording", "recording_id", "released_at"))

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40))
    recording_id: Mapped[int] = mapped_column(Integer)
    placed_by: Mapped[str] = mapped_column(String(80))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
