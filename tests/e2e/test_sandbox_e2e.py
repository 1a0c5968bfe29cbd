"""A test run in a real browser: open a draft version, start a test run, do a user task with the
real form, fire a timer and see the path on the diagram — while the real inboxes stay as they were."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import BPMN, LiveApp, browser_test

pytestmark = browser_test

GUIDE_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "guides" / "img"
TIMER = """
    <bpmn:boundaryEvent id="remind" name="Two days waiting" attachedToRef="authorise" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>P2D</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_remind" sourceRef="remind" targetRef="reminded"/>
    <bpmn:endEvent id="reminded" name="Reminder noted"/>
  </bpmn:process>"""
TIMER_DI = """
      <bpmndi:BPMNShape id="remind_di" bpmnElement="remind">
        <dc:Bounds x="432" y="142" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="reminded_di" bpmnElement="reminded">
        <dc:Bounds x="432" y="232" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f_remind_di" bpmnElement="f_remind">
        <di:waypoint x="450" y="178"/><di:waypoint x="450" y="232"/></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>"""
DRAFT = BPMN.read_text().replace('label="Why you need it"', 'label="Why do you need it?"').replace(
    "  </bpmn:process>", TIMER, 1).replace("    </bpmndi:BPMNPlane>", TIMER_DI, 1)


@pytest.fixture(scope="module")
def draft(live_app: LiveApp) -> int:
    """A governance officer, and her draft version 2 of ``review``: a new label and a reminder timer."""
    live_app.callgov.add_user("gail", roles=["governance"], password=PASSWORD, display_name="Gail Governance")
    saved = live_app.callgov.save_draft("review", DRAFT.encode(), user="gail")
    assert saved.version is not None and not saved.problems, saved.problems
    return saved.version.version


def test_test_run_of_a_draft(page, live_app: LiveApp, draft: int, sign_in, shot) -> None:
    inboxes = {name: len(live_app.callgov.tasks_for(name)) for name in ("sam", "tess")}
    sign_in(page, "gail")
    page.get_by_role("link", name="Processes").click()
    page.get_by_role("link", name="Review a call recording").click()
    page.get_by_role("link", name=f"Version {draft}").first.click()
    page.get_by_role("button", name="Test this version").click()
    expect(page.get_by_text("Sandbox — test run, no real data")).to_be_visible()
    page.get_by_role("button", name="Start test run").click()
    expect(page.get_by_role("heading", name="Test case REV-")).to_be_visible()

    page.get_by_role("button", name="Describe the call as sandbox.staff").click()
    expect(page.locator("#acting-as")).to_contain_text("sandbox.staff")
    page.get_by_label("Date of the call").fill("2026-01-02")
    page.get_by_label("Complaint handling").check()
    page.get_by_label("Why do you need it?").fill("Checking the changed question in a test run.")
    page.get_by_role("group", name="Is this on behalf of a third party?").get_by_label("No").check()
    page.get_by_label("I will use the recording only for this purpose").check()
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Step done in the sandbox.")).to_be_visible()
    expect(page.locator("#test-actions")).to_contain_text("Authorise the request as sandbox.cs_team_leader")

    page.get_by_role("button", name="Fire the next timer").click()
    expect(page.get_by_text("Fired: remind.")).to_be_visible()
    page.locator("#diagram.cg-diagram--ready svg").first.wait_for()
    expect(page.locator("#diagram .djs-element.cg-completed[data-element-id='describe']")).to_have_count(1)
    expect(page.locator("#diagram .djs-element.cg-completed[data-element-id='remind']")).to_have_count(1)
    expect(page.locator("#diagram .djs-element.cg-current[data-element-id='authorise']")).to_have_count(1)
    expect(page.locator("#test-timeline")).to_contain_text("Why do you need it?")
    path = shot(page, "gov-06-test-run")
    if os.environ.get("CALLGOV_UPDATE_GUIDE_IMAGES") == "1":
        GUIDE_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, GUIDE_IMAGES / "gov-06-test-run.png")

    page.get_by_role("button", name="Discard this test run").click()
    expect(page.get_by_text("You have no test runs.")).to_be_visible()
    assert {name: len(live_app.callgov.tasks_for(name)) for name in ("sam", "tess")} == inboxes
