"""The mail queue: mail the processes send goes out after the transaction that wrote it commits.

* ``queue_mail`` (for operations, through ``workflows.mail.send_mail``) writes a ``mail_queue`` row
  and an audit event in the caller's transaction, and asks the facade to deliver it once that
  transaction has committed.
* ``MailMixin.deliver_mail`` sends queued mail, one message per short transaction holding only its
  row: a relay that takes it marks it ``sent`` (and clears its text, which may hold a single-use
  link); a relay that fails leaves it ``pending`` with a later ``next_attempt_at`` (back-off), and
  after the last try it is ``failed``. Each outcome is audited under the mail's case.
* The ``mail.deliver`` job (``engine.jobs``) sends what is due: mail whose first try failed, and
  mail queued by a process that stopped before it could send.
* ``mail_queue_page`` and ``retry_mail`` serve the administrator's mail page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.mail import LogMailer, MailError, OutgoingMail
from engine import audit
from engine.errors import InvalidInput, NotFound
from engine.facade_parts import FacadeParts
from engine.instances import AFTER_COMMIT
from engine.models.mail import QueuedMail

RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
               timedelta(hours=3), timedelta(hours=6))
"""The wait after each failed try; after the last one the mail is ``failed`` (1 + 6 tries in ~10.5 h)."""

MAIL_PAGE = 50
STATUSES = ("pending", "sent", "logged", "failed")


def queue_mail(session: Session, *, to: Sequence[str], subject: str, text: str, what: str, actor: str,
               case_ref: str | None, at: datetime) -> int:
    """Queue one message in ``session``'s transaction; it is sent once that transaction commits."""
    row = QueuedMail(case_ref=case_ref, what=what, actor=actor, recipients=list(to), subject=subject, text=text,
                     headers={"X-Callgov-Case": case_ref} if case_ref else {}, status="pending", queued_at=at,
                     next_attempt_at=at, attempts=0)
    session.add(row)
    session.flush()
    audit.record(session, action="mail.queued", actor=actor, case_ref=case_ref, at=at,
                 detail={"what": what, "to": list(to), "mail": row.id})
    session.info.setdefault(AFTER_COMMIT, []).append(("mail", row.id))
    return row.id


@dataclass(frozen=True)
class MailView:
    """One queued message as the administrator's mail page shows it."""

    id: int
    case_ref: str | None
    what: str
    recipients: tuple[str, ...]
    subject: str
    text: str | None
    status: str
    queued_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class MailPage:
    """A page of the mail queue, newest first, with the count per status."""

    mails: tuple[MailView, ...]
    page: int
    pages: int
    status: str | None
    counts: dict[str, int]


class MailMixin(FacadeParts):
    """Delivering queued mail, and the mail page of the administration."""

    def deliver_mail(self, ids: Sequence[int] | None = None, *, limit: int = 200) -> dict[str, int]:
        """Send the queued mail ``ids`` now (after a commit), or else whatever is due; the outcomes
        counted by status. A message another process is sending, or already sent, is left alone."""
        now = self.clock.now()
        if ids is None:
            with self.db.reading() as s:
                ids = list(s.scalars(select(QueuedMail.id)
                                     .where(QueuedMail.status == "pending", QueuedMail.next_attempt_at <= now)
                                     .order_by(QueuedMail.next_attempt_at, QueuedMail.id).limit(limit)))
        outcomes: dict[str, int] = {}
        for mail_id in ids:
            outcome = self._deliver_one(mail_id)
            if outcome:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    def _deliver_one(self, mail_id: int) -> str | None:
        mailer = getattr(self.services, "mailer", None)
        if mailer is None:
            return None
        with self._tx() as s:
            row = s.scalars(select(QueuedMail).where(QueuedMail.id == mail_id)
                            .with_for_update(skip_locked=True)).one_or_none()
            now = self.clock.now()
            if row is None or row.status != "pending" or row.next_attempt_at > now:
                return None
            detail: dict[str, Any] = {"what": row.what, "to": list(row.recipients), "mail": row.id}
            row.attempts += 1
            try:
                mailer.send(OutgoingMail(to=list(row.recipients), subject=row.subject, text=row.text or "",
                                         headers=dict(row.headers)))
            except MailError as error:
                row.last_error = str(error)[:1000]
                if row.attempts > len(RETRY_AFTER):
                    row.status = "failed"
                else:
                    row.next_attempt_at = now + RETRY_AFTER[row.attempts - 1]
                audit.record(s, action="mail.failed", actor=row.actor, case_ref=row.case_ref, at=now,
                             detail={**detail, "attempt": row.attempts, "error": row.last_error,
                                     "gave_up": row.status == "failed"})
                return "failed" if row.status == "failed" else "retrying"
            logged = isinstance(mailer, LogMailer)
            row.status = "logged" if logged else "sent"
            row.sent_at = now
            row.last_error = None
            if not logged:
                row.text = None
            audit.record(s, action="mail.sent", actor=row.actor, case_ref=row.case_ref, at=now,
                         detail={**detail, "via": "log" if logged else "smtp"})
            return row.status

    def mail_queue_page(self, *, user: str, status: str | None = None, page: int = 1) -> MailPage:
        """A page of the mail queue for an administrator; other statuses than ``STATUSES`` are refused."""
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"Unknown mail status {status!r}: use one of {', '.join(STATUSES)}")
        with self.db.reading() as s:
            self._require_admin(s, user, to="see the mail queue")
            counts: dict[str, int] = {status: n for status, n in s.execute(
                select(QueuedMail.status, func.count()).group_by(QueuedMail.status))}
            total = counts.get(status, 0) if status else sum(counts.values())
            pages = max(1, -(-total // MAIL_PAGE))
            page = min(max(page, 1), pages)
            query = select(QueuedMail).order_by(QueuedMail.id.desc()).offset((page - 1) * MAIL_PAGE).limit(MAIL_PAGE)
            if status:
                query = query.where(QueuedMail.status == status)
            mails = tuple(_view(row) for row in s.scalars(query))
        return MailPage(mails, page, pages, status, {name: counts.get(name, 0) for name in STATUSES})

    def retry_mail(self, mail_id: int, *, user: str) -> str | None:
        """Try a pending or failed message again now, for an administrator; audited."""
        with self._tx() as s:
            self._require_admin(s, user, to="retry mail")
            row = s.get(QueuedMail, mail_id)
            if row is None:
                raise NotFound(f"There is no queued mail {mail_id}")
            if row.status not in ("pending", "failed"):
                raise InvalidInput(f"Mail {mail_id} was already sent; it is not sent twice")
            now = self.clock.now()
            row.status, row.next_attempt_at = "pending", now
            audit.record(s, action="mail.retry_requested", actor=user, case_ref=row.case_ref, at=now,
                         detail={"mail": row.id, "what": row.what, "attempts": row.attempts})
        return self._deliver_one(mail_id)



def _view(row: QueuedMail) -> MailView:
    return MailView(row.id, row.case_ref, row.what, tuple(row.recipients), row.subject, row.text, row.status,
                    row.queued_at, row.attempts, row.next_attempt_at, row.last_error, row.sent_at)
