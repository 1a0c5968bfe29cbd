"""People and roles: adding users, changing roles, checking passwords (argon2id)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import User, UserRole
from engine.roles import ROLES

USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,79}")
MIN_PASSWORD = 12
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("a password nobody has, used to keep sign-in timing even")


@dataclass(frozen=True)
class UserView:
    """A user as callers see it (never the password hash)."""

    id: int
    username: str
    display_name: str
    email: str | None
    job_title: str | None
    roles: frozenset[str]
    active: bool
    session_epoch: int
    manager: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "username": self.username, "display_name": self.display_name,
                "email": self.email, "job_title": self.job_title, "roles": sorted(self.roles),
                "active": self.active, "manager": self.manager}


def view_of(user: User, manager: str | None = None) -> UserView:
    """The caller-facing view of a user row."""
    return UserView(user.id, user.username, user.display_name or user.username, user.email, user.job_title,
                    user.role_names, user.active, user.session_epoch, manager)


def check_roles(roles: Iterable[str]) -> list[str]:
    """Role keys, validated; raise ``InvalidInput`` naming any unknown one."""
    roles = list(dict.fromkeys(roles))
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(f"Unknown role(s): {', '.join(unknown)}. Roles: {', '.join(ROLES)}",
                           {"roles": "unknown role"})
    return roles


def check_password(password: str) -> None:
    """Refuse passwords too short to be safe."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"A password needs at least {MIN_PASSWORD} characters",
                           {"password": f"at least {MIN_PASSWORD} characters"})


def add_user(session: Session, username: str, *, roles: Iterable[str], password: str | None, now: datetime,
             display_name: str = "", email: str | None = None, job_title: str | None = None,
             manager: str | None = None) -> User:
    """Create a user with roles; ``password`` None leaves them unable to sign in until one is set."""
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise InvalidInput("A username is 2-80 characters: lower-case letters, digits, '.', '_' or '-', "
                           "starting with a letter", {"username": "not a valid username"})
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"There is already a user called {username}")
    role_keys = check_roles(roles)
    if password is not None:
        check_password(password)
    manager_id = find_user(session, manager).id if manager else None
    user = User(username=username, display_name=display_name or username, email=email, job_title=job_title,
                password_hash=_hasher.hash(password) if password is not None else None, active=True,
                manager_id=manager_id, session_epoch=0, created_at=now)
    user.roles = [UserRole(role=r) for r in role_keys]
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User:
    """The user called ``username`` or ``NotFound``."""
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise NotFound(f"There is no user called {username}")
    return user


def set_roles(user: User, roles: Iterable[str]) -> None:
    """Replace a user's roles."""
    wanted = check_roles(roles)
    keep = [r for r in user.roles if r.role in wanted]
    have = {r.role for r in keep}
    user.roles = keep + [UserRole(role=r) for r in wanted if r not in have]


def set_password(user: User, password: str) -> None:
    """Set a new password and sign the user out everywhere."""
    check_password(password)
    user.password_hash = _hasher.hash(password)
    user.session_epoch += 1


def verify_password(user: User | None, password: str) -> bool:
    """Whether ``password`` is the user's; takes the same time whether or not the user exists."""
    if user is None or not user.password_hash or not user.active:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return False
    try:
        ok = _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if ok and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return bool(ok)
