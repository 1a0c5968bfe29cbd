"""Facade methods of the breach investigation (issue 7; policy 4 and 8; UK GDPR Art. 33-34).
``Callgov`` inherits them.

* ``report_breach`` — a member of staff reports a suspected breach, openly (the case is theirs) or
  anonymously: the case is then started by ``system:anonymous-report`` and the reporter's username
  goes only to the restricted ``breach_reporter`` table, which the DPO alone reads
  (``breach_reporter``).
* ``raise_breach_trigger`` — the system's triggers (a refused playback, a recording flagged as
  holding card data, a misused delivery link, a complaint alleging misuse). A trigger about a person
  or recording that an open case already concerns, raised within ``window_days``, joins that case
  (a ``breach_trigger`` row, audited) instead of starting a new one; otherwise a case starts at the
  diagram's ``breach.suspected`` message start event.
* ``breach_register`` / ``breach_register_csv`` — the register of every case, for the DPO.
* ``recording_holds`` — the open cases holding a recording (deletion must wait for them).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.breach_evidence import case_subjects, cases_about
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.facade_parts import FacadeParts
from engine.models.breaches import BreachHold, BreachRecord, BreachReporter, BreachTrigger
from engine.models.releases import DisclosurePackage
from engine.releases import token_digest
from engine.views import json_ready

if TYPE_CHECKING:
    from engine.views import Person

BREACH_PROCESS = "breach_investigation"
MESSAGE_START = "start_suspected"
"""The diagram's message start event (message ``breach.suspected``)."""
ANONYMOUS_STARTER = "system:anonymous-report"
TRIGGER_KINDS = frozenset({"refused_playback", "pci_flag", "link_misuse", "complaint"})
DEDUP_DAYS = 7
"""Triggers about the same person or recording within this many days join the open case."""
REGISTER_ROLES = frozenset({"dpo"})


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TriggerResult:
    """The case a trigger opened or joined."""

    case_ref: str
    joined: bool


@dataclass(frozen=True)
class BreachEntry:
    """One row of the breach register as the DPO reads it."""

    case_ref: str
    status: str
    source: str
    subject_username: str | None
    summary: str | None
    opened_at: datetime
    discovered_at: datetime | None
    classification: str | None
    serious: bool
    triaged_by: str | None
    triaged_at: datetime | None
    aware_at: datetime | None
    containment: str | None
    risk_level: str | None
    people_affected: int | None
    records_affected: int | None
    reportable: bool | None
    not_reported_reason: str | None
    ico_reference: str | None
    ico_reported_at: datetime | None
    ico_late: bool | None
    late_reason: str | None
    people_told_at: datetime | None
    people_told_how: str | None
    investigator: str | None
    disciplinary_referral: bool | None
    disciplinary_reference: str | None
    recommendations: str | None
    lessons_learned: str | None
    closed_reason: str | None
    closed_by: str | None
    closed_at: datetime | None
    triggers: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return json_ready(dict(self.__dict__))


REGISTER_COLUMNS = tuple(f.name for f in fields(BreachEntry))


class BreachesMixin(FacadeParts):
    """Breach use cases (mixed into ``Callgov``)."""

    # -- starting ------------------------------------------------------------------------------------

    def report_breach(self, *, user: str, what_happened: str, discovered_at: datetime, how_known: str,
                      recordings_concerned: str = "", people_concerned: str = "",
                      subject_username: str | None = None, anonymous: bool = False) -> str:
        """Report a suspected breach as ``user``; returns the case reference.

        Openly, the case is ``user``'s and runs through the diagram's report task. Anonymously, the
        case starts at the message start event as ``system:anonymous-report`` and only the DPO can
        learn who reported it."""
        form = {"what_happened": what_happened, "discovered_at": discovered_at, "how_known": how_known,
                "recordings_concerned": recordings_concerned, "people_concerned": people_concerned,
                "subject_username": subject_username or ""}
        if not anonymous:
            view = self.start(BREACH_PROCESS, user=user)
            [task] = [t for t in view.ready_tasks if t.element_id == "report"]
            self.complete_task(task.id, user=user, data=form)
            return view.case_ref
        if not (what_happened or "").strip() or not (how_known or "").strip():
            raise InvalidInput("Say what happened and how you know", {"what_happened": "required"})
        if not isinstance(discovered_at, datetime):
            raise InvalidInput("Say when it was discovered", {"discovered_at": "required"})
        with self._tx() as s:
            reporter = self._active_user(s, user).username
            data = {**form, "what_happened": what_happened.strip()[:4000], "how_known": how_known.strip()[:4000],
                    "trigger_kind": "anonymous_report"}
            view = self._start_case(s, BREACH_PROCESS, ANONYMOUS_STARTER, data, entry=MESSAGE_START,
                                    detail={"anonymous": True})
            s.add(BreachReporter(case_ref=view.case_ref, username=reporter, anonymous=True,
                                 reported_at=self.clock.now()))
            return view.case_ref

    def report_refused_playback(self, username: str, recording_id: int) -> TriggerResult | None:
        """Raise, or join, a breach case about ``username`` trying to hear a recording without an
        authorising case (policy section 8, example 1). None when no breach process is published:
        the refusal itself is audited either way."""
        try:
            return self.raise_breach_trigger(
                "refused_playback", actor="system:playback", subject_username=username, recording_id=recording_id,
                description=f"{username} tried to play recording {recording_id} without an authorising case")
        except NotFound as missing:
            logger.warning("refused playback not raised as a breach case: %s", missing)
            return None

    def flag_card_details(self, recording_id: int, *, user: str, note: str = "") -> TriggerResult:
        """``user``, who may hear the recording now, flags it as containing card details (policy section 6):
        a ``pci_flag`` trigger about the recording (joining an open case about it). Anyone else is refused."""
        note = " ".join((note or "").split())[:1000]
        with self._tx() as s:
            decision = self._listen_decision(s, user, recording_id)
        if not decision.allowed:
            raise PermissionDenied("Only someone who may listen to this recording can flag it")
        description = f"{decision.username} flagged recording {recording_id} as containing card details"
        return self.raise_breach_trigger(
            "pci_flag", actor=decision.username, recording_id=recording_id,
            description=f"{description}: {note}" if note else description,
            detail={"flagged_by": decision.username, "note": note, "listening_under": decision.case_ref})

    def report_link_misuse(self, token: str) -> TriggerResult | None:
        """A delivery link used after it expired or beyond its count: a ``link_misuse`` trigger about the
        package's recordings (joining the open case about them). None for an unknown or still usable
        link, or when no breach process is published."""
        with self.db.reading() as s:
            package = s.scalars(select(DisclosurePackage).where(
                DisclosurePackage.token_sha256 == token_digest(token))).first()
            if package is None or (package.expires_at > self.clock.now() and package.uses < package.max_uses):
                return None
            why = "expired" if package.expires_at <= self.clock.now() else "used up"
            ids = sorted({int(f["recording_id"]) for f in package.files or () if f.get("recording_id") is not None})
            case_ref = package.case_ref
        if not ids:
            logger.warning("link misuse of release %s not raised: its package names no recording", case_ref)
            return None
        try:
            return self.raise_breach_trigger(
                "link_misuse", actor="system:disclosure", recording_id=ids[0],
                description=f"The delivery link of release {case_ref} was used after it was {why}",
                detail={"release_case": case_ref, "why": why, "recording_ids": ids})
        except NotFound as missing:
            logger.warning("link misuse not raised as a breach case: %s", missing)
            return None

    def raise_breach_trigger(self, kind: str, *, actor: str, subject_username: str | None = None,
                             recording_id: int | None = None, description: str = "",
                             detail: Mapping[str, Any] | None = None,
                             window_days: int = DEDUP_DAYS) -> TriggerResult:
        """A system trigger about a person and/or a recording: joins the open case that a trigger about
        the same person or recording raised within ``window_days``, or starts a new case."""
        if kind not in TRIGGER_KINDS:
            raise InvalidInput(f"Unknown breach trigger {kind!r}", {"kind": "unknown"})
        if not subject_username and recording_id is None:
            raise InvalidInput("A trigger names a person or a recording", {"subject_username": "required"})
        now = self.clock.now()
        with self._tx() as s:
            open_case = self._open_case_for(s, subject_username, recording_id, now - timedelta(days=window_days))
            if open_case is not None:
                s.add(BreachTrigger(case_ref=open_case, kind=kind, subject_username=subject_username,
                                    recording_id=recording_id, at=now, raised_by=actor, joined=True,
                                    detail=json_ready(dict(detail or {}))))
                self._audit(s, "breach.trigger_joined", actor, case_ref=open_case,
                            detail={"kind": kind, "subject": subject_username, "recording_id": recording_id})
                return TriggerResult(open_case, True)
            data = {"trigger_kind": kind, "subject_username": subject_username or "",
                    "recording_ids": [recording_id] if recording_id is not None else [],
                    "trigger_description": description[:4000] or kind.replace("_", " "),
                    "what_happened": description[:4000] or kind.replace("_", " "),
                    "trigger_detail": json_ready(dict(detail or {}))}
            starter = actor if actor.startswith("system:") else "system:breach-trigger"
            view = self._start_case(s, BREACH_PROCESS, starter, data, entry=MESSAGE_START,
                                    detail={"trigger": kind, "raised_by": actor})
            return TriggerResult(view.case_ref, False)

    @staticmethod
    def _open_case_for(s: Session, subject: str | None, recording_id: int | None, since: datetime) -> str | None:
        about = []
        if subject:
            about += [BreachTrigger.subject_username == subject, BreachRecord.subject_username == subject]
        if recording_id is not None:
            about.append(BreachTrigger.recording_id == recording_id)
        return s.scalar(select(BreachTrigger.case_ref)
                        .join(BreachRecord, BreachRecord.case_ref == BreachTrigger.case_ref)
                        .where(BreachRecord.status == "open", BreachTrigger.at >= since, or_(*about))
                        .order_by(BreachTrigger.at.desc()).limit(1))

    # -- the register -------------------------------------------------------------------------------

    def breach_register(self, *, user: str, status: str | None = None) -> list[BreachEntry]:
        """Every breach case, newest first (``status`` ``open`` or ``closed`` to filter); the DPO only."""
        with self._tx() as s:
            person = self._require_register(s, user)
            query = select(BreachRecord).order_by(BreachRecord.opened_at.desc(), BreachRecord.id.desc())
            if status:
                query = query.where(BreachRecord.status == status)
            about_me = cases_about(s, person.username)
            rows = [row for row in s.scalars(query) if row.case_ref not in about_me]
            counts: dict[str, int] = {ref: n for ref, n in s.execute(
                select(BreachTrigger.case_ref, _count()).group_by(BreachTrigger.case_ref)).all()}
            self._audit(s, "breach.register_viewed", person.username, detail={"rows": len(rows)})
            return [_entry(row, counts.get(row.case_ref, 0)) for row in rows]

    def breach_register_csv(self, *, user: str) -> str:
        """The breach register as CSV (UTF-8 text, one row per case); the DPO only, audited."""
        entries = self.breach_register(user=user)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(REGISTER_COLUMNS)
        for entry in entries:
            values = entry.to_dict()
            writer.writerow([_cell(values[c]) for c in REGISTER_COLUMNS])
        with self._tx() as s:
            self._audit(s, "breach.register_exported", user, detail={"rows": len(entries)})
        return buffer.getvalue()

    def breach_reporter(self, case_ref: str, *, user: str) -> str:
        """Who reported a breach case: the DPO alone may ask (audited); ``system`` for a system trigger."""
        ref = case_ref.strip().upper()
        with self._tx() as s:
            person = self._require_register(s, user)
            if s.scalar(select(BreachRecord.id).where(BreachRecord.case_ref == ref)) is None:
                raise NotFound(f"There is no breach case {ref}")
            row = s.scalars(select(BreachReporter).where(BreachReporter.case_ref == ref)).first()
            if person.username in case_subjects(s, ref):
                raise PermissionDenied(f"You cannot see who reported case {ref}: it concerns you")
            self._audit(s, "breach.reporter_viewed", person.username, case_ref=ref, detail={})
            return row.username if row is not None else "system"

    def recording_holds(self, recording_id: int) -> list[str]:
        """The cases holding a recording: while any is listed, the recording must not be deleted."""
        with self.db.reading() as s:
            return list(s.scalars(select(BreachHold.case_ref).where(
                BreachHold.recording_id == recording_id, BreachHold.released_at.is_(None))
                .order_by(BreachHold.case_ref)).all())

    def _require_register(self, s: Session, user: str) -> Person:
        person = self._active_user(s, user)
        if not person.role_names & REGISTER_ROLES:
            raise PermissionDenied("Only the Data Protection Officer can see the breach register")
        return person


def _count() -> Any:
    return func.count(BreachTrigger.id)


def _entry(row: BreachRecord, triggers: int) -> BreachEntry:
    values = {name: getattr(row, name) for name in REGISTER_COLUMNS if name != "triggers"}
    values["serious"] = bool(values["serious"])
    return BreachEntry(**values, triggers=triggers)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
