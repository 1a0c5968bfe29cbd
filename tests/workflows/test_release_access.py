"""Who may listen and decide: segregation of duties through the facade and the CLI, audited playback,
the disclosure register; and the diagram's own consistency."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from click.testing import CliRunner
from lxml import etree

from connectors.telephony.simulator import RunningSimulator, SimCall
from engine import audit
from engine.cli import main
from engine.errors import PermissionDenied
from engine.facade import Callgov
from tests.workflows.conftest import RELEASE_BPMN, Services
from tests.workflows.helpers import POLICE, decide, ready, request_form, submit
from workflows.release._form import DECISIONS, DELIVERY_METHODS, LAWFUL_BASES, REASONS

pytestmark = pytest.mark.usefixtures("people")
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}


def recording_events(callgov: Callgov, recording_id: int) -> list[tuple[str, str, str | None]]:
    with callgov.db.reading() as s:
        return [(e.action, e.actor, e.case_ref) for e in reversed(audit.events_for(s, recording_id=str(recording_id)))]


def test_a_team_leader_never_authorises_their_own_request(callgov: Callgov, recent_call: SimCall) -> None:
    view = submit(callgov, "tess", request_form(recent_call))
    task = ready(callgov, view.case_ref, "authorise")
    assert "tess" in task.excluded_users
    assert callgov.tasks_for("tess") == [] and [t.id for t in callgov.tasks_for("alex")] == [task.id]
    with pytest.raises(PermissionDenied):
        callgov.task(task.id, user="tess")
    with pytest.raises(PermissionDenied, match="someone else must do it"):
        callgov.complete_task(task.id, user="tess", data={"decision": "approve", "decision_reason": "Fine by me",
                                                          "authoriser": "alex", "last_actor": "alex"})
    crafted = json.dumps({"decision": "approve", "decision_reason": "Fine by me"})
    result = CliRunner().invoke(main, ["tasks", "complete", task.id, "--user", "tess", "--data", crafted],
                                obj=callgov)
    assert result.exit_code == 1 and "someone else must do it" in result.output
    assert [t.id for t in callgov.instance(view.case_ref).ready_tasks] == [task.id], "nothing moved"
    recording_id = view.data["recording_ids"][0]
    assert not callgov.may_listen("tess", recording_id).allowed, "her own request gives her no hearing"
    assert callgov.may_listen("alex", recording_id).basis == "authoriser"


def test_a_dpo_who_made_the_request_cannot_decide_it_even_when_escalated(callgov: Callgov, recent_call: SimCall,
                                                                        clock) -> None:
    from datetime import timedelta

    ref = submit(callgov, "dana", request_form(recent_call)).case_ref
    clock.advance(timedelta(days=7))
    callgov.fire_due_timers()
    task = ready(callgov, ref, "authorise_escalated")
    assert "dana" in task.excluded_users and callgov.tasks_for("dana") == []
    with pytest.raises(PermissionDenied):
        decide(callgov, ref, "dana", "approve", element="authorise_escalated")
    assert not callgov.may_listen("dana", callgov.instance(ref).data["recording_ids"][0]).allowed


def test_playback_is_allowed_only_under_an_open_case_and_audited(callgov: Callgov, recent_call: SimCall,
                                                                 services: Services) -> None:
    view = submit(callgov, "sam", request_form(recent_call))
    recording_id = view.data["recording_ids"][0]
    with pytest.raises(PermissionDenied, match="No open case"):
        callgov.open_playback("bob", recording_id)
    assert not callgov.may_listen("sam", recording_id).allowed, "asking is not being allowed"
    playback = callgov.open_playback("alex", recording_id)
    audio = b"".join(playback.chunks)
    direct = bytearray()
    services.telephony.download_recording(recent_call.recording_id, direct.extend)
    assert (playback.source, playback.case_ref, playback.size) == ("provider", view.case_ref, len(direct))
    assert hashlib.sha256(audio).digest() == hashlib.sha256(direct).digest()
    part = callgov.open_playback("dana", recording_id, byte_range=(10, 19))
    assert b"".join(part.chunks) == bytes(direct[10:20]) and part.size == 10
    assert recording_events(callgov, recording_id) == [
        ("recording.access_denied", "bob", None), ("recording.access_denied", "sam", None),
        ("recording.played", "alex", view.case_ref), ("recording.played", "dana", view.case_ref)]

    callgov.withdraw(view.case_ref, user="sam", reason="Resolved")
    with pytest.raises(PermissionDenied):
        callgov.open_playback("alex", recording_id)


def test_a_players_range_requests_cost_one_provider_download(callgov: Callgov, recent_call: SimCall,
                                                            simulator: RunningSimulator) -> None:
    view = submit(callgov, "sam", request_form(recent_call))
    recording_id = view.data["recording_ids"][0]
    simulator.clear_requests()
    whole = callgov.open_playback("alex", recording_id)
    audio = b"".join(whole.chunks)
    for first, last in ((0, 1), (len(audio) - 100, None), (len(audio) // 2, len(audio) // 2 + 999)):
        part = callgov.open_playback("dana", recording_id, byte_range=(first, last))
        assert b"".join(part.chunks) == audio[first:None if last is None else last + 1]
    downloads = [r for r in simulator.requests() if r.host == "media" and recent_call.recording_id in r.path]
    assert len(downloads) == 1, "the Heavy rate-limit group is spent once per listening, not per range"
    assert [e[0] for e in recording_events(callgov, recording_id)].count("recording.played") == 4, \
        "every request is still authorised and audited"


def test_a_kept_copy_is_played_from_storage(callgov: Callgov, expiring_call: SimCall) -> None:
    view = submit(callgov, "sam", request_form(expiring_call))
    [recording_id] = view.data["preserved_ids"]
    playback = callgov.open_playback("alex", recording_id)
    assert playback.source == "retained" and len(b"".join(playback.chunks)) == playback.size


def test_the_dpo_browses_and_exports_the_register(callgov: Callgov, recent_call: SimCall) -> None:
    internal = submit(callgov, "sam", request_form(recent_call)).case_ref
    decide(callgov, internal, "tess", "approve")
    police = submit(callgov, "sam", request_form(recent_call, **POLICE)).case_ref
    decide(callgov, police, "alex", "approve")
    entries = callgov.disclosure_register(user="dana")
    assert [(e.case_ref, e.kind) for e in entries] == [(police, "package"), (internal, "listening")]
    assert entries[0].recordings[0]["sha256"] and entries[0].disclosed_at is None
    rows = list(csv.DictReader(io.StringIO(callgov.disclosure_register_csv(user="dana"))))
    assert [r["case_ref"] for r in rows] == [police, internal]
    assert rows[0]["lawful_basis"] == "dpa_crime" and rows[0]["authoriser"] == "alex"
    assert rows[0]["recordings"].startswith(f"#{entries[0].recordings[0]['recording_id']} sha256:")
    for user in ("sam", "tess"):
        with pytest.raises(PermissionDenied):
            callgov.disclosure_register(user=user)
    with callgov.db.reading() as s:
        assert [e.action for e in audit.events_for(s, actor="dana", limit=2)] == [
            "disclosure.register_exported", "disclosure.register_viewed"]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_diagram_declares_the_policy_choices_and_draws_every_element(database) -> None:
    root = etree.parse(str(RELEASE_BPMN)).getroot()
    request = root.find(".//bpmn:userTask[@id='request']", NS)
    options = {f.get("id"): [v.get("id") for v in f.findall("camunda:value", NS)]
               for f in request.iterfind(".//camunda:formField", NS)}
    assert options["reason"] == list(REASONS) and options["lawful_basis"] == list(LAWFUL_BASES)
    assert options["delivery_method"] == list(DELIVERY_METHODS)
    authorise = root.find(".//bpmn:userTask[@id='authorise']", NS)
    decision = authorise.find(".//camunda:formField[@id='decision']", NS)
    assert [v.get("id") for v in decision.findall("camunda:value", NS)] == list(DECISIONS)
    for task in root.iterfind(".//bpmn:userTask", NS):
        attributes = {k.split("}")[-1] for k in task.attrib}
        assert {"candidateGroups", "assignee"} & attributes, task.get("id")
    drawn = {e.get("bpmnElement") for e in root.iterfind(".//bpmndi:BPMNShape", NS)} | {
        e.get("bpmnElement") for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    process = root.find("bpmn:process", NS)
    elements = {e.get("id") for e in process if e.get("id") and not e.tag.endswith(("laneSet", "extensionElements"))}
    assert elements <= drawn
