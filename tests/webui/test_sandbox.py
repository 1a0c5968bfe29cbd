"""The test-run pages: the sandbox is marked on every page, the real form is used and checked, and
nothing reaches the real inboxes or audit trail beyond the governance action of starting a run."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from engine import audit
from engine.facade import Callgov
from tests.webui.conftest import BPMN, DESCRIBE

BANNER = "Sandbox — test run, no real data"


@pytest.fixture
def gov(sign_in_as: Callable[[str], FlaskClient]) -> FlaskClient:
    """A client signed in as the governance officer."""
    return sign_in_as("gov")


def _start(gov: FlaskClient) -> str:
    response = gov.post("/governance/versions/1/test-run", data={"sample": '{"note": "a test"}', "start_as": "staff"})
    assert response.status_code == 302
    return response.headers["Location"]


def test_a_version_offers_a_test_run(gov: FlaskClient) -> None:
    page = gov.get("/governance/versions/1").get_data(as_text=True)
    assert 'href="/governance/versions/1/test-run"' in page
    start = gov.get("/governance/versions/1/test-run").get_data(as_text=True)
    assert BANNER in start and "Sample data the case starts with" in start and ">{}</textarea>" in start


def test_bad_sample_data_is_shown_back_with_the_reason(gov: FlaskClient, web_callgov: Callgov) -> None:
    response = gov.post("/governance/versions/1/test-run", data={"sample": '{"a": 1,', "start_as": "staff"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Not valid JSON" in page and "{&#34;a&#34;: 1,</textarea>" in page  # nothing typed is lost
    assert web_callgov.test_runs(user="gov") == []


def test_a_task_is_done_with_the_real_form_as_a_sandbox_user(gov: FlaskClient, web_callgov: Callgov) -> None:
    inbox_before = {name: len(web_callgov.tasks_for(name)) for name in ("sam", "leader", "dpo1")}
    run_url = _start(gov)
    run_page = gov.get(run_url).get_data(as_text=True)
    assert BANNER in run_page and "Describe the call" in run_page and "as sandbox.staff" in run_page
    task_url = re.search(r'href="(/governance/test-runs/[0-9a-f]+/tasks/[^"]+)"', run_page).group(1)

    form = gov.get(task_url).get_data(as_text=True)
    assert BANNER in form and "Why you need it" in form and "sandbox.staff" in form
    refused = gov.post(task_url, data={**DESCRIBE, "purpose": "nonsense"})
    assert refused.status_code == 400 and "There is a problem" in refused.get_data(as_text=True)
    done = gov.post(task_url, data=DESCRIBE)
    assert done.status_code == 302 and done.headers["Location"] == run_url

    after = gov.get(run_url).get_data(as_text=True)
    assert "Authorise the request" in after and "as sandbox.cs_team_leader" in after
    assert "Why you need it" in after  # the timeline shows the answers
    assert {name: len(web_callgov.tasks_for(name)) for name in ("sam", "leader", "dpo1")} == inbox_before
    with web_callgov.db.reading() as s:
        assert [e.action for e in audit.events_for(s, actor="gov")] == ["sandbox.run_started"]


def test_firing_with_no_timer_says_so(gov: FlaskClient) -> None:
    run_url = _start(gov)
    response = gov.post(f"{run_url}/fire-timers", follow_redirects=True)
    assert "No timer is waiting in this test run" in response.get_data(as_text=True)


def test_runs_are_listed_and_discarded(gov: FlaskClient, web_callgov: Callgov) -> None:
    run_url = _start(gov)
    listed = gov.get("/governance/test-runs").get_data(as_text=True)
    assert run_url in listed and "Review a call recording" in listed
    gone = gov.post(f"{run_url}/discard", follow_redirects=True).get_data(as_text=True)
    assert "You discarded the test run" in gone and "You have no test runs" in gone
    assert gov.get(run_url).status_code == 404
    assert not list(web_callgov.sandbox_folder.glob("*.sqlite3"))


def test_every_sandbox_action_needs_its_csrf_token(web_callgov: Callgov) -> None:
    from tests.webui.test_csrf import signed_in, token_from
    from webui import create_app

    client = signed_in(create_app({"TESTING": True, "SECRET_KEY": "test-secret"},
                                  callgov=web_callgov).test_client(), "gov")
    start = "/governance/versions/1/test-run"
    assert client.post(start, data={"sample": "{}", "start_as": "staff"}).status_code == 400
    assert web_callgov.test_runs(user="gov") == []
    run_url = client.post(start, data={"sample": "{}", "start_as": "staff",
                                       "csrf_token": token_from(client, start)}).headers["Location"]
    task = web_callgov.test_run(run_url.rsplit("/", 1)[1], user="gov").page.case.ready_tasks[0]
    for action, data in ((f"/tasks/{task.id}", DESCRIBE), ("/fire-timers", {}), ("/discard", {})):
        assert client.post(run_url + action, data={**data, "csrf_token": "forged"}).status_code == 400
    run = web_callgov.test_run(run_url.rsplit("/", 1)[1], user="gov")  # still there, nothing done, no time moved
    assert run.page.case.history == () and run.run.sandbox_now == run.run.created_at
    assert client.post(f"{run_url}/discard", data={"csrf_token": token_from(client, run_url)}).status_code == 302


def test_a_version_that_fails_while_running_says_why(gov: FlaskClient, web_callgov: Callgov) -> None:
    xml = BPMN.read_text().replace('decision == "approve"', 'decision == "approve" and copies > limit')
    saved = web_callgov.save_draft("review", xml.encode(), user="gov")
    assert saved.version is not None and not saved.problems  # it compiles: only running it shows the mistake
    response = gov.post(f"/governance/versions/{saved.version.id}/test-run", data={"sample": "{}", "start_as": "staff"})
    run_url = response.headers["Location"]
    run_id = run_url.rsplit("/", 1)[1]
    describe = web_callgov.test_run(run_id, user="gov").page.case.ready_tasks[0]
    gov.post(f"{run_url}/tasks/{describe.id}", data=DESCRIBE)
    authorise = web_callgov.test_run(run_id, user="gov").page.case.ready_tasks[0]
    page = gov.post(f"{run_url}/tasks/{authorise.id}", data={"decision": "approve"}, follow_redirects=True)
    assert response.status_code == 302 and page.status_code == 200
    assert "Unknown name &#39;limit&#39;" in page.get_data(as_text=True)
    assert [t.element_id for t in web_callgov.test_run(run_id, user="gov").page.case.ready_tasks] == ["authorise"]
