"""Fixtures for the shipped processes: the real connectors where they are cheap.

The telephony simulator serves over HTTP to a real ``RingCentralClient`` (one simulator per session,
its present anchored at the test clock's start), the catalogue is synced from it, storage is a
``LocalFolderStore`` in the test's folder, and mail goes to a ``LogMailer`` outbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.mail import LogMailer
from connectors.storage import LocalFolderStore
from connectors.telephony import RingCentralClient
from connectors.telephony.simulator import RunningSimulator, SimCall, start_simulator
from engine.catalogue import CatalogueSync
from engine.clock import FakeClock
from engine.config import Settings
from engine.db import Database
from engine.facade import Callgov
from engine.operations import OperationRegistry
from workflows.operations import register

SIM_NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the FakeClock's start
RELEASE_BPMN = Path(__file__).resolve().parents[2] / "workflows" / "bpmn" / "recording_release.bpmn"


@dataclass
class Services:
    """The connectors a test's facade uses."""

    telephony: Any
    storage: LocalFolderStore
    mailer: LogMailer


@pytest.fixture(scope="session")
def simulator() -> Iterator[RunningSimulator]:
    """The RingCentral simulator with a few hundred generated calls over the 90 days before SIM_NOW."""
    with start_simulator(calls=300, seed=11, now=SIM_NOW) as sim:
        yield sim


@pytest.fixture(scope="session")
def telephony(simulator: RunningSimulator) -> Iterator[RingCentralClient]:
    """A real client of the simulator."""
    with RingCentralClient(simulator.settings()) as client:
        yield client


@pytest.fixture
def services(telephony: RingCentralClient, tmp_path: Path) -> Services:
    """Telephony over HTTP, a storage folder of the test's own, and an outbox."""
    return Services(telephony, LocalFolderStore(tmp_path / "storage"), LogMailer(outbox_size=100))


@pytest.fixture
def operations() -> OperationRegistry:
    """The shipped operations, with their default settings."""
    registry = OperationRegistry()
    register(registry, Settings.from_env({"CALLGOV_BASE_URL": "https://callgov.example"}))
    return registry


@pytest.fixture
def callgov(database: Database, clock: FakeClock, operations: OperationRegistry, services: Services) -> Callgov:
    """The facade with the shipped operations and real connectors, the catalogue synced, the release
    process deployed."""
    clock.set(SIM_NOW)
    CatalogueSync(database, services.telephony, clock=clock, window=timedelta(days=91)).run()
    facade = Callgov(database, clock=clock, operations=operations, services=services)
    facade.deploy(RELEASE_BPMN.read_bytes(), filename=RELEASE_BPMN.name, actor="tester", publish=True)
    return facade


@pytest.fixture
def people(callgov: Callgov) -> None:
    """A requester, two authorisers (one also staff), the DPO and a bystander, all with mail.

    They have no passwords (hashing them would cost most of a test's time); the facade takes usernames.
    """
    for username, roles in (("sam", ("staff",)), ("tess", ("staff", "cs_team_leader")), ("alex", ("ad_communities",)),
                            ("dana", ("staff", "dpo")), ("bob", ("staff",))):
        callgov.add_user(username, roles=roles, password=None, email=f"{username}@example.org",
                         display_name=username.title(), job_title="Officer")


def recorded_calls(simulator: RunningSimulator, *, min_age: timedelta, max_age: timedelta) -> list[SimCall]:
    """Recorded calls that started between ``max_age`` and ``min_age`` before SIM_NOW."""
    low = int((SIM_NOW - max_age).timestamp() * 1000)
    high = int((SIM_NOW - min_age).timestamp() * 1000)
    return [c for c in simulator.store.calls if c.recording_id and low <= c.start_ms <= high]


def started(call: SimCall) -> datetime:
    """When a simulated call started."""
    return datetime.fromtimestamp(call.start_ms / 1000, tz=UTC)


@pytest.fixture
def recent_call(simulator: RunningSimulator) -> SimCall:
    """A recorded call from two to four weeks ago: far from expiring at the provider."""
    return recorded_calls(simulator, min_age=timedelta(days=14), max_age=timedelta(days=28))[0]


@pytest.fixture
def expiring_call(simulator: RunningSimulator) -> SimCall:
    """A recorded call 85 days old: the provider deletes it in five days."""
    return recorded_calls(simulator, min_age=timedelta(days=84), max_age=timedelta(days=86))[0]
