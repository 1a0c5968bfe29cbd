"""The mail queue: process mail leaves only after its case's transaction commits, and is retried."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.mail import LogMailer, MailConnectionError, OutgoingMail
from engine import audit
from engine.clock import FakeClock
from engine.db import Database
from engine.errors import InvalidInput, PermissionDenied
from engine.facade import Callgov
from engine.jobs import engine_jobs
from engine.mailqueue import RETRY_AFTER, MailView, queue_mail
from engine.operations import OperationContext, OperationRegistry
from engine.scheduler import JobContext
from workflows.mail import send_mail

NOTIFY = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://callgov.test">
  <bpmn:process id="notify" name="Notify" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask"/>
    <bpmn:userTask id="ask" name="Ask" camunda:candidateGroups="staff">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="explode" label="Fail after mailing" type="boolean"/>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="mail"/>
    <bpmn:serviceTask id="mail" name="Mail the link" camunda:type="external" camunda:topic="test.notify"/>
    <bpmn:sequenceFlow id="f3" sourceRef="mail" targetRef="done"/>
    <bpmn:userTask id="done" name="Done" camunda:candidateGroups="staff"/>
    <bpmn:sequenceFlow id="f4" sourceRef="done" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


class Relay:
    """A mailer standing in for an SMTP relay that can be made to fail."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []
        self.failing = False

    def send(self, message: OutgoingMail) -> None:
        if self.failing:
            raise MailConnectionError("relay.example:587 refused the connection")
        self.sent.append(message)


@pytest.fixture
def relay() -> Relay:
    return Relay()


@pytest.fixture
def facade(database: Database, clock: FakeClock, operations: OperationRegistry, relay: Relay) -> Callgov:
    def notify(ctx: OperationContext) -> dict[str, Any]:
        send_mail(ctx, ["recipient@example.org"], f"Your link for {ctx.case_ref}", "https://callgov.example/d/SECRET",
                  what="disclosure link", actor="process")
        if ctx.data.get("explode"):
            raise RuntimeError("the package could not be stored")
        return {}

    operations.register("test.notify", notify, description="Mail a link (test)")
    callgov = Callgov(database, clock=clock, operations=operations, services=SimpleNamespace(mailer=relay))
    callgov.add_user("sam", roles=["staff"], password="correct horse battery")
    callgov.add_user("ada", roles=["admin"], password="correct horse battery")
    callgov.deploy(NOTIFY.encode(), filename="notify.bpmn", actor="tester", publish=True)
    return callgov


def ask(callgov: Callgov, **data: Any) -> str:
    ref = callgov.start("notify", user="sam").case_ref
    [task] = callgov.tasks_for("sam")
    callgov.complete_task(task.id, user="sam", data=data)
    return ref


def actions(callgov: Callgov, ref: str) -> list[str]:
    with callgov.db.reading() as s:
        events = audit.events_for(s, case_ref=ref)  # newest first
    return [e.action for e in reversed(events) if e.action.startswith("mail.")]


def rows(callgov: Callgov) -> list[MailView]:
    return list(reversed(callgov.mail_queue_page(user="ada").mails))


def test_mail_goes_after_the_commit_and_its_link_is_not_kept(facade: Callgov, relay: Relay) -> None:
    ref = ask(facade)
    [message] = relay.sent
    assert list(message.to) == ["recipient@example.org"] and message.headers == {"X-Callgov-Case": ref}
    assert "SECRET" in message.text
    [row] = rows(facade)
    assert row.status == "sent" and row.attempts == 1 and row.text is None, "the single-use link is not kept"
    assert actions(facade, ref) == ["mail.queued", "mail.sent"]


def test_a_failed_transaction_sends_nothing(facade: Callgov, relay: Relay) -> None:
    with pytest.raises(RuntimeError, match="could not be stored"):
        ask(facade, explode=True)
    assert relay.sent == [] and rows(facade) == []


def test_a_failing_relay_is_retried_with_back_off_then_given_up(facade: Callgov, relay: Relay,
                                                                clock: FakeClock) -> None:
    relay.failing = True
    ref = ask(facade)
    [task] = facade.tasks_for("sam")
    assert task.title == "Done", "the case goes on whatever the relay does"
    [row] = rows(facade)
    assert row.status == "pending" and row.attempts == 1 and "refused" in (row.last_error or "")
    assert facade.deliver_mail() == {}, "nothing is due before the back-off has passed"
    for wait in RETRY_AFTER[:-1]:
        clock.advance(wait)
        assert facade.deliver_mail() == {"retrying": 1}
    clock.advance(RETRY_AFTER[-1])
    assert facade.deliver_mail() == {"failed": 1}
    [row] = rows(facade)
    assert row.status == "failed" and row.attempts == len(RETRY_AFTER) + 1 and row.text, "kept for a retry"
    assert actions(facade, ref).count("mail.failed") == len(RETRY_AFTER) + 1
    clock.advance(timedelta(days=1))
    assert facade.deliver_mail() == {}, "a mail given up is not retried by the job"

    relay.failing = False
    with pytest.raises(PermissionDenied):
        facade.retry_mail(row.id, user="sam")
    assert facade.retry_mail(row.id, user="ada") == "sent"
    assert len(relay.sent) == 1 and actions(facade, ref)[-2:] == ["mail.retry_requested", "mail.sent"]
    with pytest.raises(InvalidInput, match="not sent twice"):
        facade.retry_mail(row.id, user="ada")


def test_the_job_sends_what_a_stopped_process_left_queued(facade: Callgov, relay: Relay, clock: FakeClock) -> None:
    with facade.db.transaction() as s:  # committed by a process that stopped before it could send
        mail_id = queue_mail(s, to=["dpo@example.org"], subject="Breach to triage", text="Please triage",
                             what="triage reminder", actor="process", case_ref=None, at=clock.now())
    assert relay.sent == [] and rows(facade)[0].status == "pending"
    job = engine_jobs(facade).get("mail.deliver")
    outcome = job.func(JobContext("mail.deliver", clock, logging.getLogger("test"), clock.now()))
    assert outcome is not None and outcome.summary == "1 sent"
    assert [m.subject for m in relay.sent] == ["Breach to triage"]
    assert facade.deliver_mail([mail_id]) == {}, "a sent mail is never sent again"


def test_with_mail_off_the_text_stays_for_the_demo_outbox(facade: Callgov) -> None:
    facade.services.mailer = LogMailer()
    ask(facade)
    [row] = rows(facade)
    assert row.status == "logged" and row.text == "https://callgov.example/d/SECRET"
    page = facade.mail_queue_page(user="ada", status="logged")
    assert [m.id for m in page.mails] == [row.id] and page.counts["logged"] == 1 and page.pages == 1
    with pytest.raises(PermissionDenied):
        facade.mail_queue_page(user="sam")
    with pytest.raises(InvalidInput, match="Unknown mail status"):
        facade.mail_queue_page(user="ada", status="lost")
