"""Mail from the processes' operations: queued in the case's transaction and always audited.

A mail is written to ``mail_queue`` with the work it tells of and sent once that work has
committed (``engine.mailqueue``): a failed transaction never leaves a mail behind that points at
something that was not stored, and a slow relay never holds a case's transaction open.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine import audit
from engine.mailqueue import queue_mail
from engine.operations import OperationContext


def send_mail(ctx: OperationContext, to: Sequence[str], subject: str, text: str, *, what: str, actor: str) -> bool:
    """Queue ``text`` for case ``ctx.case_ref`` as ``actor``; True when it was queued. With no mailer
    or no address it is audited as ``mail.not_sent`` instead; failures to deliver are audited later
    (``mail.failed``) and never undo the case's work."""
    mailer = getattr(ctx.services, "mailer", None)
    if mailer is None or not to:
        audit.record(ctx.session, action="mail.not_sent", actor=actor, case_ref=ctx.case_ref, at=ctx.now(),
                     detail={"what": what, "why": "no mailer" if mailer is None else "no address"})
        return False
    queue_mail(ctx.session, to=to, subject=subject, text=text, what=what, actor=actor, case_ref=ctx.case_ref,
               at=ctx.now())
    return True
