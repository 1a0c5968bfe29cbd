"""Sign-in throttling counters, kept in the database so every web worker sees the same ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, UTCDateTime


class SignInThrottle(Base):
    """Recent failed sign-ins for one account or one client address, and any lock they caused.

    ``key`` is ``account:<username>`` or ``address:<ip or IPv6 /64>``. A row counts failures in a
    fixed window starting at the first one; enough of them lock the key until ``locked_until``.
    Rows are pruned once ``expires_at`` has passed (see ``engine.queries``).
    """

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
