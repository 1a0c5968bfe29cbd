"""Fixtures for the web UI: a prepared "world" (users, a published process, cases), copied per test.

Building the world once and copying its SQLite file makes each test start from the same state in
milliseconds. Password hashing uses cheap argon2 parameters here; the real cost is tested by the
engine's own tests.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

import engine.users
from engine.clock import FakeClock
from engine.db import Database
from engine.definitions import SpecCache
from engine.facade import Callgov
from engine.operations import OperationRegistry
from tests.conftest import PASSWORD, create_schema
from webui import create_app

BPMN = Path(__file__).parent / "bpmn" / "review.bpmn"

PEOPLE = {
    "sam": ("staff",),
    "staff1": ("staff",),
    "leader": ("staff", "cs_team_leader"),
    "director": ("ad_communities",),
    "dpo1": ("dpo",),
    "helpdesk": ("it_helpdesk",),
    "provider": ("it_provider",),
    "gov": ("governance",),
    "investigator1": ("investigator",),
    "admin1": ("admin",),
}
"""Username -> roles. ``sam`` starts the world's cases; ``staff1`` is a member of staff not involved."""

DESCRIBE = {"call_date": "2026-01-02", "purpose": "complaint", "details": "Caller disputes what was said",
            "third_party": "false", "copies": "1", "confirm": "true"}
"""A valid answer to the first task of review.bpmn."""


@dataclass(frozen=True)
class World:
    """The prepared database file and the ids tests refer to."""

    path: Path
    specs: SpecCache
    authorise_task: str
    """REV-2026-00001: described by sam, waiting for an authoriser."""
    describe_task: str
    """REV-2026-00002: just started by sam, waiting for sam to describe it."""


CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with low-cost argon2 parameters so tests that add users stay fast."""
    monkeypatch.setattr(engine.users, "_hasher", CHEAP_HASHER)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Build the world once per test session."""
    path = tmp_path_factory.mktemp("world") / "world.sqlite3"
    db = Database(f"sqlite:///{path}")
    create_schema(db)
    callgov = Callgov(db, clock=FakeClock(), operations=OperationRegistry())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine.users, "_hasher", CHEAP_HASHER)
        for username, roles in PEOPLE.items():
            callgov.add_user(username, roles=roles, password=PASSWORD, display_name=username.capitalize())
    callgov.deploy(BPMN.read_bytes(), filename=BPMN.name, actor="tester", publish=True)
    first = callgov.start("review", user="sam")
    after = callgov.complete_task(first.ready_tasks[0].id, user="sam", data=DESCRIBE)
    second = callgov.start("review", user="sam")
    specs = callgov.specs
    db.dispose()
    return World(path, specs, after.ready_tasks[0].id, second.ready_tasks[0].id)


@pytest.fixture
def clock() -> FakeClock:
    """The world's clock: Monday 5 January 2026, 09:00 UTC, standing still."""
    return FakeClock()


@pytest.fixture
def web_callgov(world: World, tmp_path: Path, clock: FakeClock) -> Iterator[Callgov]:
    """A facade on a fresh copy of the world."""
    copy = tmp_path / "world.sqlite3"
    shutil.copyfile(world.path, copy)
    db = Database(f"sqlite:///{copy}")
    callgov = Callgov(db, clock=clock, operations=OperationRegistry())
    callgov.specs = world.specs  # same file, same version ids: the parsed diagrams can be shared
    yield callgov
    db.dispose()


@pytest.fixture
def app(web_callgov: Callgov) -> Flask:
    """The web app on the world copy, CSRF off (``csrf_app`` turns it on)."""
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test-secret"},
                      callgov=web_callgov)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def sign_in_as(client: FlaskClient, web_callgov: Callgov) -> Callable[[str], FlaskClient]:
    """Put a signed-in session for ``username`` in the client's cookie (the sign-in page is tested apart)."""

    def sign_in(username: str) -> FlaskClient:
        epoch = web_callgov.user(username).session_epoch
        with client.session_transaction() as session:
            session.clear()
            session["_user_id"] = f"{username}|{epoch}"
            session["_fresh"] = True
            session["signed_in_at"] = time.time()
        return client

    return sign_in
