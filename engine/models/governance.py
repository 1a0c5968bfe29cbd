"""The governance editor's tables: drafts as saved (with their problems) and publication requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class DefinitionDraft(Base):
    """One save from the editor or one upload, exactly as sent, with the problems the checks found.

    A draft without problems is also stored as an immutable ``definition_version`` (status
    ``draft``), which is what can be published; a draft with problems has no version, so it can
    never be published.
    """

    __tablename__ = "definition_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    bpmn_xml: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(300), default="")
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """``[{"element_id": str | None, "message": str}]``; empty when the draft passed every check."""
    version_id: Mapped[int | None] = mapped_column(ForeignKey("definition_version.id"))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PublicationRequest(Base):
    """An author's request that a second governance user publish a draft version (four eyes)."""

    __tablename__ = "publication_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("definition_version.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(80))
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="requested")
    """``requested``; then ``approved`` (the version was published) or ``sent_back`` (with a note)."""
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reviewer: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
