"""User administration: adding people, roles, disabling, signing out everywhere — all audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from engine.audit import events_for
from engine.errors import PermissionDenied
from engine.facade import Callgov

Signer = Callable[[str], FlaskClient]
NEW = {"username": "a.jones", "display_name": "Alex Jones", "email": "alex@example.org",
       "job_title": "Customer adviser", "roles": ["staff", "cs_team_leader"], "password": "a long enough password"}


def text(response) -> str:
    return response.get_data(as_text=True)


def last_event(callgov: Callgov):
    with callgov.db.reading() as session:
        return events_for(session, limit=1)[0]


def test_users_page_lists_everyone_with_roles(sign_in_as: Signer) -> None:
    page = text(sign_in_as("admin1").get("/admin/users"))
    assert "10 users" in page
    assert "Customer Service Team Leader" in page and "Data Protection Officer" in page
    assert 'href="/admin/users/sam"' in page
    assert ">Users<" in page, "the navigation shows Users to administrators"


def test_users_link_hidden_from_others(sign_in_as: Signer) -> None:
    assert 'href="/admin/users"' not in text(sign_in_as("dpo1").get("/tasks"))


def test_add_a_user(sign_in_as: Signer, web_callgov: Callgov) -> None:
    client = sign_in_as("admin1")
    form = text(client.get("/admin/add-user"))
    assert 'type="checkbox" value="cs_team_leader"' in form and 'autocomplete="new-password"' in form
    response = client.post("/admin/add-user", data=NEW)
    assert response.headers["Location"] == "/admin/users/a.jones"
    user = web_callgov.user("a.jones")
    assert user.roles == {"staff", "cs_team_leader"} and user.display_name == "Alex Jones"
    assert "You added Alex Jones (a.jones)" in text(client.get("/admin/users/a.jones"))
    event = last_event(web_callgov)
    assert (event.action, event.actor) == ("user.added", "admin1")
    assert event.detail == {"username": "a.jones", "roles": ["cs_team_leader", "staff"]}
    assert web_callgov.sign_in("a.jones", NEW["password"], address="10.0.0.1").user is not None


@pytest.mark.parametrize("change, anchor, message", [
    ({"username": "sam"}, "username", "There is already a user called sam"),
    ({"username": "Not Valid!"}, "username", "A username is 2-80 characters"),
    ({"password": "short"}, "password", "The password needs at least 12 characters"),
    ({"display_name": ""}, "display_name", "Enter the person&#39;s full name"),
    ({"email": "not an email"}, "email", "Enter an email address like name@example.org"),
    ({"roles": ["wizard"]}, "roles-0", "&#39;wizard&#39; is not a valid choice"),
])
def test_add_a_user_errors_are_shown_beside_fields(sign_in_as: Signer, change: dict[str, object], anchor: str,
                                                    message: str) -> None:
    response = sign_in_as("admin1").post("/admin/add-user", data={**NEW, **change})
    page = text(response)
    assert response.status_code == 400
    assert f'<a href="#{anchor}">{message}' in page
    assert "<title>Error: Add a user" in page
    if "display_name" not in change:
        assert 'value="Alex Jones"' in page, "values kept"


def test_change_roles_is_audited(sign_in_as: Signer, web_callgov: Callgov) -> None:
    client = sign_in_as("admin1")
    page = text(client.get("/admin/users/leader"))
    assert 'value="cs_team_leader" checked' in page
    client.post("/admin/users/leader/roles", data={"roles": ["staff", "dpo"]})
    assert web_callgov.user("leader").roles == {"staff", "dpo"}
    event = last_event(web_callgov)
    assert event.action == "user.roles_changed"
    assert event.detail == {"username": "leader", "added": ["dpo"], "removed": ["cs_team_leader"]}


def test_an_administrator_cannot_lock_themselves_out(sign_in_as: Signer, web_callgov: Callgov) -> None:
    client = sign_in_as("admin1")
    response = client.post("/admin/users/admin1/roles", data={"roles": ["staff"]})
    assert response.status_code == 400
    assert "You cannot take the administrator role from yourself" in text(response)
    assert "admin" in web_callgov.user("admin1").roles
    assert client.post("/admin/users/admin1/disable").status_code == 400
    assert "Disable this user" not in text(client.get("/admin/users/admin1"))


def test_disable_and_enable(sign_in_as: Signer, web_callgov: Callgov) -> None:
    client = sign_in_as("admin1")
    client.post("/admin/users/sam/disable")
    assert not web_callgov.user("sam").active
    assert last_event(web_callgov).action == "user.disabled"
    page = text(client.get("/admin/users/sam"))
    assert "Disabled" in page and "Enable this user" in page
    client.post("/admin/users/sam/enable")
    assert web_callgov.user("sam").active
    assert last_event(web_callgov).action == "user.enabled"


def test_sign_out_everywhere_is_audited(sign_in_as: Signer, web_callgov: Callgov) -> None:
    client = sign_in_as("admin1")
    response = client.post("/admin/users/sam/sign-out-everywhere")
    assert response.headers["Location"] == "/admin/users/sam"
    assert web_callgov.user("sam").session_epoch == 1
    event = last_event(web_callgov)
    assert (event.action, event.detail) == ("user.signed_out_everywhere", {"username": "sam"})


def test_unknown_user_is_404(sign_in_as: Signer) -> None:
    assert sign_in_as("admin1").get("/admin/users/nobody").status_code == 404


def test_the_engine_refuses_non_administrators_too(web_callgov: Callgov) -> None:
    with pytest.raises(PermissionDenied):
        web_callgov.list_users(actor="dpo1")
    with pytest.raises(PermissionDenied):
        web_callgov.set_user_roles("sam", ["admin"], actor="sam")


def test_refused_admin_page_is_audited(sign_in_as: Signer, web_callgov: Callgov) -> None:
    response = sign_in_as("provider").get("/admin/users")
    assert response.status_code == 403
    assert "This page is for administrators only." in text(response)
    event = last_event(web_callgov)
    assert (event.action, event.actor, event.detail["path"]) == ("access.denied", "provider", "/admin/users")


def test_set_a_new_password(sign_in_as: Signer, web_callgov: Callgov, app) -> None:
    for _ in range(5):
        web_callgov.sign_in("sam", "forgotten it", address="10.0.0.5")
    assert web_callgov.sign_in("sam", "whatever", address="10.0.0.6").locked_until is not None
    client = sign_in_as("admin1")
    short = client.post("/admin/users/sam/password", data={"password": "short"})
    assert short.status_code == 400
    assert '<a href="#password">The password needs at least 12 characters</a>' in text(short)
    response = client.post("/admin/users/sam/password", data={"password": "a brand new password"})
    assert response.headers["Location"] == "/admin/users/sam"
    event = last_event(web_callgov)
    assert (event.action, event.actor, event.detail) == ("user.password_set", "admin1", {"username": "sam"})
    assert web_callgov.user("sam").session_epoch == 1, "signed out everywhere"
    assert web_callgov.sign_in("sam", "a brand new password", address="10.0.0.7").user is not None, \
        "the account lock is lifted"


def test_only_administrators_set_other_peoples_passwords(web_callgov: Callgov) -> None:
    with pytest.raises(PermissionDenied):
        web_callgov.set_password("leader", "a brand new password", actor="sam")
    web_callgov.set_password("sam", "my own new password", actor="sam")
    web_callgov.set_password("sam", "set from the shell", actor="system:cli")
