"""Breach cases in a real browser: a member of staff without an authorising case tries to play a
recording, is refused, and the DPO finds the breach case it raised in their inbox (with its diagram);
and the "Report a concern" page, used anonymously after a mistake, confirms without a reference."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from connectors.mail import LogMailer
from connectors.storage import LocalFolderStore
from connectors.telephony import RingCentralClient
from connectors.telephony.simulator import start_simulator
from engine.catalogue import CatalogueSync
from engine.clock import FakeClock
from engine.db import Database
from engine.facade import Callgov
from engine.models import Recording
from engine.models.breaches import BreachRecord, BreachReporter
from tests.conftest import PASSWORD, create_schema
from tests.e2e.conftest import ARTIFACTS, LiveApp, browser_test, serve
from tests.e2e.test_journeys import wait_for_diagram
from tests.webui.release_world import ReleaseServices, release_operations
from tests.workflows.conftest import RELEASE_BPMN, SIM_NOW
from tests.workflows.test_breach import BREACH_BPMN

pytestmark = browser_test
GUIDE_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "guides" / "img"
PEOPLE = {"sam": ("Sam Patel", ("staff",)), "dana": ("Dana Hughes", ("dpo",))}


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app with the release and breach processes and the catalogue synced from the simulator."""
    folder = tmp_path_factory.mktemp("breach-e2e")
    db = Database(f"sqlite:///{folder / 'e2e.sqlite3'}")
    create_schema(db)
    clock = FakeClock()
    clock.set(SIM_NOW)
    with start_simulator(calls=40, seed=11, now=SIM_NOW) as sim, RingCentralClient(sim.settings()) as telephony:
        CatalogueSync(db, telephony, clock=clock, window=timedelta(days=91)).run()
        services = ReleaseServices(telephony, LocalFolderStore(folder / "storage"), LogMailer(outbox_size=50))
        callgov = Callgov(db, clock=clock, operations=release_operations(), services=services)
        for username, (name, roles) in PEOPLE.items():
            callgov.add_user(username, roles=roles, password=PASSWORD, display_name=name,
                             email=f"{username}@example.org")
        for bpmn in (RELEASE_BPMN, BREACH_BPMN):
            callgov.deploy(bpmn.read_bytes(), filename=bpmn.name, actor="tester", publish=True)
        with serve(callgov) as app:
            yield app


def _guide_copy(path: Path, name: str) -> None:
    """Refresh a guide's screenshot only when asked (CALLGOV_UPDATE_GUIDE_IMAGES=1)."""
    if os.environ.get("CALLGOV_UPDATE_GUIDE_IMAGES") == "1":
        GUIDE_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, GUIDE_IMAGES / name)


def test_a_refused_playback_reaches_the_dpos_inbox(page, live_app: LiveApp, sign_in, shot) -> None:
    with live_app.callgov.db.reading() as s:
        recording = s.scalars(select(Recording.id).order_by(Recording.id)).first()
    sign_in(page, "sam")
    page.goto(f"/recordings/{recording}")
    expect(page.get_by_role("heading", name="You cannot listen to this recording")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "dana")
    row = page.locator("tr", has_text="Triage the case")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("refused playback")
    case_ref = re.search(r"BRE-\d{4}-\d{5}", row.inner_text()).group(0)
    shot(page, "breach-01-dpo-inbox")
    page.set_viewport_size({"width": 2400, "height": 1100})  # the diagram is wide: draw it large enough to read
    row.get_by_role("link", name=case_ref, exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(f"Case {case_ref}"))).to_be_visible()
    wait_for_diagram(page)
    expect(page.locator('#diagram .djs-element.cg-current[data-element-id="triage"]')).to_have_count(1)
    # The guide's picture: the page's column widened so the whole process is drawn large enough to read.
    page.locator("#diagram").evaluate("d => { d.closest('.govuk-width-container').style.maxWidth = 'none';"
                                      " d.style.height = '640px'; }")
    page.get_by_role("button", name="Fit").click()
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    diagram = ARTIFACTS / "breach-02-diagram.png"
    page.locator("#diagram").screenshot(path=str(diagram))
    _guide_copy(diagram, "breach-diagram.png")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("link", name="Breach register").click()
    expect(page.get_by_role("link", name=case_ref, exact=True)).to_be_visible()
    _guide_copy(shot(page, "breach-03-register"), "breach-register.png")


def test_an_anonymous_report_after_a_mistake(page, live_app: LiveApp, sign_in, shot) -> None:
    sign_in(page, "sam")
    page.get_by_role("link", name="Report a concern").click()
    page.get_by_label("Which people does it concern?").fill("A tenant, Mrs Jones")
    page.get_by_label("How do you know?").fill("I heard the call played aloud at lunch")
    page.get_by_label("Report anonymously").check()
    expect(page.get_by_text("withheld from everyone except the Data Protection Officer")).to_be_visible()
    page.get_by_role("button", name="Send the report").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.get_by_role("link", name="Say what happened")).to_be_visible()
    expect(page.get_by_label("How do you know?")).to_have_value("I heard the call played aloud at lunch")
    expect(page.get_by_label("Report anonymously")).to_be_checked()
    page.get_by_label("What happened?").fill("A colleague played a tenant's call to the team for a laugh")
    _guide_copy(shot(page, "breach-04-report"), "breach-report.png")
    page.get_by_role("button", name="Send the report").click()
    expect(page.get_by_role("heading", name="Report sent")).to_be_visible()
    expect(page.get_by_text(re.compile(r"BRE-\d{4}-\d{5}"))).to_have_count(0)
    with live_app.callgov.db.reading() as s:
        ref = s.scalars(select(BreachRecord.case_ref).where(BreachRecord.source == "anonymous_report")).one()
        assert s.scalars(select(BreachReporter.username).where(BreachReporter.case_ref == ref)).one() == "sam"
    assert live_app.callgov.instance(ref).started_by == "system:anonymous-report"

