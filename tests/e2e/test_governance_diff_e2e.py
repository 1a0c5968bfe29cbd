"""The governance editor's review diff, properties-panel choices and migration page in a real browser.

Each test stands on its own (the live app is shared by the tests a worker runs from this module).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import BPMN, LiveApp, browser_test

pytestmark = browser_test

REVIEW = BPMN.read_text()
REWIRED = re.sub(r'<bpmn:userTask id="authorise".*?</bpmn:userTask>', "", REVIEW, flags=re.S).replace(
    '<bpmn:sequenceFlow id="f3" sourceRef="authorise" targetRef="decided"/>', "").replace(
    '<bpmn:sequenceFlow id="f2" sourceRef="describe" targetRef="authorise"/>',
    '<bpmn:sequenceFlow id="f2b" sourceRef="describe" targetRef="decided"/>').replace(
    '<bpmndi:BPMNEdge id="f2_di" bpmnElement="f2">', '<bpmndi:BPMNEdge id="f2b_di" bpmnElement="f2b">').replace(
    'label="Why you need it"', 'label="Why do you need it?"')
REWIRED = re.sub(r'<bpmndi:BPMNShape id="authorise_di".*?</bpmndi:BPMNShape>|'
                 r'<bpmndi:BPMNEdge id="f3_di".*?</bpmndi:BPMNEdge>', "", REWIRED)
STROKE = """([pane, id]) => getComputedStyle(document.querySelector(
  `.cg-review-pane--${pane} .djs-element[data-element-id="${id}"] .djs-visual > :first-child`)).stroke"""


@pytest.fixture(scope="module")
def officers(live_app: LiveApp) -> tuple[str, str]:
    """Two governance officers: the author and the reviewer."""
    for username, name in (("gwen", "Gwen Author"), ("greg", "Greg Reviewer")):
        live_app.callgov.add_user(username, roles=["governance"], password=PASSWORD, display_name=name)
    return "gwen", "greg"


def test_the_reviewer_sees_the_changes_coloured_on_the_diagrams(page, live_app: LiveApp, officers, sign_in,
                                                                 shot) -> None:
    author, reviewer = officers
    saved = live_app.callgov.save_draft("review", REWIRED.encode(), user=author)
    assert saved.version is not None, saved.problems
    asked = live_app.callgov.request_publication(saved.version.id, user=author, summary="No separate authorise step")

    sign_in(page, reviewer)
    page.goto(f"/governance/requests/{asked.id}")
    page.wait_for_selector("#review-diff.cg-review--ready")
    after, before = ".cg-review-pane--after", ".cg-review-pane--before"
    expect(page.locator(f'{after} .djs-element.cg-changed[data-element-id="describe"]')).to_have_count(1)
    expect(page.locator(f'{after} .djs-element.cg-added[data-element-id="f2b"]')).to_have_count(1)
    expect(page.locator(f'{before} .djs-element.cg-removed[data-element-id="authorise"]')).to_have_count(1)
    assert page.evaluate(STROKE, ["after", "describe"]) == "rgb(76, 44, 146)"
    assert page.evaluate(STROKE, ["before", "authorise"]) == "rgb(212, 53, 28)"
    expect(page.locator(f"{before} .cg-removed-badge")).to_contain_text(["Removed"])
    changes = page.locator("#diagram-changes")
    expect(changes.locator('[data-element-id="authorise"]')).to_contain_text("Removed")
    expect(changes.locator('[data-element-id="describe"]')).to_contain_text("Changed")
    expect(changes.locator('[data-element-id="f2b"]')).to_contain_text("Added")
    expect(page.locator(".cg-diagram-legend")).to_contain_text("Removed: only in the published version")
    expect(page.locator("#changes")).to_contain_text("Why do you need it?")  # the property list stays
    changes.get_by_role("button", name=re.compile("Show Authorise the request")).click()
    expect(page.locator(f'{before} .djs-element.cg-spotlight[data-element-id="authorise"]')).to_have_count(1)
    shot(page, "gov-06-review-diff")


def test_the_editor_offers_our_roles_as_candidate_groups(page, officers, sign_in, shot) -> None:
    sign_in(page, officers[0])
    page.goto("/governance/processes/review/edit")
    page.wait_for_function("() => document.querySelector('#modeler').bpmnModeler"
                           " && document.querySelector('.djs-element[data-element-id=\"send\"]')")
    page.evaluate("""() => { const m = document.querySelector('#modeler').bpmnModeler;
                             m.get('selection').select(m.get('elementRegistry').get('send')); }""")
    page.locator('[data-group-id="group-CamundaPlatform__UserAssignment"] .bio-properties-panel-group-header').click()
    helpdesk = page.get_by_label("IT Helpdesk (it_helpdesk)")
    dpo = page.get_by_label("Data Protection Officer (dpo)")
    expect(helpdesk).to_be_checked()
    expect(dpo).not_to_be_checked()
    expect(page.get_by_label("Administrator (admin)")).to_be_visible()
    dpo.check()
    groups = page.evaluate("""() => document.querySelector('#modeler').bpmnModeler.get('elementRegistry')
                                .get('send').businessObject.get('camunda:candidateGroups')""")
    assert groups == "it_helpdesk, dpo"
    candidate_groups = page.locator("#bio-properties-panel-candidateGroups")
    expect(candidate_groups).to_have_value("it_helpdesk, dpo")
    candidate_groups.fill("it_helpdesk, night shift")  # other values stay possible: saving reports them
    expect(dpo).not_to_be_checked()
    shot(page, "gov-07-candidate-groups")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#problems")).to_contain_text("night shift")


def test_the_migration_page_moves_a_case(page, live_app: LiveApp, officers, sign_in, shot) -> None:
    callgov = live_app.callgov
    running = callgov.start("review", user="sam")
    old = callgov.instance(running.case_ref).definition_version
    new = callgov.deploy(REVIEW.replace('label="Why they need it"', f'label="Reason (v{old + 1})"').encode(),
                         filename="review.bpmn", actor="tester", publish=True).definition.version

    sign_in(page, officers[0])
    page.goto("/governance/processes/review")
    page.get_by_role("link", name="Move running cases").click()
    page.get_by_label(f"Select {running.case_ref}").check()
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#movable")).to_contain_text(running.case_ref)
    assert callgov.instance(running.case_ref).definition_version == old
    page.get_by_label(f"Select {running.case_ref}").check()
    page.get_by_role("button", name=f"Move to version {new}").click()
    expect(page.locator("#report")).to_contain_text("moved to version")
    expect(page.locator("#movable")).to_contain_text(running.case_ref)
    shot(page, "gov-08-migrated")
    assert callgov.instance(running.case_ref).definition_version == new


ADD_SERVICE_TASK = """(topic) => {
  const modeler = document.querySelector('#modeler').bpmnModeler;
  const bo = modeler.get('bpmnFactory').create('bpmn:ServiceTask',
                                               {'camunda:type': 'external', 'camunda:topic': topic});
  const shape = modeler.get('elementFactory').createShape({type: 'bpmn:ServiceTask', businessObject: bo});
  modeler.get('modeling').createShape(shape, {x: 700, y: 320}, modeler.get('canvas').getRootElement());
  modeler.get('selection').select(shape);
  return shape.id;
}"""


def test_the_editor_offers_registered_operations_as_topics(page, live_app: LiveApp, officers, sign_in) -> None:
    if "notify_dpo" not in live_app.callgov.operations.topics():
        live_app.callgov.operations.register("notify_dpo", lambda context: None, description="Email the DPO")
    sign_in(page, officers[0])
    page.goto("/governance/processes/review/edit")
    page.wait_for_function("() => document.querySelector('#modeler').bpmnModeler"
                           " && document.querySelector('.djs-element[data-element-id=\"send\"]')")
    task_id = page.evaluate(ADD_SERVICE_TASK, "legacy_topic")
    page.locator('[data-group-id="group-CamundaPlatform__Implementation"] .bio-properties-panel-group-header').click()
    operation = page.get_by_label("Registered operation")
    expect(operation).to_have_value("legacy_topic")
    expect(operation.locator("option")).to_contain_text(
        ["(choose an operation)", "notify_dpo: Email the DPO", "legacy_topic (not a registered operation)"])
    operation.select_option("notify_dpo")
    topic = page.evaluate("""(id) => document.querySelector('#modeler').bpmnModeler.get('elementRegistry')
                             .get(id).businessObject.get('camunda:topic')""", task_id)
    assert topic == "notify_dpo"
    expect(page.locator("#bio-properties-panel-externalTopic")).to_have_value("notify_dpo")
