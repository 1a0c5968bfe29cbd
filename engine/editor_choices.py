"""What the governance editor offers in its properties panel: our roles and registered operations.

The diagram may still hold other values (typed by hand, or from an uploaded file); the server's
checks on save report those, so the choices are a help, never a restriction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.facade_parts import FacadeParts
from engine.governance import _governance_user
from engine.roles import ROLES


@dataclass(frozen=True)
class EditorChoices:
    """Candidate groups (role key and label) and service-task topics (topic and description)."""

    roles: tuple[tuple[str, str], ...]
    topics: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """The editor bundle's contract: ``{"roles": [{"value", "label"}], "topics": [...]}``."""
        return {"roles": [{"value": key, "label": label} for key, label in self.roles],
                "topics": [{"value": topic, "label": description} for topic, description in self.topics]}


class EditorChoicesMixin(FacadeParts):
    """Facade method for the editor's dropdowns (role ``governance``)."""

    def editor_choices(self, *, user: str) -> EditorChoices:
        """The roles a user task may name as candidate groups, and the topics a service task may call."""
        with self.db.reading() as s:
            _governance_user(self, s, user)
        return EditorChoices(tuple(ROLES.items()),
                             tuple((op.topic, op.description) for op in self.operations))
