"""Where test runs live: one folder per run under the instance folder, holding its own database.

``<root>/<run id>.sqlite3`` is a complete callgov database, migrated like the real one, plus two
tables of its own (outside the application's models, so the real schema never has them):
``sandbox_run`` (one row: who owns the run, which real version it tests, how far its clock has
been moved) and ``sandbox_mail`` (what its processes would have mailed). ``<root>/<run id>/`` holds
its storage. Discarding a run deletes both; nothing of it is anywhere else.
"""

from __future__ import annotations

import re
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, insert, select, text, update
from sqlalchemy.exc import OperationalError

from engine import migrate
from engine.db import Database, UTCDateTime
from engine.errors import NotFound

RUN_ID = re.compile(r"[0-9a-f]{16}")
_MIGRATING = threading.Lock()
"""Alembic keeps its running environment in module globals: one migration at a time per process."""

_meta = MetaData()
RUN = Table(
    "sandbox_run", _meta,
    Column("run_id", String(16), primary_key=True),
    Column("owner", String(80), nullable=False),
    Column("process_id", String(200), nullable=False),
    Column("process_name", String(300), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("version_status", String(20), nullable=False),
    Column("seed", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("clock_offset", Float, nullable=False),
    Column("case_ref", String(40)),
)
MAIL = Table(
    "sandbox_mail", _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("recipients", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("text", Text, nullable=False),
)


@dataclass(frozen=True)
class RunRecord:
    """The ``sandbox_run`` row of a run."""

    run_id: str
    owner: str
    process_id: str
    process_name: str
    version_id: int
    version: int
    version_status: str
    seed: int
    created_at: datetime
    clock_offset: timedelta
    case_ref: str | None


@dataclass(frozen=True)
class SandboxMail:
    """A mail the run's process would have sent."""

    at: datetime
    to: str
    subject: str
    text: str


def database_path(root: Path, run_id: str) -> Path:
    """The run's database file (``run_id`` checked, so it can never name a path elsewhere)."""
    if not RUN_ID.fullmatch(run_id):
        raise NotFound("There is no such test run")
    return root / f"{run_id}.sqlite3"


def create(root: Path, record: RunRecord) -> Database:
    """A new run's database: migrated to the newest revision, with its ``sandbox_run`` row."""
    root.mkdir(parents=True, exist_ok=True)
    path = database_path(root, record.run_id)
    url = f"sqlite:///{path}"
    with _MIGRATING:
        migrate.upgrade(url)
    db = Database(url)
    _meta.create_all(db.engine)
    with db.transaction() as s:
        s.execute(insert(RUN).values(**{**record.__dict__, "clock_offset": record.clock_offset.total_seconds()}))
    return db


def open_run(root: Path, run_id: str) -> Database:
    """The database of an existing run, brought up to the newest schema if callgov was upgraded since
    the run started; ``NotFound`` when there is none."""
    path = database_path(root, run_id)
    if not path.is_file():
        raise NotFound("There is no such test run; it may have been discarded or cleaned up")
    db = Database(f"sqlite:///{path}")
    try:
        with db.reading() as s:
            current = s.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except OperationalError:  # no schema yet: another request is still creating it
        current = None
    if current is None:
        db.dispose()
        raise NotFound("This test run is still being set up, or its sandbox is damaged; try again")
    if current != _head():
        with _MIGRATING:
            migrate.upgrade(db.url)
    return db


@lru_cache(maxsize=1)
def _head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()


def read(db: Database) -> RunRecord:
    """The run's own row."""
    with db.reading() as s:
        row = s.execute(select(RUN)).mappings().one()
    return RunRecord(**{**row, "clock_offset": timedelta(seconds=row["clock_offset"])})


def set_case(db: Database, case_ref: str) -> None:
    """Remember the case the run started."""
    with db.transaction() as s:
        s.execute(update(RUN).values(case_ref=case_ref))


def set_offset(db: Database, offset: timedelta) -> None:
    """Remember how far the run's clock has been moved ahead of real time."""
    with db.transaction() as s:
        s.execute(update(RUN).values(clock_offset=offset.total_seconds()))


def keep_mail(db: Database, mails: list[tuple[datetime, str, str, str]]) -> None:
    """Store what the run's processes would have mailed: (when, to, subject, text)."""
    if mails:
        with db.transaction() as s:
            s.execute(insert(MAIL), [{"at": at, "recipients": to, "subject": subject, "text": text}
                                     for at, to, subject, text in mails])


def mails(db: Database) -> list[SandboxMail]:
    """Every mail kept, oldest first."""
    with db.reading() as s:
        return [SandboxMail(r.at, r.recipients, r.subject, r.text) for r in s.execute(select(MAIL).order_by(MAIL.c.id))]


def run_ids(root: Path) -> list[str]:
    """The ids of the runs kept under ``root``."""
    if not root.is_dir():
        return []
    return sorted(p.stem for p in root.glob("*.sqlite3") if RUN_ID.fullmatch(p.stem))


def modified_at(root: Path, run_id: str) -> datetime | None:
    """When the run's database file was last written (None when it is gone)."""
    try:
        return datetime.fromtimestamp(database_path(root, run_id).stat().st_mtime, tz=UTC)
    except FileNotFoundError:
        return None


def delete(root: Path, run_id: str) -> None:
    """Remove a run's database (with SQLite's side files) and its storage folder."""
    path = database_path(root, run_id)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(root / run_id, ignore_errors=True)
