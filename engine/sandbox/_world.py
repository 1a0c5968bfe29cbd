"""What a test run's throw-away engine is made of: its clock, telephony, storage, mail and people.

Nothing here reaches the outside world. Telephony is an in-memory ``FakeTelephony`` filled with
calls the simulator's generator makes from the run's seed (the same calls every time the run is
opened), storage is a folder inside the run's own folder, and mail is kept for the run's page to
show instead of being sent. The clock is the real one moved forward by the run's own offset, so
"fire the timers" can jump ahead without touching real time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.mail import OutgoingMail
from connectors.storage import LocalFolderStore
from connectors.telephony import FakeTelephony
from connectors.telephony.simulator import CallGenerator, iter_wav
from engine import users as people
from engine.clock import Clock
from engine.models import User
from engine.roles import ROLES

SAMPLE_CALLS = 150
"""Calls in a test run's telephony, spread over the provider's 90 days before the run started."""
CALL_HISTORY = timedelta(days=90)
USER_PREFIX = "sandbox."
"""Sandbox people are ``sandbox.<role>``: one per role, so segregation of duties holds as it does live."""


class SandboxClock:
    """The real clock plus the run's offset (moved forward when its timers are fired on demand)."""

    def __init__(self, base: Clock, offset: timedelta) -> None:
        self.base = base
        self.offset = offset

    def now(self) -> datetime:
        return self.base.now() + self.offset


@dataclass
class SandboxMailer:
    """Keeps what would have been mailed; the run stores it after each step (``sandbox_mail``)."""

    sent: list[OutgoingMail] = field(default_factory=list)

    def send(self, message: OutgoingMail) -> None:
        self.sent.append(message)


@dataclass
class SandboxServices:
    """The connectors the run's operations see (``OperationContext.services``)."""

    telephony: FakeTelephony
    storage: LocalFolderStore
    mailer: SandboxMailer


@lru_cache(maxsize=1)
def _sample_audio() -> bytes:
    """One second of the simulator's generated audio, shared by every sample recording."""
    return b"".join(iter_wav("sandbox", 1))


def sample_telephony(seed: int, until: datetime) -> FakeTelephony:
    """The run's telephony: ``SAMPLE_CALLS`` generated calls in the 90 days before ``until``."""
    telephony = FakeTelephony()
    for call in CallGenerator(seed, callers=200).calls(SAMPLE_CALLS, until - CALL_HISTORY, until):
        telephony.add_call(
            datetime.fromtimestamp(call.start_ms / 1000, tz=until.tzinfo), external_number=call.external,
            extension_number=call.staff.number, extension_number_e164=call.staff.ddi, direction=call.direction,
            duration=call.duration, session_id=call.session_id, result=call.result,
            recording_type=call.recording_type if call.recording_id else None, audio=_sample_audio())
    return telephony


def services(folder: Path, seed: int, until: datetime) -> SandboxServices:
    """The connectors of the run kept in ``folder``."""
    return SandboxServices(sample_telephony(seed, until), LocalFolderStore(folder / "storage"), SandboxMailer())


def role_user(role: str) -> str:
    """The sandbox person who holds ``role``."""
    return f"{USER_PREFIX}{role}"


def add_people(session: Session, now: datetime) -> None:
    """One sandbox person per role, with a mail address that cannot be delivered (``.invalid``)."""
    for role, label in ROLES.items():
        add_person(session, role_user(role), role, now, f"Sandbox {label}")


def add_person(session: Session, username: str, role: str, now: datetime, name: str = "") -> None:
    """A sandbox person holding ``role`` (no password: nobody signs in to a sandbox)."""
    people.add_user(session, username, roles=[role], password=None, now=now, display_name=name or username,
                    email=f"{username.replace('_', '-')}@sandbox.invalid", job_title="Sandbox test user")


def existing(session: Session, usernames: Iterable[str]) -> set[str]:
    """Which of ``usernames`` exist in the run's database."""
    names = sorted(set(usernames))
    return set(session.scalars(select(User.username).where(User.username.in_(names)))) if names else set()
