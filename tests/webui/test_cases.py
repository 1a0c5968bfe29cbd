"""Starting cases, My requests, the case page with its diagram, cancelling, and who may see a case."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from engine.audit import events_for
from engine.facade import Callgov
from tests.webui.conftest import World

Signer = Callable[[str], FlaskClient]


def text(response) -> str:
    return response.get_data(as_text=True)


def test_start_lists_published_processes(sign_in_as: Signer) -> None:
    page = text(sign_in_as("staff1").get("/start"))
    assert "Review a call recording" in page
    assert 'action="/start/review"' in page and 'name="csrf_token"' in page


def test_starting_goes_to_the_first_task_when_it_is_the_starters(sign_in_as: Signer,
                                                                 web_callgov: Callgov) -> None:
    response = sign_in_as("staff1").post("/start/review")
    [task] = web_callgov.instance("REV-2026-00003").ready_tasks
    assert response.headers["Location"] == f"/tasks/{task.id}"


def test_starting_an_unknown_process_is_404(sign_in_as: Signer) -> None:
    assert sign_in_as("staff1").post("/start/nothing").status_code == 404


def test_my_requests_lists_my_cases_with_state(sign_in_as: Signer, web_callgov: Callgov) -> None:
    web_callgov.cancel("REV-2026-00002", user="sam", reason="Asked by mistake")
    page = text(sign_in_as("sam").get("/requests"))
    assert page.index("REV-2026-00002") < page.index("REV-2026-00001"), "newest first"
    assert "Cancelled" in page and "In progress" in page
    assert "Authorise the request" in page, "what the case waits for"
    assert "REV-2026" not in text(sign_in_as("staff1").get("/requests"))


def test_case_page_shows_state_diagram_and_timeline(sign_in_as: Signer) -> None:
    page = text(sign_in_as("sam").get("/cases/REV-2026-00001"))
    assert "Case REV-2026-00001" in page and "Review a call recording (version 1)" in page
    assert "Waiting for" in page and "Authorise the request" in page
    diagram = re.search(r'<div id="diagram"(.*?)></div>', page, re.S)
    assert diagram, "the viewer's element"
    attributes = diagram.group(1)
    assert 'data-diagram-url="/cases/REV-2026-00001/diagram.bpmn"' in attributes
    completed = json.loads(re.search(r"data-completed='([^']*)'", attributes).group(1))
    current = json.loads(re.search(r"data-current='([^']*)'", attributes).group(1))
    assert {"start", "describe"} <= set(completed) and current == ["authorise"]
    assert '<script src="/static/dist/viewer.js" defer></script>' in page
    timeline = page[page.index("What has happened"):]
    assert "Describe the call" in timeline and "sam, " in timeline
    assert "Purpose" in timeline and "Complaint handling" in timeline, "answers labelled from the form"
    assert "Is this on behalf of a third party?" in timeline and "No" in timeline
    assert "Cancel this case" in page, "the starter may cancel"
    assert "What you can do" in page


def test_authoriser_sees_their_action_on_the_case_page(sign_in_as: Signer, world: World) -> None:
    page = text(sign_in_as("leader").get("/cases/REV-2026-00001"))
    assert f'href="/tasks/{world.authorise_task}"' in page
    assert "Cancel this case" not in page


def test_diagram_xml_is_served_to_viewers(sign_in_as: Signer) -> None:
    response = sign_in_as("dpo1").get("/cases/REV-2026-00001/diagram.bpmn")
    assert response.mimetype == "application/xml"
    assert b'<bpmn:process id="review"' in response.data
    assert response.headers["Content-Disposition"] == "attachment; filename=REV-2026-00001.bpmn"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_case_you_may_not_see_looks_like_no_case_and_is_audited(sign_in_as: Signer,
                                                                  web_callgov: Callgov) -> None:
    client = sign_in_as("helpdesk")
    hidden = client.get("/cases/REV-2026-00001")
    missing = client.get("/cases/REV-2026-99999")
    assert hidden.status_code == missing.status_code == 404
    assert "There is no case REV-2026-00001 that you can see" in text(hidden)
    assert "There is no case REV-2026-99999 that you can see" in text(missing)
    with web_callgov.db.reading() as session:
        [event] = events_for(session, actor="helpdesk")
    assert event.action == "access.denied" and event.case_ref == "REV-2026-00001"
    assert event.detail["path"] == "/cases/REV-2026-00001"


def test_probing_with_odd_case_references_is_harmless(sign_in_as: Signer) -> None:
    client = sign_in_as("helpdesk")
    assert client.get("/cases/%0Aevil%00").status_code == 404
    assert client.get("/cases/" + "A" * 300).status_code == 404


@pytest.mark.parametrize("who", ["sam", "dpo1"])
def test_cancel_asks_why_then_cancels(sign_in_as: Signer, web_callgov: Callgov, who: str) -> None:
    client = sign_in_as(who)
    page = text(client.get("/cases/REV-2026-00001/cancel"))
    assert "Why are you cancelling this case?" in page
    empty = client.post("/cases/REV-2026-00001/cancel", data={"reason": ""})
    assert empty.status_code == 400 and '<a href="#reason">Enter why you are cancelling the case</a>' in text(empty)
    done = client.post("/cases/REV-2026-00001/cancel", data={"reason": "Caller withdrew the complaint"})
    assert done.headers["Location"] == "/cases/REV-2026-00001"
    case = web_callgov.instance("REV-2026-00001")
    assert case.status == "cancelled" and case.end_reason == "Caller withdrew the complaint"
    page = text(client.get("/cases/REV-2026-00001"))
    assert "Cancelled" in page and "Caller withdrew the complaint" in page
    assert client.get("/cases/REV-2026-00001/cancel").status_code == 403, "not twice"


def test_participants_keep_seeing_the_case(sign_in_as: Signer, world: World, web_callgov: Callgov) -> None:
    web_callgov.complete_task(world.authorise_task, user="dpo1", data={"decision": "approve"})
    assert sign_in_as("helpdesk").get("/cases/REV-2026-00001").status_code == 200, "may do its open task"
    [send] = web_callgov.instance("REV-2026-00001").ready_tasks
    web_callgov.complete_task(send.id, user="helpdesk", data={"sent_on": "2026-01-05T10:00"})
    page = text(sign_in_as("helpdesk").get("/cases/REV-2026-00001"))
    assert "Completed" in page and "Send the recording" in page, "did one of its tasks"
    assert sign_in_as("investigator1").get("/cases/REV-2026-00001").status_code == 404
