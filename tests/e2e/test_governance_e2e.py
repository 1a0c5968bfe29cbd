"""The governance editor in a real browser: edit a form label and a deadline, save, see a problem
marked for an invalid condition, fix it, ask for publication, approve as a colleague, and see the new
form in a new case while a running case stays on the old version."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import LiveApp, browser_test

pytestmark = browser_test

EDIT = """([label, condition, due]) => {
  const modeler = document.querySelector('#modeler').bpmnModeler;
  const registry = modeler.get('elementRegistry');
  const modeling = modeler.get('modeling');
  const describe = registry.get('describe');
  const form = describe.businessObject.extensionElements.values.find((v) => v.$type === 'camunda:FormData');
  const field = form.fields.find((f) => f.id === 'details');
  if (label) { modeling.updateModdleProperties(describe, field, { label }); }
  const flow = registry.get('f_yes');
  modeling.updateModdleProperties(flow, flow.businessObject.conditionExpression, { body: condition });
  if (due) { modeling.updateProperties(registry.get('authorise'), { 'camunda:dueDate': due }); }
}"""


@pytest.fixture(scope="module")
def officers(live_app: LiveApp) -> tuple[str, str]:
    """Two governance officers: the author and the reviewer."""
    for username, name in (("gwen", "Gwen Author"), ("greg", "Greg Reviewer")):
        live_app.callgov.add_user(username, roles=["governance"], password=PASSWORD, display_name=name)
    return "gwen", "greg"


def test_edit_check_review_publish(page, live_app: LiveApp, officers: tuple[str, str], sign_in, shot) -> None:
    running = live_app.callgov.start("review", user="sam")
    author, reviewer = officers

    sign_in(page, author)
    page.get_by_role("link", name="Processes").click()
    page.get_by_role("link", name="Review a call recording").click()
    page.get_by_role("button", name="Edit a draft").click()
    page.wait_for_function("() => document.querySelector('#modeler').bpmnModeler"
                           " && document.querySelector('.djs-element[data-element-id=\"describe\"]')")
    shot(page, "gov-01-editor")

    page.evaluate(EDIT, ["Why do you need it?", "decision ==", "P3D"])
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#problems")).to_contain_text("cannot be published")
    expect(page.locator('.djs-element.cg-problem[data-element-id="f_yes"]')).to_have_count(1)
    shot(page, "gov-02-problem-marked")
    page.locator(".cg-problem-link").first.click()

    page.evaluate(EDIT, [None, 'decision == "approve"', None])
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#problems")).to_contain_text("Draft saved as version 2. No problems found.")
    expect(page.locator(".djs-element.cg-problem")).to_have_count(0)

    page.get_by_role("link", name="Versions and publication").click()
    page.get_by_role("link", name="Version 2").first.click()
    page.get_by_label("What does the change do, and why?").fill("Clearer question; three days to authorise.")
    page.get_by_role("button", name="Request publication").click()
    expect(page.locator(".govuk-inset-text")).to_contain_text("another governance officer must approve")
    expect(page.get_by_role("button", name="Approve and publish")).to_have_count(0)
    review_url = page.url
    shot(page, "gov-03-requested")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, reviewer)
    page.goto(review_url)
    changes = page.locator("#changes")
    expect(changes).to_contain_text("Why do you need it?")
    expect(changes).to_contain_text("P3D")
    shot(page, "gov-04-review")
    page.get_by_role("button", name="Approve and publish").click()
    expect(page.get_by_text("You published version 2 of review")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "sam")
    page.get_by_role("link", name="Start a request").first.click()
    page.get_by_role("button", name="Start Review a call recording").click()
    expect(page.get_by_label("Why do you need it?")).to_be_visible()
    shot(page, "gov-05-new-form")
    page.goto(f"/cases/{running.case_ref}")
    expect(page.get_by_text(re.compile(r"\(version 1\)"))).to_be_visible()
    assert live_app.callgov.instance(running.case_ref).definition_version == 1
