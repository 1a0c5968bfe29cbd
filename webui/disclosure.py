"""Disclosure: the DPO's register (and its CSV), and the recipient's pages behind a delivery link.

The recipient has no account: the token in ``/disclosure/<token>`` is the credential. Those pages
send ``Referrer-Policy: no-referrer`` (so the link never leaks to another site, nor to our own
logs through a Referer) and ``no-store``; the request log prints the path with the token blanked.
Their forms carry a CSRF token tied to the anonymous session cookie. Because no Referer is sent,
Flask-WTF's HTTPS Referer check is skipped for them (``csrf.exempt``) and the form's own token
check does the work. Unknown, expired and used-up links are refused and audited by the engine; each use of an expired or
used-up link also raises the breach investigation's link-misuse trigger.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from flask import Blueprint, Flask, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.releases import LinkGone, PackageDownload, PackageInfo
from webui.app import csrf, facade
from webui.filters import LONDON

bp = Blueprint("disclosure", __name__)
T = TypeVar("T")
TOKEN_IN_PATH = re.compile(r"(/disclosure/)[^/\s?\"]+")


class AcknowledgeForm(FlaskForm):
    """The recipient accepts the terms of release, giving their name."""

    name = StringField("Your full name", validators=[DataRequired("Enter your full name"), Length(max=200)])
    accept = BooleanField("I accept the terms of release", validators=[DataRequired(
        "Confirm that you accept the terms of release")])


class DownloadForm(FlaskForm):
    """The download button (a POST, so link scanners that fetch pages never use up the link)."""


class RedactTokens(logging.Filter):
    """Blank delivery-link tokens in log lines (Werkzeug's request log prints every path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/disclosure/" in message:
            record.msg, record.args = TOKEN_IN_PATH.sub(r"\1[token]", message), ()
        return True


def init_app(app: Flask) -> None:
    """Keep tokens out of the request log and the app's own log."""
    for logger in (logging.getLogger("werkzeug"), app.logger):
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


@bp.after_request
def no_referrer(response: Response) -> Response:
    """The token is in the path: never send it on as a Referer, never cache the pages."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the DPO's register ---------------------------------------------------------------------------


@bp.get("/disclosure-register")
@login_required
def register() -> ResponseReturnValue:
    """The disclosure register, newest first, filtered by the date it was recorded (London dates)."""
    since, until, problems = _window()
    entries = facade().disclosure_register(user=current_user.username, since=since, until=until)
    return render_template("disclosure/register.html", entries=entries, problems=problems,
                           fields={name: request.args[name][:10] for name in ("from", "to") if request.args.get(name)}
                           ), 400 if problems else 200


@bp.get("/disclosure-register.csv")
@login_required
def register_csv() -> ResponseReturnValue:
    """The register as CSV (the same filter); the export is audited."""
    since, until, problems = _window()
    if problems:
        raise InvalidInput("; ".join(problems.values()), problems)
    text = facade().disclosure_register_csv(user=current_user.username, since=since, until=until)
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=disclosure-register.csv"
    return response


# -- the recipient's pages ------------------------------------------------------------------------


@bp.get("/disclosure/<token>")
def landing(token: str) -> ResponseReturnValue:
    """The terms, the case and its files; the acknowledgement form, or the download once accepted."""
    info = _package(token, lambda: facade().package_for_token(token))
    if not isinstance(info, PackageInfo):
        return info
    return render_template("disclosure/landing.html", info=info, token=token, form=AcknowledgeForm(),
                           download=DownloadForm())


@bp.post("/disclosure/<token>/acknowledge")
@csrf.exempt
def acknowledge(token: str) -> ResponseReturnValue:
    """Record the recipient's acceptance of the terms, then back to the page with the download."""
    form = AcknowledgeForm()
    if not form.validate_on_submit():
        info = _package(token, lambda: facade().package_for_token(token))
        if not isinstance(info, PackageInfo):
            return info
        return render_template("disclosure/landing.html", info=info, token=token, form=form,
                               download=DownloadForm()), 400
    result = _package(token, lambda: facade().acknowledge_package(token, name=form.name.data or ""))
    if not isinstance(result, PackageInfo):
        return result
    return redirect(url_for("disclosure.landing", token=token, _anchor="download"))


@bp.post("/disclosure/<token>/download")
@csrf.exempt
def download(token: str) -> ResponseReturnValue:
    """The package as a zip; counts one use of the link."""
    if not DownloadForm().validate_on_submit():
        return _refusal(400, "The form has expired", "Go back to the link you were sent, reload the page and "
                                                     "try again.")
    package = _package(token, lambda: facade().download_package(token))
    if not isinstance(package, PackageDownload):
        return package
    response = Response(_stream(package), mimetype=package.content_type, direct_passthrough=True)
    response.content_length = package.size
    response.headers["Content-Disposition"] = f"attachment; filename={package.filename}"
    return response


def _package(token: str, load: Callable[[], T]) -> T | Response:
    """``load()``, or the refusal page for an unknown (404), expired or used-up (410) link, or a
    download before the terms were accepted (403). The engine has audited the refusal; an expired or
    used-up link also raises a breach trigger (the engine joins repeats to the open case)."""
    try:
        return load()
    except NotFound:
        return _refusal(404, "This link is not valid", "Check that you copied the whole link from the email. If it "
                                                        "still does not work, ask the person who sent it.")
    except LinkGone as error:
        facade().report_link_misuse(token)
        return _refusal(410, "This link can no longer be used", f"{error} Ask the person who sent it for a new one.")
    except PermissionDenied as error:
        return _refusal(403, "Accept the terms first", str(error))
    except InvalidInput as error:
        return _refusal(400, "There is a problem", str(error))


def _refusal(status: int, title: str, message: str) -> Response:
    return Response(render_template("disclosure/refused.html", title=title, message=message), status)


def _stream(package: PackageDownload) -> Iterator[bytes]:
    try:
        yield from package.chunks
    finally:
        package.close()


def _window() -> tuple[datetime | None, datetime | None, dict[str, str]]:
    """The ``from`` and ``to`` dates (inclusive, London) as a UTC-aware window, and any problems."""
    problems: dict[str, str] = {}
    bounds: list[datetime | None] = []
    for name, extra in (("from", 0), ("to", 1)):
        text = request.args.get(name, "").strip()
        if not text:
            bounds.append(None)
            continue
        try:
            day = date.fromisoformat(text[:10]) + timedelta(days=extra)
        except ValueError:
            problems[name] = "Enter a date like 2026-01-05"
            bounds.append(None)
            continue
        bounds.append(datetime.combine(day, time(), tzinfo=LONDON))
    return bounds[0], bounds[1], problems
