"""Mail the processes send: queued in the sender's transaction, delivered once it has committed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class QueuedMail(Base):
    """One message for one or more recipients.

    Written by ``workflows.mail.send_mail`` in the transaction of the case that sends it, so a mail
    exists exactly when the work it tells of was stored (a disclosure link is never mailed for a
    package whose transaction then failed). ``Callgov.deliver_mail`` sends it after the commit, and
    the ``mail.deliver`` job retries with back-off. Once the relay has taken a message its text is
    cleared (it may hold a single-use link); with mail off the text stays, for the demo outbox.
    """

    __tablename__ = "mail_queue"
    __table_args__ = (Index("ix_mail_queue_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_ref: Mapped[str | None] = mapped_column(String(40), index=True)
    what: Mapped[str] = mapped_column(String(100))
    """What the mail is for, in the process's words ("disclosure link", "triage reminder")."""
    actor: Mapped[str] = mapped_column(String(100))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(500))
    text: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))
    """``pending`` (not yet sent or waiting to retry), ``sent`` (the relay took it), ``logged`` (mail
    is off: written to the log), ``failed`` (given up after the last try)."""
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
