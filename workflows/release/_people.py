"""Who the release process writes to: the requester, the authorisers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import User, UserRole
from engine.operations import OperationContext
from engine.roles import AUTHORISER_ROLES
from workflows.mail import send_mail
from workflows.release._request import ACTOR


@dataclass(frozen=True)
class Contact:
    """A user as a letter addresses them."""

    username: str
    name: str
    email: str | None
    job_title: str | None


def contact(session: Session, username: str) -> Contact:
    """The user ``username`` (a placeholder contact if there is no such user)."""
    row = session.execute(select(User.display_name, User.email, User.job_title).where(
        User.username == username)).first()
    if row is None:
        return Contact(username, username, None, None)
    return Contact(username, row.display_name or username, row.email, row.job_title)


def authorisers(session: Session, *, excluding: str) -> list[Contact]:
    """Active holders of an authoriser role (Appendix 1), minus ``excluding`` (the requester)."""
    rows = session.execute(select(User.username, User.display_name, User.email, User.job_title).join(
        UserRole, UserRole.user_id == User.id).where(UserRole.role.in_(sorted(AUTHORISER_ROLES)),
                                                     User.active.is_(True), User.username != excluding)
        .distinct().order_by(User.username)).all()
    return [Contact(r.username, r.display_name or r.username, r.email, r.job_title) for r in rows]


def send(ctx: OperationContext, to: Sequence[str], subject: str, text: str, *, what: str) -> bool:
    """Mail for a release case, audited as the release process (``workflows.mail.send_mail``)."""
    return send_mail(ctx, to, subject, text, what=what, actor=ACTOR)
