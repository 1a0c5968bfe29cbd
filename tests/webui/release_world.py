"""A prepared world for the recordings and disclosure pages: the catalogue synced from the telephony
simulator, the release process deployed, and three release cases, copied per test.

Import the fixtures into a test module (``from tests.webui.release_world import ...``); they replace
``web_callgov`` there, so ``app``, ``client`` and ``sign_in_as`` of ``conftest.py`` serve this world.

* ``granted``: sam's internal review (training), approved by leader: sam may listen to its
  recording for 14 days.
* ``waiting``: sam's police request, waiting for an authoriser: the authorisers (and the DPO) may
  listen to its recording; sam may not.
* ``released``: staff1's police request, approved by director: a disclosure package whose link
  (``token``) was mailed to the recipient, three downloads allowed, terms not yet accepted.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import engine.users
from connectors.mail import LogMailer
from connectors.storage import LocalFolderStore
from connectors.telephony import RingCentralClient
from connectors.telephony.simulator import SimCall, start_simulator
from engine.catalogue import CatalogueSync
from engine.clock import FakeClock
from engine.config import Settings
from engine.db import Database
from engine.definitions import SpecCache
from engine.facade import Callgov
from engine.models.recording import Recording
from engine.models.releases import ReleaseRecording
from engine.operations import OperationRegistry
from tests.conftest import PASSWORD, create_schema
from tests.webui.conftest import CHEAP_HASHER, PEOPLE
from tests.workflows.conftest import RELEASE_BPMN, SIM_NOW, recorded_calls
from tests.workflows.helpers import POLICE, request_form  # noqa: F401  (re-exported for the web tests)
from workflows.operations import register


@dataclass
class ReleaseServices:
    """The connectors of a test's facade."""

    telephony: Any
    storage: LocalFolderStore
    mailer: LogMailer


@dataclass(frozen=True)
class ReleaseWorld:
    """The prepared database and what tests refer to."""

    path: Path
    storage: Path
    specs: SpecCache
    telephony: Any
    granted: str
    granted_recording: int
    waiting: str
    waiting_recording: int
    released: str
    token: str
    other_recording: int
    """A recording no case concerns."""


def release_operations() -> OperationRegistry:
    """The shipped operations with their default settings."""
    registry = OperationRegistry()
    register(registry, Settings.from_env({"CALLGOV_BASE_URL": "https://callgov.example"}))
    return registry


def _submit(callgov: Callgov, user: str, form: dict[str, Any]) -> str:
    ref = callgov.start("recording_release", user=user).case_ref
    task = next(t for t in callgov.instance(ref).ready_tasks if t.element_id == "request")
    callgov.complete_task(task.id, user=user, data=form)
    return ref


def _approve(callgov: Callgov, ref: str, user: str) -> None:
    task = next(t for t in callgov.instance(ref).ready_tasks if t.element_id == "authorise")
    callgov.complete_task(task.id, user=user, data={"decision": "approve", "decision_reason": "Meets the policy"})


def _recording_of(callgov: Callgov, ref: str) -> int:
    with callgov.db.reading() as s:
        return s.scalars(select(ReleaseRecording.recording_id).where(ReleaseRecording.case_ref == ref)).first()


@pytest.fixture(scope="session")
def release_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReleaseWorld]:
    """Build the world once per test session (and worker)."""
    folder = tmp_path_factory.mktemp("release-world")
    db = Database(f"sqlite:///{folder / 'world.sqlite3'}")
    create_schema(db)
    clock = FakeClock()
    clock.set(SIM_NOW)
    with start_simulator(calls=120, seed=11, now=SIM_NOW) as sim, RingCentralClient(sim.settings()) as telephony:
        CatalogueSync(db, telephony, clock=clock, window=timedelta(days=91)).run()
        services = ReleaseServices(telephony, LocalFolderStore(folder / "storage"), LogMailer(outbox_size=100))
        callgov = Callgov(db, clock=clock, operations=release_operations(), services=services)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(engine.users, "_hasher", CHEAP_HASHER)
            for username, roles in PEOPLE.items():
                callgov.add_user(username, roles=roles, password=PASSWORD, display_name=username.capitalize(),
                                 email=f"{username}@example.org")
        callgov.deploy(RELEASE_BPMN.read_bytes(), filename=RELEASE_BPMN.name, actor="tester", publish=True)
        calls = recorded_calls(sim, min_age=timedelta(days=14), max_age=timedelta(days=40))
        numbers = {c.external for c in calls if c.external}
        picked: list[SimCall] = []
        for call in calls:  # calls whose window holds no other call of the same number, one per number
            if call.external in numbers and all(p.external != call.external for p in picked):
                picked.append(call)
        granted = _submit(callgov, "sam", request_form(picked[0]))
        _approve(callgov, granted, "leader")
        waiting = _submit(callgov, "sam", request_form(picked[1], **POLICE))
        released = _submit(callgov, "staff1", request_form(picked[2], **POLICE))
        _approve(callgov, released, "director")
        mail = [e.message for e in services.mailer.recent() if "gwen.parry@police.example" in e.message.to][0]
        token = re.search(r"/disclosure/([A-Za-z0-9_-]+)", mail.text)
        assert token, "the recipient's mail carries a link"
        concerned = {_recording_of(callgov, ref) for ref in (granted, waiting, released)}
        with db.reading() as s:
            other = s.scalars(select(Recording.id).where(Recording.id.not_in(concerned))).first()
        world = ReleaseWorld(folder / "world.sqlite3", folder / "storage", callgov.specs, telephony, granted,
                             _recording_of(callgov, granted), waiting, _recording_of(callgov, waiting), released,
                             token.group(1), other)
        db.dispose()
        yield world


@pytest.fixture
def release_services(release_world: ReleaseWorld, tmp_path: Path) -> ReleaseServices:
    """Connectors on a copy of the world's storage, with an empty outbox."""
    shutil.copytree(release_world.storage, tmp_path / "storage")
    return ReleaseServices(release_world.telephony, LocalFolderStore(tmp_path / "storage"), LogMailer(outbox_size=100))


@pytest.fixture
def web_callgov(release_world: ReleaseWorld, release_services: ReleaseServices, tmp_path: Path,
                clock: FakeClock) -> Iterator[Callgov]:
    """A facade on a fresh copy of the release world, its clock at the simulator's present."""
    copy = tmp_path / "world.sqlite3"
    shutil.copyfile(release_world.path, copy)
    db = Database(f"sqlite:///{copy}")
    clock.set(SIM_NOW)
    callgov = Callgov(db, clock=clock, operations=release_operations(), services=release_services)
    callgov.specs = release_world.specs
    yield callgov
    db.dispose()
