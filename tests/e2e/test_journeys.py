"""A request from start to decision, in a real browser: sign in, the inbox, the task forms (with an
error round trip), the case page with its highlighted diagram, and administration."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import LiveApp, browser_test

pytestmark = browser_test


def test_requester_and_authoriser_journey(page, live_app: LiveApp, sign_in, shot) -> None:
    page.goto("/tasks")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    shot(page, "01-sign-in")
    sign_in(page, "sam")
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    page.get_by_role("link", name="Start a request").first.click()
    shot(page, "02-start-a-request")
    page.get_by_role("button", name="Start Review a call recording").click()
    expect(page.get_by_role("heading", name="Describe the call")).to_be_visible()
    shot(page, "03-task-form")

    page.get_by_label("Why you need it").fill("short")
    page.get_by_role("button", name="Submit").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()  # GOV.UK Frontend moves focus to the summary
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_label("Why you need it")).to_have_value("short")
    shot(page, "04-task-form-errors")
    summary.get_by_role("link", name="Enter date of the call").click()
    expect(page.get_by_label("Date of the call")).to_be_focused()

    page.get_by_label("Date of the call").fill("2026-01-02")
    page.get_by_label("Complaint handling").check()
    page.get_by_label("Why you need it").fill("The caller disputes what our adviser said on the phone.")
    page.get_by_role("group", name="Is this on behalf of a third party?").get_by_label("No").check()
    page.get_by_label("I will use the recording only for this purpose").check()
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("You completed ‘Describe the call’.")).to_be_visible()
    case_ref = re.search(r"/cases/([A-Z]+-\d{4}-\d{5})", page.url).group(1)
    wait_for_diagram(page)
    shot(page, "05-case-page-requester")
    page.get_by_role("link", name="My requests").click()
    expect(page.get_by_role("link", name=case_ref)).to_be_visible()
    shot(page, "06-my-requests")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()

    sign_in(page, "tess")
    row = page.get_by_role("row").filter(has_text=case_ref)
    expect(row).to_contain_text("Authorise the request")
    expect(row).to_contain_text("Sam Patel")
    shot(page, "07-inbox")
    row.get_by_role("button", name=re.compile("^Claim")).click()
    expect(page.get_by_text("You claimed ‘Authorise the request’")).to_be_visible()
    page.get_by_role("link", name=re.compile("^Authorise the request")).click()
    expect(page.get_by_text("Complaint handling")).to_be_visible()  # read-only context
    page.get_by_label("Decision").select_option("approve")
    page.get_by_label("Note for the requester").fill("Approved for the complaint file only.")
    shot(page, "08-authorise")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("You completed ‘Authorise the request’.")).to_be_visible()
    wait_for_diagram(page)
    expect(page.locator("#diagram .djs-element.cg-current[data-element-id='send']")).to_have_count(1)
    expect(page.locator("#diagram .djs-element.cg-completed[data-element-id='authorise']")).to_have_count(1)
    shot(page, "09-case-page-authoriser")

    case = live_app.callgov.instance(case_ref)
    assert [h.actor for h in case.history] == ["sam", "tess"]
    assert case.ready_tasks[0].title == "Send the recording"


def test_administrator_adds_a_user(page, live_app: LiveApp, sign_in, shot) -> None:
    sign_in(page, "admin1")
    page.get_by_role("link", name="Users").click()
    shot(page, "10-users")
    page.get_by_role("button", name="Add a user").click()
    page.get_by_label("Full name").fill("Dana Price")
    page.get_by_label("Username").fill("d.price")
    page.get_by_label("Data Protection Officer").check()
    page.get_by_label("First password").fill("a long first password")
    shot(page, "11-add-user")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_text("You added Dana Price (d.price).")).to_be_visible()
    shot(page, "12-user")
    assert live_app.callgov.user("d.price").roles == {"dpo"}


def test_keyboard_users_can_skip_to_content_and_use_a_tablet(page, live_app: LiveApp, sign_in, shot) -> None:
    live_app.callgov.start("review", user="sam")
    sign_in(page, "sam")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto("/tasks")
    expect(page.get_by_role("link", name=re.compile("^Describe the call")).first).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    assert not overflow, "no sideways scrolling on a tablet"
    shot(page, "13-tablet-inbox")


def wait_for_diagram(page) -> None:
    """Wait until the viewer has drawn the diagram and marked the steps."""
    page.locator("#diagram.cg-diagram--ready svg").first.wait_for()
    expect(page.locator("#diagram .djs-element.cg-completed").first).to_be_visible()
