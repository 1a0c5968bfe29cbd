"""Test runs of a process version in a sandbox (the governance editor's "Try it").

A governance officer starts a run of any stored version with sample data, does its tasks with the
real forms as the sandbox person each task needs, fires its timers on demand and watches the path
on the diagram. Every page says it is a sandbox; nothing here reads or writes real cases. Runs
belong to the officer who started them (``engine.sandbox``).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from engine.errors import Conflict, ExpressionError, FormInvalid, InvalidInput, WorkflowFailed
from engine.roles import ROLES
from engine.sandbox import TestRunTask
from webui import taskforms
from webui.app import facade
from webui.filters import london
from webui.governance import governance_only

bp = Blueprint("sandbox", __name__, url_prefix="/governance")
bp.before_request(governance_only)
RUN_FAILED = (WorkflowFailed, ExpressionError)
"""The version failed while it ran: what a test run is for finding, so it is shown, not a server error."""


@bp.route("/versions/<int:version_id>/test-run", methods=["GET", "POST"])
def start(version_id: int) -> ResponseReturnValue:
    """Choose the sample data and who starts the case, then start a test run of the version."""
    version, offered = facade().test_run_form(version_id, user=current_user.username)
    if request.method == "GET":
        return render_template("sandbox/start.html", version=version, sample=offered, start_as="staff", roles=ROLES)
    sample, start_as = request.form.get("sample", "")[:40_000], request.form.get("start_as", "staff")
    try:
        run = facade().start_test_run(version_id, user=current_user.username, sample=sample, start_as=start_as)
    except InvalidInput as error:
        return render_template("sandbox/start.html", version=version, sample=sample, start_as=start_as, roles=ROLES,
                               errors=error.problems), 400
    except RUN_FAILED as error:
        return render_template("sandbox/start.html", version=version, sample=sample, start_as=start_as, roles=ROLES,
                               errors={"sample": f"The test case could not start. {error}"}), 422
    flash(f"You started a test run of version {run.version}: case {run.case_ref} in the sandbox.", "success")
    return redirect(url_for("sandbox.run", run_id=run.run_id))


@bp.get("/test-runs")
def runs() -> ResponseReturnValue:
    """The officer's test runs."""
    return render_template("sandbox/runs.html", runs=facade().test_runs(user=current_user.username))


@bp.get("/test-runs/<run_id>")
def run(run_id: str) -> ResponseReturnValue:
    """A test run: the path on the diagram, the tasks waiting, timers, mails and what happened."""
    return render_template("sandbox/run.html", view=facade().test_run(run_id, user=current_user.username))


@bp.get("/test-runs/<run_id>/diagram.bpmn")
def diagram(run_id: str) -> ResponseReturnValue:
    """The BPMN XML the run runs, for the viewer."""
    response = Response(facade().test_run_diagram(run_id, user=current_user.username), mimetype="application/xml")
    response.headers["Content-Disposition"] = f"attachment; filename=test-run-{re.sub(r'[^0-9a-f]', '', run_id)}.bpmn"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/test-runs/<run_id>/tasks/<task_id>", methods=["GET", "POST"])
def task(run_id: str, task_id: str) -> ResponseReturnValue:
    """A waiting task's real form, done as the sandbox person the task needs."""
    if request.method == "GET":
        return _render(facade().test_run_task(run_id, task_id, user=current_user.username))
    answers = taskforms.submitted_values(request.form)
    try:
        done = facade().complete_test_task(run_id, task_id, user=current_user.username, data=answers)
    except FormInvalid as error:
        return _render(facade().test_run_task(run_id, task_id, user=current_user.username), answers,
                       error.problems), 400
    except RUN_FAILED as error:
        flash(f"{error}. Nothing changed: the test case is still waiting for this step.", "info")
        return redirect(url_for("sandbox.run", run_id=run_id))
    flash(f"Step done in the sandbox. The test case is {'finished' if done.status != 'running' else 'running'}.",
          "success")
    return redirect(url_for("sandbox.run", run_id=run_id))


@bp.post("/test-runs/<run_id>/fire-timers")
def fire_timers(run_id: str) -> ResponseReturnValue:
    """Move the sandbox clock to the next timer and fire what is due."""
    try:
        moved_to, fired = facade().fire_test_timers(run_id, user=current_user.username)
    except Conflict as error:
        flash(str(error), "info")
        return redirect(url_for("sandbox.run", run_id=run_id))
    except RUN_FAILED as error:
        flash(f"{error}. The timer did not fire; the sandbox clock stays where it was.", "info")
        return redirect(url_for("sandbox.run", run_id=run_id))
    flash(f"Sandbox time is now {london(moved_to)}. "
          + (f"Fired: {', '.join(fired)}." if fired else "No timer of this case was due."), "success")
    return redirect(url_for("sandbox.run", run_id=run_id))


@bp.post("/test-runs/<run_id>/discard")
def discard(run_id: str) -> ResponseReturnValue:
    """Delete the run and its sandbox."""
    gone = facade().discard_test_run(run_id, user=current_user.username)
    flash(f"You discarded the test run of {gone.process_name} version {gone.version}.", "success")
    return redirect(url_for("sandbox.runs"))


def _render(found: TestRunTask, answers: dict[str, str] | None = None,
            problems: dict[str, str] | None = None) -> str:
    detail = found.detail
    return render_template(
        "sandbox/task.html", found=found, detail=detail, problems=problems or {},
        questions=taskforms.questions(detail.form, detail.data, answers, problems),
        context=taskforms.context(detail.form, detail.data), now=found.run.sandbox_now)
