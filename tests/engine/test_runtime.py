"""Instances and human tasks through the facade, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from engine.clock import FakeClock
from engine.errors import BusinessError, Conflict, FormInvalid, InvalidInput, NotFound, PermissionDenied
from engine.facade import Callgov
from engine.instances import CASE_FIELDS, CaseRecord, load_case
from engine.models import ProcessInstance
from engine.operations import OperationContext, OperationRegistry


def assert_roundtrip(callgov: Callgov, case_ref: str) -> None:
    """Restore the stored instance, serialize it again, and check nothing changed."""
    with callgov.db.reading() as s:
        row = s.query(ProcessInstance).filter_by(case_ref=case_ref).one()
        compiled = callgov.specs.get(s, row.definition_version_id)
        workflow = callgov._runner(s).restore(row, compiled)
        again = callgov.serializer.dumps(workflow)
        assert json.loads(again) == json.loads(row.state)


@pytest.fixture
def people(make_user: Callable[..., object]) -> None:
    make_user("sam", "staff")
    make_user("tess", "staff", "cs_team_leader")
    make_user("dana", "dpo")
    make_user("ian", "it_helpdesk")


def describe(callgov: Callgov, case_ref: str, user: str = "sam", **answers: object) -> None:
    view = callgov.instance(case_ref)
    task = view.ready_tasks[0]
    callgov.complete_task(task.id, user=user, data={"summary": "Call from a tenant", **answers})


def test_start_runs_to_first_task_with_case_reference(callgov: Callgov, deploy, people, clock: FakeClock) -> None:
    deploy("approval.bpmn")
    view = callgov.start("approval", user="sam")
    assert view.case_ref == "APR-2026-00001"
    assert view.status == "running"
    [task] = view.ready_tasks
    assert task.title == "Describe the request"
    assert task.assignee == "sam"
    assert callgov.start("approval", user="sam").case_ref == "APR-2026-00002"
    assert_roundtrip(callgov, view.case_ref)


def test_a_save_writes_only_the_columns_that_changed(callgov: Callgov, deploy, people, clock: FakeClock) -> None:
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="sam").case_ref
    with callgov.db.reading() as s:
        case = load_case(s.connection(), ref)
    assert case.changes() == {}
    case.state, case.lock_version = "{}", case.lock_version + 1
    assert case.changes() == {"state": "{}", "lock_version": 2}
    assert CaseRecord(**{**case.__dict__, "stored": None}).changes().keys() == set(CASE_FIELDS) - {"id"}

    clock.advance(timedelta(minutes=5))
    describe(callgov, ref)
    with callgov.db.reading() as s:
        stored = load_case(s.connection(), ref)
    assert (stored.case_ref, stored.started_by, stored.started_at, stored.status) == (
        ref, "sam", case.started_at, "running")
    assert stored.updated_at == clock.now() and stored.lock_version == 2 and stored.current_step == "Decide"
    assert_roundtrip(callgov, ref)


def test_full_approval_path_with_history(callgov: Callgov, deploy, people, clock: FakeClock) -> None:
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="sam").case_ref
    describe(callgov, ref, copies="2", reference="ABC-123", needed_by="2026-02-01")
    assert_roundtrip(callgov, ref)
    view = callgov.instance(ref)
    [decide] = view.ready_tasks
    assert decide.title == "Decide"
    assert set(decide.candidate_roles) == {"cs_team_leader", "dpo"}
    assert decide.due_at == clock.now() + timedelta(days=3)
    assert view.data["copies"] == 2 and view.data["needed_by"] == date(2026, 2, 1)
    clock.advance(timedelta(hours=2))
    callgov.complete_task(decide.id, user="dana", data={"decision": "approve", "summary": "tampered"})
    view = callgov.instance(ref)
    assert view.data["summary"] == "Call from a tenant", "a read-only field must not be overwritten"
    [release] = view.ready_tasks
    assert release.title == "Release the copies"
    assert_roundtrip(callgov, ref)
    callgov.complete_task(release.id, user="ian", data={"released": "on"})
    view = callgov.instance(ref)
    assert view.status == "completed"
    assert [h.title for h in view.history] == ["Describe the request", "Decide", "Release the copies"]
    assert [h.actor for h in view.history] == ["sam", "dana", "ian"]
    assert view.history[1].values == {"decision": "approve", "reason": None}
    assert "gateway" in view.completed_elements and "done" in view.completed_elements


def test_refusal_takes_the_default_flow(callgov: Callgov, deploy, people) -> None:
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="sam").case_ref
    describe(callgov, ref)
    [decide] = callgov.instance(ref).ready_tasks
    view = callgov.complete_task(decide.id, user="tess", data={"decision": "refuse", "reason": "no"})
    assert view.status == "completed"
    assert "refused" in view.completed_elements and "release" not in view.completed_elements


def test_inbox_by_role_assignee_and_exclusion(callgov: Callgov, deploy, people, make_user) -> None:
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="tess").case_ref
    assert [t.case_ref for t in callgov.tasks_for("tess")] == [ref]
    assert callgov.tasks_for("sam") == []
    describe(callgov, ref, user="tess")
    # tess holds cs_team_leader but started the case: the decision is not hers to make.
    assert callgov.tasks_for("tess") == []
    assert [t.title for t in callgov.tasks_for("dana")] == ["Decide"]
    task_id = callgov.tasks_for("dana")[0].id
    with pytest.raises(PermissionDenied):
        callgov.complete_task(task_id, user="tess", data={"decision": "approve"})
    with pytest.raises(PermissionDenied):
        callgov.complete_task(task_id, user="sam", data={"decision": "approve"})
    with pytest.raises(PermissionDenied):
        callgov.task(task_id, user="ian")


def test_form_validation_lists_every_problem_and_keeps_task_ready(callgov: Callgov, deploy, people) -> None:
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="sam").case_ref
    task = callgov.instance(ref).ready_tasks[0]
    with pytest.raises(FormInvalid) as caught:
        callgov.complete_task(task.id, user="sam", data={
            "summary": "ab", "copies": "9", "reference": "abc", "needed_by": "2026-02-30", "extra": "x"})
    assert set(caught.value.problems) == {"summary", "copies", "reference", "needed_by"}
    assert "at least 5" in caught.value.problems["summary"]
    assert callgov.instance(ref).ready_tasks[0].id == task.id
    with pytest.raises(FormInvalid) as caught:
        callgov.complete_task(task.id, user="sam", data={})
    assert list(caught.value.problems) == ["summary"]
    view = callgov.complete_task(task.id, user="sam", data={"summary": "A real summary", "extra": "x"})
    assert "extra" not in view.data


def test_second_completion_is_a_conflict(callgov: Callgov, deploy, people) -> None:
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="sam").case_ref
    task = callgov.instance(ref).ready_tasks[0]
    describe(callgov, ref)
    with pytest.raises(Conflict, match="already been done by sam"):
        callgov.complete_task(task.id, user="sam", data={"summary": "Again and again"})


def test_claim_and_unclaim(callgov: Callgov, deploy, people, make_user) -> None:
    make_user("tina", "cs_team_leader")
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="sam").case_ref
    describe(callgov, ref)
    task = callgov.tasks_for("dana")[0]
    assert callgov.claim(task.id, user="dana").claimed_by == "dana"
    assert callgov.tasks_for("tina")[0].claimed_by == "dana"
    with pytest.raises(Conflict, match="dana has claimed"):
        callgov.complete_task(task.id, user="tina", data={"decision": "approve"})
    with pytest.raises(PermissionDenied):
        callgov.unclaim(task.id, user="tina")
    callgov.unclaim(task.id, user="dana")
    callgov.complete_task(task.id, user="tina", data={"decision": "refuse"})


def test_cancel_with_reason(callgov: Callgov, deploy, people) -> None:
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="sam").case_ref
    with pytest.raises(InvalidInput):
        callgov.cancel(ref, user="sam", reason="  ")
    with pytest.raises(PermissionDenied):
        callgov.cancel(ref, user="ian", reason="not mine")
    view = callgov.cancel(ref, user="sam", reason="Raised by mistake")
    assert view.status == "cancelled" and view.end_reason == "Raised by mistake"
    assert view.ready_tasks == ()
    assert callgov.tasks_for("sam") == []
    with pytest.raises(Conflict):
        callgov.cancel(ref, user="sam", reason="again")


def test_unknown_things_are_not_found(callgov: Callgov, deploy, people) -> None:
    with pytest.raises(NotFound):
        callgov.start("approval", user="sam")
    deploy("approval.bpmn")
    with pytest.raises(NotFound):
        callgov.start("approval", user="nobody")
    with pytest.raises(NotFound):
        callgov.instance("APR-2026-99999")
    with pytest.raises(NotFound):
        callgov.complete_task("00000000-0000-0000-0000-000000000000", user="sam", data={})


@pytest.fixture
def lookup(operations: OperationRegistry) -> dict[str, object]:
    """A ``test.lookup`` operation that finds ids starting with 'rec' and raises not_found otherwise."""
    calls: dict[str, object] = {}

    def run(ctx: OperationContext) -> dict[str, object]:
        calls["case_ref"] = ctx.case_ref
        if not str(ctx.data["wanted"]).startswith("rec"):
            raise BusinessError("not_found", f"No recording {ctx.data['wanted']}")
        return {"found": [ctx.data["wanted"]]}

    operations.register("test.lookup", run, description="Find a recording (test)")
    return calls


def test_script_service_parallel_subprocess_and_call_activity(callgov: Callgov, deploy, people, lookup,
                                                              make_user) -> None:
    deploy("features.bpmn")
    ref = callgov.start("features", user="sam").case_ref
    [ask] = callgov.tasks_for("sam")
    assert ask.candidate_roles == ("staff",), "the lane names the role"
    view = callgov.complete_task(ask.id, user="sam", data={"wanted": "rec-1", "urgent": "yes"})
    assert lookup["case_ref"] == ref
    assert view.data["found"] == ["rec-1"] and view.data["label"] == "REC-1" and view.data["priority"] == 1
    assert view.data["deadline"].date() == date(2026, 1, 8)
    assert sorted(t.title for t in view.ready_tasks) == ["Review A", "Review B"]
    assert_roundtrip(callgov, ref)
    a = next(t for t in view.ready_tasks if t.title == "Review A")
    b = next(t for t in view.ready_tasks if t.title == "Review B")
    assert a.candidate_roles == ("dpo",) and b.candidate_roles == ("it_helpdesk",)
    callgov.complete_task(a.id, user="dana", data={})
    view = callgov.complete_task(b.id, user="ian", data={})
    assert view.data["wrapped"] is True
    [confirm] = view.ready_tasks
    assert confirm.title == "Confirm it is done" and confirm.assignee == "sam"
    assert_roundtrip(callgov, ref)
    view = callgov.complete_task(confirm.id, user="sam", data={})
    assert view.status == "completed"


def test_business_error_reaches_the_boundary_event(callgov: Callgov, deploy, people, lookup) -> None:
    deploy("features.bpmn")
    ref = callgov.start("features", user="sam").case_ref
    [ask] = callgov.tasks_for("sam")
    view = callgov.complete_task(ask.id, user="sam", data={"wanted": "zzz"})
    [handle] = view.ready_tasks
    assert handle.title == "Handle a missing recording"
    assert_roundtrip(callgov, ref)
    assert callgov.complete_task(handle.id, user="dana", data={}).status == "completed"
