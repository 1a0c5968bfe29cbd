"""The test-run (sandbox) routes in the role matrix: only the ``governance`` role gets in, anonymous
visitors are sent to sign in, and a governance officer other than the run's owner finds nothing.

``_run`` starts a test run of the world's ``review`` process (version 1) as ``gov``; its case waits
at ``describe``, done by the sandbox's member of staff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine.facade import Callgov
from tests.conftest import PASSWORD
from tests.webui.conftest import DESCRIBE, PEOPLE

GOVERNANCE = frozenset({"gov"})

COVERED = {
    ("GET", "/governance/versions/<int:version_id>/test-run"),
    ("POST", "/governance/versions/<int:version_id>/test-run"),
    ("GET", "/governance/test-runs"), ("GET", "/governance/test-runs/<run_id>"),
    ("GET", "/governance/test-runs/<run_id>/diagram.bpmn"),
    ("GET", "/governance/test-runs/<run_id>/tasks/<task_id>"),
    ("POST", "/governance/test-runs/<run_id>/tasks/<task_id>"),
    ("POST", "/governance/test-runs/<run_id>/fire-timers"),
    ("POST", "/governance/test-runs/<run_id>/discard"),
}
"""The rules this matrix covers, for ``test_access_matrix.test_matrix_covers_every_route``."""


def _run(callgov: Callgov) -> dict[str, str]:
    run = callgov.start_test_run(1, user="gov")
    task = callgov.test_run(run.run_id, user="gov").page.case.ready_tasks[0]
    return {"run": run.run_id, "task": task.id}


@dataclass(frozen=True)
class Route:
    """One sandbox page or action, what its owner gets, and whether it needs a run first."""

    method: str
    path: str
    ok: int = 200
    form: Mapping[str, Any] = field(default_factory=dict)
    needs_run: bool = True

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def send(self, client: FlaskClient, ids: Mapping[str, str]):
        return client.open(self.path.format(**ids), method=self.method, data=dict(self.form))


ROUTES = [
    Route("GET", "/governance/versions/1/test-run", needs_run=False),
    Route("POST", "/governance/versions/1/test-run", ok=302, form={"sample": "{}", "start_as": "staff"},
          needs_run=False),
    Route("GET", "/governance/test-runs", needs_run=False),
    Route("GET", "/governance/test-runs/{run}"),
    Route("GET", "/governance/test-runs/{run}/diagram.bpmn"),
    Route("GET", "/governance/test-runs/{run}/tasks/{task}"),
    Route("POST", "/governance/test-runs/{run}/tasks/{task}", ok=302, form=DESCRIBE),
    Route("POST", "/governance/test-runs/{run}/fire-timers", ok=302),
    Route("POST", "/governance/test-runs/{run}/discard", ok=302),
]
PLACEHOLDER = {"run": "0123456789abcdef", "task": "no-such-task"}


@pytest.fixture
def ids(web_callgov: Callgov) -> Callable[[Route], Mapping[str, str]]:
    """The run and task ids a route's path needs (a real run of ``gov``'s when it needs one)."""
    return lambda route: _run(web_callgov) if route.needs_run else PLACEHOLDER


@pytest.mark.parametrize("username", sorted(PEOPLE))
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_sandbox_matrix(route: Route, username: str, ids: Callable[[Route], Mapping[str, str]],
                        sign_in_as: Callable[[str], FlaskClient]) -> None:
    response = route.send(sign_in_as(username), ids(route))
    if username in GOVERNANCE:
        assert response.status_code == route.ok, response.get_data(as_text=True)[:2000]
        assert "/sign-in" not in response.headers.get("Location", "")
    else:
        assert response.status_code == 403, f"{username} was not refused: {response.status_code}"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.needs_run], ids=str)
def test_another_officer_finds_no_run(route: Route, web_callgov: Callgov, ids: Callable[[Route], Mapping[str, str]],
                                      sign_in_as: Callable[[str], FlaskClient]) -> None:
    web_callgov.add_user("gina", roles=["governance"], password=PASSWORD)
    run = ids(route)
    response = route.send(sign_in_as("gina"), run)
    assert response.status_code == 404
    assert web_callgov.test_run(run["run"], user="gov").page.case.history == ()  # untouched


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_is_sent_to_sign_in(route: Route, client: FlaskClient) -> None:
    response = route.send(client, PLACEHOLDER)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
