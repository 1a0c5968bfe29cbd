"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

import engine.models  # noqa: F401
from engine import migrate
from engine.db import Base
from tests.conftest import POSTGRES_URL


def _url(backend: str, tmp_path: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.sqlite3'}", None
    if not POSTGRES_URL:
        pytest.skip("set CALLGOV_TEST_POSTGRES_URL to run PostgreSQL tests")
    schema = f"m_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}", schema


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migrations_match_models(backend: str, tmp_path: Path) -> None:
    url, schema = _url(backend, tmp_path)
    try:
        migrate.upgrade(url)
        migrate.upgrade(url)  # a second upgrade is a no-op
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
            assert migrate.current(url) is not None
        finally:
            engine.dispose()
    finally:
        if schema:
            _admin(f'DROP SCHEMA "{schema}" CASCADE')


def _admin(statement: str) -> None:
    admin = create_engine(POSTGRES_URL or "")
    with admin.begin() as connection:
        connection.execute(text(statement))
    admin.dispose()
