"""Moving running cases to the published version: safe moves, refusals with reasons, audit, roles."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import audit
from engine.clock import FakeClock
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.facade import Callgov
from engine.models import HumanTask, ProcessInstance, Timer
from engine.users import UserView
from tests.conftest import BPMN_DIR

REVIEW = (BPMN_DIR.parent.parent / "webui" / "bpmn" / "review.bpmn").read_text()
DESCRIBE = {"call_date": "2026-01-02", "purpose": "complaint", "details": "Caller disputes what was said",
            "third_party": "false", "copies": "1", "confirm": "true"}
NEW_FORM = REVIEW.replace('label="Why they need it"', 'label="Reason given"').replace(
    'camunda:candidateGroups="cs_team_leader, ad_communities, dpo"', 'camunda:candidateGroups="dpo"')
WITHOUT_AUTHORISE = re.sub(r'<bpmn:userTask id="authorise".*?</bpmn:userTask>', "", REVIEW, flags=re.S).replace(
    '<bpmn:sequenceFlow id="f3" sourceRef="authorise" targetRef="decided"/>', "").replace(
    'targetRef="authorise"', 'targetRef="decided"')
WITHOUT_AUTHORISE = re.sub(r'<bpmndi:BPMNShape id="authorise_di".*?</bpmndi:BPMNShape>|'
                           r'<bpmndi:BPMNEdge id="f3_di".*?</bpmndi:BPMNEdge>', "", WITHOUT_AUTHORISE)
TIMERS = (BPMN_DIR / "timers.bpmn").read_text()


@pytest.fixture
def people(make_user: Callable[..., UserView]) -> None:
    """A governance officer, a requester, an authoriser (DPO) and the help desk."""
    make_user("gina", "governance")
    make_user("sam", "staff")
    make_user("dana", "dpo")
    make_user("lee", "cs_team_leader")
    make_user("hal", "it_helpdesk")


@pytest.fixture
def at_authorise(callgov: Callgov, people: None) -> str:
    """review.bpmn version 1 published; a case described by sam, waiting at "Authorise the request"."""
    callgov.deploy(REVIEW.encode(), filename="review.bpmn", actor="tester", publish=True)
    first = callgov.start("review", user="sam")
    return callgov.complete_task(first.ready_tasks[0].id, user="sam", data=DESCRIBE).case_ref


def _publish(callgov: Callgov, xml: str) -> int:
    return callgov.deploy(xml.encode(), filename="review.bpmn", actor="tester", publish=True).definition.version


def _migrations(callgov: Callgov, case_ref: str) -> list[tuple[str, dict[str, object]]]:
    with callgov.db.reading() as s:
        return [(e.actor, e.detail) for e in audit.events_for(s, case_ref=case_ref, limit=50)
                if e.action == "instance.migrated"]


def _state(callgov: Callgov, case_ref: str) -> tuple[object, ...]:
    with callgov.db.reading() as s:
        case = s.scalars(select(ProcessInstance).where(ProcessInstance.case_ref == case_ref)).one()
        tasks = sorted(s.execute(select(HumanTask.id, HumanTask.candidate_roles).where(
            HumanTask.instance_id == case.id)).all())
        return case.definition_version_id, case.state, case.lock_version, tuple(tasks)


def test_a_safe_move_then_the_case_finishes_on_the_new_version(callgov: Callgov, at_authorise: str) -> None:
    assert _publish(callgov, NEW_FORM) == 2
    checked = callgov.check_migration("review", [at_authorise], user="gina")
    assert not checked.moved and [o.movable for o in checked.outcomes] == [True]
    assert callgov.instance(at_authorise).definition_version == 1  # a check changes nothing

    report = callgov.migrate_instances("review", [at_authorise.lower()], user="gina")
    assert report.moved and [(o.case_ref, o.from_version, o.to_version) for o in report.movable] == [
        (at_authorise, 1, 2)]
    case = callgov.instance(at_authorise)
    assert case.definition_version == 2
    (task,) = case.ready_tasks
    assert task.candidate_roles == ("dpo",)  # the projection follows the new version
    assert callgov.tasks_for("lee") == []
    detail = callgov.task(task.id, user="dana")
    assert [f.label for f in detail.form.fields if f.id == "details"] == ["Reason given"]
    sent = callgov.complete_task(task.id, user="dana", data={"decision": "approve"})
    assert [t.element_id for t in sent.ready_tasks] == ["send"]
    done = callgov.complete_task(sent.ready_tasks[0].id, user="hal", data={"sent_on": "2026-01-05T10:00"})
    assert done.status == "completed" and done.definition_version == 2
    ((actor, detail_),) = _migrations(callgov, at_authorise)
    assert actor == "gina" and detail_["from_version"] == 1 and detail_["to_version"] == 2


def test_a_case_whose_current_task_is_gone_is_refused_and_untouched(callgov: Callgov, at_authorise: str) -> None:
    _publish(callgov, WITHOUT_AUTHORISE)
    before = _state(callgov, at_authorise)
    checked = callgov.check_migration("review", [at_authorise], user="gina")
    (outcome,) = checked.refused
    assert outcome.reasons == ("task 'Authorise the request' no longer exists in version 2",)
    report = callgov.migrate_instances("review", [at_authorise], user="gina")
    assert report.refused[0].reasons == outcome.reasons and not report.movable
    assert _state(callgov, at_authorise) == before
    assert _migrations(callgov, at_authorise) == []


def test_a_case_before_the_removed_task_can_move_and_skips_it(callgov: Callgov, at_authorise: str) -> None:
    fresh = callgov.start("review", user="sam")
    _publish(callgov, WITHOUT_AUTHORISE)
    report = callgov.migrate_instances("review", [at_authorise, fresh.case_ref], user="gina")
    assert [o.case_ref for o in report.movable] == [fresh.case_ref]
    assert [o.case_ref for o in report.refused] == [at_authorise]
    moved = callgov.instance(fresh.case_ref)
    assert moved.definition_version == 2 and [t.element_id for t in moved.ready_tasks] == ["describe"]
    assert moved.ready_tasks[0].id == fresh.ready_tasks[0].id  # the same task, so links to it still work


def test_refusals_say_why(callgov: Callgov, at_authorise: str) -> None:
    cancelled = callgov.start("review", user="sam").case_ref
    callgov.cancel(cancelled, user="sam", reason="Asked by mistake")
    report = callgov.check_migration("review", [at_authorise, cancelled, "REV-2026-09999"], user="gina")
    reasons = [o.reasons[0] for o in report.outcomes]
    assert reasons == [f"Case {at_authorise} is already on version 1", f"Case {cancelled} is cancelled, "
                       "so there is nothing to move", "There is no case REV-2026-09999"]


def test_a_case_of_another_process_is_refused(callgov: Callgov, at_authorise: str) -> None:
    callgov.deploy(TIMERS.encode(), filename="timers.bpmn", actor="tester", publish=True)
    other = callgov.start("timers", user="sam").case_ref
    _publish(callgov, NEW_FORM)
    (outcome,) = callgov.migrate_instances("review", [other], user="gina").outcomes
    assert not outcome.movable and "another process" in outcome.reasons[0]


def test_only_governance_staff_check_or_move(callgov: Callgov, at_authorise: str) -> None:
    _publish(callgov, NEW_FORM)
    for user in ("sam", "dana"):
        with pytest.raises(PermissionDenied):
            callgov.migrate_instances("review", [at_authorise], user=user)
        with pytest.raises(PermissionDenied):
            callgov.check_migration("review", [at_authorise], user=user)
        with pytest.raises(PermissionDenied):
            callgov.migration_overview("review", user=user)
    with pytest.raises(InvalidInput):
        callgov.migrate_instances("review", [], user="gina")
    with pytest.raises(NotFound):
        callgov.migrate_instances("nothing", [at_authorise], user="gina")
    assert callgov.instance(at_authorise).definition_version == 1


def test_the_overview_groups_running_cases_by_version(callgov: Callgov, at_authorise: str) -> None:
    _publish(callgov, NEW_FORM)
    newer = callgov.start("review", user="sam").case_ref
    overview = callgov.migration_overview("review", user="gina")
    assert overview.published_version == 2
    assert [(g.version, g.published, [c.case_ref for c in g.cases]) for g in overview.groups] == [
        (2, True, [newer]), (1, False, [at_authorise])]
    assert overview.groups[1].cases[0].current_step == "Authorise the request"


def test_a_claim_survives_when_the_task_and_its_candidates_do(callgov: Callgov, at_authorise: str) -> None:
    task = callgov.instance(at_authorise).ready_tasks[0]
    callgov.claim(task.id, user="dana")
    _publish(callgov, REVIEW.replace('label="Why they need it"', 'label="Reason given"'))
    callgov.migrate_instances("review", [at_authorise], user="gina")
    assert [t.claimed_by for t in callgov.instance(at_authorise).ready_tasks] == ["dana"]


def test_waiting_timers_keep_their_due_time(callgov: Callgov, people: None, clock: FakeClock) -> None:
    callgov.deploy(TIMERS.encode(), filename="timers.bpmn", actor="tester", publish=True)
    case = callgov.start("timers", user="sam").case_ref
    clock.advance(timedelta(hours=3))
    callgov.deploy(TIMERS.replace('name="Escalated"', 'name="Escalated to the DPO"').encode(),
                   filename="timers.bpmn", actor="tester", publish=True)

    def due() -> list[object]:
        with callgov.db.reading() as s:
            return list(s.scalars(select(Timer.due_at).join(
                ProcessInstance, ProcessInstance.id == Timer.instance_id).where(ProcessInstance.case_ref == case)))

    before = due()
    report = callgov.migrate_instances("timers", [case], user="gina")
    assert report.movable, report.refused
    assert due() == before and len(before) == 1
    clock.advance(timedelta(days=5))
    callgov.fire_due_timers()
    view = callgov.instance(case)
    assert [t.title for t in view.ready_tasks] == ["Escalated to the DPO"]


def test_a_case_that_passed_a_removed_step_is_refused(callgov: Callgov, at_authorise: str) -> None:
    without_describe = re.sub(r'<bpmn:userTask id="describe".*?</bpmn:userTask>', "", REVIEW, flags=re.S).replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="describe" targetRef="authorise"/>', "").replace(
        'targetRef="describe"', 'targetRef="authorise"')
    without_describe = re.sub(r'<bpmndi:BPMNShape id="describe_di".*?</bpmndi:BPMNShape>|'
                              r'<bpmndi:BPMNEdge id="f2_di".*?</bpmndi:BPMNEdge>', "", without_describe)
    _publish(callgov, without_describe)
    before = _state(callgov, at_authorise)
    (outcome,) = callgov.migrate_instances("review", [at_authorise], user="gina").outcomes
    assert not outcome.movable
    assert outcome.reasons == ("the case has passed 'Describe the call', which version 2 no longer has",)
    assert _state(callgov, at_authorise) == before


FEATURES = (BPMN_DIR / "features.bpmn").read_text()


@pytest.fixture
def at_confirmation(callgov: Callgov, people: None, operations) -> str:
    """features.bpmn version 1 published; a case past its subprocess, waiting inside its call activity
    for sam's "Confirm it is done"."""
    operations.register("test.lookup", lambda ctx: {"found": [ctx.data["wanted"]]}, description="Find (test)")
    callgov.deploy(FEATURES.encode(), filename="features.bpmn", actor="tester", publish=True)
    case = callgov.start("features", user="sam")
    view = callgov.complete_task(case.ready_tasks[0].id, user="sam", data={"wanted": "rec-1"})
    for task in view.ready_tasks:
        view = callgov.complete_task(task.id, user="dana" if task.title == "Review A" else "hal", data={})
    assert [t.title for t in view.ready_tasks] == ["Confirm it is done"]
    return case.case_ref


def test_a_case_inside_a_call_activity_moves_and_finishes(callgov: Callgov, at_confirmation: str) -> None:
    renamed = FEATURES.replace('name="Confirm it is done"', 'name="Confirm the recording was handled"')
    assert callgov.deploy(renamed.encode(), filename="features.bpmn", actor="tester",
                          publish=True).definition.version == 2
    report = callgov.migrate_instances("features", [at_confirmation], user="gina")
    assert report.moved and [o.to_version for o in report.movable] == [2]
    (task,) = callgov.instance(at_confirmation).ready_tasks
    assert task.title == "Confirm the recording was handled" and task.assignee == "sam"
    view = callgov.complete_task(task.id, user="sam", data={})
    assert view.status == "completed" and view.data["wrapped"] is True


def test_a_case_waiting_at_a_step_whose_id_changed_stays(callgov: Callgov, at_confirmation: str) -> None:
    """SpiffWorkflow's diff aligns a renamed step with what stands in its place; the case must not
    silently wait at another step."""
    gone = FEATURES.replace('id="c_confirm" name="Confirm it is done"', 'id="c_check" name="Check it"').replace(
        'Ref="c_confirm"', 'Ref="c_check"').replace('bpmnElement="c_confirm"', 'bpmnElement="c_check"')
    callgov.deploy(gone.encode(), filename="features.bpmn", actor="tester", publish=True)
    before = _state(callgov, at_confirmation)
    report = callgov.migrate_instances("features", [at_confirmation], user="gina")
    assert not report.movable and report.outcomes[0].reasons == (
        "task 'Confirm it is done' no longer exists in version 2 ('Check it' stands in its place)",)
    assert _state(callgov, at_confirmation) == before
    assert [t.title for t in callgov.instance(at_confirmation).ready_tasks] == ["Confirm it is done"]


EMBEDDED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://callgov.test">
  <bpmn:process id="embedded" name="Embedded" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub"/>
    <bpmn:subProcess id="sub" name="Check together">
      <bpmn:startEvent id="sub_start"/>
      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="inner"/>
      <bpmn:userTask id="inner" name="Check the call" camunda:candidateGroups="dpo">
        <bpmn:extensionElements><camunda:formData>
          <camunda:formField id="ok" label="Is it fine" type="boolean"/>
        </camunda:formData></bpmn:extensionElements>
      </bpmn:userTask>
      <bpmn:sequenceFlow id="s2" sourceRef="inner" targetRef="sub_end"/>
      <bpmn:endEvent id="sub_end"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_case_inside_an_embedded_subprocess_moves_or_stays(callgov: Callgov, people: None) -> None:
    callgov.deploy(EMBEDDED.encode(), filename="embedded.bpmn", actor="tester", publish=True)
    movable = callgov.start("embedded", user="sam").case_ref
    stuck = callgov.start("embedded", user="sam").case_ref
    relabelled = EMBEDDED.replace('label="Is it fine"', 'label="Is the call fine"').replace(
        'candidateGroups="dpo"', 'candidateGroups="dpo, cs_team_leader"')
    callgov.deploy(relabelled.encode(), filename="embedded.bpmn", actor="tester", publish=True)
    report = callgov.migrate_instances("embedded", [movable], user="gina")
    assert [o.case_ref for o in report.movable] == [movable]
    (task,) = callgov.instance(movable).ready_tasks
    assert set(task.candidate_roles) == {"dpo", "cs_team_leader"}, "the new version's roles"
    view = callgov.complete_task(task.id, user="lee", data={"ok": "true"})
    assert view.status == "completed" and view.definition_version == 2

    replaced = EMBEDDED.replace('id="inner" name="Check the call"', 'id="inner2" name="Check the call"').replace(
        'Ref="inner"', 'Ref="inner2"')
    callgov.deploy(replaced.encode(), filename="embedded.bpmn", actor="tester", publish=True)
    before = _state(callgov, stuck)
    report = callgov.migrate_instances("embedded", [stuck], user="gina")
    assert not report.movable and "'Check the call' no longer exists in version 3" in report.outcomes[0].reasons[0]
    assert _state(callgov, stuck) == before
