"""Governance staff: processes, version history, the diagram editor, uploads and four-eyes review.

Every page is for the ``governance`` role; the engine checks the role again, and enforces that
the author of a change never approves it. The editor saves through a JSON endpoint that answers
the modeler bundle's contract (``webui/frontend/README.md``).
"""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from engine.bpmn.parser import MAX_BPMN_BYTES
from engine.errors import DefinitionInvalid, InvalidInput
from webui.app import facade

bp = Blueprint("governance", __name__, url_prefix="/governance")
UPLOAD_LIMIT = MAX_BPMN_BYTES + 64 * 1024
"""Bytes a request may carry here: the largest BPMN file the engine reads, plus the form around it."""
JSON_LIMIT = 2 * MAX_BPMN_BYTES
"""The editor sends XML inside JSON, where quotes and newlines are escaped."""
TOO_LARGE = f"The file is too large: BPMN files over {MAX_BPMN_BYTES // 1048576} MB are refused."


@bp.record_once
def _limits_first(state: BlueprintSetupState) -> None:
    """Raise the body limit for uploads and saves before anything (the CSRF check) reads the body."""
    state.app.before_request_funcs.setdefault(None, []).insert(0, _body_limit)


def _body_limit() -> ResponseReturnValue | None:
    limit = {"governance.upload": UPLOAD_LIMIT, "governance.save_draft": JSON_LIMIT}.get(request.endpoint or "")
    if not limit:
        return None
    request.max_content_length = limit
    if (request.content_length or 0) <= limit or not (current_user.is_authenticated
                                                       and current_user.has_role("governance")):
        return None  # the usual checks (sign-in, role, CSRF) answer everyone else
    if request.endpoint == "governance.save_draft":
        return jsonify(error=TOO_LARGE, problems=[]), 413
    return _upload_error(TOO_LARGE, status=413)


@bp.before_request
def governance_only() -> ResponseReturnValue | None:
    """Sign-in first, then the role; everyone else is refused (and the refusal audited)."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if not current_user.has_role("governance"):
        abort(403, "These pages are for governance staff only.")
    return None


@bp.get("/")
def processes() -> ResponseReturnValue:
    """Every process, with its published version and requests waiting for review."""
    return render_template("governance/processes.html",
                           processes=facade().governance_processes(user=current_user.username))


@bp.get("/processes/<process_id>")
def process(process_id: str) -> ResponseReturnValue:
    """The history of one process: versions, publication requests and the latest draft's problems."""
    return render_template("governance/process.html",
                           history=facade().process_history(process_id, user=current_user.username))


@bp.get("/processes/<process_id>/edit")
def editor(process_id: str) -> ResponseReturnValue:
    """The diagram editor, opening the newest draft (or version) of the process."""
    history = facade().process_history(process_id, user=current_user.username)
    choices = facade().editor_choices(user=current_user.username).to_dict()
    return render_template("governance/editor.html", history=history, choices=choices)


@bp.get("/processes/<process_id>/draft.bpmn")
def draft_xml(process_id: str) -> ResponseReturnValue:
    """The XML the editor opens."""
    return _xml(facade().editor_xml(process_id, user=current_user.username), process_id)


@bp.post("/processes/<process_id>/drafts")
def save_draft(process_id: str) -> ResponseReturnValue:
    """Save the editor's diagram as a draft; answer its problems (JSON) for the editor to mark."""
    body = request.get_json(silent=True)
    xml = body.get("xml") if isinstance(body, dict) else None
    if not isinstance(xml, str) or not xml.strip():
        return jsonify(error="Send the diagram as JSON: {\"xml\": \"...\"}", problems=[]), 400
    try:
        saved = facade().save_draft(process_id, xml.encode("utf-8"), user=current_user.username)
    except DefinitionInvalid as refused:
        return jsonify(error="The draft was not saved.", problems=_problems(refused)), 400
    return jsonify(saved.to_dict())


@bp.route("/upload", methods=["GET", "POST"])
def upload() -> ResponseReturnValue:
    """Upload a BPMN file as a new draft of the process it defines."""
    if request.method == "GET":
        return render_template("governance/upload.html")
    try:
        file = request.files.get("file")
    except RequestEntityTooLarge:  # a body longer than it said
        return _upload_error(TOO_LARGE, status=413)
    content = file.read(UPLOAD_LIMIT) if file else b""
    if file is None or not content:
        return _upload_error("Choose a BPMN file to upload.")
    try:
        saved = facade().upload_draft(content, user=current_user.username, filename=_filename(file.filename))
    except DefinitionInvalid as refused:
        return _upload_error("The file was not accepted.", problems=_problems(refused))
    if saved.problems:
        return render_template("governance/upload.html", saved=saved), 400
    flash(f"You uploaded version {saved.version.version if saved.version else ''} of {saved.process_id} "
          "as a draft.", "success")
    return redirect(url_for("governance.process", process_id=saved.process_id))


@bp.get("/versions/<int:version_id>")
def version(version_id: int) -> ResponseReturnValue:
    """One version, read-only, with its diagram; a draft can be put up for publication here."""
    view, pending = facade().governance_version(version_id, user=current_user.username)
    return render_template("governance/version.html", version=view, pending=pending)


@bp.get("/versions/<int:version_id>/diagram.bpmn")
def version_xml(version_id: int) -> ResponseReturnValue:
    """Download a version's BPMN XML."""
    return _xml(facade().version_xml(version_id, user=current_user.username), f"version-{version_id}")


@bp.post("/versions/<int:version_id>/request")
def request_publication(version_id: int) -> ResponseReturnValue:
    """Ask a colleague to publish this draft version."""
    summary = request.form.get("summary", "")[:2000]
    try:
        asked = facade().request_publication(version_id, user=current_user.username, summary=summary)
    except InvalidInput as error:
        view, pending = facade().governance_version(version_id, user=current_user.username)
        return render_template("governance/version.html", version=view, pending=pending,
                               errors=error.problems, summary=summary), 400
    flash(f"You asked for version {asked.version} to be published. Another governance officer must approve it.",
          "success")
    return redirect(url_for("governance.review", request_id=asked.id))


@bp.get("/requests/<int:request_id>")
def review(request_id: int) -> ResponseReturnValue:
    """The review page: what changed from the published version, and the decision forms."""
    return render_template("governance/review.html", review=facade().review(request_id, user=current_user.username))


@bp.post("/requests/<int:request_id>/approve")
def approve(request_id: int) -> ResponseReturnValue:
    """Approve and publish (never by the change's author: the engine refuses)."""
    decided = facade().approve_publication(request_id, user=current_user.username)
    flash(f"You published version {decided.version} of {decided.process_id}. New cases start on it.", "success")
    return redirect(url_for("governance.process", process_id=decided.process_id))


@bp.post("/requests/<int:request_id>/send-back")
def send_back(request_id: int) -> ResponseReturnValue:
    """Send the change back to its author with a note."""
    note = request.form.get("note", "")[:2000]
    try:
        decided = facade().send_back_publication(request_id, user=current_user.username, note=note)
    except InvalidInput as error:
        return render_template("governance/review.html", errors=error.problems,
                               review=facade().review(request_id, user=current_user.username)), 400
    flash(f"You sent version {decided.version} of {decided.process_id} back to {decided.author}.", "success")
    return redirect(url_for("governance.process", process_id=decided.process_id))


def _problems(error: DefinitionInvalid) -> list[dict[str, str | None]]:
    return [{"element_id": p.element_id, "message": p.message} for p in error.problems]


def _upload_error(message: str, *, problems: list[dict[str, str | None]] | None = None,
                  status: int = 400) -> ResponseReturnValue:
    return render_template("governance/upload.html", error=message, problems=problems or []), status


def _filename(name: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name or "upload.bpmn")[:200]


def _xml(xml: str, name: str) -> Response:
    response = Response(xml, mimetype="application/xml")
    safe = re.sub(r"[^A-Za-z0-9_-]", "", name)[:80] or "diagram"
    response.headers["Content-Disposition"] = f"attachment; filename={safe}.bpmn"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
