"""Governance staff move running cases to the published version of their process.

The page lists a process's running cases by version; staff tick cases and either check them (a dry
run: which can move and why not) or move them. The engine decides what is safe and audits each
move; these routes only parse the ticked cases and render the report.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from engine.errors import InvalidInput
from engine.migration import MAX_CASES
from webui.app import facade
from webui.governance import governance_only

bp = Blueprint("migration", __name__, url_prefix="/governance")
bp.before_request(governance_only)


@bp.get("/processes/<process_id>/migrate")
def cases(process_id: str) -> ResponseReturnValue:
    """The running cases of a process, grouped by the version they run on."""
    return render_template("governance/migrate.html",
                           overview=facade().migration_overview(process_id, user=current_user.username))


@bp.post("/processes/<process_id>/migrate")
def migrate(process_id: str) -> ResponseReturnValue:
    """Check (``action=check``) or move (``action=move``) the ticked cases; show what happened to each."""
    refs = request.form.getlist("cases")[:MAX_CASES + 1]
    move = request.form.get("action") == "move"
    username = current_user.username
    try:
        report = (facade().migrate_instances if move else facade().check_migration)(process_id, refs, user=username)
    except InvalidInput as error:
        return render_template("governance/migrate.html", errors=error.problems,
                               overview=facade().migration_overview(process_id, user=username)), 400
    return render_template("governance/migrate.html", report=report, selected=set(refs),
                           overview=facade().migration_overview(process_id, user=username))
