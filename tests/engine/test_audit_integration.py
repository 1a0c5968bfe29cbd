"""Every engine use case leaves its audit event, in the same transaction as the change."""

from __future__ import annotations

import pytest

from engine import audit
from engine.errors import FormInvalid
from engine.facade import Callgov


def actions(callgov: Callgov, case_ref: str | None = None) -> list[tuple[str, str]]:
    with callgov.db.reading() as s:
        events = audit.events_for(s, case_ref=case_ref, limit=1000) if case_ref else audit.events_for(s, limit=1000)
        return [(e.action, e.actor) for e in reversed(events)]


def test_lifecycle_is_audited_and_chain_verifies(callgov: Callgov, deploy, make_user) -> None:
    make_user("sam", "staff")
    make_user("dana", "dpo")
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="sam").case_ref
    task = callgov.instance(ref).ready_tasks[0]
    with pytest.raises(FormInvalid):
        callgov.complete_task(task.id, user="sam", data={})
    callgov.complete_task(task.id, user="sam", data={"summary": "A request"})
    decide = callgov.tasks_for("dana")[0]
    callgov.claim(decide.id, user="dana")
    callgov.complete_task(decide.id, user="dana", data={"decision": "refuse"})
    assert actions(callgov, ref) == [
        ("instance.started", "sam"), ("task.completed", "sam"), ("task.claimed", "dana"),
        ("task.completed", "dana")]
    everything = [a for a, _ in actions(callgov)]
    assert everything[:4] == ["user.added", "user.added", "definition.deployed", "definition.published"]
    with callgov.db.reading() as s:
        result = audit.verify(s)
    assert result.ok and result.events_checked == len(everything)


def test_cancel_is_audited_with_reason(callgov: Callgov, deploy, make_user) -> None:
    make_user("sam", "staff")
    deploy("approval.bpmn")
    ref = callgov.start("approval", user="sam").case_ref
    callgov.cancel(ref, user="sam", reason="Duplicate")
    with callgov.db.reading() as s:
        [event] = [e for e in audit.events_for(s, case_ref=ref) if e.action == "instance.cancelled"]
    assert event.detail == {"reason": "Duplicate"}
