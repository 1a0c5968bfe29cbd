"""Signing in and out: sessions, throttling, sign-out everywhere, safe redirects, auditing."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.audit import events_for
from engine.clock import FakeClock
from engine.facade import Callgov
from tests.conftest import PASSWORD


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD, **kwargs: object):
    return client.post("/sign-in", data={"username": username, "password": password}, **kwargs)


def audit_actions(callgov: Callgov, actor: str | None = None) -> list[str]:
    with callgov.db.reading() as session:
        return [e.action for e in reversed(events_for(session, actor=actor))]


def test_sign_in_page_renders(client: FlaskClient) -> None:
    page = client.get("/sign-in").get_data(as_text=True)
    assert '<label class="govuk-label" for="username">Username</label>' in page
    assert 'autocomplete="current-password"' in page
    assert 'name="csrf_token"' in page


def test_sign_in_starts_a_fresh_session_and_audits(client: FlaskClient, web_callgov: Callgov) -> None:
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    response = sign_in(client, "leader")
    assert response.status_code == 302 and response.headers["Location"] == "/tasks"
    with client.session_transaction() as session:
        assert "planted" not in session, "the session must be renewed at sign-in"
        assert session["_user_id"] == "leader|0"
    assert client.get("/tasks").status_code == 200
    assert audit_actions(web_callgov, "leader")[-1] == "user.login"


def test_wrong_password_is_refused_plainly_and_audited(client: FlaskClient, web_callgov: Callgov) -> None:
    response = sign_in(client, "leader", "not the password")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The username or password is not right" in page
    assert '<a href="#username">' in page
    assert "<title>Error: Sign in" in page
    assert audit_actions(web_callgov, "leader") == ["user.login_failed"]
    assert client.get("/tasks").status_code == 302


def test_unknown_user_gets_the_same_answer(client: FlaskClient) -> None:
    response = sign_in(client, "nobody-here", "whatever it is")
    assert response.status_code == 400
    assert "The username or password is not right" in response.get_data(as_text=True)


def test_empty_fields_show_an_error_summary(client: FlaskClient) -> None:
    page = client.post("/sign-in", data={"username": "", "password": ""}).get_data(as_text=True)
    assert '<a href="#username">Enter your username</a>' in page
    assert '<a href="#password">Enter your password</a>' in page


def test_disabled_user_cannot_sign_in(client: FlaskClient, web_callgov: Callgov) -> None:
    web_callgov.set_user_active("sam", False, actor="admin1")
    assert sign_in(client, "sam").status_code == 400


def test_account_is_locked_after_five_failures_then_unlocks(client: FlaskClient, clock: FakeClock) -> None:
    for _ in range(4):
        assert sign_in(client, "leader", "wrong password!").status_code == 400
    locked = sign_in(client, "leader", "wrong password!")
    assert locked.status_code == 429
    assert "too many failed attempts" in locked.get_data(as_text=True)
    assert "Try again after 5 Jan 2026, 09:15" in locked.get_data(as_text=True)
    assert sign_in(client, "leader").status_code == 429, "the right password must not get in while locked"
    clock.advance(timedelta(minutes=15, seconds=1))
    assert sign_in(client, "leader").status_code == 302


def test_failures_spread_over_more_than_the_window_do_not_lock(client: FlaskClient, clock: FakeClock) -> None:
    for _ in range(8):
        assert sign_in(client, "leader", "wrong password!").status_code == 400
        clock.advance(timedelta(minutes=4))
    assert sign_in(client, "leader").status_code == 302


def test_success_clears_the_account_failures(client: FlaskClient) -> None:
    for _ in range(4):
        sign_in(client, "leader", "wrong password!")
    assert sign_in(client, "leader").status_code == 302
    client.post("/sign-out")
    for _ in range(4):
        assert sign_in(client, "leader", "wrong password!").status_code == 400


def test_one_address_guessing_many_accounts_is_locked(client: FlaskClient) -> None:
    names = [f"user{i}" for i in range(20)]
    statuses = [sign_in(client, name, "guess guess guess").status_code for name in names]
    assert statuses[:19] == [400] * 19 and statuses[19] == 429
    assert sign_in(client, "leader").status_code == 429, "the address is locked for every account"
    other_place = sign_in(client, "leader", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other_place.status_code == 302


def test_sign_out_needs_post_and_ends_the_session(client: FlaskClient, web_callgov: Callgov) -> None:
    sign_in(client, "leader")
    assert client.get("/sign-out").status_code == 405
    response = client.post("/sign-out")
    assert response.headers["Location"] == "/sign-in"
    assert "You have signed out" in client.get("/sign-in").get_data(as_text=True)
    assert client.get("/tasks").status_code == 302
    assert audit_actions(web_callgov, "leader")[-1] == "user.logout"


def test_sign_out_everywhere_ends_existing_sessions(client: FlaskClient, app: Flask, web_callgov: Callgov) -> None:
    sign_in(client, "leader")
    laptop = app.test_client()
    sign_in(laptop, "leader")
    web_callgov.sign_out_everywhere("leader", actor="admin1")
    assert client.get("/tasks").status_code == 302
    assert laptop.get("/tasks").status_code == 302
    assert sign_in(client, "leader").status_code == 302
    assert client.get("/tasks").status_code == 200


def test_disabling_ends_sessions(client: FlaskClient, web_callgov: Callgov) -> None:
    sign_in(client, "sam")
    web_callgov.set_user_active("sam", False, actor="admin1")
    assert client.get("/tasks").status_code == 302


def test_sessions_end_after_the_absolute_limit(client: FlaskClient, sign_in_as: Callable[[str], FlaskClient]) -> None:
    sign_in_as("sam")
    with client.session_transaction() as session:
        session["signed_in_at"] = time.time() - 13 * 3600
    assert client.get("/tasks").status_code == 302


@pytest.mark.parametrize("target, expected", [
    ("/cases/REV-2026-00001", "/cases/REV-2026-00001"),
    ("https://evil.example/", "/tasks"),
    ("//evil.example/", "/tasks"),
    ("/\\evil.example", "/tasks"),
    ("javascript:alert(1)", "/tasks"),
])
def test_next_only_goes_to_this_site(client: FlaskClient, target: str, expected: str) -> None:
    response = client.post("/sign-in", query_string={"next": target},
                           data={"username": "sam", "password": PASSWORD})
    assert response.headers["Location"] == expected


def test_pages_send_anonymous_people_to_sign_in_with_next(client: FlaskClient) -> None:
    response = client.get("/requests")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=%2Frequests"


def test_signed_in_person_visiting_sign_in_goes_to_tasks(sign_in_as: Callable[[str], FlaskClient]) -> None:
    assert sign_in_as("sam").get("/sign-in").headers["Location"] == "/tasks"
