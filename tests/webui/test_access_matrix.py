"""Every role against every page and action: anything allowed that should not be fails the test.

The world (``conftest.py``): REV-2026-00001 was started and described by sam and waits for an
authoriser; REV-2026-00002 was just started by sam and waits for sam to describe it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.facade import Callgov
from engine.mailqueue import queue_mail
from tests.webui import test_access_matrix_breach as breach_matrix
from tests.webui import test_access_matrix_governance as governance_matrix
from tests.webui import test_access_matrix_release as release_matrix
from tests.webui import test_access_matrix_sandbox as sandbox_matrix
from tests.webui.conftest import DESCRIBE, PEOPLE, World

EVERYONE = frozenset(PEOPLE)
AUTHORISERS = frozenset({"leader", "director", "dpo1"})
CASE_VIEWERS = AUTHORISERS | {"sam"}
CASE = "/cases/REV-2026-00001"
NEW_USER = {"username": "newbie", "display_name": "New Person", "roles": ["staff"],
            "password": "a long enough password"}


@dataclass(frozen=True)
class Route:
    """One page or action, who may use it, and what the others get."""

    method: str
    path: str
    allowed: frozenset[str]
    data: Mapping[str, object] = field(default_factory=dict)
    denied_status: int = 403
    denied_overrides: Mapping[str, int] = field(default_factory=dict)
    prepare: Callable[[Callgov, World], object] | None = None

    def url(self, world: World) -> str:
        return self.path.format(authorise=world.authorise_task, describe=world.describe_task)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _claimed_by_leader(callgov: Callgov, world: World) -> object:
    return callgov.claim(world.authorise_task, user="leader")


def _queued_mail(callgov: Callgov, world: World) -> object:
    with callgov.db.transaction() as s:
        return queue_mail(s, to=["dpo@example.org"], subject="Reminder", text="Please look", what="reminder",
                          actor="process", case_ref=None, at=callgov.clock.now())


ROUTES = [
    Route("GET", "/", EVERYONE),
    Route("GET", "/tasks", EVERYONE),
    Route("GET", "/requests", EVERYONE),
    Route("GET", "/start", EVERYONE),
    Route("POST", "/start/review", EVERYONE),
    Route("GET", "/tasks/{authorise}", AUTHORISERS),
    Route("POST", "/tasks/{authorise}", AUTHORISERS, data={"decision": "approve"}),
    Route("POST", "/tasks/{authorise}/claim", AUTHORISERS),
    Route("POST", "/tasks/{authorise}/unclaim", frozenset({"leader", "admin1"}), prepare=_claimed_by_leader),
    Route("GET", "/tasks/{describe}", frozenset({"sam"})),
    Route("POST", "/tasks/{describe}", frozenset({"sam"}), data=DESCRIBE),
    Route("POST", "/tasks/{describe}/claim", frozenset({"sam"})),
    Route("GET", CASE, CASE_VIEWERS, denied_status=404),
    Route("GET", CASE + "/diagram.bpmn", CASE_VIEWERS, denied_status=404),
    Route("GET", CASE + "/cancel", frozenset({"sam", "dpo1"}), denied_status=404,
          denied_overrides={"leader": 403, "director": 403}),
    Route("POST", CASE + "/cancel", frozenset({"sam", "dpo1"}), data={"reason": "Not needed any more"},
          denied_status=404, denied_overrides={"leader": 403, "director": 403}),
    Route("GET", "/admin/users", frozenset({"admin1"})),
    Route("GET", "/admin/add-user", frozenset({"admin1"})),
    Route("POST", "/admin/add-user", frozenset({"admin1"}), data=NEW_USER),
    Route("GET", "/admin/users/sam", frozenset({"admin1"})),
    Route("POST", "/admin/users/sam/roles", frozenset({"admin1"}), data={"roles": ["staff", "investigator"]}),
    Route("POST", "/admin/users/sam/disable", frozenset({"admin1"})),
    Route("POST", "/admin/users/sam/enable", frozenset({"admin1"})),
    Route("POST", "/admin/users/sam/sign-out-everywhere", frozenset({"admin1"})),
    Route("POST", "/admin/users/sam/password", frozenset({"admin1"}), data={"password": "a new long password"}),
    Route("GET", "/admin/mail", frozenset({"admin1"})),
    Route("POST", "/admin/mail/1/retry", frozenset({"admin1"}), prepare=_queued_mail),
]
PUBLIC = {("GET", "/sign-in"), ("POST", "/sign-in"), ("POST", "/sign-out"), ("GET", "/static/<path:filename>")}
"""Routes outside the matrix: signing in and out (tested in test_auth.py) and static files."""


@pytest.mark.parametrize("username", sorted(PEOPLE))
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_role_matrix(route: Route, username: str, world: World, web_callgov: Callgov,
                     sign_in_as: Callable[[str], FlaskClient]) -> None:
    if route.prepare:
        route.prepare(web_callgov, world)
    client = sign_in_as(username)
    response = client.open(route.url(world), method=route.method, data=dict(route.data))
    location = response.headers.get("Location", "")
    if username in route.allowed:
        assert response.status_code == (200 if route.method == "GET" and route.path != "/" else 302), \
            response.get_data(as_text=True)[:2000]
        assert "/sign-in" not in location
    else:
        expected = route.denied_overrides.get(username, route.denied_status)
        assert response.status_code == expected, f"{username} was not refused: {response.status_code} {location}"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_is_sent_to_sign_in(route: Route, world: World, client: FlaskClient) -> None:
    response = client.open(route.url(world), method=route.method, data=dict(route.data))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_matrix_covers_every_route(app: Flask) -> None:
    covered = {(r.method, r.path.replace("{authorise}", "<task_id>").replace("{describe}", "<task_id>")
                .replace("REV-2026-00001", "<case_ref>").replace("/sam", "/<username>")
                .replace("/start/review", "/start/<process_id>").replace("/mail/1/", "/mail/<int:mail_id>/"))
               for r in ROUTES}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            known = (covered | PUBLIC | release_matrix.COVERED | release_matrix.PUBLIC | governance_matrix.COVERED
                     | breach_matrix.COVERED | sandbox_matrix.COVERED)
            assert (method, rule.rule) in known, f"{method} {rule.rule} is not in the access matrix"
