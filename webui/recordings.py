"""Recordings: searching the catalogue, the listening page and its audio stream, and withdrawing a
release request.

Searching shows who called whom, so only ``SEARCH_ROLES`` may (the engine decides; the page says
why to others). Listening needs an open case that authorises the listener: the engine's
``may_listen`` decides and audits, and a refusal is a page that explains and offers a request. The
audio is streamed through the app with HTTP range requests, so the player can seek.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from engine.errors import InvalidInput, PermissionDenied
from engine.releases import RELEASE_PROCESS, SEARCH_ROLES, Playback, RangeNotSatisfiable
from webui.app import facade
from webui.cases import _case_page
from webui.forms import london_datetime

bp = Blueprint("recordings", __name__)
PAGE_SIZE = 25
SEARCH_REFUSED = ("Searching the recordings shows who called whom, so only the authorisers, the Data Protection "
                  "Officer and the IT helpdesk can do it. To get a recording, start a release request.")


class CardDetailsForm(FlaskForm):
    """Flag a recording as holding card details (policy section 6): where in the call, optionally."""

    note = TextAreaField("Where in the call, and anything else the DPO should know (optional)",
                         validators=[Length(max=1000, message="Keep it under 1,000 characters")])


class WithdrawForm(FlaskForm):
    """Why the requester withdraws their release request."""

    reason = TextAreaField("Why are you withdrawing the request?",
                           validators=[DataRequired("Enter why you are withdrawing the request"), Length(max=2000)])


@bp.get("/recordings")
@login_required
def search() -> ResponseReturnValue:
    """The search form; with criteria, a page of results (each search is audited by the engine)."""
    if not current_user.has_role(*SEARCH_ROLES):
        abort(403, SEARCH_REFUSED)
    args = request.args
    fields = {name: args.get(name, "").strip()[:60] for name in ("number", "extension", "from", "to", "direction")}
    trail = args.getlist("trail")[:50]
    problems: dict[str, str] = {}
    page = None
    if any(fields.values()):
        when = {name: london_datetime(fields[name], name, problems) for name in ("from", "to")}
        try:
            if not problems:
                page = facade().search_catalogue(
                    user=current_user.username, number=fields["number"] or None,
                    extension=fields["extension"] or None, date_from=when["from"], date_to=when["to"],
                    direction=fields["direction"] or None, limit=PAGE_SIZE, after=args.get("after") or None)
        except InvalidInput as error:
            problems.update(error.problems)
    status = 400 if problems else 200
    return render_template("recordings/search.html", fields=fields, page=page, problems=problems, trail=trail,
                           after=args.get("after", ""), now=facade().clock.now()), status


@bp.get("/recordings/<int:recording_id>")
@login_required
def recording(recording_id: int) -> ResponseReturnValue:
    """The player, for someone an open case authorises; else a refusal (both audited by the engine)."""
    decision = facade().may_listen(current_user.username, recording_id)
    if not decision.allowed:
        facade().report_refused_playback(current_user.username, recording_id)
        return render_template("recordings/refused.html", recording_id=recording_id), 403
    return render_template("recordings/recording.html", decision=decision,
                           recording=facade().recording_summary(recording_id), card_form=CardDetailsForm())


@bp.post("/recordings/<int:recording_id>/card-details")
@login_required
def flag_card_details(recording_id: int) -> ResponseReturnValue:
    """Flag the recording as containing card details: a breach trigger for the DPO (the engine checks
    that the flagger may hear the recording)."""
    form = CardDetailsForm()
    if not form.validate_on_submit():
        decision = facade().may_listen(current_user.username, recording_id)
        if not decision.allowed:
            abort(403, "Only someone who may listen to this recording can flag it.")
        return render_template("recordings/recording.html", decision=decision, card_form=form,
                               recording=facade().recording_summary(recording_id)), 400
    facade().flag_card_details(recording_id, user=current_user.username, note=form.note.data or "")
    flash("Thank you: the Data Protection Officer has been told that this recording holds card details. "
          "Do not write the card details down or pass them on.", "success")
    return redirect(url_for("recordings.recording", recording_id=recording_id))


@bp.post("/recordings/<int:recording_id>/request")
@login_required
def request_recording(recording_id: int) -> ResponseReturnValue:
    """Start a release request for this recording, picked from the search or refused for playback."""
    case = facade().request_recordings([recording_id], user=current_user.username)
    mine = [t for t in case.ready_tasks if t.assignee == current_user.username]
    if mine:
        return redirect(url_for("tasks.task", task_id=mine[0].id))
    return redirect(url_for("cases.case", case_ref=case.case_ref))


@bp.get("/recordings/<int:recording_id>/audio")
@login_required
def audio(recording_id: int) -> ResponseReturnValue:
    """The audio, whole (200) or the byte range asked for (206), with ``Accept-Ranges``."""
    wanted = _byte_range()
    try:
        playback = facade().open_playback(current_user.username, recording_id, byte_range=wanted)
    except PermissionDenied:  # the engine audited the refusal; this is a media request, not a page
        facade().report_refused_playback(current_user.username, recording_id)
        return Response("No open case lets you listen to this recording.\n", 403, mimetype="text/plain")
    except RangeNotSatisfiable as error:
        return Response(status=416, headers={"Content-Range": f"bytes */{error.size}", "Accept-Ranges": "bytes"})
    response = Response(_stream(playback), mimetype=playback.content_type, direct_passthrough=True)
    response.headers["Accept-Ranges"] = "bytes"
    if playback.size is not None:
        response.content_length = playback.size
    if wanted is not None and playback.total_size is not None and playback.size is not None:
        response.status_code = 206
        last = playback.first_byte + playback.size - 1
        response.headers["Content-Range"] = f"bytes {playback.first_byte}-{last}/{playback.total_size}"
    return response


@bp.route("/cases/<case_ref>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(case_ref: str) -> ResponseReturnValue:
    """Ask why, then withdraw a release request (its requester, until the recordings are released)."""
    page = _case_page(case_ref)
    case = page.case
    if case.process_id != RELEASE_PROCESS or case.started_by != current_user.username or case.status != "running":
        abort(403, "Only the person who made a release request can withdraw it, and only while it is running.")
    form = WithdrawForm()
    if not form.validate_on_submit():
        return render_template("recordings/withdraw.html", page=page, form=form), 400 if form.is_submitted() else 200
    facade().withdraw(case.case_ref, user=current_user.username, reason=form.reason.data or "")
    flash(f"You withdrew request {case.case_ref}.", "success")
    return redirect(url_for("cases.case", case_ref=case.case_ref))


def _byte_range() -> tuple[int, int | None] | None:
    """The one range of a ``Range: bytes=`` header (inclusive; a negative start is a suffix), or None
    for no header, several ranges or a malformed one (which HTTP says to ignore)."""
    ranges = request.range
    if ranges is None or ranges.units != "bytes" or len(ranges.ranges) != 1:
        return None
    first, end = ranges.ranges[0]
    return first, None if end is None else end - 1


def _stream(playback: Playback) -> Iterator[bytes]:
    try:
        yield from playback.chunks
    finally:
        playback.close()
