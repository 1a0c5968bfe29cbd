"""Letters of the release process: to the requester on refusal and on release, to the authorisers when
a request has waited too long."""

from __future__ import annotations

from typing import Any

from engine.operations import OperationContext
from workflows.release._form import shown
from workflows.release._people import authorisers, contact, send
from workflows.release._settings import ReleaseSettings


def notify_requester(settings: ReleaseSettings, ctx: OperationContext) -> dict[str, Any]:
    """``release.notify_requester``: tell the requester the outcome (refused, or released and how)."""
    data = ctx.data
    requester = contact(ctx.session, ctx.started_by)
    if data.get("decision") == "refuse":
        subject = f"Your request {ctx.case_ref} was refused"
        text = (f"Dear {requester.name},\n\nYour request {ctx.case_ref} to release or review a call recording "
                f"was refused by {data.get('decided_by')}.\n\nReason: {data.get('decision_reason')}\n")
        outcome = "refused"
    elif data.get("release_kind") == "listening":
        subject = f"You may now listen to the recordings of {ctx.case_ref}"
        text = (f"Dear {requester.name},\n\nYour request {ctx.case_ref} was approved by {data.get('authoriser')}. "
                f"You may listen to its recordings in callgov until {shown(data.get('access_expires_at'))}, for "
                "the purpose agreed only. Recordings cannot be downloaded.\n")
        outcome = "listening"
    else:
        subject = f"The recordings of {ctx.case_ref} were released"
        text = (f"Dear {requester.name},\n\nYour request {ctx.case_ref} was approved by {data.get('authoriser')}. "
                f"A secure download link was sent to {data.get('link_sent_to')}; it works until "
                f"{shown(data.get('link_expires_at'))} for {data.get('link_uses')} downloads.\n")
        outcome = "package"
    sent = send(ctx, [requester.email] if requester.email else [], f"{settings.organisation}: {subject}", text,
                what=f"requester_{outcome}")
    return {"requester_notified": sent}


def remind_authorisers(settings: ReleaseSettings, ctx: OperationContext) -> dict[str, Any]:
    """``release.remind_authorisers``: the request has waited its working days for a decision."""
    people = [p for p in authorisers(ctx.session, excluding=ctx.started_by) if p.email]
    text = (f"Request {ctx.case_ref} to release or review a call recording has waited "
            f"{settings.reminder_working_days} working days for authorisation. It goes to the Data Protection "
            f"Officer after {settings.escalation_working_days} working days.\n\nPurpose: {ctx.data.get('purpose')}\n")
    sent = send(ctx, [p.email for p in people if p.email],
                f"{settings.organisation}: reminder, {ctx.case_ref} awaits authorisation", text, what="reminder")
    return {"reminder_sent": sent}
