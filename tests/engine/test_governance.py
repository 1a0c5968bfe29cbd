"""The governance use cases: drafts with problems, four-eyes publication, history, diff, uploads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from engine import audit
from engine.clock import FakeClock
from engine.errors import Conflict, DefinitionInvalid, InvalidInput, PermissionDenied
from engine.facade import Callgov
from engine.governance import diff_definitions, main_process_id
from engine.users import UserView
from tests.conftest import BPMN_DIR

APPROVAL = (BPMN_DIR / "approval.bpmn").read_bytes()
BAD_CONDITION = APPROVAL.replace(b'decision == "approve"', b'decision ==')
RENAMED = APPROVAL.replace(b'name="Decide"', b'name="Decide on the request"').replace(
    b'camunda:dueDate="P3D"', b'camunda:dueDate="P5D"')


@pytest.fixture
def people(make_user: Callable[..., UserView]) -> None:
    """Two governance officers and a member of staff."""
    make_user("gina", "governance")
    make_user("gus", "governance")
    make_user("sam", "staff")


@pytest.fixture
def published(callgov: Callgov, people: None) -> int:
    """approval.bpmn as version 1, published; returns its version id."""
    return callgov.deploy(APPROVAL, filename="approval.bpmn", actor="tester", publish=True).definition.id


def _actions(callgov: Callgov) -> list[tuple[str, str, dict[str, object]]]:
    with callgov.db.reading() as s:
        return [(e.action, e.actor, e.detail) for e in reversed(audit.events_for(s, limit=50))]


def test_a_clean_draft_becomes_a_draft_version(callgov: Callgov, published: int) -> None:
    saved = callgov.save_draft("approval", RENAMED, user="gina")
    assert saved.problems == ()
    assert saved.version is not None and saved.version.version == 2 and saved.version.status == "draft"
    assert callgov.editor_xml("approval", user="gus") == RENAMED.decode()


def test_a_draft_with_problems_is_kept_but_has_no_version(callgov: Callgov, published: int) -> None:
    saved = callgov.save_draft("approval", BAD_CONDITION, user="gina")
    assert saved.version is None
    assert any(p.element_id == "f_approved" for p in saved.problems), saved.problems
    history = callgov.process_history("approval", user="gina")
    assert [v.version for v in history.versions] == [1]
    assert history.latest_draft is not None and history.latest_draft.problems
    assert callgov.editor_xml("approval", user="gina") == BAD_CONDITION.decode()
    assert saved.to_dict()["problems"][0]["element_id"]


def test_the_editor_reopens_the_latest_draft_even_if_it_matches_an_older_version(
        callgov: Callgov, published: int, clock: FakeClock) -> None:
    callgov.save_draft("approval", RENAMED, user="gina")
    clock.advance(timedelta(minutes=5))
    back = callgov.save_draft("approval", APPROVAL, user="gina")
    assert back.version is not None and back.version.version == 1  # identical content: the same version
    assert callgov.editor_xml("approval", user="gina") == APPROVAL.decode()


def test_four_eyes_publication(callgov: Callgov, published: int) -> None:
    version = callgov.save_draft("approval", RENAMED, user="gina").version
    assert version is not None
    asked = callgov.request_publication(version.id, user="gina", summary="Longer deadline for deciding")
    with pytest.raises(PermissionDenied, match="own change"):
        callgov.approve_publication(asked.id, user="gina")
    with pytest.raises(Conflict, match="already been requested"):
        callgov.request_publication(version.id, user="gus", summary="again")
    decided = callgov.approve_publication(asked.id, user="gus")
    assert (decided.status, decided.reviewer) == ("approved", "gus")
    versions = {v.version: v for v in callgov.process_history("approval", user="gus").versions}
    assert versions[2].status == "published" and versions[2].published_by == "gus"
    assert versions[2].summary == "Longer deadline for deciding"
    assert versions[1].status == "superseded"
    actions = _actions(callgov)
    assert ("definition.publication_requested", "gina") in [(a, who) for a, who, _ in actions]
    published_event = next(d for a, _, d in actions if a == "definition.published" and d.get("version") == 2)
    assert (published_event["author"], published_event["reviewer"]) == ("gina", "gus")
    with pytest.raises(Conflict):
        callgov.approve_publication(asked.id, user="gus")
    review = callgov.review(asked.id, user="gina")  # still shows what changed from version 1
    assert review.published_version == 1 and [c.element_id for c in review.changes] == ["decide"]


def test_the_editor_of_a_version_cannot_approve_it_even_if_someone_else_asked(callgov: Callgov,
                                                                               published: int) -> None:
    version = callgov.save_draft("approval", RENAMED, user="gina").version
    assert version is not None
    asked = callgov.request_publication(version.id, user="gus", summary="Gus asks for Gina's change")
    with pytest.raises(PermissionDenied):
        callgov.approve_publication(asked.id, user="gina")
    with pytest.raises(PermissionDenied):
        callgov.approve_publication(asked.id, user="gus")


def test_send_back_needs_a_note_and_leaves_a_draft(callgov: Callgov, published: int) -> None:
    version = callgov.save_draft("approval", RENAMED, user="gina").version
    assert version is not None
    asked = callgov.request_publication(version.id, user="gina", summary="Deadline")
    with pytest.raises(InvalidInput):
        callgov.send_back_publication(asked.id, user="gus", note="  ")
    back = callgov.send_back_publication(asked.id, user="gus", note="Five days is too long")
    assert back.status == "sent_back" and back.note == "Five days is too long"
    assert callgov.governance_version(version.id, user="gina")[0].status == "draft"
    again = callgov.request_publication(version.id, user="gina", summary="Deadline, explained")
    assert again.id != asked.id


def test_only_governance_staff(callgov: Callgov, published: int) -> None:
    with pytest.raises(PermissionDenied):
        callgov.save_draft("approval", RENAMED, user="sam")
    with pytest.raises(PermissionDenied):
        callgov.process_history("approval", user="sam")
    with pytest.raises(PermissionDenied):
        callgov.approve_publication(1, user="sam")


def test_running_cases_stay_on_their_version(callgov: Callgov, published: int) -> None:
    running = callgov.start("approval", user="sam")
    version = callgov.save_draft("approval", RENAMED, user="gina").version
    assert version is not None
    callgov.approve_publication(callgov.request_publication(version.id, user="gina", summary="x").id, user="gus")
    assert callgov.instance(running.case_ref).definition_version == 1
    assert callgov.start("approval", user="sam").definition_version == 2


def test_a_published_version_cannot_be_requested(callgov: Callgov, published: int) -> None:
    with pytest.raises(Conflict, match="only a draft"):
        callgov.request_publication(published, user="gina", summary="again")


def test_the_process_id_must_stay(callgov: Callgov, published: int) -> None:
    with pytest.raises(DefinitionInvalid, match="must stay"):
        callgov.save_draft("approval", APPROVAL.replace(b'id="approval"', b'id="other"'), user="gina")


def test_upload_refuses_unreadable_files_and_keeps_readable_ones(callgov: Callgov, people: None) -> None:
    with pytest.raises(DefinitionInvalid, match="DOCTYPE"):
        callgov.upload_draft(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>', user="gina",
                             filename="x.bpmn")
    with pytest.raises(DefinitionInvalid, match="UTF-8"):
        latin = APPROVAL.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"').replace(b"Describe", b"D\xe9crire")
        callgov.upload_draft(latin, user="gina", filename="a.bpmn")
    saved = callgov.upload_draft(APPROVAL, user="gina", filename="approval.bpmn")
    assert saved.version is not None and saved.version.status == "draft"
    assert [p.process_id for p in callgov.governance_processes(user="gina")] == ["approval"]


def test_diff_lists_added_removed_and_changed_properties() -> None:
    changes = {c.element_id: c for c in diff_definitions(APPROVAL.decode(), RENAMED.decode())}
    assert set(changes) == {"decide"}
    props = {name: (before, after) for name, before, after in changes["decide"].properties}
    assert props["name"] == ("Decide", "Decide on the request")
    assert props["dueDate"] == ("P3D", "P5D")
    removed = diff_definitions(APPROVAL.decode(), APPROVAL.replace(b"Reason", b"Why").decode())
    assert [c.change for c in removed] == ["changed"]
    assert {c.change for c in diff_definitions(None, APPROVAL.decode())} == {"added"}


def test_main_process_id() -> None:
    assert main_process_id(APPROVAL) == "approval"
    with pytest.raises(DefinitionInvalid, match="not well-formed"):
        main_process_id(b"<bpmn:definitions")
