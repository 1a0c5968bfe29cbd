"""Work to do: "My tasks" (the inbox), one task's form, claiming and unclaiming."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from engine.errors import Conflict, FormInvalid
from engine.facade import TaskDetail
from engine.queries import INBOX_SORTS
from webui import taskforms
from webui.app import facade
from webui.auth import safe_next

bp = Blueprint("tasks", __name__)

SORT_LABELS = {"due": "Due date", "oldest": "Oldest first", "newest": "Newest first", "case": "Case reference"}


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    """The start page is "My tasks"."""
    return redirect(url_for("tasks.inbox"))


@bp.get("/tasks")
@login_required
def inbox() -> ResponseReturnValue:
    """The tasks the signed-in person may do, filtered and sorted as the query string asks."""
    args = request.args
    process = args.get("process") or None
    overdue = args.get("overdue") == "1"
    claimed = args.get("claimed") if args.get("claimed") in ("me", "nobody") else None
    sort = args.get("sort", "due") if args.get("sort", "due") in INBOX_SORTS else "due"
    number = args.get("page", "1")
    page = facade().inbox(user=current_user.username, process_id=process, overdue=overdue, claimed=claimed,
                          sort=sort, page=int(number) if number.isdigit() and 0 < int(number) <= 10_000 else 1)
    filters = {"process": process, "overdue": overdue, "claimed": claimed, "sort": sort}
    query = {key: ("1" if value is True else value) for key, value in filters.items() if value}
    return render_template("tasks/inbox.html", inbox=page, filters=filters, query=query, sorts=SORT_LABELS)


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: str) -> ResponseReturnValue:
    """A task's form; a valid answer completes the task and shows the case."""
    if request.method == "GET":
        return _render(facade().task(task_id, user=current_user.username))
    answers = taskforms.submitted_values(request.form)
    try:
        case = facade().complete_task(task_id, user=current_user.username, data=answers)
    except FormInvalid as error:
        return _render(facade().task(task_id, user=current_user.username), answers, error.problems), 400
    flash(f"You completed ‘{case.history[-1].title}’.", "success")
    mine = [t for t in case.ready_tasks if t.assignee == current_user.username]
    if mine:
        return redirect(url_for("tasks.task", task_id=mine[0].id))
    return redirect(url_for("cases.case", case_ref=case.case_ref))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str) -> ResponseReturnValue:
    """Take a group task so colleagues see who has it."""
    view = facade().claim(task_id, user=current_user.username)
    flash(f"You claimed ‘{view.title}’ for case {view.case_ref}. Colleagues now see it is yours.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("tasks.inbox"))


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id: str) -> ResponseReturnValue:
    """Give a claimed task back to the group."""
    view = facade().unclaim(task_id, user=current_user.username)
    flash(f"You gave back ‘{view.title}’ for case {view.case_ref}. Anyone in the group can take it now.",
          "success")
    return redirect(safe_next(request.form.get("next")) or url_for("tasks.inbox"))


@bp.errorhandler(Conflict)
def conflict(error: Conflict) -> ResponseReturnValue:
    """Someone else completed (or claimed) the task first: say so plainly."""
    task_id = (request.view_args or {}).get("task_id", "")
    return render_template("tasks/conflict.html", why=facade().task_conflict(str(task_id)),
                           message=str(error)), 409


def _render(detail: TaskDetail, answers: dict[str, str] | None = None,
            problems: dict[str, str] | None = None) -> str:
    return render_template(
        "tasks/task.html", detail=detail, problems=problems or {},
        questions=taskforms.questions(detail.form, detail.data, answers, problems),
        context=taskforms.context(detail.form, detail.data), now=facade().clock.now())
