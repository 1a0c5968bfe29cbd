"""Every start and path of breach_investigation.bpmn, on SQLite and PostgreSQL, with the 48/72-hour
timers on a fake clock, and the segregation the policy needs (issue 7)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.clock import FakeClock
from engine.errors import PermissionDenied
from engine.facade import Callgov
from engine.models.breaches import BreachRecord, BreachTrigger
from tests.engine.test_runtime import assert_roundtrip
from tests.workflows.conftest import Services
from tests.workflows.helpers import actions, mails_to, ready

BREACH_BPMN = Path(__file__).resolve().parents[2] / "workflows" / "bpmn" / "breach_investigation.bpmn"


@pytest.fixture
def breach(callgov: Callgov, people: None) -> Callgov:
    """The facade with the breach process deployed, and the people a breach case involves:
    ``mo`` (staff, also a DPO deputy and an investigator) may be investigated; ``rhys`` (an investigator)
    reports to him; ``ivy`` is an independent investigator."""
    callgov.deploy(BREACH_BPMN.read_bytes(), filename=BREACH_BPMN.name, actor="tester", publish=True)
    callgov.add_user("mo", roles=("staff", "dpo", "investigator"), password=None, email="mo@example.org",
                     display_name="Mo")
    callgov.add_user("rhys", roles=("staff", "investigator"), password=None, email="rhys@example.org",
                     display_name="Rhys", manager="mo")
    callgov.add_user("ivy", roles=("investigator",), password=None, email="ivy@example.org", display_name="Ivy")
    return callgov


def do(callgov: Callgov, ref: str, element: str, user: str, **data: Any) -> Any:
    """Complete the ready ``element`` task of ``ref`` as ``user``."""
    return callgov.complete_task(ready(callgov, ref, element).id, user=user, data=data)


def triage(callgov: Callgov, ref: str, classification: str, *, aware: Any, serious: bool = False,
           subject: str = "", reason: str = "") -> Any:
    return do(callgov, ref, "triage", "dana", classification=classification, aware_at=aware.isoformat(),
              serious="yes" if serious else "no", subject_username=subject, triage_reason=reason)


def contain(callgov: Callgov, ref: str) -> Any:
    return do(callgov, ref, "contain", "dana", containment_measures="Access revoked and the link disabled")


def assess(callgov: Callgov, ref: str, *, risk: str = "medium", report: bool = True, reason: str = "") -> Any:
    return do(callgov, ref, "assess", "dana", people_categories="Tenants", people_affected="12",
              record_categories="Call recordings", records_affected="14", consequences="Distress, fraud risk",
              risk_level=risk, report_to_ico="tell_ico" if report else "do_not_tell_ico", not_reported_reason=reason)


def outcome(callgov: Callgov, ref: str, *, referral: bool = False, reference: str = "") -> Any:
    return do(callgov, ref, "outcome", "dana", disciplinary_referral="yes" if referral else "no",
              disciplinary_reference=reference, recommendations="Tighten access reviews",
              lessons_learned="Audit playback weekly")


def register_row(callgov: Callgov, ref: str) -> BreachRecord:
    with callgov.db.reading() as s:
        row = s.scalars(select(BreachRecord).where(BreachRecord.case_ref == ref)).one()
        s.expunge(row)
        return row


def report(callgov: Callgov, user: str = "sam", **kw: Any) -> str:
    return callgov.report_breach(user=user, what_happened="A colleague played a tenant's call to friends",
                                 discovered_at=callgov.clock.now() - timedelta(hours=2),
                                 how_known="I overheard it", **kw)


# -- starts -------------------------------------------------------------------------------------------


def test_person_reports_and_the_case_is_closed_at_triage(breach: Callgov, clock: FakeClock) -> None:
    ref = report(breach)
    assert ref.startswith("BRE-2026-")
    view = breach.instance(ref)
    assert [t.element_id for t in view.ready_tasks] == ["triage"]
    assert view.started_by == "sam" and view.data["reporter"] == "sam"
    assert_roundtrip(breach, ref)
    view = triage(breach, ref, "neither", aware=clock.now())
    assert [t.element_id for t in view.ready_tasks] == ["triage"], "closing as neither needs its reason"
    assert view.data["triage_problem"]
    view = triage(breach, ref, "neither", aware=clock.now(), reason="A training call, played with consent")
    assert view.status == "completed" and "end_closed_at_triage" in view.completed_elements
    row = register_row(breach, ref)
    assert (row.status, row.classification, row.closed_reason) == (
        "closed", "neither", "A training call, played with consent")
    assert "breach.closed" in actions(breach, ref)


def test_system_trigger_opens_a_case_and_repeats_join_it(breach: Callgov, clock: FakeClock) -> None:
    first = breach.raise_breach_trigger("refused_playback", actor="system:web", subject_username="bob",
                                        recording_id=None, description="Playback refused: no authorising case")
    assert not first.joined
    view = breach.instance(first.case_ref)
    assert view.started_by == "system:web" and view.data["reporter"] == "system"
    assert [t.element_id for t in view.ready_tasks] == ["triage"]
    clock.advance(timedelta(days=2))
    again = breach.raise_breach_trigger("link_misuse", actor="system:web", subject_username="bob")
    assert again.joined and again.case_ref == first.case_ref
    clock.advance(timedelta(days=8))
    later = breach.raise_breach_trigger("refused_playback", actor="system:web", subject_username="bob")
    assert not later.joined and later.case_ref != first.case_ref, "outside the window a new case opens"
    with breach.db.reading() as s:
        kinds = s.execute(select(BreachTrigger.kind, BreachTrigger.joined).where(
            BreachTrigger.case_ref == first.case_ref).order_by(BreachTrigger.id)).all()
    assert [tuple(k) for k in kinds] == [("refused_playback", False), ("link_misuse", True)]
    assert "breach.trigger_joined" in actions(breach, first.case_ref)


def test_a_trigger_joins_a_reported_case_once_triage_names_the_person(breach: Callgov, clock: FakeClock) -> None:
    ref = report(breach)
    triage(breach, ref, "policy", aware=clock.now(), subject="bob")
    joined = breach.raise_breach_trigger("refused_playback", actor="system:web", subject_username="bob")
    assert joined.joined and joined.case_ref == ref


def test_pci_flag_on_a_recording_joins_by_recording(breach: Callgov, clock: FakeClock) -> None:
    with breach.db.reading() as s:
        from engine.models.recording import Recording
        rid = s.scalars(select(Recording.id).order_by(Recording.id)).first()
    assert rid is not None
    first = breach.raise_breach_trigger("pci_flag", actor="tess", recording_id=rid, description="Card number read out")
    assert breach.instance(first.case_ref).data["recording_ids"] == [rid]
    second = breach.raise_breach_trigger("pci_flag", actor="bob", recording_id=rid)
    assert second.joined and second.case_ref == first.case_ref
    triage(breach, first.case_ref, "policy", aware=clock.now())
    contain(breach, first.case_ref)
    assert breach.recording_holds(rid) == [first.case_ref], "the recording is held while the case is open"


# -- paths ----------------------------------------------------------------------------------------------


def test_reported_in_time_with_warning_at_48_hours(breach: Callgov, clock: FakeClock, services: Services) -> None:
    ref = report(breach)
    aware = clock.now()
    triage(breach, ref, "personal_data", aware=aware)
    contain(breach, ref)
    view = assess(breach, ref)
    assert [t.element_id for t in view.ready_tasks] == ["notify_ico"]
    task = ready(breach, ref, "notify_ico")
    assert task.due_at == aware + timedelta(hours=72)
    draft = view.data["ico_draft"]
    for label in ("Nature of the breach", "Approximate number of people", "Categories of personal data records",
                  "Data Protection Officer (contact)", "Likely consequences", "Measures taken or proposed"):
        assert label in draft
    assert "dana@example.org" in draft and "(not given)" not in draft
    assert_roundtrip(breach, ref)
    clock.advance(timedelta(hours=47))
    breach.fire_due_timers()
    assert "breach.ico_warning" not in actions(breach, ref)
    clock.advance(timedelta(hours=1, minutes=1))
    breach.fire_due_timers()
    assert "breach.ico_warning" in actions(breach, ref)
    assert any("24 hours left" in m.subject for m in mails_to(services, "dana@example.org"))
    view = do(breach, ref, "notify_ico", "dana", ico_reference="ICO/123", ico_reported_at=clock.now().isoformat())
    assert [t.element_id for t in view.ready_tasks] == ["outcome"], "medium risk, no misuse: straight to outcome"
    outcome(breach, ref)
    row = register_row(breach, ref)
    assert (row.ico_reference, row.ico_late, row.late_reason, row.status) == ("ICO/123", False, None, "closed")
    assert "breach.ico_overdue" not in actions(breach, ref)


def test_reported_late_needs_the_reason(breach: Callgov, clock: FakeClock) -> None:
    ref = report(breach)
    triage(breach, ref, "personal_data", aware=clock.now())
    contain(breach, ref)
    assess(breach, ref)
    clock.advance(timedelta(hours=72, minutes=5))
    breach.fire_due_timers()
    assert {"breach.ico_warning", "breach.ico_overdue"} <= set(actions(breach, ref))
    view = do(breach, ref, "notify_ico", "dana", ico_reference="ICO/9", ico_reported_at=clock.now().isoformat())
    assert [t.element_id for t in view.ready_tasks] == ["notify_ico"] and "reason" in view.data["ico_problem"]
    view = do(breach, ref, "notify_ico", "dana", ico_reference="ICO/9", ico_reported_at=clock.now().isoformat(),
              late_reason="The extent was only known after the provider's logs arrived")
    assert [t.element_id for t in view.ready_tasks] == ["outcome"]
    row = register_row(breach, ref)
    assert row.ico_late and row.late_reason and row.ico_reference == "ICO/9"


def test_not_reported_is_recorded_with_its_reason(breach: Callgov, clock: FakeClock) -> None:
    ref = report(breach)
    triage(breach, ref, "personal_data", aware=clock.now())
    contain(breach, ref)
    view = assess(breach, ref, risk="low", report=False)
    assert [t.element_id for t in view.ready_tasks] == ["assess"], "not reporting needs a reason"
    view = assess(breach, ref, risk="low", report=False, reason="Recording recalled unheard; no risk")
    assert [t.element_id for t in view.ready_tasks] == ["outcome"]
    outcome(breach, ref)
    row = register_row(breach, ref)
    assert (row.reportable, row.not_reported_reason, row.ico_reference) == (
        False, "Recording recalled unheard; no risk", None)
    clock.advance(timedelta(hours=80))
    assert breach.fire_due_timers() == [] or "breach.ico_overdue" not in actions(breach, ref)


def test_high_risk_people_are_told(breach: Callgov, clock: FakeClock) -> None:
    ref = report(breach)
    triage(breach, ref, "personal_data", aware=clock.now())
    contain(breach, ref)
    assess(breach, ref, risk="high")
    view = do(breach, ref, "notify_ico", "dana", ico_reference="ICO/7", ico_reported_at=clock.now().isoformat())
    assert [t.element_id for t in view.ready_tasks] == ["tell_people"]
    view = do(breach, ref, "tell_people", "dana", people_told_how="Letter to each tenant",
              people_told_at=clock.now().isoformat())
    assert [t.element_id for t in view.ready_tasks] == ["outcome"]
    row = register_row(breach, ref)
    assert row.people_told_how == "Letter to each tenant" and row.people_told_at == clock.now()


def test_serious_breach_gets_an_independent_investigator(breach: Callgov, clock: FakeClock) -> None:
    ref = report(breach, subject_username="mo")
    view = triage(breach, ref, "both", aware=clock.now(), serious=True, subject="mo")
    assert sorted(view.data["investigation_excluded"]) == ["mo", "rhys"]
    contain(breach, ref)
    assess(breach, ref, risk="medium", report=False, reason="Contained at once")
    for refused, why in (("rhys", "independent"), ("mo", "independent"), ("sam", "investigator role"),
                         ("bob", "investigator role")):
        view = do(breach, ref, "assign_investigator", "dana", investigator=refused)
        assert [t.element_id for t in view.ready_tasks] == ["assign_investigator"], refused
        assert why in view.data["investigator_problem"], refused
    view = do(breach, ref, "assign_investigator", "dana", investigator="ivy")
    [task] = view.ready_tasks
    assert (task.element_id, task.assignee) == ("investigate", "ivy")
    with pytest.raises(PermissionDenied):
        breach.complete_task(task.id, user="rhys", data={"findings": "x", "investigation_recommendations": "y"})
    assert_roundtrip(breach, ref)
    do(breach, ref, "investigate", "ivy", findings="Played a call to friends", investigation_recommendations="Retrain")
    view = outcome(breach, ref, referral=True, reference="HR-2026-04")
    assert view.status == "completed" and "end_closed" in view.completed_elements
    row = register_row(breach, ref)
    assert (row.investigator, row.disciplinary_referral, row.disciplinary_reference, row.serious) == (
        "ivy", True, "HR-2026-04", True)


# -- segregation ---------------------------------------------------------------------------------------


def test_the_investigated_user_cannot_see_or_act_on_their_case(breach: Callgov) -> None:
    ref = breach.raise_breach_trigger("refused_playback", actor="system:web", subject_username="mo").case_ref
    assert not breach.may_view_case(ref, "mo"), "mo holds the DPO role but is the subject"
    assert not breach.may_view_case(ref, "rhys") and breach.may_view_case(ref, "dana")
    assert all(t.case_ref != ref for t in breach.tasks_for("mo"))
    with pytest.raises(PermissionDenied):
        breach.complete_task(ready(breach, ref, "triage").id, user="mo",
                             data={"classification": "neither", "aware_at": breach.clock.now().isoformat(),
                                   "triage_reason": "Nothing to see"})
    with pytest.raises(PermissionDenied):
        breach.breach_reporter(ref, user="mo")


def test_anonymous_reporter_is_known_to_the_dpo_alone(breach: Callgov, clock: FakeClock) -> None:
    ref = report(breach, user="bob", anonymous=True, subject_username="mo")
    view = breach.instance(ref)
    assert view.started_by == "system:anonymous-report" and view.data["reporter"] == "anonymous"
    assert "bob" not in str(view.to_dict())
    assert "bob" not in str([(e.actor, e.detail) for e in _events(breach, ref)])
    assert not breach.may_view_case(ref, "bob")
    assert breach.breach_reporter(ref, user="dana") == "bob"
    for user in ("tess", "alex", "bob", "sam"):
        with pytest.raises(PermissionDenied):
            breach.breach_reporter(ref, user=user)
    triage(breach, ref, "policy", aware=clock.now(), subject="mo")
    contain(breach, ref)
    view = do(breach, ref, "assign_investigator", "dana", investigator="ivy")
    assert view.data["investigator_problem"] is None and ready(breach, ref, "investigate").assignee == "ivy"


def test_an_anonymous_reporter_cannot_investigate_and_is_not_named(breach: Callgov, clock: FakeClock) -> None:
    ref = report(breach, user="ivy", anonymous=True)
    triage(breach, ref, "policy", aware=clock.now(), subject="bob")
    contain(breach, ref)
    view = do(breach, ref, "assign_investigator", "dana", investigator="ivy")
    problem = view.data["investigator_problem"]
    assert "independent" in problem and "reported" in problem, "the same words as for any conflict"
    assert "anonymous" not in problem
    assert "ivy" not in str([e.detail for e in _events(breach, ref)])


def _events(callgov: Callgov, ref: str) -> list[Any]:
    from engine import audit

    with callgov.db.reading() as s:
        return list(audit.events_for(s, case_ref=ref, limit=1000))


def test_the_register_is_the_dpos_with_csv(breach: Callgov, clock: FakeClock) -> None:
    closed = report(breach)
    triage(breach, closed, "neither", aware=clock.now(), reason="Not a breach")
    opened = breach.raise_breach_trigger("link_misuse", actor="system:web", subject_username="bob").case_ref
    entries = breach.breach_register(user="dana")
    assert [e.case_ref for e in entries] == sorted([closed, opened], reverse=True) or {
        e.case_ref for e in entries} == {closed, opened}
    assert {e.case_ref: e.status for e in entries} == {closed: "closed", opened: "open"}
    assert [e.case_ref for e in breach.breach_register(user="dana", status="open")] == [opened]
    rows = list(csv.DictReader(io.StringIO(breach.breach_register_csv(user="dana"))))
    assert {r["case_ref"]: r["classification"] for r in rows} == {closed: "neither", opened: ""}
    for user in ("tess", "sam", "ivy"):
        with pytest.raises(PermissionDenied):
            breach.breach_register(user=user)


def test_triage_is_reminded_then_escalated(breach: Callgov, clock: FakeClock, services: Services) -> None:
    ref = report(breach)
    task = ready(breach, ref, "triage")
    assert task.due_at is not None and task.due_at <= clock.now() + timedelta(days=1)
    clock.advance(timedelta(days=1, hours=1))
    breach.fire_due_timers()
    assert any("awaits triage" in m.subject for m in mails_to(services, "dana@example.org"))
    assert "breach.triage_escalated" not in actions(breach, ref)
    clock.advance(timedelta(days=1))
    breach.fire_due_timers()
    assert "breach.triage_escalated" in actions(breach, ref)
    assert any("ESCALATION" in m.subject for m in mails_to(services, "alex@example.org"))
    assert [t.element_id for t in breach.instance(ref).ready_tasks] == ["triage"], "the triage stays open"


def test_a_refused_playback_raises_a_case_for_the_dpo_and_repeats_join_it(breach: Callgov) -> None:
    first = breach.report_refused_playback("bob", 42)
    assert first is not None and not first.joined
    assert breach.report_refused_playback("bob", 43).case_ref == first.case_ref, "same person, same case"
    assert [t.element_id for t in breach.tasks_for("dana")] == ["triage"]


def test_a_refused_playback_without_the_breach_process_is_only_audited(callgov: Callgov) -> None:
    assert callgov.report_refused_playback("bob", 42) is None
