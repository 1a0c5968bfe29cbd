"""Who may do what: task candidates and segregation of duties, decided in code (DESIGN decision 5).

The diagram names roles and assignees; this module applies them, and adds the rules the policy
needs whatever a diagram says: nobody authorises, investigates or otherwise decides on a case they
started themselves, unless the task is addressed to them by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from engine.errors import Conflict, PermissionDenied
from engine.roles import AUTHORISER_ROLES

DECIDING_ROLES = AUTHORISER_ROLES | {"investigator", "governance", "it_helpdesk"}
"""Roles whose tasks are decisions about a case: its starter is never a candidate for them."""


class TaskLike(Protocol):
    """The fields of a projected task that access decisions read."""

    @property
    def assignee(self) -> str | None: ...

    @property
    def claimed_by(self) -> str | None: ...

    @property
    def excluded_users(self) -> Sequence[str]: ...

    @property
    def case_ref(self) -> str: ...

    @property
    def candidate_roles(self) -> Sequence[str]: ...


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


CASE_VIEWER_ROLES = AUTHORISER_ROLES
"""Roles that see every case they are not barred from: the authorisers of Appendix 1, the DPO among them."""

CASE_VIEWER_ROLES_BY_PROCESS: dict[str, frozenset[str]] = {
    "breach_investigation": frozenset({"dpo", "ad_communities"}),
}
"""Processes whose cases fewer roles see: a breach case (possibly about a member of their team) is
not for team leaders; the DPO runs it and the Assistant Director is its escalation point."""


def case_viewer_roles(process_id: str) -> frozenset[str]:
    """The roles that see every case of ``process_id`` they are not barred from."""
    return CASE_VIEWER_ROLES_BY_PROCESS.get(process_id, CASE_VIEWER_ROLES)


def may_view_case(username: str, roles: frozenset[str], *, started_by: str, participants: Iterable[str],
                  open_tasks: Iterable[TaskLike], barred: Iterable[str] = (),
                  viewer_roles: frozenset[str] = CASE_VIEWER_ROLES) -> bool:
    """Whether ``username`` (holding ``roles``) may see a case: its page, diagram, data and history.

    Allowed: the person who started it; anyone who did one of its tasks (``participants``) or may do
    one of its open tasks; the ``viewer_roles`` (by default its authorisers, ``cs_team_leader`` and
    ``ad_communities``, and the DPO; see ``case_viewer_roles`` for processes that narrow them). A
    person barred from one of its open tasks (segregation of duties, e.g. the subject of a breach
    case) is not let in by a role: only by having started the case or taken part in it. A ``barred``
    person (the subject of a breach case) never sees it, open or closed, whatever else holds.
    """
    if username in set(barred):
        return False
    if username == started_by or username in set(participants):
        return True
    tasks = list(open_tasks)
    if any(username in task.excluded_users for task in tasks):
        return False
    if roles & viewer_roles:
        return True
    return any(username in (task.assignee, task.claimed_by) or roles & set(task.candidate_roles)
               for task in tasks)
