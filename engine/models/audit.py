"""The audit trail's one table: append-only, hash-chained events (DESIGN decision 8).

Rows are written only by ``engine.audit.record`` and never updated or deleted; database triggers
(``engine.audit.postgres_append_only_ddl`` / ``sqlite_append_only_ddl``) refuse both. There are
deliberately no foreign keys: deleting a case, task or user never deletes or alters its events.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class AuditEvent(Base):
    """One thing that happened: who did what, when, to which case, task or recording.

    ``hash`` is SHA-256 over the event's canonical form, which includes ``seq`` and ``prev_hash``
    (the hash of event ``seq - 1``), so editing, deleting, inserting or reordering events breaks
    the chain where it happened (see ``engine.audit.verify`` and ``docs/audit.md``).
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        # Each lookup is "newest events for X": the index ends with seq so no sort is needed.
        Index("ix_audit_event_case_ref_seq", "case_ref", "seq"),
        Index("ix_audit_event_recording_id_seq", "recording_id", "seq"),
        Index("ix_audit_event_actor_seq", "actor", "seq"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    """Position in the chain, from 1 with no gaps. Assigned by ``record`` under the chain lock,
    not by a database sequence, because it is part of the hashed content. (On SQLite the column is
    ``INTEGER PRIMARY KEY``, the rowid, so it is 64-bit there too.)"""
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the use case that wrote the event ran (its clock); ``seq``, not ``at``, is the order."""
    actor: Mapped[str] = mapped_column(String(120))
    """A username, or ``system:<job>`` for a scheduler job or other automatic actor."""
    action: Mapped[str] = mapped_column(String(80))
    """Dotted lowercase name such as ``instance.started``, ``recording.played``, ``access.denied``."""
    case_ref: Mapped[str | None] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(36))
    recording_id: Mapped[str | None] = mapped_column(String(120))
    detail_json: Mapped[str] = mapped_column("detail", Text, default="{}")
    """Canonical JSON (sorted keys, no spaces, ASCII), at most 8 KB; hashed exactly as stored."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    """``hash`` of event ``seq - 1``; 64 zeros for event 1."""
    hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 (lowercase hex) of this event's canonical form."""

    @property
    def detail(self) -> dict[str, Any]:
        """The detail as a dictionary (parsed from the stored canonical JSON)."""
        value = json.loads(self.detail_json or "{}")
        return value if isinstance(value, dict) else {"value": value}

    def __repr__(self) -> str:
        return f"<AuditEvent {self.seq} {self.action} by {self.actor}>"
