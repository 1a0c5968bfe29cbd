"""The demo the README's start command sets up: one user per role, the shipped processes, calls.

Passwords are generated and printed once, when the users are created; run again, the seed leaves
existing users alone (``callgov users set-password`` gives one a new password).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.errors import Conflict
from engine.facade import Callgov
from engine.roles import ROLES

DEMO_USERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sam.staff", "Sam Staff", ("staff",)),
    ("tara.leader", "Tara Team-Leader", ("staff", "cs_team_leader")),
    ("alex.director", "Alex Director", ("staff", "ad_communities")),
    ("dana.dpo", "Dana DPO", ("staff", "dpo")),
    ("ian.helpdesk", "Ian Helpdesk", ("staff", "it_helpdesk")),
    ("pat.provider", "Pat Provider", ("it_provider",)),
    ("gail.governance", "Gail Governance", ("staff", "governance")),
    ("ivy.investigator", "Ivy Investigator", ("investigator",)),
    ("ada.admin", "Ada Admin", ("staff", "admin")),
)


@dataclass
class SeedReport:
    """What the seed did: the users it created (with their one-time passwords) and the rest."""

    created: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)


def seed_demo(callgov: Callgov, *, password: Callable[[], str] | None = None) -> SeedReport:
    """Create the demo users that do not exist yet and deploy the shipped processes."""
    assert {role for _, _, roles in DEMO_USERS for role in roles} == set(ROLES), "one user per role"
    make_password = password or (lambda: secrets.token_urlsafe(12))
    report = SeedReport()
    for username, name, roles in DEMO_USERS:
        secret = make_password()
        try:
            callgov.add_user(username, roles=roles, password=secret, display_name=name,
                             email=f"{username}@example.org", actor="system:demo")
        except Conflict:
            report.existing.append(username)
            continue
        report.created.append((username, secret, roles))
    report.processes = [r.definition.process_id for r in callgov.deploy_shipped()]
    return report
