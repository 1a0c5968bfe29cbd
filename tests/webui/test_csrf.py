"""With CSRF protection on (as in production), every state-changing form needs its token."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.facade import Callgov
from engine.mailqueue import queue_mail
from tests.conftest import PASSWORD
from tests.webui.conftest import DESCRIBE, World
from webui import create_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def csrf_client(web_callgov: Callgov) -> FlaskClient:
    app: Flask = create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, callgov=web_callgov)
    assert app.config["WTF_CSRF_ENABLED"]
    return app.test_client()


def token_from(client: FlaskClient, path: str) -> str:
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def signed_in(client: FlaskClient, username: str) -> FlaskClient:
    token = token_from(client, "/sign-in")
    response = client.post("/sign-in", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def test_sign_in_without_token_is_refused(csrf_client: FlaskClient) -> None:
    response = csrf_client.post("/sign-in", data={"username": "sam", "password": PASSWORD})
    assert response.status_code == 400
    assert "This form has expired or did not come from this site" in response.get_data(as_text=True)
    assert csrf_client.get("/tasks").status_code == 302


@pytest.mark.parametrize("path, data", [
    ("/sign-out", {}),
    ("/tasks/{describe}", DESCRIBE),
    ("/tasks/{describe}/claim", {}),
    ("/start/review", {}),
    ("/cases/REV-2026-00002/cancel", {"reason": "not needed"}),
])
def test_actions_without_token_are_refused(csrf_client: FlaskClient, world: World, path: str,
                                           data: dict[str, str], web_callgov: Callgov) -> None:
    signed_in(csrf_client, "sam")
    url = path.format(describe=world.describe_task)
    assert csrf_client.post(url, data=data).status_code == 400
    assert csrf_client.post(url, data={**data, "csrf_token": "forged"}).status_code == 400
    assert web_callgov.instance("REV-2026-00002").status == "running"
    assert web_callgov.instance("REV-2026-00002").ready_tasks[0].claimed_by is None


def test_admin_actions_without_token_are_refused(csrf_client: FlaskClient, web_callgov: Callgov) -> None:
    signed_in(csrf_client, "admin1")
    assert csrf_client.post("/admin/users/sam/disable").status_code == 400
    assert csrf_client.post("/admin/add-user", data={"username": "x1", "display_name": "X",
                                                      "password": "p" * 20, "roles": ["staff"]}).status_code == 400
    assert web_callgov.user("sam").active
    with web_callgov.db.transaction() as s:
        mail_id = queue_mail(s, to=["x@example.org"], subject="S", text="T", what="test", actor="process",
                             case_ref=None, at=web_callgov.clock.now())
    assert csrf_client.post(f"/admin/mail/{mail_id}/retry").status_code == 400
    assert web_callgov.mail_queue_page(user="admin1").mails[0].attempts == 0


def test_actions_with_the_token_go_through(csrf_client: FlaskClient, world: World, web_callgov: Callgov) -> None:
    signed_in(csrf_client, "sam")
    token = token_from(csrf_client, f"/tasks/{world.describe_task}")
    response = csrf_client.post(f"/tasks/{world.describe_task}", data={**DESCRIBE, "csrf_token": token})
    assert response.status_code == 302
    assert web_callgov.instance("REV-2026-00002").ready_tasks[0].title == "Authorise the request"
    assert csrf_client.post("/sign-out", data={"csrf_token": token}).status_code == 302
