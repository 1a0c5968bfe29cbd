"""My tasks, claiming, and task forms rendered from the diagram: widgets, validation, conflicts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient

from engine.clock import FakeClock
from engine.facade import Callgov
from tests.webui.conftest import DESCRIBE, World

Signer = Callable[[str], FlaskClient]


def text(response) -> str:
    return response.get_data(as_text=True)


def test_inbox_lists_what_the_person_may_do(sign_in_as: Signer, world: World) -> None:
    page = text(sign_in_as("leader").get("/tasks"))
    assert "REV-2026-00001" in page and "Authorise the request" in page
    assert "REV-2026-00002" not in page, "describing is sam's task, not the team leader's"
    assert "Sam" in page, "who started the case (display name)"
    assert "No due date" not in page and "7 Jan 2026, 09:00" in page, "due in two days, London time"
    assert "Overdue" not in page
    assert f'href="/tasks/{world.authorise_task}"' in page


def test_starter_never_sees_deciding_tasks_of_their_own_case(sign_in_as: Signer) -> None:
    page = text(sign_in_as("sam").get("/tasks"))
    assert "Describe the call" in page
    assert "Authorise the request" not in page


def test_empty_inbox_says_so(sign_in_as: Signer) -> None:
    page = text(sign_in_as("staff1").get("/tasks"))
    assert "You have no tasks" in page


def test_overdue_marker_and_filter(sign_in_as: Signer, clock: FakeClock) -> None:
    client = sign_in_as("leader")
    assert "Overdue" not in text(client.get("/tasks"))
    clock.advance(timedelta(days=3))
    page = text(client.get("/tasks"))
    assert '<strong class="govuk-tag govuk-tag--red">Overdue</strong>' in page
    assert "3 days" in page, "how long the task has waited"
    assert "REV-2026-00001" in text(client.get("/tasks?overdue=1"))


def test_overdue_filter_hides_tasks_not_yet_due(sign_in_as: Signer) -> None:
    page = text(sign_in_as("leader").get("/tasks?overdue=1"))
    assert "REV-2026-00001" not in page and "that match these filters" in page


def test_process_filter_and_sort(sign_in_as: Signer, web_callgov: Callgov) -> None:
    web_callgov.start("review", user="staff1")
    client = sign_in_as("staff1")
    assert "REV-2026-00003" in text(client.get("/tasks?process=review&sort=newest"))
    assert "REV-2026-00003" not in text(client.get("/tasks?process=other"))
    assert client.get("/tasks?sort=nonsense&claimed=whatever").status_code == 200


def test_claim_and_unclaim(sign_in_as: Signer, world: World, web_callgov: Callgov) -> None:
    client = sign_in_as("leader")
    response = client.post(f"/tasks/{world.authorise_task}/claim", data={"next": "/tasks?sort=case"})
    assert response.headers["Location"] == "/tasks?sort=case"
    page = text(client.get("/tasks"))
    assert "You claimed ‘Authorise the request’ for case REV-2026-00001" in page
    assert "Give back" in page
    assert text(client.get("/tasks?claimed=me")).count("REV-2026-00001") >= 1
    assert "REV-2026-00001" not in text(client.get("/tasks?claimed=nobody"))
    dpo = sign_in_as("dpo1")
    page = text(dpo.get("/tasks"))
    assert "leader" in page and f'href="/tasks/{world.authorise_task}"' not in page, "colleagues see who has it"
    conflict = dpo.get(f"/tasks/{world.authorise_task}")
    assert conflict.status_code == 409
    assert "Someone else is doing this task" in text(conflict)
    client = sign_in_as("leader")
    client.post(f"/tasks/{world.authorise_task}/unclaim", data={"next": "https://evil.example/"})
    assert web_callgov.instance("REV-2026-00001").ready_tasks[0].claimed_by is None


def test_task_form_renders_every_widget(sign_in_as: Signer, world: World) -> None:
    page = text(sign_in_as("sam").get(f"/tasks/{world.describe_task}"))
    assert "<h1 class=\"govuk-heading-l\">Describe the call</h1>" in page
    assert "Tell us which call you need and why." in page, "the task's documentation is the instructions"
    assert 'type="date"' in page and 'name="call_date"' in page
    assert 'type="datetime-local"' in page and 'name="call_time"' in page
    assert "Time of the call (optional)" in page and "If you know it. London time." in page
    assert 'type="radio" value="complaint"' in page and "Complaint handling" in page
    assert '<textarea class="govuk-textarea" id="f-details" name="details"' in page
    assert 'id="f-third_party" name="third_party" type="radio" value="true"' in page, "yes/no as radios"
    assert 'inputmode="numeric"' in page and 'name="copies" type="text" value="1"' in page, "default value"
    assert 'type="checkbox" value="true"' in page and "I will use the recording only for this purpose" in page
    assert 'aria-required="true"' in page


def test_validation_errors_are_summarised_linked_and_values_kept(sign_in_as: Signer, world: World) -> None:
    response = sign_in_as("sam").post(f"/tasks/{world.describe_task}", data={
        "call_date": "2026-02-30", "details": "too short", "copies": "7", "phone": "01234 567890",
        "purpose": "complaint"})
    page = text(response)
    assert response.status_code == 400
    assert "<title>Error: Describe the call" in page
    start = page.index('class="govuk-error-summary"')
    summary = page[start:page.index("</ul>", start)]
    assert '<a href="#f-call_date">Date of the call must be a real date' in summary
    assert '<a href="#f-details">' in summary and '<a href="#f-copies">' in summary
    assert '<a href="#f-third_party">' in summary and '<a href="#f-confirm">' in summary
    assert 'id="f-details-error"' in page and 'aria-describedby="f-details-error"' in page
    assert 'value="2026-02-30"' in page and ">too short</textarea>" in page and 'value="01234 567890"' in page
    assert re.search(r'value="complaint" checked', page), "the chosen option stays chosen"


def test_completing_a_task_goes_to_the_case(sign_in_as: Signer, world: World, web_callgov: Callgov) -> None:
    client = sign_in_as("sam")
    response = client.post(f"/tasks/{world.describe_task}", data={**DESCRIBE, "call_time": "2026-01-02T14:30"})
    assert response.headers["Location"] == "/cases/REV-2026-00002"
    page = text(client.get("/cases/REV-2026-00002"))
    assert "You completed ‘Describe the call’." in page
    case = web_callgov.instance("REV-2026-00002")
    assert case.ready_tasks[0].title == "Authorise the request"
    assert case.data["call_time"].isoformat() == "2026-01-02T14:30:00+00:00", "London winter time is UTC"


def test_authoriser_sees_the_case_context_read_only(sign_in_as: Signer, world: World) -> None:
    page = text(sign_in_as("director").get(f"/tasks/{world.authorise_task}"))
    context = page[page.index("About this case"):page.index("Your answers")]
    assert "Date of the call" in context and "2 Jan 2026" in context
    assert "Complaint handling" in context, "a choice is shown by its name"
    assert "Caller disputes what was said" in context
    assert 'name="details"' not in page, "read-only fields are not inputs"
    assert '<select class="govuk-select" id="f-decision" name="decision"' in page


def test_read_only_values_cannot_be_overwritten(sign_in_as: Signer, world: World, web_callgov: Callgov) -> None:
    sign_in_as("director").post(f"/tasks/{world.authorise_task}",
                                data={"decision": "refuse", "details": "changed by the authoriser"})
    assert web_callgov.instance("REV-2026-00001").data["details"] == "Caller disputes what was said"


def test_someone_else_completing_first_is_a_plain_409(sign_in_as: Signer, world: World,
                                                      web_callgov: Callgov) -> None:
    client = sign_in_as("leader")
    assert client.get(f"/tasks/{world.authorise_task}").status_code == 200
    web_callgov.complete_task(world.authorise_task, user="dpo1", data={"decision": "approve"})
    response = client.post(f"/tasks/{world.authorise_task}", data={"decision": "refuse"})
    assert response.status_code == 409
    page = text(response)
    assert "Someone else completed this task" in page
    assert "dpo1 completed it at 5 Jan 2026, 09:00" in page
    assert "Your answers were not saved" in page
    assert client.get(f"/tasks/{world.authorise_task}").status_code == 409


def test_unknown_task_is_404(sign_in_as: Signer) -> None:
    response = sign_in_as("sam").get("/tasks/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert "There is no such task" in text(response)


def test_task_without_questions_has_a_done_button(sign_in_as: Signer, world: World, web_callgov: Callgov) -> None:
    web_callgov.complete_task(world.authorise_task, user="dpo1", data={"decision": "approve"})
    send = web_callgov.instance("REV-2026-00001").ready_tasks[0]
    page = text(sign_in_as("helpdesk").get(f"/tasks/{send.id}"))
    assert "Sent on" in page and 'type="datetime-local"' in page


def test_inbox_has_next_and_previous_pages(sign_in_as: Signer, world: World, monkeypatch) -> None:
    import engine.queries

    monkeypatch.setattr(engine.queries, "INBOX_PAGE", 1)
    client = sign_in_as("sam")
    client.application.extensions["callgov"].start("review", user="sam")  # a second task for sam
    first = client.get("/tasks?sort=oldest").get_data(as_text=True)
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = client.get("/tasks?sort=oldest&page=2").get_data(as_text=True)
    assert 'rel="prev"' in second and "Page 2" in second
    assert "sort=oldest" in second.split('rel="prev"')[0].rsplit("href=", 1)[-1]
    assert client.get("/tasks?page=abc").status_code == 200
