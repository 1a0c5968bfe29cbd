"""Mail from the processes' operations: sent through ``services.mailer`` and always audited."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from connectors.mail import MailError, OutgoingMail
from engine import audit
from engine.operations import OperationContext

log = logging.getLogger(__name__)


def send_mail(ctx: OperationContext, to: Sequence[str], subject: str, text: str, *, what: str, actor: str) -> bool:
    """Mail ``text`` for case ``ctx.case_ref`` and audit it as ``actor``; a mail that could not go is
    audited (``mail.not_sent`` / ``mail.failed``), not fatal. True when it went."""
    mailer = getattr(ctx.services, "mailer", None)
    if mailer is None or not to:
        audit.record(ctx.session, action="mail.not_sent", actor=actor, case_ref=ctx.case_ref, at=ctx.now(),
                     detail={"what": what, "why": "no mailer" if mailer is None else "no address"})
        return False
    try:
        mailer.send(OutgoingMail(to=list(to), subject=subject, text=text, headers={"X-Callgov-Case": ctx.case_ref}))
    except MailError as error:
        log.warning("case %s: %s mail failed: %s", ctx.case_ref, what, error)
        audit.record(ctx.session, action="mail.failed", actor=actor, case_ref=ctx.case_ref, at=ctx.now(),
                     detail={"what": what, "error": str(error)[:500]})
        return False
    audit.record(ctx.session, action="mail.sent", actor=actor, case_ref=ctx.case_ref, at=ctx.now(),
                 detail={"what": what, "to": list(to)})
    return True
