"""The breach routes in the role matrix: every role against every page and action of the breach world
(``breach_world.py``); anything allowed that should not be fails the test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest
from flask.testing import FlaskClient

from tests.webui import breach_world as world
from tests.webui.breach_world import BreachWorld
from tests.webui.conftest import PEOPLE

release_world = world.release_world  # the fixtures of the breach world, used by name
release_services = world.release_services
breach_world = world.breach_world
web_callgov = world.web_callgov

EVERYONE = frozenset(PEOPLE)
DPO = frozenset({"dpo1"})
LISTENERS = frozenset({"leader", "director", "dpo1"})
"""Who may hear the waiting release request's recording (its authorisers and the DPO)."""
REPORT = {"what_happened": "A call was played aloud in the office", "discovered_at": "2026-01-05T08:30",
          "how_known": "I was there", "identity": "named"}

COVERED = {
    ("GET", "/report-a-concern"), ("POST", "/report-a-concern"), ("GET", "/report-a-concern/sent"),
    ("GET", "/breaches"), ("GET", "/breaches.csv"),
    ("GET", "/breaches/<case_ref>/reporter"), ("POST", "/breaches/<case_ref>/reporter"),
    ("GET", "/breaches/<case_ref>/evidence"), ("GET", "/breaches/<case_ref>/evidence/people/<username>"),
    ("POST", "/recordings/<int:recording_id>/card-details"),
}
"""The rules this matrix covers, for ``test_access_matrix.test_matrix_covers_every_route``."""


@dataclass(frozen=True)
class Route:
    """One page or action, who may use it, and what the others get."""

    method: str
    path: str
    allowed: frozenset[str]
    data: Mapping[str, str] = field(default_factory=dict)
    ok_status: int = 200
    denied_status: int = 403

    def url(self, w: BreachWorld) -> str:
        return self.path.format(w=w)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    Route("GET", "/report-a-concern", EVERYONE),
    Route("POST", "/report-a-concern", EVERYONE, data=REPORT, ok_status=302),
    Route("POST", "/report-a-concern", EVERYONE, data={**REPORT, "identity": "anonymous"}, ok_status=302),
    Route("GET", "/report-a-concern/sent", EVERYONE, ok_status=302),
    Route("GET", "/breaches", DPO),
    Route("GET", "/breaches?status=open", DPO),
    Route("GET", "/breaches.csv", DPO),
    Route("GET", "/breaches/{w.anonymous}/reporter", DPO),
    Route("POST", "/breaches/{w.anonymous}/reporter", DPO),
    Route("POST", "/breaches/{w.investigated}/reporter", DPO),
    Route("GET", "/breaches/{w.investigated}/evidence", frozenset({"investigator1"})),
    Route("GET", "/breaches/{w.investigated}/evidence/people/helpdesk", frozenset({"investigator1"})),
    Route("GET", "/breaches/{w.anonymous}/evidence", frozenset()),
    Route("POST", "/recordings/{w.release.waiting_recording}/card-details", LISTENERS, data={"note": "at 01:10"},
          ok_status=302),
    Route("POST", "/recordings/{w.release.other_recording}/card-details", frozenset({"investigator1"}),
          data={"note": "at 00:40"}, ok_status=302),
]


@pytest.mark.parametrize("username", sorted(PEOPLE))
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_breach_role_matrix(route: Route, username: str, breach_world: BreachWorld,
                            sign_in_as: Callable[[str], FlaskClient]) -> None:
    client = sign_in_as(username)
    response = client.open(route.url(breach_world), method=route.method, data=dict(route.data))
    if username in route.allowed:
        assert response.status_code == route.ok_status, response.get_data(as_text=True)[:2000]
        assert "/sign-in" not in response.headers.get("Location", "")
    else:
        assert response.status_code == route.denied_status, f"{username} was not refused: {response.status_code}"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_is_sent_to_sign_in(route: Route, breach_world: BreachWorld, client: FlaskClient) -> None:
    response = client.open(route.url(breach_world), method=route.method, data=dict(route.data))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
