"""The breach investigation's operations (issue 7), as ``workflows/bpmn/breach_investigation.bpmn``
calls them: open -> triage -> contain -> assess -> ICO / not reported -> people told -> investigate ->
outcome. Each writes its step to the breach register (``engine.models.breaches``) and audits it."""

from __future__ import annotations

from engine.config import Settings
from engine.operations import OperationRegistry
from workflows.breach import _ops

__all__ = ["register"]


def register(registry: OperationRegistry, settings: Settings) -> None:
    """Register the breach operations on ``registry``."""
    del settings  # no settings yet: the 48/72-hour limits are the law's
    operations = (
        ("breach.open_case", _ops.open_case, "Open the breach register row from a report or a system trigger"),
        ("breach.remind_triage", _ops.remind_triage, "Remind the DPO that a case awaits triage"),
        ("breach.escalate_triage", _ops.escalate_triage, "Escalate a case not triaged in two working days"),
        ("breach.record_triage", _ops.record_triage, "Record the triage and start the 72-hour clock"),
        ("breach.record_containment", _ops.record_containment, "Record containment; hold the recordings"),
        ("breach.record_assessment", _ops.record_assessment, "Record the risk and draft the ICO report"),
        ("breach.warn_ico", _ops.warn_ico, "Warn the DPO 48 hours after awareness"),
        ("breach.escalate_ico", _ops.escalate_ico, "Escalate 72 hours after awareness"),
        ("breach.record_ico_report", _ops.record_ico_report, "Record the ICO reference; late needs a reason"),
        ("breach.record_not_reported", _ops.record_not_reported, "Record the decision not to report"),
        ("breach.record_people_told", _ops.record_people_told, "Record how and when people were told"),
        ("breach.check_investigator", _ops.check_investigator, "Check the investigator is independent"),
        ("breach.record_findings", _ops.record_findings, "Record the investigator's findings"),
        ("breach.close", _ops.close_case, "Record the outcome, release the holds, close the case"),
    )
    for topic, function, description in operations:
        registry.register(topic, function, description=description)
