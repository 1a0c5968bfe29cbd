"""The roles of the Call Recording Policy (DESIGN.md), their labels, and lane-name matching."""

from __future__ import annotations

ROLES: dict[str, str] = {
    "staff": "Member of staff",
    "cs_team_leader": "Customer Service Team Leader",
    "ad_communities": "Assistant Director of Communities",
    "dpo": "Data Protection Officer",
    "it_helpdesk": "IT Helpdesk",
    "it_provider": "Third-party IT provider",
    "governance": "Governance staff",
    "investigator": "Independent investigator",
    "admin": "Administrator",
}
"""Role key -> the label people see. ``admin`` manages users and roles (not a policy role)."""

AUTHORISER_ROLES = frozenset({"cs_team_leader", "ad_communities", "dpo"})
"""Appendix 1: who may authorise the release or review of a recording."""


def _normalise(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("/", " ").lower().split())


_BY_NAME = {_normalise(key): key for key in ROLES} | {_normalise(label): key for key, label in ROLES.items()}
_BY_NAME |= {"data protection officer / finance & resources director": "dpo", "staff": "staff"}


def role_for_name(name: str) -> str | None:
    """The role a lane or candidate group names, by key (``dpo``) or label (``Data Protection Officer``)."""
    return _BY_NAME.get(_normalise(name))


def parse_candidate_groups(text: str | None) -> list[str]:
    """Split a ``camunda:candidateGroups`` value (comma separated) into names, keeping their order."""
    if not text:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]
