"""Electing the single runner: a PostgreSQL advisory lock, or a lease row on SQLite.

Every process that starts a ``Scheduler`` campaigns on each tick; only the one the election picks
runs jobs. Both kinds free the post when the runner dies, without anyone's help:

* ``AdvisoryLockElection`` (PostgreSQL) holds ``pg_try_advisory_lock(key)`` on a dedicated
  connection for as long as the runner lives. The server drops a session-level lock with its
  session, so a crashed process, a killed backend or a closed connection frees it at once; a hung
  or cut-off runner is cut loose by ``idle_session_timeout`` (set to the lease) on that session.
* ``LeaseRowElection`` (SQLite, usable anywhere) keeps a ``scheduler_lock`` row: the holder renews
  ``expires_at`` every tick, and anyone may take the row once it has expired. Expiry is judged by
  the injected clock, so tests move time instead of sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import Connection, Table, case, func, literal, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from engine.db import Database, UTCDateTime
from engine.models.scheduler import SchedulerLock

__all__ = [
    "SCHEDULER_LOCK_KEY",
    "AdvisoryLockElection",
    "Election",
    "LeaseRowElection",
    "make_election",
    "new_holder_id",
]

logger = logging.getLogger("engine.scheduler")

# pg_try_advisory_lock key of the scheduler: b"callgov\x02" as a signed bigint (the audit chain's
# transaction lock is b"callgov\x01"). Advisory keys are per database, not per schema: two
# installations sharing one database must pass different keys.
SCHEDULER_LOCK_KEY = 0x63616C6C676F7602
DEFAULT_LOCK_NAME = "scheduler"
_LOCK = cast(Table, SchedulerLock.__table__)


class Election(Protocol):
    """One process's candidacy for the runner post."""

    holder: str
    """This process's id, ``hostname:pid:random``."""

    def campaign(self, now: datetime) -> bool:
        """Become or stay the runner; True while this process holds the post."""
        ...

    def release(self, now: datetime) -> None:
        """Give the post up now (clean stop) and free any connection; safe to call repeatedly."""
        ...

    def current_holder(self, now: datetime) -> str | None:
        """Who holds the post according to the database, or None when nobody does."""
        ...


def new_holder_id() -> str:
    """A fresh id for one would-be runner: ``hostname:pid:random`` (unique even within a process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def make_election(db: Database, holder: str, *, lease: timedelta, key: int = SCHEDULER_LOCK_KEY,
                  name: str = DEFAULT_LOCK_NAME) -> Election:
    """The election suited to ``db``: an advisory lock on PostgreSQL, a lease row otherwise."""
    if db.dialect == "postgresql":
        return AdvisoryLockElection(db, holder, key=key, lease=lease)
    return LeaseRowElection(db, holder, lease=lease, name=name)


class LeaseRowElection:
    """The runner is whoever holds the unexpired ``scheduler_lock`` row named ``name``.

    Taking and renewing is one conditional write in one transaction (``BEGIN IMMEDIATE`` on SQLite,
    so two candidates never both win): update the row where the holder is me, nobody, or expired;
    insert it if it does not exist. The lease lasts ``lease`` from the last renewal.
    """

    def __init__(self, db: Database, holder: str, *, lease: timedelta, name: str = DEFAULT_LOCK_NAME) -> None:
        if lease <= timedelta(0):
            raise ValueError("the scheduler lease must be positive")
        self.db = db
        self.holder = holder
        self.lease = lease
        self.name = name

    def campaign(self, now: datetime) -> bool:
        """Take or renew the lease; False if another holder's lease has not expired yet."""
        mine = _LOCK.c.holder == self.holder
        with self.db.transaction() as session:
            renewed = session.execute(
                update(_LOCK)
                .where(_LOCK.c.name == self.name,
                       or_(mine, _LOCK.c.holder.is_(None), _LOCK.c.expires_at < now))
                .values(holder=self.holder, heartbeat_at=now, expires_at=now + self.lease,
                        acquired_at=case((mine, _LOCK.c.acquired_at), else_=literal(now, UTCDateTime())))
            )
            if renewed.rowcount:  # type: ignore[attr-defined]
                return True
            insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
            created = session.execute(
                insert(_LOCK)
                .values(name=self.name, holder=self.holder, acquired_at=now, heartbeat_at=now,
                        expires_at=now + self.lease)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            return bool(created.rowcount)  # type: ignore[attr-defined]

    def release(self, now: datetime) -> None:
        """Empty the row if this process holds it, so the next candidate takes over at once."""
        with self.db.transaction() as session:
            session.execute(
                update(_LOCK)
                .where(_LOCK.c.name == self.name, _LOCK.c.holder == self.holder)
                .values(holder=None, acquired_at=None, heartbeat_at=now, expires_at=now)
            )

    def current_holder(self, now: datetime) -> str | None:
        """The holder of an unexpired lease, or None."""
        with self.db.reading() as session:
            row = session.execute(
                select(_LOCK.c.holder, _LOCK.c.expires_at).where(_LOCK.c.name == self.name)
            ).first()
        if row is None or row.holder is None or row.expires_at < now:
            return None
        return str(row.holder)


class AdvisoryLockElection:
    """The runner is the session holding ``pg_try_advisory_lock(key)`` on PostgreSQL.

    The lock lives on a connection kept out of the pool's circulation for the runner's lifetime
    (autocommit, so it is never idle in a transaction) and checked with ``SELECT 1`` on every
    campaign. Its ``application_name`` is the holder id, so ``current_holder`` can say who runs.
    Needs a real session: not through a transaction-pooling proxy such as PgBouncer's.
    """

    def __init__(self, db: Database, holder: str, *, key: int = SCHEDULER_LOCK_KEY, lease: timedelta) -> None:
        if not -(2**63) <= key < 2**63:
            raise ValueError("an advisory lock key is a signed 64-bit integer")
        self.db = db
        self.holder = holder
        self.key = key
        self.lease = lease
        self._connection: Connection | None = None
        self.backend_pid: int | None = None
        """The server process holding the lock while this process is the runner."""

    def campaign(self, now: datetime) -> bool:
        """Keep the lock if its connection is alive; otherwise try to take it on a new connection."""
        if self._connection is not None:
            try:
                self._connection.execute(select(1))
                return True
            except DBAPIError as error:
                logger.warning("scheduler: lost the runner lock; its database connection failed: %s",
                               error.orig or error)
                self._discard()
        connection = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = connection.execute(select(func.pg_try_advisory_lock(self.key))).scalar_one()
            if not got:
                connection.close()  # no lock taken: back to the pool as it came
                return False
            self._connection = connection
            self.backend_pid = connection.execute(select(func.pg_backend_pid())).scalar_one()
            connection.execute(select(func.set_config("application_name", self.holder[:63], False)))
            self._set_idle_timeout(connection)
            return True
        except BaseException:
            self._discard(connection)
            raise

    def _set_idle_timeout(self, connection: Connection) -> None:
        # A runner that stops talking to the server (hung, frozen, cut off) loses the lock after the
        # lease; idle_session_timeout exists from PostgreSQL 14 on, older servers rely on TCP.
        milliseconds = max(1000, int(self.lease.total_seconds() * 1000))
        try:
            connection.execute(select(func.set_config("idle_session_timeout", str(milliseconds), False)))
        except DBAPIError as error:
            logger.info("scheduler: idle_session_timeout not available (%s); a hung runner keeps the "
                        "lock until its connection closes", error.orig or error)

    def release(self, now: datetime) -> None:
        """Unlock and close the lock's connection for good (never back into the pool)."""
        connection = self._connection
        if connection is None:
            return
        try:
            connection.execute(select(func.pg_advisory_unlock(self.key)))
        except DBAPIError:
            pass  # the session is gone, and the lock with it
        self._discard()

    def _discard(self, connection: Connection | None = None) -> None:
        connection = connection or self._connection
        self._connection = None
        self.backend_pid = None
        if connection is None:
            return
        # Invalidating closes the session itself: whatever it held or set dies with it.
        connection.invalidate()
        connection.close()

    def current_holder(self, now: datetime) -> str | None:
        """The ``application_name`` (holder id) of the session holding the lock, or None."""
        unsigned = self.key & 0xFFFF_FFFF_FFFF_FFFF
        with self.db.engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT coalesce(nullif(a.application_name, ''), 'backend ' || l.pid::text) "
                    "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND l.classid = CAST(:high AS oid) AND l.objid = CAST(:low AS oid)"
                ),
                {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF},
            ).first()
        return None if row is None else str(row[0])
