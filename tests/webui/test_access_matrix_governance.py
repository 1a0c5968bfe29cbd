"""The governance routes in the role matrix: every role against every page and action; only the
``governance`` role gets in, and anonymous visitors are sent to sign in.

``prepare`` builds what a route needs on the world copy: a draft version 2 of ``review`` saved by
``gina`` (a second governance officer), and her publication request 1 — which ``gov`` may approve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine.facade import Callgov
from tests.conftest import PASSWORD
from tests.webui.conftest import BPMN, PEOPLE

GOVERNANCE = frozenset({"gov"})
CHANGED = BPMN.read_text().replace('camunda:dueDate="P2D"', 'camunda:dueDate="P3D"')

COVERED = {
    ("GET", "/governance/"), ("GET", "/governance/processes/<process_id>"),
    ("GET", "/governance/processes/<process_id>/edit"), ("GET", "/governance/processes/<process_id>/draft.bpmn"),
    ("POST", "/governance/processes/<process_id>/drafts"), ("GET", "/governance/upload"),
    ("POST", "/governance/upload"), ("GET", "/governance/versions/<int:version_id>"),
    ("GET", "/governance/versions/<int:version_id>/diagram.bpmn"),
    ("POST", "/governance/versions/<int:version_id>/request"), ("GET", "/governance/requests/<int:request_id>"),
    ("POST", "/governance/requests/<int:request_id>/approve"),
    ("POST", "/governance/requests/<int:request_id>/send-back"),
    ("GET", "/governance/processes/<process_id>/migrate"), ("POST", "/governance/processes/<process_id>/migrate"),
}
"""The rules this matrix covers, for ``test_access_matrix.test_matrix_covers_every_route``."""


def _draft(callgov: Callgov) -> int:
    callgov.add_user("gina", roles=["governance"], password=PASSWORD)
    saved = callgov.save_draft("review", CHANGED.encode(), user="gina")
    assert saved.version is not None and saved.version.id == 2
    return saved.version.id


def _requested(callgov: Callgov) -> int:
    return callgov.request_publication(_draft(callgov), user="gina", summary="Three days to decide").id


def _published(callgov: Callgov) -> int:
    """Version 2 published, so REV-2026-00001 and -00002 (on version 1) can move."""
    return callgov.deploy(CHANGED.encode(), filename="review.bpmn", actor="tester", publish=True).definition.id


@dataclass(frozen=True)
class Route:
    """One governance page or action and what a governance officer gets."""

    method: str
    path: str
    ok: int = 200
    form: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    prepare: Callable[[Callgov], object] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def send(self, client: FlaskClient):
        if self.json is not None:
            return client.open(self.path, method=self.method, json=self.json)
        return client.open(self.path, method=self.method, data=dict(self.form))


ROUTES = [
    Route("GET", "/governance/"),
    Route("GET", "/governance/processes/review"),
    Route("GET", "/governance/processes/review/edit"),
    Route("GET", "/governance/processes/review/draft.bpmn"),
    Route("POST", "/governance/processes/review/drafts", json={"xml": CHANGED}),
    Route("GET", "/governance/upload"),
    Route("POST", "/governance/upload", ok=302),
    Route("GET", "/governance/versions/1"),
    Route("GET", "/governance/versions/1/diagram.bpmn"),
    Route("POST", "/governance/versions/2/request", ok=302, form={"summary": "Three days"}, prepare=_draft),
    Route("GET", "/governance/requests/1", prepare=_requested),
    Route("POST", "/governance/requests/1/approve", ok=302, prepare=_requested),
    Route("POST", "/governance/requests/1/send-back", ok=302, form={"note": "Why three?"}, prepare=_requested),
    Route("GET", "/governance/processes/review/migrate", prepare=_published),
    Route("POST", "/governance/processes/review/migrate", form={"cases": "REV-2026-00001", "action": "move"},
          prepare=_published),
]


def _with_file(route: Route) -> Route:
    """The upload route sends a real file (a fresh stream per request)."""
    if route.path != "/governance/upload" or route.method != "POST":
        return route
    from io import BytesIO

    return Route(route.method, route.path, route.ok, {"file": (BytesIO(CHANGED.encode()), "review.bpmn")})


@pytest.mark.parametrize("username", sorted(PEOPLE))
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_governance_matrix(route: Route, username: str, web_callgov: Callgov,
                           sign_in_as: Callable[[str], FlaskClient]) -> None:
    if route.prepare:
        route.prepare(web_callgov)
    response = _with_file(route).send(sign_in_as(username))
    if username in GOVERNANCE:
        assert response.status_code == route.ok, response.get_data(as_text=True)[:2000]
        assert "/sign-in" not in response.headers.get("Location", "")
    else:
        assert response.status_code == 403, f"{username} was not refused: {response.status_code}"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_is_sent_to_sign_in(route: Route, client: FlaskClient) -> None:
    response = _with_file(route).send(client)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
