"""The migration page: running cases by version, check, move, refusals with reasons, crafted POSTs."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import audit
from engine.facade import Callgov
from tests.conftest import PASSWORD
from tests.webui.conftest import BPMN
from webui import create_app

REVIEW = BPMN.read_text()
NEW_LABEL = REVIEW.replace('label="Why they need it"', 'label="Reason given"')
WITHOUT_AUTHORISE = re.sub(r'<bpmn:userTask id="authorise".*?</bpmn:userTask>', "", REVIEW, flags=re.S).replace(
    '<bpmn:sequenceFlow id="f3" sourceRef="authorise" targetRef="decided"/>', "").replace(
    'targetRef="authorise"', 'targetRef="decided"')
WITHOUT_AUTHORISE = re.sub(r'<bpmndi:BPMNShape id="authorise_di".*?</bpmndi:BPMNShape>|'
                           r'<bpmndi:BPMNEdge id="f3_di".*?</bpmndi:BPMNEdge>', "", WITHOUT_AUTHORISE)
PAGE = "/governance/processes/review/migrate"
SignIn = Callable[[str], FlaskClient]


def _publish(callgov: Callgov, xml: str) -> None:
    callgov.deploy(xml.encode(), filename="review.bpmn", actor="tester", publish=True)


def test_the_process_page_links_to_the_migration_page(sign_in_as: SignIn) -> None:
    html = sign_in_as("gov").get("/governance/processes/review").get_data(as_text=True)
    assert f'href="{PAGE}"' in html


def test_running_cases_are_grouped_by_version(sign_in_as: SignIn, web_callgov: Callgov) -> None:
    _publish(web_callgov, NEW_LABEL)
    html = sign_in_as("gov").get(PAGE).get_data(as_text=True)
    assert "Version 1: 2 running cases" in html
    assert html.count('name="cases" type="checkbox"') == 2
    assert 'value="REV-2026-00001"' in html and 'value="REV-2026-00002"' in html
    assert "Move to version 2" in html and 'value="check"' in html


def test_check_changes_nothing_then_move_moves_and_is_audited(sign_in_as: SignIn, web_callgov: Callgov) -> None:
    _publish(web_callgov, NEW_LABEL)
    client = sign_in_as("gov")
    checked = client.post(PAGE, data={"cases": ["REV-2026-00001"], "action": "check"}).get_data(as_text=True)
    assert "1 case can move to version 2" in checked
    assert web_callgov.instance("REV-2026-00001").definition_version == 1
    moved = client.post(PAGE, data={"cases": ["REV-2026-00001"], "action": "move"}).get_data(as_text=True)
    assert "1 case moved to version 2" in moved
    assert web_callgov.instance("REV-2026-00001").definition_version == 2
    case_page = sign_in_as("leader").get("/cases/REV-2026-00001").get_data(as_text=True)
    assert "(version 2)" in case_page
    with web_callgov.db.reading() as s:
        (event,) = [e for e in audit.events_for(s, case_ref="REV-2026-00001") if e.action == "instance.migrated"]
    assert event.actor == "gov" and (event.detail["from_version"], event.detail["to_version"]) == (1, 2)


def test_a_case_that_cannot_move_is_reported_with_its_reason(sign_in_as: SignIn, web_callgov: Callgov) -> None:
    _publish(web_callgov, WITHOUT_AUTHORISE)
    html = sign_in_as("gov").post(PAGE, data={"cases": ["REV-2026-00001", "REV-2026-00002"],
                                              "action": "move"}).get_data(as_text=True)
    assert "1 case moved to version 2" in html and "1 case not moved" in html
    assert "task &#39;Authorise the request&#39; no longer exists in version 2" in html
    assert web_callgov.instance("REV-2026-00001").definition_version == 1
    assert web_callgov.instance("REV-2026-00002").definition_version == 2


@pytest.mark.parametrize(("form", "needle"), [
    ({"action": "move"}, "Select the cases to check or move"),
    ({"cases": ["  "], "action": "move"}, "Select the cases to check or move"),
])
def test_moving_nothing_is_an_error(sign_in_as: SignIn, web_callgov: Callgov, form: dict, needle: str) -> None:
    _publish(web_callgov, NEW_LABEL)
    response = sign_in_as("gov").post(PAGE, data=form)
    assert response.status_code == 400 and needle in response.get_data(as_text=True)


def test_crafted_posts_move_nothing_they_should_not(sign_in_as: SignIn, web_callgov: Callgov) -> None:
    _publish(web_callgov, NEW_LABEL)
    html = sign_in_as("gov").post(PAGE, data={"cases": ["REV-2026-00001", "NOPE-1", "<script>"],
                                              "action": "move"}).get_data(as_text=True)
    assert "There is no case NOPE-1" in html and "There is no case &lt;SCRIPT&gt;" in html
    assert sign_in_as("gov").post("/governance/processes/other/migrate",
                                  data={"cases": ["REV-2026-00002"], "action": "move"}).status_code == 404
    for username in ("sam", "leader", "admin1"):
        assert sign_in_as(username).post(PAGE, data={"cases": ["REV-2026-00002"],
                                                     "action": "move"}).status_code == 403
    assert web_callgov.instance("REV-2026-00002").definition_version == 1


def test_without_a_newer_published_version_there_is_nothing_to_move(sign_in_as: SignIn) -> None:
    html = sign_in_as("gov").get(PAGE).get_data(as_text=True)
    assert "Every running case is on the published version" in html and 'name="cases"' not in html


def test_moving_needs_the_csrf_token(web_callgov: Callgov) -> None:
    _publish(web_callgov, NEW_LABEL)
    app: Flask = create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, callgov=web_callgov)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',  # type: ignore[union-attr]
                      client.get("/sign-in").get_data(as_text=True)).group(1)
    client.post("/sign-in", data={"username": "gov", "password": PASSWORD, "csrf_token": token})
    assert client.post(PAGE, data={"cases": ["REV-2026-00001"], "action": "move"}).status_code == 400
    assert web_callgov.instance("REV-2026-00001").definition_version == 1
    token = re.search(r'name="csrf_token" value="([^"]+)"',  # type: ignore[union-attr]
                      client.get(PAGE).get_data(as_text=True)).group(1)
    moved = client.post(PAGE, data={"cases": ["REV-2026-00001"], "action": "move", "csrf_token": token})
    assert moved.status_code == 200 and web_callgov.instance("REV-2026-00001").definition_version == 2
