"""Engine errors and HTTP errors mapped to status codes and pages, in one place (STYLE rule 4).

Every error answers HTML in the house style, or JSON when the client prefers it (``Accept``).
Nothing here rolls back: the engine's transaction already did. A 500 never shows a traceback: it
is logged with a short incident number that the page shows, so support can find it.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, current_app, jsonify, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import (
    CallgovError,
    Conflict,
    DefinitionInvalid,
    InvalidInput,
    NotFound,
    PermissionDenied,
)

STATUS_OF: list[tuple[type[CallgovError], int]] = [
    (NotFound, 404),
    (PermissionDenied, 403),
    (Conflict, 409),
    (InvalidInput, 400),
    (DefinitionInvalid, 400),
]
"""Engine error class -> HTTP status; any other ``CallgovError`` is a 500."""

TITLES = {
    400: "There is a problem with the request",
    403: "You do not have permission to do this",
    404: "Page not found",
    405: "That cannot be done here",
    409: "Someone else changed this first",
    413: "What you sent is too large",
    429: "Too many attempts",
    500: "Sorry, there is a problem with the service",
}


bp = Blueprint("errors", __name__)
"""Has no pages: it registers the app-wide error handlers below."""


@bp.app_errorhandler(CallgovError)
def engine_error(error: CallgovError) -> ResponseReturnValue:
    """An engine error: its message is written for people, so it is shown."""
    status = next((code for cls, code in STATUS_OF if isinstance(error, cls)), 500)
    if status == 403:
        _audit_denied(str(error))
    if status == 500:
        return _server_error(error, message=str(error))
    problems = error.problems if isinstance(error, InvalidInput) else {}
    return error_page(status, str(error), problems=problems)


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> ResponseReturnValue:
    """A Werkzeug HTTP error (404 route, 405, 403 from a role check, CSRF failure ...)."""
    status = error.code or 500
    if isinstance(error, CSRFError):
        return error_page(400, "This form has expired or did not come from this site. Go back, reload the "
                               "page and try again.", title="The form could not be sent")
    if status >= 500:
        return _server_error(error)
    if status == 403:
        _audit_denied(error.description or "")
    message = error.description if status in (403, 429) and error.description else _DEFAULT_MESSAGES.get(status)
    response = error_page(status, message or error.description or "")
    allowed = getattr(error, "valid_methods", None)
    if status == 405 and allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


@bp.app_errorhandler(Exception)
def unexpected_error(error: Exception) -> ResponseReturnValue:
    """Anything else: a bug. Logged with an incident number; the page shows only that number."""
    return _server_error(error)


def error_page(status: int, message: str, *, title: str | None = None,
               problems: dict[str, str] | None = None) -> Response:
    """The error answer for ``status``: JSON if preferred, else the house-style page.

    A 500 page does not look up the signed-in user (the fault may be in doing that), and falls back
    to plain text if even the template fails.
    """
    title = title or TITLES.get(status, TITLES[400 if status < 500 else 500])
    if _wants_json():
        return make_response(jsonify({"error": title, "message": message, "status": status,
                                      "problems": problems or {}}), status)
    try:
        return make_response(render_template("errors/error.html", status=status, title=title, message=message,
                                             problems=problems or {}, plain=status >= 500), status)
    except Exception:
        if status < 500:
            raise
        current_app.logger.exception("The error page itself failed")
        return Response(f"{title}\n\n{message}\n", status=status, mimetype="text/plain")


_DEFAULT_MESSAGES = {
    404: "If you typed the web address, check it is correct. If you followed a link, the page may have moved.",
    405: "Use the buttons on the pages rather than typing web addresses.",
    413: "Shorten what you entered and try again.",
}


def _server_error(error: BaseException, *, message: str | None = None) -> Response:
    incident = secrets.token_hex(4)
    current_app.logger.error("Incident %s on %s %s", incident, request.method, request.path, exc_info=error)
    text = (f"{message} " if message else "") + f"Try again later. If it keeps happening, tell the service " \
                                                f"desk the incident number {incident}."
    return error_page(500, text)


def _audit_denied(reason: str) -> None:
    from webui.auth import record_access

    case_ref = (request.view_args or {}).get("case_ref")
    record_access("access.denied", reason=reason, case_ref=case_ref if isinstance(case_ref, str) else None)


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
