"""Who a breach case is about, and the investigator's access to its evidence (issue 7; policy 4 and 8).

* ``case_subjects`` / ``cases_about`` — the people a breach case concerns (the register's subject and
  the subject of every trigger that joined it). They never see or act on the case, whatever roles
  they hold and whether it is open or closed (``QueriesMixin._viewable_case``, ``Callgov.task``).
* ``investigating_case`` — the open breach case whose assigned investigator may listen to a recording
  it concerns: the playback is then audited under that case (``ReleasesMixin._listen_decision``).
* ``BreachEvidenceMixin`` — the investigator's evidence page: the people and recordings concerned, and
  the audit trail of a person concerned. Each look is audited under the case; anyone but the assigned
  investigator of the open case is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from engine import audit
from engine.errors import NotFound, PermissionDenied
from engine.facade_parts import FacadeParts
from engine.models import Recording
from engine.models.breaches import BreachHold, BreachRecord, BreachTrigger

if TYPE_CHECKING:
    from engine.views import Person

EVIDENCE_PAGE = 100
"""Audit events per page of a person's trail."""


@dataclass(frozen=True)
class EvidenceRecording:
    """A recording a breach case concerns, as the investigator's evidence page lists it."""

    recording_id: int
    start_time: datetime
    direction: str | None
    extension: str | None
    staff_name: str | None


@dataclass(frozen=True)
class BreachEvidence:
    """What the assigned investigator may examine for a case."""

    case_ref: str
    summary: str | None
    subjects: tuple[str, ...]
    recordings: tuple[EvidenceRecording, ...]


@dataclass(frozen=True)
class TrailEvent:
    """One audit event of a person concerned, as the investigator reads it."""

    seq: int
    at: datetime
    action: str
    case_ref: str | None
    recording_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class PersonTrail:
    """A page of a person's audit trail, newest first; ``next_before`` pages on."""

    case_ref: str
    username: str
    events: tuple[TrailEvent, ...]
    next_before: int | None


def case_subjects(session: Session, case_ref: str) -> set[str]:
    """The people a breach case concerns (empty for any other case)."""
    ref = case_ref.strip().upper()
    rows = session.execute(union(
        select(BreachRecord.subject_username).where(BreachRecord.case_ref == ref),
        select(BreachTrigger.subject_username).where(BreachTrigger.case_ref == ref))).scalars()
    return {name for name in rows if name}


def cases_about(session: Session, username: str) -> set[str]:
    """The breach cases that concern ``username``, open or closed."""
    rows = session.execute(union(
        select(BreachRecord.case_ref).where(BreachRecord.subject_username == username),
        select(BreachTrigger.case_ref).where(BreachTrigger.subject_username == username))).scalars()
    return set(rows)


def case_recordings(session: Session, case_ref: str) -> list[int]:
    """The recordings a breach case concerns: those its triggers named and those it holds."""
    ids: set[int] = set(session.scalars(select(BreachHold.recording_id).where(BreachHold.case_ref == case_ref)))
    for recording_id, detail in session.execute(select(BreachTrigger.recording_id, BreachTrigger.detail)
                                                .where(BreachTrigger.case_ref == case_ref)):
        if recording_id is not None:
            ids.add(recording_id)
        ids |= {int(v) for v in (detail or {}).get("recording_ids") or () if isinstance(v, int)}
    return sorted(ids)


def investigating_case(session: Session, username: str, recording_id: int) -> str | None:
    """The open breach case ``username`` investigates that concerns the recording, if any."""
    refs = session.scalars(select(BreachRecord.case_ref).where(
        BreachRecord.investigator == username, BreachRecord.status == "open").order_by(BreachRecord.id)).all()
    for ref in refs:
        if username not in case_subjects(session, ref) and recording_id in case_recordings(session, ref):
            return ref
    return None


class BreachEvidenceMixin(FacadeParts):
    """The investigator's evidence use cases (mixed into ``Callgov``)."""

    def breach_evidence(self, case_ref: str, *, user: str) -> BreachEvidence:
        """The people and recordings a case concerns, for its assigned investigator; audited."""
        with self._tx() as s:
            person, row = self._investigator_of(s, case_ref, user)
            if row is not None:
                ids = case_recordings(s, row.case_ref)
                recordings = tuple(EvidenceRecording(r.id, r.start_time, r.direction, r.extension, r.staff_name)
                                   for r in s.scalars(select(Recording).where(Recording.id.in_(ids))
                                                      .order_by(Recording.start_time)))
                subjects = tuple(sorted(case_subjects(s, row.case_ref)))
                self._audit(s, "breach.evidence_opened", person.username, case_ref=row.case_ref,
                            detail={"subjects": list(subjects), "recording_ids": ids})
                evidence = BreachEvidence(row.case_ref, row.summary, subjects, recordings)
        if row is None:
            raise _refusal(case_ref)
        return evidence

    def breach_person_trail(self, case_ref: str, username: str, *, user: str,
                            before_seq: int | None = None, limit: int = EVIDENCE_PAGE) -> PersonTrail:
        """The audit trail of a person the case concerns, newest first, for its assigned investigator;
        each page read is audited under the case."""
        name = username.strip().lower()
        with self._tx() as s:
            person, row = self._investigator_of(s, case_ref, user, about=name)
            if row is not None:
                events = audit.events_for(s, actor=name, before_seq=before_seq, limit=limit + 1)
                self._audit(s, "breach.evidence_trail_viewed", person.username, case_ref=row.case_ref,
                            detail={"username": name, "before_seq": before_seq, "events": min(len(events), limit)})
                shown = events[:limit]
                trail = PersonTrail(row.case_ref, name, tuple(
                    TrailEvent(e.seq, e.at, e.action, e.case_ref, e.recording_id, e.detail) for e in shown),
                    shown[-1].seq if len(events) > limit else None)
        if row is None:
            raise _refusal(case_ref)
        return trail

    def _investigator_of(self, s: Session, case_ref: str, user: str,
                         about: str | None = None) -> tuple[Person, BreachRecord | None]:
        """The case, if ``user`` is its assigned investigator and it is open (and concerns ``about``, when
        given); else ``None``, with the refusal audited (it commits: the caller raises afterwards)."""
        person = self._active_user(s, user)
        ref = case_ref.strip().upper()
        row = s.scalars(select(BreachRecord).where(BreachRecord.case_ref == ref)).first()
        if row is None:
            raise NotFound(f"There is no breach case {ref[:40]}")
        subjects = case_subjects(s, ref)
        allowed = (row.investigator == person.username and row.status == "open"
                   and "investigator" in person.role_names and person.username not in subjects
                   and (about is None or about in subjects))
        if allowed:
            return person, row
        self._audit(s, "breach.evidence_refused", person.username, case_ref=ref,
                    detail={"username": about} if about else {})
        return person, None


def _refusal(case_ref: str) -> PermissionDenied:
    ref = case_ref.strip().upper()[:40]
    return PermissionDenied(f"Only the investigator assigned to case {ref}, while it is open, can examine its "
                            "evidence, and only about the people and recordings it concerns")
