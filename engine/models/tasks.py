"""Projections of human work: ready user tasks, who may do them, and what was done."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class HumanTask(Base):
    """A ready user task, projected from its instance in the same transaction (DESIGN decision 3).

    The row exists while the task is ready; when the task is completed or cancelled the row goes and
    a ``TaskHistory`` row records what happened.
    """

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_due_at", "due_at"),
        # The inbox's orderings, so a user who may do tens of thousands of tasks gets a page without a sort.
        Index("ix_human_task_due_order", "due_order", "created_at", "id"),
        Index("ix_human_task_created_at", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """SpiffWorkflow's task id (a UUID)."""
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    case_ref: Mapped[str] = mapped_column(String(40))
    process_id: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(80))
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    excluded_users: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Users who may never do this task although a role would allow it (segregation of duties)."""
    case_started_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_order: Mapped[datetime] = mapped_column(UTCDateTime())
    """``due_at``, or the far future for tasks without one: the inbox sorts on it through an index."""

    candidate_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The roles whose holders may do this task (also in ``task_candidate``, which the inbox queries)."""


class TaskCandidate(Base):
    """One way to be allowed a task: a role, or a named user (assignee). Indexed for the inbox.

    Rows go with their task through ``ON DELETE CASCADE``.
    """

    __tablename__ = "task_candidate"
    __table_args__ = (Index("ix_task_candidate_lookup", "kind", "value", "task_id"),)

    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    """``role`` or ``user``."""
    value: Mapped[str] = mapped_column(String(80), primary_key=True)


class TaskHistory(Base):
    """A completed (or cancelled) user task: who, when, and which values they submitted."""

    __tablename__ = "task_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(20), default="completed")
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
