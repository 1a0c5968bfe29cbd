"""Messages: which waiting case waits for what, which process a message starts, what nobody took."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class MessageSubscription(Base):
    """One row per message a running case waits for, with the value it correlates on.

    A projection of the case's state, rewritten in the same transaction (``engine.instances``);
    ``send_message`` finds its receivers here by name, key and value, through the index.
    """

    __tablename__ = "message_subscription"
    __table_args__ = (
        Index("ix_message_subscription_match", "message_name", "correlation_key", "correlation_value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    case_ref: Mapped[str] = mapped_column(String(40))
    message_name: Mapped[str] = mapped_column(String(200))
    correlation_key: Mapped[str] = mapped_column(String(100))
    correlation_value: Mapped[str | None] = mapped_column(String(200))
    """None when the case has no value under the key yet: nothing can reach it until it has one."""


class MessageStart(Base):
    """A message that starts a new case of a process (a message start event of its published version).

    Rewritten when a version is published, like ``start_timer``.
    """

    __tablename__ = "message_start"

    message_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    element_id: Mapped[str] = mapped_column(String(200))
    definition_version_id: Mapped[int] = mapped_column(ForeignKey("definition_version.id"))


class UndeliveredMessage(Base):
    """A message not (yet) delivered: the outbox of thrown messages and the store of kept ones.

    Every message is written here first, in the transaction of whoever sent it; delivering it
    deletes the row in the receiver's transaction. A row that stays is a message nobody waited for:
    kept, visible, and retried by ``redeliver_kept``.
    """

    __tablename__ = "message_undelivered"
    __table_args__ = {"sqlite_autoincrement": True}  # ids appear in the audit trail: never reuse one

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    correlation: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sender: Mapped[str] = mapped_column(String(120))
    """Who sent it: a username, ``system:<job>``, or the case reference of the case that threw it."""
    source_case_ref: Mapped[str | None] = mapped_column(String(40))
    """The case that threw it (None for messages sent from outside the engine)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Deliveries tried that found nobody (or failed)."""
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    """Cases it reached so far (a message to several waiting cases reaches each in its own transaction)."""
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
