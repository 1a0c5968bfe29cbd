"""The governance pages: editor saves, uploads (the BPMN corpus), history, versions and four-eyes review."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import audit
from engine.facade import Callgov
from tests.conftest import PASSWORD
from tests.webui.conftest import BPMN
from webui import create_app

CORPUS = Path(__file__).resolve().parents[1] / "engine" / "bpmn_corpus"
REVIEW = BPMN.read_text()
CHANGED = REVIEW.replace('label="Why you need it"', 'label="Why do you need it?"').replace(
    'camunda:dueDate="P2D"', 'camunda:dueDate="P3D"')
BAD_CONDITION = CHANGED.replace('decision == "approve"', "decision ==")
SignIn = Callable[[str], FlaskClient]


@pytest.fixture
def gina(web_callgov: Callgov) -> str:
    """A second governance officer (``gov`` is the first)."""
    return web_callgov.add_user("gina", roles=["governance"], password=PASSWORD, display_name="Gina").username


def _save(client: FlaskClient, xml: str, process_id: str = "review") -> dict:
    response = client.post(f"/governance/processes/{process_id}/drafts", json={"xml": xml},
                           headers={"Accept": "application/json"})
    assert response.is_json, response.get_data(as_text=True)[:500]
    return {"status": response.status_code, **response.get_json()}


def _requested(web_callgov: Callgov, author: str) -> int:
    saved = web_callgov.save_draft("review", CHANGED.encode(), user=author)
    assert saved.version is not None
    return web_callgov.request_publication(saved.version.id, user=author, summary="Clearer label").id


def test_editor_page_follows_the_modeler_contract(sign_in_as: SignIn) -> None:
    html = sign_in_as("gov").get("/governance/processes/review/edit").get_data(as_text=True)
    assert 'data-load-url="/governance/processes/review/draft.bpmn"' in html
    assert 'data-save-url="/governance/processes/review/drafts"' in html
    assert re.search(r'data-csrf-token="[^"]*"', html)
    assert 'id="canvas"' in html and 'id="properties"' in html and 'id="save-draft"' in html
    assert 'id="problems"' in html and "dist/modeler.js" in html and "dist/modeler.css" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"


def test_the_editor_opens_the_published_xml_then_the_latest_draft(sign_in_as: SignIn) -> None:
    client = sign_in_as("gov")
    assert client.get("/governance/processes/review/draft.bpmn").get_data(as_text=True) == REVIEW
    _save(client, BAD_CONDITION)
    assert client.get("/governance/processes/review/draft.bpmn").get_data(as_text=True) == BAD_CONDITION


def test_saving_answers_problems_with_element_ids(sign_in_as: SignIn) -> None:
    client = sign_in_as("gov")
    bad = _save(client, BAD_CONDITION)
    assert bad["status"] == 200 and bad["version"] is None
    assert [p["element_id"] for p in bad["problems"]] == ["f_yes"]
    good = _save(client, CHANGED)
    assert good["status"] == 200 and good["problems"] == [] and good["version"]["number"] == 2
    assert "problem" not in client.get("/governance/processes/review").get_data(as_text=True)


@pytest.mark.parametrize(("body", "needle"), [
    ({"xml": REVIEW.replace('id="review"', 'id="other"')}, "must stay"),
    ({"xml": '<!DOCTYPE x [<!ENTITY a "b">]><x/>'}, "DOCTYPE"),
    ({"xml": ""}, "Send the diagram"),
    (["not", "an", "object"], "Send the diagram"),
])
def test_saving_something_unreadable_is_refused_plainly(sign_in_as: SignIn, body: object, needle: str) -> None:
    response = sign_in_as("gov").post("/governance/processes/review/drafts", json=body)
    assert response.status_code == 400
    assert needle in str(response.get_json())


def test_four_eyes_through_the_pages(sign_in_as: SignIn, web_callgov: Callgov, gina: str) -> None:
    client = sign_in_as("gov")
    version_id = _save(client, CHANGED)["version"]["id"]
    page = client.get(f"/governance/versions/{version_id}").get_data(as_text=True)
    assert "Request publication" in page and 'id="diagram"' in page
    assert client.post(f"/governance/versions/{version_id}/request", data={"summary": ""}).status_code == 400
    response = client.post(f"/governance/versions/{version_id}/request", data={"summary": "Clearer label"})
    assert response.status_code == 302
    request_path = response.headers["Location"]
    review = client.get(request_path).get_data(as_text=True)
    assert "another governance officer must approve" in review and "Approve and publish" not in review
    assert "Why do you need it?" in review and "P3D" in review
    assert client.post(request_path + "/approve").status_code == 403  # the author, crafting the POST
    with web_callgov.db.reading() as session:
        denied = [e.detail for e in audit.events_for(session, actor="gov") if e.action == "access.denied"]
    assert denied and "own change" in denied[0]["reason"]
    assert client.post(request_path + "/send-back", data={"note": "mine"}).status_code == 403
    reviewer = sign_in_as("gina")
    assert "Approve and publish" in reviewer.get(request_path).get_data(as_text=True)
    assert reviewer.post(request_path + "/approve").status_code == 302
    history = reviewer.get("/governance/processes/review").get_data(as_text=True)
    assert "Clearer label" in history
    assert web_callgov.start("review", user="sam").definition_version == 2


def test_send_back_needs_a_note(sign_in_as: SignIn, web_callgov: Callgov, gina: str) -> None:
    request_id = _requested(web_callgov, "gina")
    client = sign_in_as("gov")
    assert client.post(f"/governance/requests/{request_id}/send-back", data={"note": ""}).status_code == 400
    assert client.post(f"/governance/requests/{request_id}/send-back",
                       data={"note": "Say why"}).status_code == 302
    assert "Say why" in client.get("/governance/processes/review").get_data(as_text=True)


def test_crafted_posts_from_other_roles_are_refused(sign_in_as: SignIn, web_callgov: Callgov, gina: str) -> None:
    request_id = _requested(web_callgov, "gina")
    for username in ("sam", "admin1", "dpo1"):
        assert sign_in_as(username).post(f"/governance/requests/{request_id}/approve").status_code == 403
    assert web_callgov.review(request_id, user="gov").request.status == "requested"


def test_download_a_version(sign_in_as: SignIn) -> None:
    response = sign_in_as("gov").get("/governance/versions/1/diagram.bpmn")
    assert response.get_data(as_text=True) == REVIEW
    assert response.headers["Content-Disposition"] == "attachment; filename=version-1.bpmn"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_processes_list_and_nav(sign_in_as: SignIn) -> None:
    html = sign_in_as("gov").get("/governance/").get_data(as_text=True)
    assert "Review a call recording" in html and 'href="/governance/"' in html
    assert 'href="/governance/"' not in sign_in_as("sam").get("/tasks").get_data(as_text=True)


def _upload(client: FlaskClient, content: bytes, name: str = "upload.bpmn"):
    """POST a multipart body built here (the test client would spool a large one to a temporary file)."""
    boundary = "----callgov-test-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return client.post("/governance/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}")


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.bpmn")), ids=lambda p: p.name)
def test_corpus_loads_or_is_refused_with_a_clear_message(sign_in_as: SignIn, path: Path) -> None:
    response = _upload(sign_in_as("gov"), path.read_bytes(), path.name)
    html = response.get_data(as_text=True)
    if path.name.startswith("valid_"):
        assert response.status_code == 302, html[:3000]
        assert response.headers["Location"].startswith("/governance/processes/")
    else:
        assert response.status_code == 400, html[:3000]
        assert 'id="upload-problems"' in html
        assert re.search(r'id="upload-problems">\s*<li>', html), "no problem listed"
        assert "root:" not in html  # nothing from /etc/passwd


def test_corpus_is_big_enough() -> None:
    names = [p.name for p in CORPUS.glob("*.bpmn")]
    assert len(names) >= 30
    assert sum(n.startswith("valid_") for n in names) >= 12


def test_a_20_mb_upload_is_refused_with_a_message(sign_in_as: SignIn) -> None:
    head, tail = REVIEW.split("</bpmn:definitions>")
    huge = (head + "<!--" + "x" * (20 * 1024 * 1024) + "-->" + "</bpmn:definitions>").encode()
    response = _upload(sign_in_as("gov"), huge, "huge.bpmn")
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_a_5_mb_file_under_the_upload_limit_is_refused_by_the_reader(sign_in_as: SignIn) -> None:
    head, _ = REVIEW.split("</bpmn:definitions>")
    big = (head + "<!--" + "x" * (5 * 1024 * 1024) + "--></bpmn:definitions>").encode()
    response = _upload(sign_in_as("gov"), big, "big.bpmn")
    assert response.status_code == 400
    assert "are refused" in response.get_data(as_text=True)


def test_uploading_nothing(sign_in_as: SignIn) -> None:
    response = sign_in_as("gov").post("/governance/upload", data={})
    assert response.status_code == 400 and "Choose a BPMN file" in response.get_data(as_text=True)


@pytest.fixture
def csrf_gov(web_callgov: Callgov) -> FlaskClient:
    """``gov`` signed in to an app with CSRF protection on, as in production."""
    app: Flask = create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, callgov=web_callgov)
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post("/sign-in", data={"username": "gov", "password": PASSWORD, "csrf_token": token})
    return client


def test_a_20_mb_upload_is_refused_before_the_csrf_check_reads_it(csrf_gov: FlaskClient) -> None:
    response = _upload(csrf_gov, b"x" * (20 * 1024 * 1024), "huge.bpmn")
    assert response.status_code == 413
    assert "BPMN files over 5 MB are refused" in response.get_data(as_text=True)
    saved = csrf_gov.post("/governance/processes/review/drafts", json={"xml": "x" * (12 * 1024 * 1024)})
    assert saved.status_code == 413 and "refused" in saved.get_json()["error"]


def test_saving_needs_the_csrf_header(csrf_gov: FlaskClient) -> None:
    client = csrf_gov
    editor = client.get("/governance/processes/review/edit").get_data(as_text=True)
    header = re.search(r'data-csrf-token="([^"]+)"', editor).group(1)  # type: ignore[union-attr]
    assert client.post("/governance/processes/review/drafts", json={"xml": CHANGED}).status_code == 400
    saved = client.post("/governance/processes/review/drafts", json={"xml": CHANGED}, headers={"X-CSRFToken": header})
    assert saved.status_code == 200 and saved.get_json()["version"]["number"] == 2
