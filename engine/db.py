"""Database plumbing: the declarative base, engine creation and the one transaction helper.

Every use case runs inside ``Database.transaction()``: the engine commits, routes and jobs never do
(STYLE rule 2). SQLite gets foreign keys and a busy timeout; PostgreSQL is used as it comes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every callgov table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create a SQLAlchemy engine for ``url``, tuned for the backend it names."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy drive transactions (pysqlite's own BEGIN handling would defeat BEGIN IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 32 MiB of page cache (taken as needed) rather than SQLite's 2 MiB, a few percent of a 100,000-row
    # catalogue's indexes: a catalogue sync then spends about a third less CPU writing.
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Writers take the write lock at the start so two of them never deadlock upgrading a read lock;
    # read-only sessions (``Database.reading``) begin deferred and run beside a writer under WAL.
    # Straight on the driver: this runs for every transaction, and SQLAlchemy's statement
    # execution would cost several times what the BEGIN itself does.
    deferred = conn.get_execution_options().get("callgov_read_only", False)
    conn.connection.driver_connection.execute("BEGIN" if deferred else "BEGIN IMMEDIATE")


class Database:
    """An engine and its session factory; ``transaction()`` is the unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(callgov_read_only=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        """The backend's name: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a session, commit when the block ends normally, roll back on any exception."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def lean_transaction(self) -> Iterator[Session]:
        """``transaction()`` for the engine's hot path: the same transaction on a Core connection,
        with a ``Session`` made only if the block uses more than ``connection()`` and ``info``.

        Starting a case or completing a task speaks Core on the connection (``engine.instances``),
        and the ORM session's own begin, commit and close bookkeeping cost more than several of its
        statements. What the block gets is a stand-in with the session's interface: ``connection()``
        and ``info`` are its own, anything else (``get``, ``add``, ``execute``, ...) is passed to a
        real session joined to the same transaction, which is flushed before the commit.
        """
        with self.engine.connect() as connection, connection.begin():
            lazy = _LazySession(connection)
            try:
                yield cast(Session, lazy)
                if lazy.real is not None:
                    lazy.real.commit()  # flushes; the connection's transaction commits below
            finally:
                if lazy.real is not None:
                    lazy.real.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only; whatever it did is rolled back."""
        session = self._read_sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


class _LazySession:
    """See ``Database.lean_transaction``."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.info: dict[Any, Any] = {}
        self.real: Session | None = None

    def connection(self) -> Connection:
        return self._connection

    def __getattr__(self, name: str) -> Any:
        if self.real is None:
            # Joined to the connection's transaction: its commit only flushes, a rollback rolls back all.
            self.real = Session(bind=self._connection, expire_on_commit=False, info=self.info,
                                join_transaction_mode="rollback_only")
        return getattr(self.real, name)
