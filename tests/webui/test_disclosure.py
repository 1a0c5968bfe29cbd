"""The disclosure pages: the DPO's register and its CSV, and the recipient's pages behind a link
(terms, acknowledgement, download; unknown, expired and used-up links; CSRF; headers; logs)."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import audit
from engine.clock import FakeClock
from engine.facade import Callgov
from tests.webui import release_world as world
from tests.webui.release_world import ReleaseWorld
from webui import create_app
from webui.disclosure import RedactTokens

release_world = world.release_world  # the fixtures of the release world, used by name
release_services = world.release_services
web_callgov = world.web_callgov

SignIn = Callable[[str], FlaskClient]
TERMS = "may be used only for the purpose agreed on release"


def _refusals(callgov: Callgov, case_ref: str) -> list[dict[str, object]]:
    with callgov.db.reading() as s:
        return [e.detail for e in audit.events_for(s, case_ref=case_ref, limit=200)
                if e.action == "disclosure.link_refused"]


def _accept(client: FlaskClient, token: str) -> None:
    response = client.post(f"/disclosure/{token}/acknowledge", data={"name": "Gwen Parry", "accept": "y"})
    assert response.status_code == 302


def test_landing_shows_terms_files_and_the_form(release_world: ReleaseWorld, client: FlaskClient) -> None:
    response = client.get(f"/disclosure/{release_world.token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert TERMS in html and release_world.released in html
    assert "request-form.pdf" in html or ".pdf" in html
    assert "Accept and continue" in html and "Download the recordings" not in html
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_acknowledgement_required_then_download(release_world: ReleaseWorld, web_callgov: Callgov,
                                               client: FlaskClient) -> None:
    token = release_world.token
    refused = client.post(f"/disclosure/{token}/download")
    assert refused.status_code == 403
    missing = client.post(f"/disclosure/{token}/acknowledge", data={"name": "Gwen Parry"})
    assert missing.status_code == 400 and "Confirm that you accept" in missing.get_data(as_text=True)
    _accept(client, token)
    page = client.get(f"/disclosure/{token}").get_data(as_text=True)
    assert "Gwen Parry accepted the terms" in page and "Download the recordings" in page
    download = client.post(f"/disclosure/{token}/download")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].endswith(f"{release_world.released}-disclosure.zip")
    assert download.headers["Referrer-Policy"] == "no-referrer"
    names = zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert "manifest.json" in names and any(n.endswith(".pdf") for n in names)
    assert any(d.get("why") == "terms not acknowledged" for d in _refusals(web_callgov, release_world.released))


def test_used_up_link_is_gone(release_world: ReleaseWorld, web_callgov: Callgov, client: FlaskClient) -> None:
    _accept(client, release_world.token)
    for _ in range(3):
        assert client.post(f"/disclosure/{release_world.token}/download").status_code == 200
    again = client.post(f"/disclosure/{release_world.token}/download")
    assert again.status_code == 410 and "used as many times" in again.get_data(as_text=True)
    assert client.get(f"/disclosure/{release_world.token}").status_code == 410
    assert any(d.get("why") == "used up" for d in _refusals(web_callgov, release_world.released))


def test_expired_link_is_gone(release_world: ReleaseWorld, web_callgov: Callgov, client: FlaskClient,
                              clock: FakeClock) -> None:
    clock.set(clock.now() + timedelta(days=8))
    response = client.get(f"/disclosure/{release_world.token}")
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert any(d.get("why") == "expired" for d in _refusals(web_callgov, release_world.released))


def test_unknown_link(client: FlaskClient, web_callgov: Callgov) -> None:
    response = client.get("/disclosure/not-a-real-token")
    assert response.status_code == 404 and "not valid" in response.get_data(as_text=True)
    with web_callgov.db.reading() as s:
        assert any(e.action == "disclosure.link_refused" and e.actor == "recipient:unknown"
                   for e in audit.events_for(s, limit=50))


@pytest.fixture
def csrf_client(web_callgov: Callgov) -> FlaskClient:
    app: Flask = create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, callgov=web_callgov)
    return app.test_client()


def test_recipient_forms_need_the_csrf_token(release_world: ReleaseWorld, csrf_client: FlaskClient) -> None:
    token = release_world.token
    page = csrf_client.get(f"/disclosure/{token}").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    forged = csrf_client.post(f"/disclosure/{token}/acknowledge", data={"name": "Gwen Parry", "accept": "y"})
    assert forged.status_code == 400
    accepted = csrf_client.post(f"/disclosure/{token}/acknowledge",
                                data={"name": "Gwen Parry", "accept": "y", "csrf_token": csrf})
    assert accepted.status_code == 302
    assert csrf_client.post(f"/disclosure/{token}/download").status_code == 400
    assert csrf_client.post(f"/disclosure/{token}/download", data={"csrf_token": csrf}).status_code == 200


def test_request_log_does_not_print_the_token() -> None:
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s -',
                               ("127.0.0.1", "GET /disclosure/SECRETtoken_123 HTTP/1.1", 200), None)
    RedactTokens().filter(record)
    assert "SECRETtoken_123" not in record.getMessage() and "/disclosure/[token]" in record.getMessage()
    assert any(isinstance(f, RedactTokens) for f in logging.getLogger("werkzeug").filters)


def test_register_for_the_dpo(release_world: ReleaseWorld, web_callgov: Callgov, sign_in_as: SignIn) -> None:
    client = sign_in_as("dpo1")
    html = client.get("/disclosure-register").get_data(as_text=True)
    assert release_world.released in html and release_world.granted in html and "North Wales Police" in html
    assert release_world.released not in client.get("/disclosure-register",
                                                    query_string={"to": "2025-12-31"}).get_data(as_text=True)
    assert client.get("/disclosure-register", query_string={"from": "soon"}).status_code == 400
    csv = client.get("/disclosure-register.csv", query_string={"from": "2026-01-05", "to": "2026-01-05"})
    assert csv.mimetype == "text/csv" and "attachment" in csv.headers["Content-Disposition"]
    assert csv.get_data(as_text=True).startswith("case_ref,kind,disclosed_at")
    assert release_world.released in csv.get_data(as_text=True)
    with web_callgov.db.reading() as s:
        actions = [e.action for e in audit.events_for(s, actor="dpo1", limit=20)]
    assert "disclosure.register_viewed" in actions and "disclosure.register_exported" in actions


def test_register_refused_to_others(sign_in_as: SignIn) -> None:
    for username in ("leader", "sam"):
        assert sign_in_as(username).get("/disclosure-register").status_code == 403
        assert sign_in_as(username).get("/disclosure-register.csv").status_code == 403
