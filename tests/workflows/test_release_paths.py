"""Every path through recording_release.bpmn, on SQLite and PostgreSQL, saving and restoring mid-run."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.telephony.simulator import SimCall
from engine.clock import FakeClock
from engine.errors import Conflict, PermissionDenied
from engine.facade import Callgov
from engine.models.recording import Recording
from engine.models.releases import DisclosureRecord, ListeningGrant
from tests.engine.test_runtime import assert_roundtrip
from tests.workflows.conftest import Services
from tests.workflows.helpers import POLICE, actions, decide, mails_to, ready, request_form, submit

pytestmark = pytest.mark.usefixtures("people")


def test_internal_review_approved_gives_time_limited_listening(callgov: Callgov, recent_call: SimCall,
                                                               services: Services, clock: FakeClock) -> None:
    view = submit(callgov, "sam", request_form(recent_call))
    ref = view.case_ref
    assert ref.startswith("REL-2026-")
    assert [t.element_id for t in view.ready_tasks] == ["authorise"]
    assert view.data["recording_ids"] and view.data["request_problem"] is None
    assert view.data["preserved_ids"] == [], "a recording weeks from expiry is not copied"
    assert_roundtrip(callgov, ref)

    clock.advance(timedelta(hours=3))
    view = decide(callgov, ref, "tess", "approve")
    assert view.status == "running", "the case stays open while the requester may listen"
    assert view.data["authoriser"] == "tess" and view.data["authorised_at"] == clock.now()
    assert view.data["access_expires_at"] == clock.now() + timedelta(days=14)
    assert_roundtrip(callgov, ref)
    recording_id = view.data["recording_ids"][0]
    assert callgov.may_listen("sam", recording_id).basis == "grant"
    with callgov.db.reading() as s:
        [row] = s.scalars(select(DisclosureRecord)).all()
        assert (row.kind, row.disclosed_at, row.authoriser, row.requested_by) == (
            "listening", clock.now(), "tess", "sam")
    assert "You may now listen" in mails_to(services, "sam@example.org")[-1].subject

    clock.advance(timedelta(days=14, minutes=1))
    callgov.fire_due_timers()
    view = callgov.instance(ref)
    assert view.status == "completed" and "end_access_ended" in view.completed_elements
    assert not callgov.may_listen("sam", recording_id).allowed
    assert actions(callgov, ref)[:4] == ["instance.started", "release.request_accepted",
                                         "release.recordings_located", "task.completed"]
    assert {"release.authorised", "release.listening_granted", "disclosure.recorded",
            "recording.access_allowed"} <= set(actions(callgov, ref))


def test_police_request_approved_builds_a_disclosure_package(callgov: Callgov, recent_call: SimCall,
                                                             services: Services) -> None:
    ref = submit(callgov, "sam", request_form(recent_call, **POLICE)).case_ref
    assert_roundtrip(callgov, ref)
    view = decide(callgov, ref, "alex", "approve", "Specific request from an inspector, with a crime reference")
    assert view.status == "completed" and "end_released" in view.completed_elements
    names = [f["name"] for f in view.data["package_files"]]
    assert names == [f"{ref}-recording-{view.data['recording_ids'][0]}.wav", f"{ref}-release-form.pdf"]
    assert view.data["link_sent_to"] == "gwen.parry@police.example"
    assert "token" not in str(view.data).lower()
    [letter] = mails_to(services, "gwen.parry@police.example")
    assert "https://callgov.example/disclosure/" in letter.text and "remain the property" in letter.text
    assert "released" in mails_to(services, "sam@example.org")[-1].subject
    with callgov.db.reading() as s:
        [row] = s.scalars(select(DisclosureRecord)).all()
        assert (row.kind, row.recipient_organisation, row.lawful_basis) == ("package", "North Wales Police",
                                                                           "dpa_crime")
        assert row.disclosed_at is None, "the date of disclosure is the first download"
        recording = s.get(Recording, view.data["recording_ids"][0])
        assert recording is not None and row.recordings[0]["sha256"] == recording.retained_sha256
    assert {"release.authorised", "recording.retained", "disclosure.package_built", "disclosure.recorded",
            "mail.sent"} <= set(actions(callgov, ref))


def test_refusal_ends_the_case_and_tells_the_requester_why(callgov: Callgov, recent_call: SimCall,
                                                            services: Services) -> None:
    ref = submit(callgov, "sam", request_form(recent_call)).case_ref
    view = decide(callgov, ref, "dana", "refuse", "Training can use the anonymised examples instead")
    assert view.status == "completed" and "end_refused" in view.completed_elements
    assert "authoriser" not in view.data
    letter = mails_to(services, "sam@example.org")[-1]
    assert "refused" in letter.subject and "anonymised examples" in letter.text
    assert "release.refused" in actions(callgov, ref)
    with callgov.db.reading() as s:
        assert s.scalars(select(ListeningGrant)).all() == [] and s.scalars(select(DisclosureRecord)).all() == []


def test_more_information_goes_to_the_requester_and_back_to_the_same_queue(callgov: Callgov, recent_call: SimCall
                                                                           ) -> None:
    ref = submit(callgov, "sam", request_form(recent_call)).case_ref
    view = decide(callgov, ref, "tess", "more_info", "Which adviser is being trained?")
    [answer] = view.ready_tasks
    assert (answer.element_id, answer.assignee) == ("answer_questions", "sam")
    assert_roundtrip(callgov, ref)
    assert [t.element_id for t in callgov.tasks_for("tess")] == []
    view = callgov.complete_task(answer.id, user="sam", data={"requester_answer": "The new starters in January"})
    [again] = view.ready_tasks
    assert again.element_id == "authorise" and set(again.candidate_roles) == {"cs_team_leader", "ad_communities", "dpo"}
    view = decide(callgov, ref, "tess", "approve")
    assert view.data["requester_answer"] == "The new starters in January" and view.data["authoriser"] == "tess"
    assert "release.more_information_requested" in actions(callgov, ref)


def test_the_requester_may_withdraw_until_release(callgov: Callgov, recent_call: SimCall) -> None:
    ref = submit(callgov, "sam", request_form(recent_call)).case_ref
    with pytest.raises(PermissionDenied):
        callgov.withdraw(ref, user="tess", reason="Not mine to withdraw")
    view = callgov.withdraw(ref, user="sam", reason="The complaint was resolved")
    assert view.status == "cancelled" and view.ready_tasks == ()
    assert view.end_reason == "Withdrawn by the requester: The complaint was resolved"
    assert "release.withdrawn" in actions(callgov, ref)
    assert callgov.tasks_for("tess") == []

    released = submit(callgov, "sam", request_form(recent_call)).case_ref
    decide(callgov, released, "tess", "approve")
    with pytest.raises(Conflict, match="released"):
        callgov.withdraw(released, user="sam", reason="Too late")


def test_unanswered_request_is_reminded_then_escalated_to_the_dpo(callgov: Callgov, recent_call: SimCall,
                                                                  services: Services, clock: FakeClock) -> None:
    ref = submit(callgov, "sam", request_form(recent_call)).case_ref  # Monday 5 January 2026, 09:00
    assert ready(callgov, ref, "authorise").due_at == clock.now() + timedelta(days=3)
    clock.advance(timedelta(days=2, hours=23))
    assert callgov.fire_due_timers() == []
    clock.advance(timedelta(hours=1))  # Thursday 09:00: three working days
    [fired] = callgov.fire_due_timers()
    assert fired.elements == ("remind",)
    assert ready(callgov, ref, "authorise"), "a reminder leaves the task where it is"
    reminder = mails_to(services, "tess@example.org")[-1]
    assert "reminder" in reminder.subject and not mails_to(services, "sam@example.org")
    assert_roundtrip(callgov, ref)

    clock.advance(timedelta(days=4))  # Monday 12 January 09:00: five working days
    callgov.fire_due_timers()
    view = callgov.instance(ref)
    [escalated] = view.ready_tasks
    assert escalated.element_id == "authorise_escalated" and escalated.candidate_roles == ("dpo",)
    assert callgov.tasks_for("tess") == [] and [t.id for t in callgov.tasks_for("dana")] == [escalated.id]
    assert_roundtrip(callgov, ref)
    view = decide(callgov, ref, "dana", "more_info", "Who asked for this training?", element="authorise_escalated")
    callgov.complete_task(view.ready_tasks[0].id, user="sam", data={"requester_answer": "The team leader"})
    view = decide(callgov, ref, "dana", "approve", element="authorise_escalated")
    assert view.data["authoriser"] == "dana" and view.data["escalated"] is True
    assert "release.escalated" in actions(callgov, ref)


def test_no_recording_found_goes_back_to_the_requester(callgov: Callgov, recent_call: SimCall,
                                                       simulator) -> None:
    form = request_form(recent_call)
    empty_window = {"call_from": "2025-12-31T03:00:00+00:00", "call_to": "2025-12-31T03:30:00+00:00"}
    view = submit(callgov, "sam", {**form, **empty_window})
    [back] = view.ready_tasks
    assert (back.element_id, back.assignee) == ("request", "sam")
    assert "No recording of that number" in view.data["request_problem"]
    assert "release.no_recordings" in actions(callgov, view.case_ref)
    assert_roundtrip(callgov, view.case_ref)
    view = callgov.complete_task(back.id, user="sam", data=form)
    assert [t.element_id for t in view.ready_tasks] == ["authorise"] and view.data["request_problem"] is None


@pytest.mark.parametrize("missing", [{"phone_number": ""}, {"call_from": ""}, {"call_to": ""}])
def test_a_trawl_is_refused_with_the_reason_shown(callgov: Callgov, recent_call: SimCall,
                                                  missing: dict[str, str]) -> None:
    view = submit(callgov, "sam", {**request_form(recent_call), **missing})
    assert [t.element_id for t in view.ready_tasks] == ["request"]
    assert "refused as speculative trawling" in view.data["request_problem"]
    assert "release.request_returned" in actions(callgov, view.case_ref)
    assert "recording_ids" not in view.data, "a trawl never reaches the catalogue"


def test_a_recording_about_to_expire_is_preserved_with_its_hash(callgov: Callgov, expiring_call: SimCall,
                                                                services: Services) -> None:
    view = submit(callgov, "sam", request_form(expiring_call))
    [recording_id] = view.data["preserved_ids"]
    with callgov.db.reading() as s:
        row = s.get(Recording, recording_id)
        assert row is not None and row.retained_key and row.retained_at is not None
        key, sha256 = row.retained_key, row.retained_sha256
    with services.storage.open_stream(key, expected_sha256=sha256) as reader:
        kept = b"".join(reader)
    fetched = bytearray()
    services.telephony.download_recording(expiring_call.recording_id, fetched.extend)
    assert hashlib.sha256(kept).hexdigest() == sha256 == hashlib.sha256(fetched).hexdigest()
    assert "recording.retained" in actions(callgov, view.case_ref)
    assert_roundtrip(callgov, view.case_ref)


def test_recordings_picked_from_the_search_make_a_specific_request(callgov: Callgov, recent_call: SimCall) -> None:
    with callgov.db.reading() as s:
        picked = s.scalar(select(Recording.id).where(Recording.provider_recording_id == recent_call.recording_id))
    assert picked is not None
    view = callgov.request_recordings([picked], user="sam")
    ref = view.case_ref
    [request] = view.ready_tasks
    detail = callgov.task(request.id, user="sam")
    assert f"#{picked}:" in detail.data["picked_summary"]
    # No number and no window: not a trawl, because the recording itself was chosen.
    form = {k: v for k, v in request_form(recent_call).items() if k not in ("phone_number", "call_from", "call_to")}
    view = callgov.complete_task(request.id, user="sam", data=form)
    assert [t.element_id for t in view.ready_tasks] == ["authorise"]
    assert view.data["recording_ids"] == [picked] and view.data["request_problem"] is None
    assert_roundtrip(callgov, ref)
    assert "release.recordings_located" in actions(callgov, ref)


def test_picking_needs_real_recordings_and_not_too_many(callgov: Callgov) -> None:
    from engine.errors import InvalidInput, NotFound

    with pytest.raises(NotFound):
        callgov.request_recordings([999_999], user="sam")
    with pytest.raises(InvalidInput):
        callgov.request_recordings(list(range(1, 12)), user="sam")
    with pytest.raises(InvalidInput):
        callgov.request_recordings([], user="sam")
