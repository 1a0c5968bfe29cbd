"""Who may do what: task candidates and segregation of duties, decided in code (DESIGN decision 5).

The diagram names roles and assignees; this module applies them, and adds the rules the policy
needs whatever a diagram says: nobody authorises, investigates or otherwise decides on a case they
started themselves, unless the task is addressed to them by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from engine.errors import Conflict, PermissionDenied
from engine.roles import AUTHORISER_ROLES

DECIDING_ROLES = AUTHORISER_ROLES | {"investigator", "governance", "it_helpdesk"}
"""Roles whose tasks are decisions about a case: its starter is never a candidate for them."""


class TaskLike(Protocol):
    """The fields of a projected task that access decisions read."""

    assignee: str | None
    claimed_by: str | None
    excluded_users: list[str]
    case_ref: str

    @property
    def candidate_roles(self) -> list[str]: ...


def excluded_users(candidate_roles: Iterable[str], started_by: str, assignee: str | None,
                   declared: Iterable[str] = ()) -> list[str]:
    """Users barred from a task: the case starter on deciding tasks, plus any the diagram declares."""
    barred = set(declared)
    if set(candidate_roles) & DECIDING_ROLES and assignee != started_by:
        barred.add(started_by)
    return sorted(barred)


def may_do_task(task: TaskLike, username: str, roles: frozenset[str], *, raise_error: bool = False) -> bool:
    """Whether ``username`` (holding ``roles``) may complete ``task`` now."""
    reason = _refusal(task, username, roles)
    if reason is None:
        return True
    if raise_error:
        raise reason
    return False


def _refusal(task: TaskLike, username: str, roles: frozenset[str]) -> Exception | None:
    if username in task.excluded_users:
        return PermissionDenied(
            f"You cannot do this task of case {task.case_ref}: it concerns a case you started or are "
            "involved in, so someone else must do it")
    if not (task.assignee == username or roles & set(task.candidate_roles)):
        return PermissionDenied(f"This task of case {task.case_ref} is not one of yours")
    if task.claimed_by and task.claimed_by != username:
        return Conflict(f"{task.claimed_by} has claimed this task of case {task.case_ref}")
    return None
