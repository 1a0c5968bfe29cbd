"""The hot path's driver-level statements and lean transaction do exactly what SQLAlchemy would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, insert, select, update
from sqlalchemy.exc import InvalidRequestError

from engine.db import Database, UTCDateTime
from engine.fastsql import FastRead, FastWrite
from engine.models import CaseCounter, TaskHistory

HISTORY = TaskHistory.__table__
COUNTERS = CaseCounter.__table__
AT = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
# A table of its own, with the column types whose values SQLAlchemy converts on the way in and out.
ROWS = Table("fastsql_probe", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(20)),
             Column("at", UTCDateTime()), Column("due", UTCDateTime(), nullable=True),
             Column("tags", JSON, default=list))


def test_a_read_converts_columns_as_sqlalchemy_does(database: Database) -> None:
    ROWS.create(database.engine)
    query = select(ROWS).where(ROWS.c.name == bindparam("name")).order_by(ROWS.c.id)
    fast = FastRead(query)
    with database.transaction() as s:
        FastWrite(insert(ROWS)).execute(s.connection(), [
            {"id": 1, "name": "a", "at": AT, "due": None, "tags": ["sam", {"x": 1}]},
            {"id": 2, "name": "a", "at": AT, "due": AT, "tags": []}])
    with database.reading() as s:
        ours = fast.all(s.connection(), {"name": "a"})
        theirs = s.connection().execute(query, {"name": "a"}).all()
    assert [tuple(row) for row in ours] == [tuple(row) for row in theirs]
    assert ours[0].at == AT and ours[0].at.tzinfo is not None
    assert ours[0].tags == ["sam", {"x": 1}] and ours[0].due is None and ours[1].due == AT
    assert ours[0]._fields == tuple(theirs[0]._fields)


def test_first_is_none_without_rows_and_constants_in_the_statement_are_bound(database: Database) -> None:
    newest = FastRead(select(HISTORY.c.id).where(HISTORY.c.outcome == "completed")
                      .order_by(HISTORY.c.id.desc()).limit(1))
    with database.reading() as s:
        assert newest.first(s.connection()) is None
        assert newest.all(s.connection()) == []


def test_a_read_needs_its_parameters(database: Database) -> None:
    fast = FastRead(select(HISTORY).where(HISTORY.c.instance_id == bindparam("instance_id")))
    with database.reading() as s, pytest.raises(InvalidRequestError, match="instance_id"):
        fast.all(s.connection(), {})


def test_a_write_with_an_expression_returns_the_new_value(database: Database) -> None:
    bump = FastWrite(update(COUNTERS).where(COUNTERS.c.prefix == bindparam("key_prefix"))
                     .values(last_number=COUNTERS.c.last_number + 1).returning(COUNTERS.c.last_number))
    with database.transaction() as s:
        s.connection().execute(insert(COUNTERS), {"prefix": "APR", "year": 2026, "last_number": 41})
        assert bump.execute(s.connection(), {"key_prefix": "APR"}, returning=True) == 42
        assert bump.execute(s.connection(), {"key_prefix": "NONE"}, returning=True) is None


def test_a_write_refuses_to_skip_a_column_default(database: Database) -> None:
    ROWS.create(database.engine)
    with database.transaction() as s, pytest.raises(ValueError, match="tags"):
        FastWrite(insert(ROWS)).execute(s.connection(), {"id": 1, "name": "a", "at": AT, "due": None})


# --- the lean transaction ---------------------------------------------------------------------


def test_a_lean_transaction_commits_core_and_orm_work_together(database: Database) -> None:
    with database.lean_transaction() as s:
        s.info["seen"] = True
        s.connection().execute(insert(COUNTERS), {"prefix": "APR", "year": 2026, "last_number": 1})
        s.add(CaseCounter(prefix="REL", year=2026, last_number=7))  # needs a real session: made on demand
        assert s.info == {"seen": True}
    with database.reading() as s:
        assert dict(s.execute(select(COUNTERS.c.prefix, COUNTERS.c.last_number)).all()) == {
            "APR": 1, "REL": 7}


def test_a_lean_transaction_rolls_everything_back_on_error(database: Database) -> None:
    with pytest.raises(RuntimeError), database.lean_transaction() as s:
        s.connection().execute(insert(COUNTERS), {"prefix": "APR", "year": 2026, "last_number": 1})
        s.add(CaseCounter(prefix="REL", year=2026, last_number=7))
        s.flush()
        raise RuntimeError("the use case failed")
    with database.reading() as s:
        assert s.execute(select(COUNTERS)).all() == []
