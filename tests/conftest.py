"""Shared fixtures: a fresh database per test on SQLite (always) and PostgreSQL (when enabled).

PostgreSQL tests run when ``CALLGOV_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it). Each test gets
its own schema, dropped afterwards, so concurrent runs never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import engine.models  # noqa: F401  (registers every table)
from engine.clock import FakeClock
from engine.db import Base, Database
from engine.facade import Callgov
from engine.operations import OperationRegistry
from engine.users import UserView

POSTGRES_URL = os.environ.get("CALLGOV_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="set CALLGOV_TEST_POSTGRES_URL to run PostgreSQL tests"),
])]
PASSWORD = "correct horse battery staple"
BPMN_DIR = Path(__file__).parent / "engine" / "bpmn"


def create_schema(db: Database) -> None:
    """Create every table (tests only: the application uses Alembic migrations)."""
    Base.metadata.create_all(db.engine)
    try:
        from engine.audit import postgres_append_only_ddl, sqlite_append_only_ddl
    except ImportError:  # the audit module arrives with its own change
        return
    statements = postgres_append_only_ddl() if db.dialect == "postgresql" else sqlite_append_only_ddl()
    with db.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated-by-create_all database on each backend."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'test.sqlite3'}")
        create_schema(db)
        yield db
        db.dispose()
        return
    assert POSTGRES_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        create_schema(db)
        yield db
    finally:
        db.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when a test moves it (Monday 5 January 2026, 09:00 UTC)."""
    return FakeClock()


@pytest.fixture
def operations() -> OperationRegistry:
    """An empty operation registry tests can add to before the facade is built."""
    return OperationRegistry()


@pytest.fixture
def callgov(database: Database, clock: FakeClock, operations: OperationRegistry) -> Callgov:
    """The engine facade on the test database."""
    return Callgov(database, clock=clock, operations=operations)


@pytest.fixture
def make_user(callgov: Callgov) -> Callable[..., UserView]:
    """Factory: ``make_user("dana", "dpo")`` adds a user with those roles (password ``PASSWORD``)."""

    def make(username: str, *roles: str, **kwargs: object) -> UserView:
        return callgov.add_user(username, roles=roles or ("staff",), password=PASSWORD, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def deploy(callgov: Callgov) -> Callable[[str], str]:
    """Factory: deploy and publish a test diagram from tests/engine/bpmn by file name; returns its id."""

    def do(name: str) -> str:
        path = BPMN_DIR / name
        return callgov.deploy(path.read_bytes(), filename=name, actor="tester", publish=True).definition.process_id

    return do
