"""Messages: catch by case reference or data value, boundaries, message starts, throws between cases,
kept messages and their redelivery, one delivery under concurrent senders, lint."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from engine import audit
from engine.bpmn.compiler import compile_definition
from engine.errors import DefinitionInvalid, InvalidInput
from engine.facade import Callgov
from engine.models import MessageSubscription
from tests.conftest import BPMN_DIR
from tests.engine.test_runtime import assert_roundtrip


@pytest.fixture(autouse=True)
def people(make_user: Callable[..., object]) -> None:
    make_user("sam", "staff")
    make_user("dana", "dpo")


def titles(callgov: Callgov, case_ref: str) -> list[str]:
    return sorted(t.title for t in callgov.instance(case_ref).ready_tasks)


def actions(callgov: Callgov, case_ref: str | None = None) -> list[tuple[str, str | None, dict]]:
    with callgov.db.reading() as s:
        events = audit.events_for(s, case_ref=case_ref) if case_ref else audit.events_for(s)
        return [(e.action, e.case_ref, e.detail) for e in reversed(events) if e.action.startswith(
            ("message.", "instance.started"))]


def subscriptions(callgov: Callgov, case_ref: str) -> list[tuple[str, str, str | None]]:
    with callgov.db.reading() as s:
        rows = s.query(MessageSubscription).filter_by(case_ref=case_ref).all()
        return sorted((r.message_name, r.correlation_key, r.correlation_value) for r in rows)


def test_intermediate_catch_by_case_reference(callgov: Callgov, deploy) -> None:
    deploy("message_catch.bpmn")
    ref = callgov.start("catcher", user="sam").case_ref
    assert subscriptions(callgov, ref) == [("reply", "case_ref", ref)]
    assert titles(callgov, ref) == []
    assert_roundtrip(callgov, ref)

    result = callgov.send_message("reply", {"case_ref": ref}, {"answer": "yes", "case_ref": "FORGED"},
                                  actor="system:monitoring")

    assert result.outcome == "delivered" and result.delivered_to == (ref,)
    view = callgov.instance(ref)
    assert [t.title for t in view.ready_tasks] == ["Review reply"]
    assert view.data["answer"] == "yes"
    assert view.data["case_ref"] == ref and view.data["sender_case_ref"] == "FORGED", "never overwritten"
    assert subscriptions(callgov, ref) == []
    assert callgov.undelivered_messages() == []
    assert [a for a, _, _ in actions(callgov)][-2:] == ["message.sent", "message.delivered"]
    assert_roundtrip(callgov, ref)


def test_message_for_another_case_does_not_wake_this_one(callgov: Callgov, deploy) -> None:
    deploy("message_catch.bpmn")
    ref = callgov.start("catcher", user="sam").case_ref
    result = callgov.send_message("reply", {"case_ref": "CAT-2026-09999"}, {}, actor="sam")
    assert result.outcome == "kept"
    assert titles(callgov, ref) == []
    assert subscriptions(callgov, ref) == [("reply", "case_ref", ref)]


def test_interrupting_boundary_message_on_a_user_task(callgov: Callgov, deploy) -> None:
    deploy("message_boundary.bpmn")
    ref = callgov.start("boundary", user="sam").case_ref
    assert subscriptions(callgov, ref) == [("note_added", "case_ref", ref), ("withdrawn", "case_ref", ref)]

    callgov.send_message("withdrawn", {"case_ref": ref}, {"why": "resolved"}, actor="sam")

    assert titles(callgov, ref) == ["Confirm withdrawal"]
    assert callgov.tasks_for("sam") == []
    assert callgov.instance(ref).data["why"] == "resolved"
    assert subscriptions(callgov, ref) == []
    assert_roundtrip(callgov, ref)


def test_non_interrupting_boundary_message_keeps_the_task(callgov: Callgov, deploy) -> None:
    deploy("message_boundary.bpmn")
    ref = callgov.start("boundary", user="sam").case_ref

    callgov.send_message("note_added", {"case_ref": ref}, {"note": "Caller rang back"}, actor="sam")

    assert titles(callgov, ref) == ["Answer", "Read the note"]
    assert callgov.instance(ref).data["note"] == "Caller rang back"
    assert subscriptions(callgov, ref) == [("withdrawn", "case_ref", ref)]
    assert_roundtrip(callgov, ref)
    answer = next(t for t in callgov.instance(ref).ready_tasks if t.title == "Answer")
    callgov.complete_task(answer.id, user="sam", data={})
    assert titles(callgov, ref) == ["Read the note"]
    assert subscriptions(callgov, ref) == []


def test_correlation_on_a_data_value_reaches_only_the_matching_case(callgov: Callgov, deploy) -> None:
    deploy("message_recording.bpmn")
    first = callgov.start("recording_watch", user="sam", data={"recording_id": "rec-1"}).case_ref
    second = callgov.start("recording_watch", user="sam", data={"recording_id": "rec-2"}).case_ref
    assert subscriptions(callgov, second) == [("recording_deleted", "recording_id", "rec-2")]
    assert_roundtrip(callgov, second)

    result = callgov.send_message("recording_deleted", {"recording_id": "rec-2"}, {"deleted_by": "retention"},
                                  actor="system:retention")

    assert result.delivered_to == (second,)
    assert titles(callgov, second) == ["Note the deletion"]
    assert callgov.instance(second).data["deleted_by"] == "retention"
    assert titles(callgov, first) == [] and subscriptions(callgov, first)
    assert_roundtrip(callgov, second)


def test_message_start_creates_a_case_with_the_payload(callgov: Callgov, deploy) -> None:
    deploy("message_start.bpmn")
    result = callgov.send_message("misuse_found", {"recording_id": "rec-9"}, {"recording_id": "rec-9"},
                                  actor="system:monitoring")

    assert result.outcome == "started"
    [ref] = result.started
    view = callgov.instance(ref)
    assert view.started_by == "system:monitoring"
    assert view.data["recording_id"] == "rec-9" and view.data["started_by_message"] == "misuse_found"
    assert [t.title for t in view.ready_tasks] == ["Triage"], "starts at the message start only"
    [(_, _, detail)] = [a for a in actions(callgov, ref) if a[0] == "instance.started"]
    assert detail["message"] == "misuse_found" and detail["element"] == "misuse"
    assert callgov.undelivered_messages() == []
    assert_roundtrip(callgov, ref)


def test_a_person_starts_at_the_plain_start_event(callgov: Callgov, deploy) -> None:
    deploy("message_start.bpmn")
    view = callgov.start("breach", user="sam")
    assert [t.title for t in view.ready_tasks] == ["Describe the breach"]


def test_thrown_messages_reach_a_waiting_case_and_start_another(callgov: Callgov, deploy) -> None:
    for name in ("message_catch.bpmn", "message_start.bpmn", "message_throw.bpmn"):
        deploy(name)
    waiting = callgov.start("catcher", user="sam").case_ref
    thrower = callgov.start("notifier", user="sam", data={
        "reply_to": waiting, "recording_id": "rec-5", "reason": "shared outside", "notes": "private"}).case_ref
    assert_roundtrip(callgov, thrower)

    task = callgov.instance(thrower).ready_tasks[0]
    assert callgov.complete_task(task.id, user="sam", data={}).status == "completed"

    assert titles(callgov, waiting) == ["Review reply"]
    assert callgov.instance(waiting).data["sender_case_ref"] == thrower
    [started] = [c for c in callgov.tasks_for("dana") if c.process_id == "breach"]
    breach = callgov.instance(started.case_ref)
    assert breach.started_by == "system:messages"
    assert breach.data["sender_case_ref"] == thrower
    assert breach.data["recording_id"] == "rec-5" and breach.data["reason"] == "shared outside"
    assert "notes" not in breach.data and "reply_to" not in breach.data, "only the declared payload travels"
    assert isinstance(breach.data["sender_started_at"], str)
    sent = [(a, ref) for a, ref, _ in actions(callgov) if a == "message.sent"]
    assert sent == [("message.sent", thrower)] * 2
    assert callgov.undelivered_messages() == []
    assert_roundtrip(callgov, waiting)
    assert_roundtrip(callgov, breach.case_ref)


def test_a_thrown_message_nobody_takes_is_kept(callgov: Callgov, deploy) -> None:
    deploy("message_throw.bpmn")
    thrower = callgov.start("notifier", user="sam", data={"reply_to": "CAT-2026-00042", "recording_id": "r"})
    callgov.complete_task(thrower.ready_tasks[0].id, user="sam", data={})
    kept = callgov.undelivered_messages(case_ref=thrower.case_ref)
    assert sorted(m.name for m in kept) == ["misuse_found", "reply"]
    reply = next(m for m in kept if m.name == "reply")
    assert reply.correlation == {"case_ref": "CAT-2026-00042"} and reply.sender == thrower.case_ref
    assert reply.payload == {"case_ref": thrower.case_ref}
    assert [a for a, _, _ in actions(callgov) if a == "message.kept"] == ["message.kept"] * 2


def test_kept_message_is_delivered_when_its_receiver_starts_waiting(callgov: Callgov, deploy) -> None:
    deploy("message_catch.bpmn")
    early = callgov.send_message("reply", {"case_ref": "CAT-2026-00001"}, {"answer": "early"}, actor="sam")
    assert early.outcome == "kept"
    assert [m.id for m in callgov.undelivered_messages()] == [early.message_id]
    assert callgov.redeliver_kept()[0].outcome == "kept"

    ref = callgov.start("catcher", user="sam").case_ref

    assert ref == "CAT-2026-00001"
    assert titles(callgov, ref) == ["Review reply"]
    assert callgov.instance(ref).data["answer"] == "early"
    assert callgov.undelivered_messages() == []
    kept_audits = [a for a, _, _ in actions(callgov) if a == "message.kept"]
    assert kept_audits == ["message.kept"], "kept is audited once, not at every retry"


def test_redeliver_kept_starts_a_process_published_later(callgov: Callgov, deploy) -> None:
    callgov.send_message("misuse_found", {}, {"recording_id": "rec-3"}, actor="system:monitoring")
    assert callgov.redeliver_kept()[0].outcome == "kept"
    deploy("message_start.bpmn")
    [result] = callgov.redeliver_kept()
    assert result.outcome == "started"
    assert callgov.instance(result.started[0]).data["recording_id"] == "rec-3"
    assert callgov.redeliver_kept() == []


def test_a_cancelled_case_drops_its_subscriptions(callgov: Callgov, deploy) -> None:
    deploy("message_catch.bpmn")
    ref = callgov.start("catcher", user="sam").case_ref
    callgov.cancel(ref, user="sam", reason="Not needed")
    assert subscriptions(callgov, ref) == []
    assert callgov.send_message("reply", {"case_ref": ref}, {}, actor="sam").outcome == "kept"
    assert callgov.instance(ref).status == "cancelled"


def test_concurrent_senders_deliver_once(callgov: Callgov, deploy) -> None:
    deploy("message_catch.bpmn")
    ref = callgov.start("catcher", user="sam").case_ref
    other = Callgov(callgov.db, clock=callgov.clock, operations=callgov.operations)
    barrier = threading.Barrier(2)
    results = []

    def send(sender: Callgov, n: int) -> None:
        barrier.wait()
        results.append(sender.send_message("reply", {"case_ref": ref}, {"answer": n}, actor="system:test"))

    threads = [threading.Thread(target=send, args=(sender, n)) for n, sender in enumerate((callgov, other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(r.outcome for r in results) == ["delivered", "kept"]
    assert [a for a, case, _ in actions(callgov) if a == "message.delivered"] == ["message.delivered"]
    assert titles(callgov, ref) == ["Review reply"]
    assert len(callgov.undelivered_messages()) == 1


def test_discarding_a_kept_message(callgov: Callgov) -> None:
    kept = callgov.send_message("nobody_waits", {"case_ref": "X"}, {}, actor="sam")
    with pytest.raises(Exception, match="administrator or the DPO"):
        callgov.discard_message(kept.message_id, actor="sam", reason="test")
    callgov.discard_message(kept.message_id, actor="dana", reason="Sent by mistake")
    assert callgov.undelivered_messages() == []
    assert [a for a, _, _ in actions(callgov)][-1] == "message.discarded"


@pytest.mark.parametrize(("correlation", "payload"), [
    ({"case_ref": ["a"]}, {}),
    ({"not a key": "x"}, {}),
    ({"case_ref": "x"}, {"big": "x" * 17_000}),
    ({"case_ref": "x"}, {"when": object()}),
    ({"case_ref": "x"}, {"nan": float("nan")}),
])
def test_send_message_validates_its_input(callgov: Callgov, correlation: dict, payload: dict) -> None:
    with pytest.raises(InvalidInput):
        callgov.send_message("reply", correlation, payload, actor="sam")
    assert callgov.undelivered_messages() == []


def _diagram(event: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://callgov.example/test">
  <bpmn:message id="named" name="reply"/>
  <bpmn:message id="unnamed"/>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ev"/>
    {event}
    <bpmn:sequenceFlow id="f2" sourceRef="ev" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.mark.parametrize(("event", "message"), [
    ('<bpmn:intermediateCatchEvent id="ev"><bpmn:messageEventDefinition/></bpmn:intermediateCatchEvent>',
     "needs a message with a name"),
    ('<bpmn:intermediateCatchEvent id="ev"><bpmn:messageEventDefinition messageRef="unnamed"/>'
     '</bpmn:intermediateCatchEvent>', "needs a message with a name"),
    ('<bpmn:intermediateThrowEvent id="ev"><bpmn:messageEventDefinition messageRef="named" '
     'camunda:expression="__import__(\'os\')"/></bpmn:intermediateThrowEvent>', "Message correlation"),
    ('<bpmn:intermediateThrowEvent id="ev"><bpmn:messageEventDefinition messageRef="named" '
     'camunda:expression="  "/></bpmn:intermediateThrowEvent>', "expression is empty"),
    ('<bpmn:intermediateThrowEvent id="ev"><bpmn:messageEventDefinition messageRef="named" '
     'camunda:class="org.Example"/></bpmn:intermediateThrowEvent>', "camunda:class is not supported"),
    ('<bpmn:intermediateCatchEvent id="ev"><bpmn:extensionElements><camunda:properties>'
     '<camunda:property name="correlationKey" value="not valid"/></camunda:properties></bpmn:extensionElements>'
     '<bpmn:messageEventDefinition messageRef="named"/></bpmn:intermediateCatchEvent>', "correlationKey"),
    ('<bpmn:intermediateCatchEvent id="ev"><bpmn:extensionElements><camunda:properties>'
     '<camunda:property name="payload" value="a"/></camunda:properties></bpmn:extensionElements>'
     '<bpmn:messageEventDefinition messageRef="named"/></bpmn:intermediateCatchEvent>', "Only a throw"),
])
def test_lint_refuses_bad_message_events(event: str, message: str) -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        compile_definition(_diagram(event), known_topics=())
    assert any(message in p.message and p.element_id == "ev" for p in caught.value.problems), caught.value.problems


def test_lint_accepts_messages_and_compiles_the_flags() -> None:
    plain = compile_definition((BPMN_DIR / "approval.bpmn").read_bytes(), known_topics={"locate_recording"})
    assert not plain.has_messages
    thrower = compile_definition((BPMN_DIR / "message_throw.bpmn").read_bytes(), known_topics=())
    assert thrower.has_messages and thrower.start_messages == ()
    starter = compile_definition((BPMN_DIR / "message_start.bpmn").read_bytes(), known_topics=())
    assert starter.start_messages == (("misuse", "misuse_found"),) and not starter.has_messages
