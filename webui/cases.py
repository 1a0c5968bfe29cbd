"""Cases: starting one, "My requests", the case page with its diagram, and cancelling.

A case someone may not see answers exactly like a case that does not exist (404, same words), so
case references cannot be probed; the refusal is still audited as ``access.denied``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from engine.breaches import ANONYMOUS_STARTER, BREACH_PROCESS, REGISTER_ROLES
from engine.errors import NotFound, PermissionDenied
from engine.queries import CasePage
from engine.releases import RELEASE_PROCESS
from webui.app import facade
from webui.auth import record_access
from webui.forms import CancelForm

bp = Blueprint("cases", __name__)
T = TypeVar("T")


@bp.get("/requests")
@login_required
def requests() -> ResponseReturnValue:
    """"My requests": the cases the signed-in person started."""
    return render_template("cases/requests.html", cases=facade().requests_of(user=current_user.username))


@bp.get("/start")
@login_required
def start_list() -> ResponseReturnValue:
    """The processes the signed-in person can start."""
    return render_template("cases/start.html", processes=facade().startable_processes(user=current_user.username))


@bp.post("/start/<process_id>")
@login_required
def start(process_id: str) -> ResponseReturnValue:
    """Start a case; go straight to its first task if that task is the starter's."""
    case = facade().start(process_id, user=current_user.username)
    mine = [t for t in case.ready_tasks if t.assignee == current_user.username]
    if mine:
        return redirect(url_for("tasks.task", task_id=mine[0].id))
    flash(f"You started case {case.case_ref}.", "success")
    return redirect(url_for("cases.case", case_ref=case.case_ref))


@bp.get("/cases/<case_ref>")
@login_required
def case(case_ref: str) -> ResponseReturnValue:
    """A case: its state, diagram, timeline and the viewer's actions."""
    page = _case_page(case_ref)
    recordings = facade().case_recordings(page.case.case_ref, user=current_user.username) \
        if page.case.process_id == RELEASE_PROCESS else []
    may_withdraw = page.case.process_id == RELEASE_PROCESS and page.case.status == "running" \
        and page.case.started_by == current_user.username and not page.case.data.get("released_at")
    breach = page.case.process_id == BREACH_PROCESS
    may_examine = breach and page.case.status == "running" and page.case.data.get("investigator") \
        == current_user.username and current_user.has_role("investigator")
    may_see_reporter = breach and page.case.started_by == ANONYMOUS_STARTER and current_user.has_role(*REGISTER_ROLES)
    return render_template("cases/case.html", page=page, now=facade().clock.now(), recordings=recordings,
                           may_withdraw=may_withdraw, may_examine=may_examine, may_see_reporter=may_see_reporter)


@bp.get("/cases/<case_ref>/diagram.bpmn")
@login_required
def diagram(case_ref: str) -> ResponseReturnValue:
    """The BPMN XML the case runs on, for the viewer; the same access rule as the case page."""
    xml = _visible(lambda: facade().case_diagram(case_ref, user=current_user.username), case_ref)
    response = Response(xml, mimetype="application/xml")
    # Data, not a page: opened directly it downloads, and could run nothing even if it rendered.
    name = re.sub(r"[^A-Z0-9-]", "", case_ref.upper())[:40]
    response.headers["Content-Disposition"] = f"attachment; filename={name}.bpmn"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/cases/<case_ref>/cancel", methods=["GET", "POST"])
@login_required
def cancel(case_ref: str) -> ResponseReturnValue:
    """Ask why, then cancel the case (its starter, the DPO)."""
    page = _case_page(case_ref)
    if not page.may_cancel:
        abort(403, "Only the person who started this case or the Data Protection Officer can cancel it, "
                   "and only while it is running.")
    form = CancelForm()
    if not form.validate_on_submit():
        return render_template("cases/cancel.html", page=page, form=form), 400 if form.is_submitted() else 200
    facade().cancel(case_ref, user=current_user.username, reason=form.reason.data or "")
    flash(f"You cancelled case {page.case.case_ref}.", "success")
    return redirect(url_for("cases.case", case_ref=page.case.case_ref))


def _case_page(case_ref: str) -> CasePage:
    return _visible(lambda: facade().case_for(case_ref, user=current_user.username), case_ref)


def _visible(load: Callable[[], T], case_ref: str) -> T:
    try:
        return load()
    except PermissionDenied as error:
        record_access("access.denied", reason=str(error), case_ref=case_ref)
    except NotFound:
        pass
    raise NotFound(f"There is no case {case_ref[:40]} that you can see. Check the reference, or ask the person "
                   "who started it.")
