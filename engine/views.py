"""What the facade hands to its callers: plain, immutable views, never ORM objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.forms import FormSpec


def json_ready(values: Any) -> Any:
    """``values`` with dates and times as ISO text (recursively), for JSON output and columns."""
    if isinstance(values, Mapping):
        return {k: json_ready(v) for k, v in values.items()}
    if isinstance(values, list | tuple):
        return [json_ready(v) for v in values]
    if isinstance(values, date | datetime):
        return values.isoformat()
    return values


@dataclass(frozen=True)
class Person:
    """Who is acting: an active user and the roles they hold now."""

    username: str
    role_names: frozenset[str]


@dataclass(frozen=True)
class TaskView:
    """A ready user task as an inbox shows it."""

    id: str
    case_ref: str
    process_id: str
    element_id: str
    title: str
    candidate_roles: tuple[str, ...]
    assignee: str | None
    claimed_by: str | None
    case_started_by: str
    created_at: datetime
    due_at: datetime | None
    excluded_users: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        plain = {k: v for k, v in self.__dict__.items() if k != "excluded_users"}
        return json_ready({**plain, "candidate_roles": list(self.candidate_roles)})


@dataclass(frozen=True)
class TaskDetail:
    """A task with what its form needs: fields, instructions, and the case data to show."""

    task: TaskView
    form: FormSpec
    documentation: str
    data: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.task.to_dict(), "form": self.form.to_dict(), "documentation": self.documentation,
                "data": json_ready(self.data)}


@dataclass(frozen=True)
class HistoryEntry:
    """A completed step of a case."""

    element_id: str
    title: str
    actor: str
    at: datetime
    outcome: str
    values: Mapping[str, Any]
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return json_ready(self.__dict__)


@dataclass(frozen=True)
class InstanceView:
    """A case as callers see it."""

    id: int
    case_ref: str
    process_id: str
    process_name: str
    definition_version: int
    definition_version_id: int
    status: str
    current_step: str
    started_by: str
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    data: Mapping[str, Any] = field(default_factory=dict)
    ready_tasks: tuple[TaskView, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    completed_elements: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        plain = {k: v for k, v in self.__dict__.items() if k not in ("ready_tasks", "history", "data")}
        return {**json_ready(plain), "data": json_ready(self.data),
                "completed_elements": list(self.completed_elements),
                "ready_tasks": [t.to_dict() for t in self.ready_tasks],
                "history": [h.to_dict() for h in self.history]}
