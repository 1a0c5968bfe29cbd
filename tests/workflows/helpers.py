"""Steps of the release process as a test drives them through the facade."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from connectors.telephony.simulator import SimCall
from engine import audit
from engine.facade import Callgov
from engine.views import InstanceView, TaskView
from tests.workflows.conftest import Services, started

POLICE: dict[str, Any] = {
    "reason": "crime", "lawful_basis": "dpa_crime", "third_party": "yes",
    "purpose": "Evidence of threats made to staff, for a criminal investigation",
    "third_party_details": "North Wales Police, investigating threats made on the call",
    "recipient_name": "Gwen Parry", "recipient_job_title": "Detective Constable",
    "recipient_organisation": "North Wales Police", "recipient_email": "gwen.parry@police.example",
    "officer_rank": "DC 1234 Gwen Parry", "authorising_officer": "Inspector Huw Ellis",
    "incident_reference": "NWP-2026-000123", "delivery_method": "link_to_recipient",
}


def request_form(call: SimCall, **overrides: Any) -> dict[str, Any]:
    """The request form for ``call``: its number and an hour either side, for training by default."""
    start = started(call)
    return {"phone_number": call.external, "call_from": (start - timedelta(hours=1)).isoformat(),
            "call_to": (start + timedelta(hours=1)).isoformat(), "reason": "training_quality",
            "purpose": "Training new advisers in handling difficult calls", "lawful_basis": "legitimate_interests",
            "third_party": "no", **overrides}


def ready(callgov: Callgov, ref: str, element: str) -> TaskView:
    """The ready task of ``element`` in case ``ref``."""
    tasks = [t for t in callgov.instance(ref).ready_tasks if t.element_id == element]
    assert tasks, f"{element} is not ready; ready: {[t.element_id for t in callgov.instance(ref).ready_tasks]}"
    return tasks[0]


def submit(callgov: Callgov, user: str, form: dict[str, Any]) -> InstanceView:
    """Start a release request as ``user`` and send its form."""
    ref = callgov.start("recording_release", user=user).case_ref
    return callgov.complete_task(ready(callgov, ref, "request").id, user=user, data=form)


def decide(callgov: Callgov, ref: str, user: str, decision: str, reason: str = "Meets Appendix 1 reason",
           element: str = "authorise") -> InstanceView:
    """An authoriser's decision on case ``ref``."""
    return callgov.complete_task(ready(callgov, ref, element).id, user=user,
                                 data={"decision": decision, "decision_reason": reason})


def actions(callgov: Callgov, ref: str) -> list[str]:
    """The audit actions of case ``ref``, oldest first."""
    with callgov.db.reading() as s:
        return [e.action for e in reversed(audit.events_for(s, case_ref=ref, limit=1000))]


def mails_to(services: Services, address: str) -> list[Any]:
    """Messages the outbox holds for ``address``, oldest first."""
    return [e.message for e in reversed(services.mailer.recent()) if address in e.message.to]


def link_token(services: Services, address: str) -> str:
    """The delivery-link token in the last mail to ``address``."""
    match = re.search(r"/disclosure/([A-Za-z0-9_-]+)", mails_to(services, address)[-1].text)
    assert match, "the mail carries a delivery link"
    return match.group(1)
