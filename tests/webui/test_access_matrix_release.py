"""The recordings and disclosure routes in the role matrix: every role against every page and action
of the release world (``release_world.py``); anything allowed that should not be fails the test.

The recipient's pages (``/disclosure/<token>...``) take no sign-in (the token is the credential):
they are tested in ``test_disclosure.py`` and listed here as public.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest
from flask.testing import FlaskClient

from tests.webui import release_world as world
from tests.webui.conftest import PEOPLE
from tests.webui.release_world import ReleaseWorld

release_world = world.release_world  # the fixtures of the release world, used by name
release_services = world.release_services
web_callgov = world.web_callgov

SEARCHERS = frozenset({"leader", "director", "dpo1", "helpdesk"})
AUTHORISERS = frozenset({"leader", "director", "dpo1"})

COVERED = {
    ("GET", "/recordings"), ("GET", "/recordings/<int:recording_id>"), ("GET", "/recordings/<int:recording_id>/audio"),
    ("POST", "/recordings/<int:recording_id>/request"),
    ("GET", "/cases/<case_ref>/withdraw"), ("POST", "/cases/<case_ref>/withdraw"),
    ("GET", "/disclosure-register"), ("GET", "/disclosure-register.csv"),
}
"""The rules this matrix covers, for ``test_access_matrix.test_matrix_covers_every_route``."""
PUBLIC = {("GET", "/disclosure/<token>"), ("POST", "/disclosure/<token>/acknowledge"),
          ("POST", "/disclosure/<token>/download")}
"""The recipient's pages: no sign-in."""


@dataclass(frozen=True)
class Route:
    """One page or action, who may use it, and what the others get."""

    method: str
    path: str
    allowed: frozenset[str]
    query: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict)
    denied_status: int = 403
    denied_overrides: Mapping[str, int] = field(default_factory=dict)
    ok_status: int = 200

    def url(self, world: ReleaseWorld) -> str:
        return self.path.format(w=world)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    Route("GET", "/recordings", SEARCHERS),
    Route("GET", "/recordings", SEARCHERS, query={"number": "07700 900123", "direction": "inbound"}),
    Route("GET", "/recordings/{w.waiting_recording}", AUTHORISERS),
    Route("GET", "/recordings/{w.waiting_recording}/audio", AUTHORISERS),
    Route("GET", "/recordings/{w.granted_recording}", frozenset({"sam", "dpo1"})),
    Route("GET", "/recordings/{w.granted_recording}/audio", frozenset({"sam", "dpo1"})),
    Route("GET", "/recordings/{w.other_recording}", frozenset()),
    Route("GET", "/recordings/{w.other_recording}/audio", frozenset()),
    Route("POST", "/recordings/{w.other_recording}/request", frozenset(PEOPLE), ok_status=302),
    Route("GET", "/cases/{w.waiting}/withdraw", frozenset({"sam"}), denied_status=404,
          denied_overrides=dict.fromkeys(AUTHORISERS, 403)),
    Route("POST", "/cases/{w.waiting}/withdraw", frozenset({"sam"}), data={"reason": "Not needed"},
          denied_status=404, denied_overrides=dict.fromkeys(AUTHORISERS, 403), ok_status=302),
    Route("GET", "/disclosure-register", frozenset({"dpo1"})),
    Route("GET", "/disclosure-register.csv", frozenset({"dpo1"})),
]


@pytest.mark.parametrize("username", sorted(PEOPLE))
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_release_role_matrix(route: Route, username: str, release_world: ReleaseWorld,
                             sign_in_as: Callable[[str], FlaskClient]) -> None:
    client = sign_in_as(username)
    response = client.open(route.url(release_world), method=route.method, query_string=dict(route.query),
                           data=dict(route.data))
    if username in route.allowed:
        assert response.status_code == route.ok_status, response.get_data(as_text=True)[:2000]
        assert "/sign-in" not in response.headers.get("Location", "")
    else:
        expected = route.denied_overrides.get(username, route.denied_status)
        assert response.status_code == expected, f"{username} was not refused: {response.status_code}"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_is_sent_to_sign_in(route: Route, release_world: ReleaseWorld, client: FlaskClient) -> None:
    response = client.open(route.url(release_world), method=route.method, data=dict(route.data))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
