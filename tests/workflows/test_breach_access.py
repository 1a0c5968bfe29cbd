"""Who may see and act on a breach case, beyond its open tasks, and the investigator's evidence (issue 7),
on SQLite and PostgreSQL: the subject is barred for good, the assigned investigator's look at the
evidence is audited under the case, and an anonymous reporter stays unnamed in mails and inboxes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from connectors.telephony.simulator import SimCall
from engine import audit
from engine.clock import FakeClock
from engine.errors import PermissionDenied
from engine.facade import Callgov
from tests.workflows.conftest import Services
from tests.workflows.helpers import actions, ready
from tests.workflows.test_breach import breach, contain, do, outcome, report, triage

__all__ = ["breach"]  # the fixture, used by name


def _recording(callgov: Callgov, call: SimCall) -> int:
    from sqlalchemy import select

    from engine.models import Recording

    with callgov.db.reading() as s:
        return s.scalars(select(Recording.id).where(Recording.provider_recording_id == call.recording_id)).one()


def _events(callgov: Callgov, ref: str) -> list[Any]:
    with callgov.db.reading() as s:
        return list(audit.events_for(s, case_ref=ref, limit=1000))


def test_a_closed_cases_subject_with_a_viewer_role_stays_out(breach: Callgov, clock: FakeClock) -> None:
    ref = breach.raise_breach_trigger("refused_playback", actor="system:web", subject_username="alex").case_ref
    triage(breach, ref, "neither", aware=clock.now(), reason="She had an open review; the grant was slow")
    assert breach.instance(ref).status == "completed"
    assert not breach.may_view_case(ref, "alex"), "alex is the Assistant Director (a case viewer) and the subject"
    with pytest.raises(PermissionDenied):
        breach.case_for(ref, user="alex")
    with pytest.raises(PermissionDenied):
        breach.case_diagram(ref, user="alex")
    assert breach.may_view_case(ref, "dana"), "another viewer still sees it"


def test_a_dpo_under_investigation_sees_none_of_their_cases(breach: Callgov, clock: FakeClock) -> None:
    ref = breach.raise_breach_trigger("refused_playback", actor="system:web", subject_username="mo").case_ref
    other = report(breach, user="sam")
    triage(breach, ref, "neither", aware=clock.now(), reason="Explained")
    assert [e.case_ref for e in breach.breach_register(user="mo")] == [other]
    assert ref in {e.case_ref for e in breach.breach_register(user="dana")}
    assert ref not in breach.breach_register_csv(user="mo")
    with pytest.raises(PermissionDenied):
        breach.breach_reporter(ref, user="mo")
    assert not breach.may_view_case(ref, "mo")


def test_a_person_named_by_a_joined_trigger_is_barred_from_the_case(breach: Callgov) -> None:
    first = breach.raise_breach_trigger("pci_flag", actor="system:web", recording_id=7)
    joined = breach.raise_breach_trigger("refused_playback", actor="system:web", subject_username="mo",
                                         recording_id=7)
    assert joined.joined and joined.case_ref == first.case_ref
    task = ready(breach, first.case_ref, "triage")
    assert "mo" not in task.excluded_users, "the task was made before mo was named"
    assert not breach.may_view_case(first.case_ref, "mo")
    assert all(t.case_ref != first.case_ref for t in breach.tasks_for("mo"))
    assert all(i.case_ref != first.case_ref for i in breach.inbox(user="mo").items)
    for act in (lambda: breach.task(task.id, user="mo"), lambda: breach.claim(task.id, user="mo"),
                lambda: breach.complete_task(task.id, user="mo", data={
                    "classification": "neither", "aware_at": breach.clock.now().isoformat(), "triage_reason": "x"})):
        with pytest.raises(PermissionDenied):
            act()
    assert [t.case_ref for t in breach.tasks_for("dana")] == [first.case_ref]


def _investigated(breach: Callgov, clock: FakeClock, recording_id: int) -> str:
    ref = report(breach, user="sam", subject_username="bob", recordings_concerned=str(recording_id))
    triage(breach, ref, "policy", aware=clock.now(), subject="bob")
    contain(breach, ref)
    do(breach, ref, "assign_investigator", "dana", investigator="ivy")
    return ref


def test_the_investigator_examines_the_evidence_and_each_look_is_audited(
        breach: Callgov, clock: FakeClock, recent_call: SimCall) -> None:
    recording = _recording(breach, recent_call)
    breach.sign_in("bob", "wrong", address="10.0.0.9")  # something of bob's in the audit trail
    ref = _investigated(breach, clock, recording)
    evidence = breach.breach_evidence(ref, user="ivy")
    assert evidence.subjects == ("bob",) and [r.recording_id for r in evidence.recordings] == [recording]
    trail = breach.breach_person_trail(ref, "bob", user="ivy")
    assert trail.username == "bob" and "user.login_failed" in [e.action for e in trail.events]
    decision = breach.may_listen("ivy", recording)
    assert (decision.allowed, decision.case_ref, decision.basis) == (True, ref, "investigator")
    assert not breach.may_listen("ivy", recording + 1).allowed, "only the recordings the case concerns"
    case_actions = actions(breach, ref)
    for expected in ("breach.evidence_opened", "breach.evidence_trail_viewed", "recording.access_allowed"):
        assert expected in case_actions
    viewed = [e for e in _events(breach, ref) if e.action == "breach.evidence_trail_viewed"]
    assert (viewed[0].actor, viewed[0].detail["username"]) == ("ivy", "bob")


def test_evidence_is_refused_to_anyone_else_and_after_the_case_closes(
        breach: Callgov, clock: FakeClock, recent_call: SimCall) -> None:
    recording = _recording(breach, recent_call)
    ref = _investigated(breach, clock, recording)
    for user in ("dana", "mo", "rhys", "bob", "sam", "tess"):
        with pytest.raises(PermissionDenied):
            breach.breach_evidence(ref, user=user)
        with pytest.raises(PermissionDenied):
            breach.breach_person_trail(ref, "bob", user=user)
        assert not breach.may_listen(user, recording).allowed
    with pytest.raises(PermissionDenied):
        breach.breach_person_trail(ref, "sam", user="ivy")  # not a person the case concerns
    refused = [e for e in _events(breach, ref) if e.action == "breach.evidence_refused"]
    assert {e.actor for e in refused} == {"dana", "mo", "rhys", "bob", "sam", "tess", "ivy"}
    do(breach, ref, "investigate", "ivy", findings="Played it to friends", investigation_recommendations="Retrain")
    outcome(breach, ref)
    with pytest.raises(PermissionDenied):
        breach.breach_evidence(ref, user="ivy")
    assert not breach.may_listen("ivy", recording).allowed


def test_a_listener_flags_card_details_and_others_cannot(breach: Callgov, clock: FakeClock,
                                                         recent_call: SimCall) -> None:
    recording = _recording(breach, recent_call)
    ref = _investigated(breach, clock, recording)
    with pytest.raises(PermissionDenied):
        breach.flag_card_details(recording, user="sam", note="at 01:10")
    result = breach.flag_card_details(recording, user="ivy", note="Card number read out at 01:10")
    assert result.joined and result.case_ref == ref, "a trigger about the same recording joins the open case"
    joined = [e for e in _events(breach, ref) if e.action == "breach.trigger_joined"]
    assert (joined[0].actor, joined[0].detail["kind"]) == ("ivy", "pci_flag")


def test_an_anonymous_report_names_nobody_in_mails_or_inboxes(breach: Callgov, clock: FakeClock,
                                                              services: Services) -> None:
    ref = report(breach, user="bob", anonymous=True)
    clock.advance(timedelta(days=3))
    breach.fire_due_timers()
    assert any(ref in e.message.subject for e in services.mailer.recent()), "the DPO was reminded"
    for entry in services.mailer.recent():
        assert "bob" not in entry.message.text.lower() and "bob" not in entry.message.subject.lower()
    [item] = [i for i in breach.inbox(user="dana").items if i.case_ref == ref]
    assert (item.case_started_by, item.started_by_name) == ("system:anonymous-report", "system:anonymous-report")
    assert "bob" not in str(breach.case_for(ref, user="dana"))


def test_a_self_report_naming_the_reporter_leaves_their_sight(breach: Callgov) -> None:
    ref = report(breach, user="bob", subject_username="bob")
    assert ref not in {c.case_ref for c in breach.requests_of(user="bob")}
    assert not breach.may_view_case(ref, "bob")


def test_team_leaders_do_not_see_breach_cases_but_the_dpo_and_director_do(breach: Callgov, clock: FakeClock) -> None:
    ref = report(breach, user="sam")
    assert not breach.may_view_case(ref, "tess"), "a team leader sees release cases, not breach cases"
    with pytest.raises(PermissionDenied):
        breach.case_for(ref, user="tess")
    assert breach.may_view_case(ref, "dana") and breach.may_view_case(ref, "alex")
    assert breach.may_view_case(ref, "sam"), "the named reporter follows their report"
    triage(breach, ref, "neither", aware=clock.now(), reason="Not a breach")
    assert breach.may_view_case(ref, "dana") and not breach.may_view_case(ref, "tess")
