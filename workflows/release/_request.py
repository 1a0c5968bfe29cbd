"""The request and the decision: the trawl check (policy, Appendix 1) and recording the authoriser's call."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from engine import audit
from engine.operations import OperationContext
from engine.phone import InvalidPhoneNumber, parse_number
from workflows.release._settings import ReleaseSettings

ACTOR = "system:release"
MAX_WINDOW = timedelta(days=7)
MAX_PICKED = 10
TRAWL = ("A request must name a specific telephone number and a date and time window for the call. Requests "
         "without both are refused as speculative trawling (policy Appendix 1; DPA 2018 Sch 2 para 2).")


def request_problem(data: Mapping[str, Any]) -> str | None:
    """Why a request cannot go on as it stands, in words for the requester; ``None`` if it can."""
    problem = _picked_problem(data) if data.get("picked_recording_ids") else _call_problem(data)
    if problem:
        return problem
    if data.get("third_party") and not (data.get("recipient_name") and data.get("recipient_organisation")):
        return "A release to a third party needs the recipient's name and organisation."
    if data.get("reason") == "crime" and data.get("third_party") and not data.get("incident_reference"):
        return "A police request needs the incident or crime reference."
    return None


def _picked_problem(data: Mapping[str, Any]) -> str | None:
    """Recordings picked from the catalogue search are specific by nature; a handful at most."""
    picked = data.get("picked_recording_ids")
    if not isinstance(picked, list) or not all(isinstance(i, int) for i in picked):
        return "The recordings picked from the search could not be read; start the request again from the search."
    if len(picked) > MAX_PICKED:
        return f"A request may name at most {MAX_PICKED} recordings picked from the search."
    return None


def _call_problem(data: Mapping[str, Any]) -> str | None:
    """A request by telephone number and window: both, a real number, a window of at most a week."""
    number = (data.get("phone_number") or "").strip()
    start, end = data.get("call_from"), data.get("call_to")
    if not number or not isinstance(start, datetime) or not isinstance(end, datetime):
        return TRAWL
    try:
        parse_number(number)
    except InvalidPhoneNumber as error:
        return f"The telephone number {number[:40]!r} is not a number we can search for: {error}."
    if end <= start:
        return "The end of the date and time window must be after its start."
    if end - start > MAX_WINDOW:
        return "The date and time window may be at most 7 days: narrow it to the call you need."
    return None


def check_request(settings: ReleaseSettings, ctx: OperationContext) -> dict[str, Any]:
    """``release.check_request``: refuse trawls and incomplete requests back to the requester.

    Sets ``request_problem`` (``None`` when the request can go on) and the working-day limits the
    diagram's reminder and escalation timers read.
    """
    problem = request_problem(ctx.data)
    audit.record(ctx.session, action="release.request_returned" if problem else "release.request_accepted",
                 actor=ACTOR, case_ref=ctx.case_ref, at=ctx.now(),
                 detail={"problem": problem} if problem else {"reason": ctx.data.get("reason")})
    return {
        "request_problem": problem,
        "reminder_working_days": settings.reminder_working_days,
        "escalation_working_days": settings.escalation_working_days,
        "escalated": bool(ctx.data.get("escalated", False)),
    }


def record_decision(ctx: OperationContext) -> dict[str, Any]:
    """``release.record_decision``: who decided what and when; an approval names the authoriser."""
    decision = ctx.data.get("decision")
    decided_by = str(ctx.data.get("last_actor") or "")
    now = ctx.now()
    action = {"approve": "release.authorised", "refuse": "release.refused"}.get(
        str(decision), "release.more_information_requested")
    audit.record(ctx.session, action=action, actor=decided_by or ACTOR, case_ref=ctx.case_ref, at=now,
                 detail={"decision": decision, "reason": ctx.data.get("decision_reason"),
                         "escalated": bool(ctx.data.get("escalated"))})
    values: dict[str, Any] = {"decided_by": decided_by, "decided_at": now}
    if decision == "approve":
        values |= {"authoriser": decided_by, "authorised_at": now}
    return values


def mark_escalated(ctx: OperationContext) -> dict[str, Any]:
    """``release.escalate``: the authorisers did not decide in time; the DPO now decides."""
    audit.record(ctx.session, action="release.escalated", actor=ACTOR, case_ref=ctx.case_ref, at=ctx.now(),
                 detail={"to": "dpo"})
    return {"escalated": True}
