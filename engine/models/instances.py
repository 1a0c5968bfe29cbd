"""Running and finished cases: one serialized SpiffWorkflow per row, plus the case counter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class ProcessInstance(Base):
    """A case: an instance of one definition version, with SpiffWorkflow's state as JSON.

    ``lock_version`` is SQLAlchemy's version counter: a save whose counter moved underneath it
    fails, which is how two writers to one case race cleanly (DESIGN decision 4).
    """

    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_process_instance_started_by_started_at", "started_by", "started_at"),
        Index("ix_process_instance_status_process", "status", "process_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(40), unique=True)
    process_id: Mapped[str] = mapped_column(String(200))
    definition_version_id: Mapped[int] = mapped_column(ForeignKey("definition_version.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    """``running``, ``completed``, ``cancelled`` or ``failed``."""
    current_step: Mapped[str] = mapped_column(String(300), default="")
    started_by: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(Text)
    """SpiffWorkflow state as JSON, without specs (see ``engine.bpmn.serializer``)."""
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": lock_version}


class CaseCounter(Base):
    """The last case number handed out per prefix and year (``REL-2026-00001``)."""

    __tablename__ = "case_counter"

    prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
