"""Security headers, cookie flags, configuration refusals, and error pages that never leak internals."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.errors import WorkflowFailed
from engine.facade import Callgov
from tests.conftest import PASSWORD
from webui import create_app

Signer = Callable[[str], FlaskClient]


@pytest.mark.parametrize("path", ["/sign-in", "/tasks", "/cases/REV-2026-00001", "/no-such-page", "/admin/users"])
def test_security_headers_on_every_page(sign_in_as: Signer, path: str) -> None:
    response = sign_in_as("sam").get(path)
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached_but_keep_the_headers(client: FlaskClient) -> None:
    response = client.get("/static/css/callgov.css")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


def test_no_inline_script_or_style_in_pages(sign_in_as: Signer, world) -> None:
    client = sign_in_as("sam")
    for path in ("/tasks", "/requests", "/start", "/cases/REV-2026-00001", f"/tasks/{world.describe_task}"):
        page = client.get(path).get_data(as_text=True)
        for tag in page.split("<script")[1:]:
            assert tag.split(">")[0].strip().startswith(("src=", 'type="module" src=')), f"inline script on {path}"
        assert " style=" not in page and "<style" not in page, f"inline style on {path}"
        assert " on" + "click=" not in page


def test_session_cookie_flags_in_production(web_callgov: Callgov) -> None:
    app = create_app({"SECRET_KEY": "production-secret", "WTF_CSRF_ENABLED": False}, callgov=web_callgov)
    response = app.test_client().post("/sign-in", data={"username": "sam", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("callgov_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_development_cookies_work_over_plain_http(web_callgov: Callgov) -> None:
    app = create_app({"DEV": True, "WTF_CSRF_ENABLED": False}, callgov=web_callgov)
    response = app.test_client().post("/sign-in", data={"username": "sam", "password": PASSWORD})
    assert "Secure" not in response.headers["Set-Cookie"]


def test_production_without_a_secret_key_refuses_to_start(web_callgov: Callgov,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALLGOV_SECRET_KEY", raising=False)
    monkeypatch.delenv("CALLGOV_DEV", raising=False)
    with pytest.raises(RuntimeError, match="CALLGOV_SECRET_KEY"):
        create_app(callgov=web_callgov)


def test_secret_key_and_dev_mode_come_from_the_environment(web_callgov: Callgov,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLGOV_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("CALLGOV_DEV", "1")
    app = create_app(callgov=web_callgov)
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["SESSION_COOKIE_SECURE"] is False


@pytest.fixture
def failing_app(web_callgov: Callgov) -> Flask:
    app = create_app({"TESTING": True, "SECRET_KEY": "x"}, callgov=web_callgov)

    def boom() -> str:
        raise RuntimeError("secret internal detail: password=hunter2")

    def workflow_failed() -> str:
        raise WorkflowFailed("The process failed at 'Check': the operation 'x' is not registered")

    app.add_url_rule("/boom", view_func=boom)
    app.add_url_rule("/workflow-failed", view_func=workflow_failed)
    return app


def test_500_page_never_shows_a_traceback(failing_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    response = failing_app.test_client().get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in page
    assert "Traceback" not in page and "hunter2" not in page and "RuntimeError" not in page
    assert "incident number" in page
    assert response.headers["Content-Security-Policy"]
    assert "hunter2" in caplog.text, "the details go to the log"


def test_500_answers_json_when_asked(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/boom", headers={"Accept": "application/json"})
    assert response.status_code == 500
    body = response.get_json()
    assert body["status"] == 500 and "hunter2" not in body["message"]


def test_workflow_failures_explain_without_traceback(failing_app: Flask) -> None:
    page = failing_app.test_client().get("/workflow-failed").get_data(as_text=True)
    assert "the operation &#39;x&#39; is not registered" in page and "Traceback" not in page


@pytest.mark.parametrize("path, status, words", [
    ("/no-such-page", 404, "Page not found"),
    ("/cases/REV-2026-99999", 404, "There is no case"),
    ("/admin/users", 403, "You do not have permission"),
])
def test_error_pages_in_house_style(sign_in_as: Signer, path: str, status: int, words: str) -> None:
    response = sign_in_as("sam").get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert words in page
    assert "govuk-template" in page and "Skip to main content" in page
    assert "crown" not in page.lower()


def test_errors_answer_json_when_asked(sign_in_as: Signer) -> None:
    response = sign_in_as("sam").get("/cases/REV-2026-99999", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["message"].startswith("There is no case REV-2026-99999")


def test_method_not_allowed_is_405(client: FlaskClient) -> None:
    response = client.put("/sign-in")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
