"""The breach investigation's operations: each records one step on the breach register and returns the
values the diagram's gateways and timers read (policy 4 and 8; UK GDPR Art. 33-34)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import audit
from engine.models import Recording, User, UserRole
from engine.models.breaches import BreachHold, BreachRecord, BreachReporter, BreachTrigger
from engine.operations import OperationContext
from workflows.mail import send_mail

ACTOR = "system:breach"
ANONYMOUS = "anonymous"
ICO_WARNING = timedelta(hours=48)
ICO_DEADLINE = timedelta(hours=72)
CLASSIFICATIONS = ("personal_data", "policy", "both", "neither")
RISK_LEVELS = ("none", "low", "medium", "high")
_NUMBER = re.compile(r"\d+")


def moment(value: Any) -> datetime | None:
    """A datetime from case data (a message payload carries ISO text)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def recording_ids(session: Session, *values: Any) -> list[int]:
    """The catalogue recordings named in ``values`` (lists of ids, or text like "12, 15"), existing only."""
    wanted: set[int] = set()
    for value in values:
        if isinstance(value, int):
            wanted.add(value)
        elif isinstance(value, str):
            wanted |= {int(n) for n in _NUMBER.findall(value)}
        elif isinstance(value, list | tuple):
            wanted |= {int(v) for v in value if isinstance(v, int) or (isinstance(v, str) and v.isdigit())}
    if not wanted:
        return []
    return sorted(session.scalars(select(Recording.id).where(Recording.id.in_(sorted(wanted)))).all())


def reports_to(session: Session, username: str) -> list[str]:
    """Everyone who reports to ``username`` in the app's data, directly or through other managers."""
    found: list[str] = []
    boss = session.scalar(select(User.id).where(User.username == username))
    frontier = [boss] if boss is not None else []
    seen: set[int] = set(frontier)
    while frontier:
        rows = session.execute(select(User.id, User.username).where(User.manager_id.in_(frontier))).all()
        frontier = [r.id for r in rows if r.id not in seen]
        seen |= set(frontier)
        found += [r.username for r in rows if r.username not in found]
    return sorted(found)


def excluded_for(session: Session, subject: str | None) -> list[str]:
    """Who may never act on the case: the person under investigation and everyone who reports to them."""
    if not subject:
        return []
    return sorted({subject, *reports_to(session, subject)})


def register_row(ctx: OperationContext) -> BreachRecord:
    """The case's register row (the first step writes it)."""
    row = ctx.session.scalars(select(BreachRecord).where(BreachRecord.case_ref == ctx.case_ref)).first()
    if row is None:
        raise LookupError(f"Case {ctx.case_ref} has no breach register row")
    return row


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return str(value).strip() or None if value is not None else None


def _holders(session: Session, role: str) -> list[str]:
    emails = session.scalars(select(User.email).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == role, User.active.is_(True), User.email.is_not(None))).all()
    return sorted(e for e in emails if e)


def _mail(ctx: OperationContext, to: Sequence[str], subject: str, text: str, *, what: str) -> bool:
    return send_mail(ctx, to, subject, text, what=what, actor=ACTOR)


# -- opening ------------------------------------------------------------------------------------------


def open_case(ctx: OperationContext) -> dict[str, Any]:
    """``breach.open_case``: the register row and the first trigger, from a report or a system trigger.

    A person's report names its reporter in the restricted ``breach_reporter`` table (an anonymous
    report's reporter is written there by ``Callgov.report_breach``); the case data says only
    ``reporter`` (a username, ``anonymous`` or ``system``).
    """
    data, now, s = ctx.data, ctx.now(), ctx.session
    kind = str(data.get("trigger_kind") or "report")
    subject = _text(data, "subject_username")
    if subject and s.scalar(select(User.id).where(User.username == subject)) is None:
        subject = None
    ids = recording_ids(s, data.get("recording_ids"), data.get("recordings_concerned"))
    summary = _text(data, "what_happened") or _text(data, "trigger_description") or kind
    s.add(BreachRecord(case_ref=ctx.case_ref, source=kind, subject_username=subject, summary=summary[:4000],
                       opened_at=now, discovered_at=moment(data.get("discovered_at")), status="open"))
    s.add(BreachTrigger(case_ref=ctx.case_ref, kind=kind, subject_username=subject,
                        recording_id=ids[0] if ids else None, at=now, raised_by=ctx.started_by, joined=False,
                        detail={"recording_ids": ids, "how_known": _text(data, "how_known")}))
    if kind == "report":
        s.add(BreachReporter(case_ref=ctx.case_ref, username=ctx.started_by, anonymous=False, reported_at=now))
        reporter = ctx.started_by
    else:
        reporter = ANONYMOUS if kind == "anonymous_report" else "system"
    s.flush()
    audit.record(s, action="breach.opened", actor=ACTOR, case_ref=ctx.case_ref, at=now,
                 detail={"source": kind, "subject": subject, "recording_ids": ids})
    return {"reporter": reporter, "subject_username": subject, "recording_ids": ids,
            "investigation_excluded": excluded_for(s, subject), "triage_reminder_days": 1,
            "triage_escalation_days": 2}


def remind_triage(ctx: OperationContext) -> dict[str, Any]:
    """``breach.remind_triage``: the case has waited a working day for triage."""
    sent = _mail(ctx, _holders(ctx.session, "dpo"), f"Breach case {ctx.case_ref} awaits triage",
                 f"Breach case {ctx.case_ref} has waited one working day for triage. The 72-hour clock for "
                 "telling the ICO runs from when we became aware of a breach: triage it now.\n", what="triage_reminder")
    return {"triage_reminded": sent}


def escalate_triage(ctx: OperationContext) -> dict[str, Any]:
    """``breach.escalate_triage``: two working days without triage; the DPO and the directors are told."""
    to = sorted(set(_holders(ctx.session, "dpo")) | set(_holders(ctx.session, "ad_communities")))
    audit.record(ctx.session, action="breach.triage_escalated", actor=ACTOR, case_ref=ctx.case_ref, at=ctx.now(),
                 detail={})
    sent = _mail(ctx, to, f"ESCALATION: breach case {ctx.case_ref} not triaged",
                 f"Breach case {ctx.case_ref} has not been triaged after two working days.\n", what="triage_escalation")
    return {"triage_escalated": True, "triage_escalation_sent": sent}


# -- triage, containment, risk ----------------------------------------------------------------------


def record_triage(ctx: OperationContext) -> dict[str, Any]:
    """``breach.record_triage``: the classification, the moment of awareness and the 72-hour clock."""
    data, now, s = ctx.data, ctx.now(), ctx.session
    classification = str(data.get("classification"))
    if classification == "neither" and not _text(data, "triage_reason"):
        return {"triage_problem": "Closing a case as neither a data breach nor a policy breach needs the reason.",
                "closed_at_triage": False}
    aware = moment(data.get("aware_at")) or now
    subject = _text(data, "subject_username")
    if subject and s.scalar(select(User.id).where(User.username == subject)) is None:
        subject = None
    serious = bool(data.get("serious"))
    row = register_row(ctx)
    row.classification, row.serious, row.aware_at = classification, serious, aware
    row.triaged_by, row.triaged_at = str(data.get("last_actor") or ""), now
    row.subject_username = subject or row.subject_username
    audit.record(s, action="breach.triaged", actor=row.triaged_by or ACTOR, case_ref=ctx.case_ref, at=now,
                 detail={"classification": classification, "serious": serious, "aware_at": aware.isoformat()})
    personal = classification in ("personal_data", "both")
    return {
        "triage_problem": None, "aware_at": aware,
        "ico_warning_at": aware + ICO_WARNING, "ico_deadline": aware + ICO_DEADLINE,
        "closed_at_triage": classification == "neither", "personal_data_breach": personal,
        "needs_investigation": classification in ("policy", "both") or serious,
        "subject_username": row.subject_username,
        "investigation_excluded": excluded_for(s, row.subject_username),
    }


def record_containment(ctx: OperationContext) -> dict[str, Any]:
    """``breach.record_containment``: the measures taken, and a hold on the recordings concerned."""
    data, now, s = ctx.data, ctx.now(), ctx.session
    actor = str(data.get("last_actor") or ACTOR)
    ids = recording_ids(s, data.get("recording_ids"), data.get("hold_recordings"))
    held = set(s.scalars(select(BreachHold.recording_id).where(BreachHold.case_ref == ctx.case_ref)).all())
    for rid in ids:
        if rid not in held:
            s.add(BreachHold(case_ref=ctx.case_ref, recording_id=rid, placed_by=actor, placed_at=now))
    row = register_row(ctx)
    row.containment = _text(data, "containment_measures")
    s.flush()
    audit.record(s, action="breach.contained", actor=actor, case_ref=ctx.case_ref, at=now,
                 detail={"held_recordings": ids})
    return {"recording_ids": ids, "held_recordings": ids}


def record_assessment(ctx: OperationContext) -> dict[str, Any]:
    """``breach.record_assessment``: the risk to the people affected, and the draft ICO report."""
    data, now = ctx.data, ctx.now()
    row = register_row(ctx)
    risk = str(data.get("risk_level"))
    reportable = data.get("report_to_ico") == "tell_ico"
    if not reportable and not _text(data, "not_reported_reason"):
        return {"assessment_problem": "A decision not to report the breach to the ICO needs its reason "
                                      "(UK GDPR Art. 33(5): every breach and decision is recorded)."}
    row.risk_level, row.reportable = risk, reportable
    row.people_affected = _whole(data.get("people_affected"))
    row.records_affected = _whole(data.get("records_affected"))
    audit.record(ctx.session, action="breach.risk_assessed", actor=str(data.get("last_actor") or ACTOR),
                 case_ref=ctx.case_ref, at=now, detail={"risk_level": risk, "reportable": reportable})
    return {"assessment_problem": None, "reportable": reportable, "high_risk": risk == "high",
            "ico_draft": ico_draft(ctx, row)}


def _whole(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def ico_draft(ctx: OperationContext, row: BreachRecord) -> str:
    """The report to the ICO with every field Art. 33(3) requires, for the DPO to check and submit."""
    data = ctx.data
    dpo = ctx.session.execute(select(User.display_name, User.email).join(UserRole, UserRole.user_id == User.id)
                              .where(UserRole.role == "dpo", User.active.is_(True)).order_by(User.username)).first()
    dpo_contact = f"{dpo.display_name} <{dpo.email}>" if dpo is not None else "(no active DPO in callgov)"
    lines = [
        ("Our reference", ctx.case_ref),
        ("Nature of the breach", row.summary),
        ("When we became aware", row.aware_at.isoformat() if row.aware_at else None),
        ("Categories of people concerned", data.get("people_categories")),
        ("Approximate number of people", data.get("people_affected")),
        ("Categories of personal data records", data.get("record_categories")),
        ("Approximate number of records", data.get("records_affected")),
        ("Data Protection Officer (contact)", dpo_contact),
        ("Likely consequences", data.get("consequences")),
        ("Measures taken or proposed", row.containment),
        ("Risk level", data.get("risk_level")),
    ]
    return "\n".join(f"{label}: {value if value not in (None, '') else '(not given)'}" for label, value in lines)


# -- the ICO and the people affected ---------------------------------------------------------------


def warn_ico(ctx: OperationContext) -> dict[str, Any]:
    """``breach.warn_ico``: 48 hours since awareness and the ICO has not been told."""
    audit.record(ctx.session, action="breach.ico_warning", actor=ACTOR, case_ref=ctx.case_ref, at=ctx.now(),
                 detail={"deadline": str(ctx.data.get("ico_deadline"))})
    sent = _mail(ctx, _holders(ctx.session, "dpo"), f"Breach {ctx.case_ref}: 24 hours left to tell the ICO",
                 f"48 hours have passed since we became aware of breach {ctx.case_ref}. The ICO must be told by "
                 f"{ctx.data.get('ico_deadline')}; a later report must say why it is late.\n", what="ico_warning")
    return {"ico_warned": sent}


def escalate_ico(ctx: OperationContext) -> dict[str, Any]:
    """``breach.escalate_ico``: 72 hours since awareness and the ICO has not been told."""
    to = sorted(set(_holders(ctx.session, "dpo")) | set(_holders(ctx.session, "ad_communities")))
    audit.record(ctx.session, action="breach.ico_overdue", actor=ACTOR, case_ref=ctx.case_ref, at=ctx.now(),
                 detail={"deadline": str(ctx.data.get("ico_deadline"))})
    _mail(ctx, to, f"ESCALATION: breach {ctx.case_ref} not reported to the ICO within 72 hours",
          f"The 72 hours for telling the ICO about breach {ctx.case_ref} have passed. Report it now, with "
          "the reason for the delay.\n", what="ico_escalation")
    return {"ico_overdue": True}


def record_ico_report(ctx: OperationContext) -> dict[str, Any]:
    """``breach.record_ico_report``: the ICO's reference and when it was told; late needs a reason."""
    data, now = ctx.data, ctx.now()
    reported = moment(data.get("ico_reported_at")) or now
    deadline = moment(data.get("ico_deadline"))
    late = deadline is not None and reported > deadline
    reason = _text(data, "late_reason")
    if reported > now:
        return {"ico_problem": "The time the ICO was told cannot be in the future."}
    if late and not reason:
        return {"ico_problem": "The report was made more than 72 hours after we became aware of the breach: "
                               "give the reason for the delay (UK GDPR Art. 33(1))."}
    row = register_row(ctx)
    row.ico_reference, row.ico_reported_at, row.ico_late = _text(data, "ico_reference"), reported, late
    row.late_reason = reason if late else None
    audit.record(ctx.session, action="breach.ico_reported", actor=str(data.get("last_actor") or ACTOR),
                 case_ref=ctx.case_ref, at=now,
                 detail={"reference": row.ico_reference, "reported_at": reported.isoformat(), "late": late})
    return {"ico_problem": None, "ico_reported_at": reported, "ico_late": late}


def record_not_reported(ctx: OperationContext) -> dict[str, Any]:
    """``breach.record_not_reported``: the decision not to tell the ICO, with its reason."""
    row = register_row(ctx)
    row.reportable = False
    row.not_reported_reason = _text(ctx.data, "not_reported_reason")
    audit.record(ctx.session, action="breach.not_reported", actor=str(ctx.data.get("last_actor") or ACTOR),
                 case_ref=ctx.case_ref, at=ctx.now(), detail={"reason": row.not_reported_reason})
    return {}


def record_people_told(ctx: OperationContext) -> dict[str, Any]:
    """``breach.record_people_told``: how and when the people affected were told (Art. 34)."""
    row = register_row(ctx)
    row.people_told_at = moment(ctx.data.get("people_told_at")) or ctx.now()
    row.people_told_how = _text(ctx.data, "people_told_how")
    audit.record(ctx.session, action="breach.people_told", actor=str(ctx.data.get("last_actor") or ACTOR),
                 case_ref=ctx.case_ref, at=ctx.now(), detail={"at": row.people_told_at.isoformat()})
    return {}


# -- investigation and outcome ------------------------------------------------------------------------


def investigator_problem(session: Session, case_ref: str, candidate: str, subject: str | None,
                         started_by: str) -> str | None:
    """Why ``candidate`` may not investigate the case, or ``None``. The reason never says whether the
    candidate is the (possibly anonymous) reporter."""
    person = session.execute(select(User.id, User.active).where(User.username == candidate)).first()
    roles = set(session.scalars(select(UserRole.role).join(User, User.id == UserRole.user_id)
                                .where(User.username == candidate)).all())
    if person is None or not person.active or "investigator" not in roles:
        return f"{candidate!r} is not an active user with the investigator role."
    reporter = session.scalar(select(BreachReporter.username).where(BreachReporter.case_ref == case_ref))
    barred: Iterable[str] = {*excluded_for(session, subject), started_by, *([reporter] if reporter else [])}
    if candidate in barred:
        return (f"{candidate} cannot investigate this case: the investigator must be independent of the person "
                "under investigation, of anyone who reports to them, and of the person who reported it.")
    return None


def check_investigator(ctx: OperationContext) -> dict[str, Any]:
    """``breach.check_investigator``: the investigator the DPO chose must be independent."""
    candidate = _text(ctx.data, "investigator") or ""
    problem = investigator_problem(ctx.session, ctx.case_ref, candidate, _text(ctx.data, "subject_username"),
                                   ctx.started_by)
    if problem is None:
        register_row(ctx).investigator = candidate
    audit.record(ctx.session, action="breach.investigator_refused" if problem else "breach.investigator_assigned",
                 actor=str(ctx.data.get("last_actor") or ACTOR), case_ref=ctx.case_ref, at=ctx.now(),
                 detail={"investigator": candidate} if problem is None else {"reason": "not independent"})
    return {"investigator_problem": problem}


def record_findings(ctx: OperationContext) -> dict[str, Any]:
    """``breach.record_findings``: the investigator's findings and recommendations."""
    row = register_row(ctx)
    row.findings = _text(ctx.data, "findings")
    row.recommendations = _text(ctx.data, "investigation_recommendations")
    audit.record(ctx.session, action="breach.investigated", actor=str(ctx.data.get("last_actor") or ACTOR),
                 case_ref=ctx.case_ref, at=ctx.now(), detail={})
    return {}


def close_case(ctx: OperationContext) -> dict[str, Any]:
    """``breach.close``: the outcome (or the reason for closing at triage); the holds are released."""
    data, now, s = ctx.data, ctx.now(), ctx.session
    row = register_row(ctx)
    actor = str(data.get("last_actor") or ACTOR)
    if data.get("closed_at_triage"):
        row.closed_reason = _text(data, "triage_reason")
    else:
        row.disciplinary_referral = bool(data.get("disciplinary_referral"))
        row.disciplinary_reference = _text(data, "disciplinary_reference")
        row.recommendations = _text(data, "recommendations") or row.recommendations
        row.lessons_learned = _text(data, "lessons_learned")
        row.closed_reason = _text(data, "closing_note")
    row.status, row.closed_by, row.closed_at = "closed", actor, now
    s.execute(update(BreachHold).where(BreachHold.case_ref == ctx.case_ref, BreachHold.released_at.is_(None))
              .values(released_at=now))
    audit.record(s, action="breach.closed", actor=actor, case_ref=ctx.case_ref, at=now,
                 detail={"at_triage": bool(data.get("closed_at_triage")),
                         "disciplinary_referral": row.disciplinary_referral})
    return {"closed_at": now}
