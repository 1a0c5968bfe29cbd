"""A prepared world for the breach pages: the release world (``release_world.py``) with the breach
investigation deployed and four breach cases, copied per test.

Import the fixtures into a test module; they replace ``web_callgov`` there, so ``app``, ``client`` and
``sign_in_as`` of ``conftest.py`` serve this world.

* ``anonymous``: sam's anonymous report, waiting for triage.
* ``investigated``: staff1's report about ``helpdesk`` and recording ``other_recording``, triaged as
  misuse by dpo1, contained, and assigned to investigator1 (the *Investigate* task is ready).
* ``closed``: a refused playback by ``leader`` (a team leader), closed at triage.
* ``refused``: a refused playback by ``provider`` of ``waiting_recording``, waiting for triage.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.mail import LogMailer
from connectors.storage import LocalFolderStore
from engine.clock import FakeClock
from engine.db import Database
from engine.definitions import SpecCache
from engine.facade import Callgov
from tests.webui import release_world as base
from tests.webui.release_world import ReleaseServices, ReleaseWorld, release_operations
from tests.workflows.conftest import SIM_NOW
from tests.workflows.helpers import ready
from tests.workflows.test_breach import BREACH_BPMN

release_world = base.release_world
release_services = base.release_services


@dataclass(frozen=True)
class BreachWorld:
    """The prepared database, the release world under it, and the breach cases tests refer to."""

    path: Path
    specs: SpecCache
    release: ReleaseWorld
    anonymous: str
    investigated: str
    closed: str
    refused: str


def _do(callgov: Callgov, ref: str, element: str, user: str, **data: str) -> None:
    callgov.complete_task(ready(callgov, ref, element).id, user=user, data=data)


@pytest.fixture(scope="session")
def breach_world(release_world: ReleaseWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BreachWorld]:
    """Build the world once per test session (and worker)."""
    folder = tmp_path_factory.mktemp("breach-world")
    shutil.copyfile(release_world.path, folder / "world.sqlite3")
    db = Database(f"sqlite:///{folder / 'world.sqlite3'}")
    clock = FakeClock()
    clock.set(SIM_NOW)
    services = ReleaseServices(release_world.telephony, LocalFolderStore(release_world.storage),
                               LogMailer(outbox_size=100))
    callgov = Callgov(db, clock=clock, operations=release_operations(), services=services)
    callgov.deploy(BREACH_BPMN.read_bytes(), filename=BREACH_BPMN.name, actor="tester", publish=True)
    discovered = clock.now() - timedelta(hours=3)
    anonymous = callgov.report_breach(user="sam", what_happened="Someone in my team plays calls for a laugh",
                                      discovered_at=discovered, how_known="I heard it at lunch", anonymous=True)
    investigated = callgov.report_breach(
        user="staff1", what_happened="The helpdesk downloaded a tenant's call without a request",
        discovered_at=discovered, how_known="I saw the file on a shared drive", subject_username="helpdesk",
        recordings_concerned=str(release_world.other_recording))
    _do(callgov, investigated, "triage", "dpo1", classification="policy", aware_at=discovered.isoformat(),
        serious="no", subject_username="helpdesk")
    _do(callgov, investigated, "contain", "dpo1", containment_measures="Helpdesk access suspended")
    _do(callgov, investigated, "assign_investigator", "dpo1", investigator="investigator1")
    closed = callgov.raise_breach_trigger("refused_playback", actor="system:playback", subject_username="leader",
                                          description="leader tried to play recording 1").case_ref
    _do(callgov, closed, "triage", "dpo1", classification="neither", aware_at=clock.now().isoformat(),
        serious="no", triage_reason="An approved review; the listening grant was late")
    refused = callgov.report_refused_playback("provider", release_world.waiting_recording)
    assert refused is not None
    world = BreachWorld(folder / "world.sqlite3", callgov.specs, release_world, anonymous, investigated, closed,
                        refused.case_ref)
    db.dispose()
    yield world


@pytest.fixture
def web_callgov(breach_world: BreachWorld, release_services: ReleaseServices, tmp_path: Path,
                clock: FakeClock) -> Iterator[Callgov]:
    """A facade on a fresh copy of the breach world, its clock at the simulator's present."""
    copy = tmp_path / "world.sqlite3"
    shutil.copyfile(breach_world.path, copy)
    db = Database(f"sqlite:///{copy}")
    clock.set(SIM_NOW)
    callgov = Callgov(db, clock=clock, operations=release_operations(), services=release_services)
    callgov.specs = breach_world.specs
    yield callgov
    db.dispose()
