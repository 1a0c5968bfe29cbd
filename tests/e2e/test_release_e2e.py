"""A police request from submission to the recipient's download, in a real browser: the requester
fills the release form, a different person authorises it, and the recipient opens the mailed link
in a fresh browser (no account), accepts the terms and downloads the zip."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from connectors.mail import LogMailer
from connectors.storage import LocalFolderStore
from connectors.telephony import RingCentralClient
from connectors.telephony.simulator import SimCall, start_simulator
from engine.catalogue import CatalogueSync
from engine.clock import FakeClock
from engine.db import Database
from engine.facade import Callgov
from tests.conftest import PASSWORD, create_schema
from tests.e2e.conftest import ARTIFACTS, LiveApp, browser_test, serve
from tests.webui.release_world import POLICE, ReleaseServices, release_operations
from tests.workflows.conftest import RELEASE_BPMN, SIM_NOW, recorded_calls, started

pytestmark = browser_test
LONDON = ZoneInfo("Europe/London")
GUIDE_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "guides" / "img"
PEOPLE = {"sam": ("Sam Patel", ("staff",)), "tess": ("Tess Morgan", ("staff", "cs_team_leader")),
          "dana": ("Dana Hughes", ("dpo",))}


@pytest.fixture(scope="module")
def call() -> Iterator[tuple[SimCall, RingCentralClient]]:
    """The simulator, and a recorded call of three weeks ago whose number made no other call near it."""
    with start_simulator(calls=120, seed=11, now=SIM_NOW) as sim, RingCentralClient(sim.settings()) as client:
        calls = recorded_calls(sim, min_age=timedelta(days=14), max_age=timedelta(days=40))
        yield next(c for c in calls if c.external), client


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory, call: tuple[SimCall, RingCentralClient]) -> Iterator[LiveApp]:
    """The app with the release process, the catalogue synced from the simulator and an outbox."""
    folder = tmp_path_factory.mktemp("release-e2e")
    db = Database(f"sqlite:///{folder / 'e2e.sqlite3'}")
    create_schema(db)
    clock = FakeClock()
    clock.set(SIM_NOW)
    CatalogueSync(db, call[1], clock=clock, window=timedelta(days=91)).run()
    services = ReleaseServices(call[1], LocalFolderStore(folder / "storage"), LogMailer(outbox_size=50))
    callgov = Callgov(db, clock=clock, operations=release_operations(), services=services)
    for username, (name, roles) in PEOPLE.items():
        callgov.add_user(username, roles=roles, password=PASSWORD, display_name=name,
                         email=f"{username}@example.org")
    callgov.deploy(RELEASE_BPMN.read_bytes(), filename=RELEASE_BPMN.name, actor="tester", publish=True)
    with serve(callgov) as app:
        yield app


def _choose(page, name: str, value: str) -> None:
    field = page.locator(f'[name="{name}"]')
    if field.first.evaluate("e => e.tagName") == "SELECT":
        field.select_option(value)
    else:
        page.locator(f'[name="{name}"][value="{value}"]').check()


def _guide_copy(path: Path, name: str) -> None:
    """Refresh a guide's screenshot, only when asked (CALLGOV_UPDATE_GUIDE_IMAGES=1): a test run must
    not rewrite the committed docs; the screenshots are always in test-artifacts/."""
    if os.environ.get("CALLGOV_UPDATE_GUIDE_IMAGES") == "1":
        GUIDE_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, GUIDE_IMAGES / name)


def test_police_request_to_download(page, browser, live_app: LiveApp, call, sign_in, shot) -> None:
    sim_call = call[0]
    at = started(sim_call).astimezone(LONDON).replace(tzinfo=None)
    sign_in(page, "sam")
    page.goto("/start")
    page.get_by_role("button", name="Start Release or review of a call recording").click()
    expect(page.get_by_role("heading", name="Request a recording")).to_be_visible()
    page.locator('[name="phone_number"]').fill("0" + sim_call.external[3:])
    page.locator('[name="call_from"]').fill((at - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.locator('[name="call_to"]').fill((at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    for name in ("reason", "lawful_basis", "delivery_method"):
        _choose(page, name, POLICE[name])
    _choose(page, "third_party", "true")
    for name in ("purpose", "third_party_details", "recipient_name", "recipient_job_title", "recipient_organisation",
                 "recipient_email", "officer_rank", "authorising_officer", "incident_reference"):
        page.locator(f'[name="{name}"]').fill(POLICE[name])
    shot(page, "release-01-request-form")
    page.get_by_role("button", name="Submit").click()
    case_ref = re.search(r"/cases/(REL-\d{4}-\d{5})", page.url).group(1)
    expect(page.get_by_role("heading", name="Recordings this case concerns")).to_be_visible()
    expect(page.get_by_role("button", name="Withdraw this request")).to_be_visible()
    _guide_copy(shot(page, "release-02-case-requester"), "release-case-requester.png")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "tess")
    page.get_by_role("link", name="Recordings").click()
    page.get_by_label("Telephone number").fill(sim_call.external)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=re.compile("^Listen")).first).to_be_visible()
    _guide_copy(shot(page, "release-03-search"), "recordings-search.png")
    page.goto(f"/cases/{case_ref}")
    audio_statuses: list[int] = []
    page.on("response", lambda r: audio_statuses.append(r.status) if r.url.endswith("/audio") else None)
    page.get_by_role("link", name="Play").first.click()
    expect(page.locator("audio")).to_be_visible()
    for _ in range(50):  # the metadata came through the app's range requests
        if page.locator("audio").evaluate("audio => audio.readyState") >= 1:
            break
        page.wait_for_timeout(100)
    assert page.locator("audio").evaluate("audio => audio.duration") > 0
    assert 206 in audio_statuses, audio_statuses  # the player asked for a range and got one
    _guide_copy(shot(page, "release-03-player"), "recording-player.png")
    page.go_back()
    page.get_by_role("button", name="Authorise the release").first.click()
    _choose(page, "decision", "approve")
    page.locator('[name="decision_reason"]').fill("Police request with incident reference and authorising officer")
    shot(page, "release-04-authorise")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Released").first).to_be_visible()

    mail = next(e.message for e in live_app.callgov.services.mailer.recent()
                if POLICE["recipient_email"] in e.message.to)
    path = re.search(r"/disclosure/[A-Za-z0-9_-]+", mail.text).group(0)
    recipient = browser.new_context(base_url=live_app.url, accept_downloads=True, locale="en-GB")
    try:
        landing = recipient.new_page()
        landing.goto(path)
        expect(landing.get_by_text("may be used only for the purpose agreed on release")).to_be_visible()
        _guide_copy(shot(landing, "release-05-recipient-terms"), "disclosure-terms.png")
        landing.get_by_label("Your full name").fill(POLICE["recipient_name"])
        landing.get_by_label("I accept the terms of release").check()
        landing.get_by_role("button", name="Accept and continue").click()
        with landing.expect_download() as info:
            landing.get_by_role("button", name="Download the recordings (zip)").click()
        shot(landing, "release-06-recipient-download")
        target = ARTIFACTS / "release-download.zip"
        info.value.save_as(target)
    finally:
        recipient.close()
    with zipfile.ZipFile(io.BytesIO(target.read_bytes())) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert any(name.endswith(".pdf") for name in archive.namelist())
    assert case_ref in json.dumps(manifest)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "dana")
    page.get_by_role("link", name="Disclosure register").click()
    row = page.get_by_role("row").filter(has_text=case_ref)
    expect(row).to_contain_text("North Wales Police")
    expect(row).not_to_contain_text("Not downloaded yet")
    _guide_copy(shot(page, "release-07-register"), "disclosure-register.png")
