"""Breaches: reporting a concern (openly or anonymously), the DPO's breach register and its CSV, who
reported a case (the DPO alone), and the assigned investigator's evidence.

Any signed-in member of staff may report. An anonymous report's confirmation never shows the case
reference, and nothing about the reporter is put in the URL, the audit trail or the case: only the
engine's restricted reporter table, which the DPO reads on a deliberate, audited request. The engine
decides every access (the register and reporter are the DPO's; the evidence is the assigned
investigator's, each look audited under the case); these routes parse, call and render.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from engine.breaches import REGISTER_ROLES
from engine.errors import NotFound
from webui.app import facade
from webui.filters import LONDON
from webui.forms import london_datetime

bp = Blueprint("breaches", __name__)
REPORTED = "breach_reported"
"""Session key: the reference of the case just reported (``anonymous`` for an anonymous report)."""
STATUSES = {"": "All cases", "open": "Open", "closed": "Closed"}


class ConcernForm(FlaskForm):
    """A suspected breach or misuse, as a member of staff reports it."""

    what_happened = TextAreaField("What happened?", validators=[
        DataRequired("Say what happened"), Length(max=4000, message="Keep it under 4,000 characters")])
    discovered_at = StringField("When was it discovered?", description="The date and time you found out, UK time",
                                validators=[DataRequired("Say when it was discovered")])
    recordings_concerned = StringField("Which recordings? (their numbers, if you know them)",
                                       description="For example 1234, 1240",
                                       validators=[Optional(), Length(max=500)])
    people_concerned = TextAreaField("Which people does it concern?", validators=[Optional(), Length(max=2000)])
    subject_username = StringField("The member of staff involved, if any (their username)",
                                   validators=[Optional(), Length(max=80)])
    how_known = TextAreaField("How do you know?", validators=[
        DataRequired("Say how you know"), Length(max=4000, message="Keep it under 4,000 characters")])
    identity = RadioField("Who should know that you reported this?", default="named", choices=[
        SelectChoice("named", "Report in my name"), SelectChoice("anonymous", "Report anonymously")],
        validators=[DataRequired("Choose whether to report in your name or anonymously")])

    def validate_discovered_at(self, field: StringField) -> None:
        """A readable date and time, not in the future."""
        problems: dict[str, str] = {}
        moment = london_datetime(field.data or "", "discovered", problems)
        if problems or moment is None:
            raise ValidationError("Enter the date and time like 05/01/2026 14:30")
        if moment > facade().clock.now():
            raise ValidationError("The time it was discovered cannot be in the future")
        self.discovered_moment: datetime = moment

    def validate_subject_username(self, field: StringField) -> None:
        """A username callgov knows, if given."""
        name = (field.data or "").strip().lower()
        if name:
            try:
                facade().user(name)
            except NotFound:
                raise ValidationError(f"There is no member of staff with the username {name[:80]}") from None
            field.data = name


@bp.route("/report-a-concern", methods=["GET", "POST"])
@login_required
def report() -> ResponseReturnValue:
    """The report form; a valid report starts a breach case and shows the confirmation."""
    form = ConcernForm()
    if not form.is_submitted():
        form.discovered_at.data = facade().clock.now().astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")
    if not form.validate_on_submit():
        return render_template("breaches/report.html", form=form), 400 if form.is_submitted() else 200
    anonymous = form.identity.data == "anonymous"
    ref = facade().report_breach(
        user=current_user.username, what_happened=form.what_happened.data or "",
        discovered_at=form.discovered_moment, how_known=form.how_known.data or "",
        recordings_concerned=form.recordings_concerned.data or "", people_concerned=form.people_concerned.data or "",
        subject_username=form.subject_username.data or None, anonymous=anonymous)
    session[REPORTED] = "anonymous" if anonymous else ref
    return redirect(url_for("breaches.reported"))


@bp.get("/report-a-concern/sent")
@login_required
def reported() -> ResponseReturnValue:
    """The confirmation of the report just made (once): its case reference, unless it was anonymous."""
    ref = session.pop(REPORTED, None)
    if ref is None:
        return redirect(url_for("breaches.report"))
    return render_template("breaches/reported.html", case_ref=None if ref == "anonymous" else ref)


@bp.get("/breaches")
@login_required
def register() -> ResponseReturnValue:
    """The breach register, newest first, filtered by status (the DPO only; viewing is audited)."""
    _require_register()
    status = request.args.get("status", "").strip()
    if status not in STATUSES:
        return render_template("breaches/register.html", entries=[], status="", statuses=STATUSES,
                               problem="Choose all, open or closed cases"), 400
    entries = facade().breach_register(user=current_user.username, status=status or None)
    return render_template("breaches/register.html", entries=entries, status=status, statuses=STATUSES,
                           problem=None)


@bp.get("/breaches.csv")
@login_required
def register_csv() -> ResponseReturnValue:
    """The whole register as CSV (the DPO only; the export is audited)."""
    _require_register()
    response = Response(facade().breach_register_csv(user=current_user.username), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=breach-register.csv"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/breaches/<case_ref>/reporter", methods=["GET", "POST"])
@login_required
def reporter(case_ref: str) -> ResponseReturnValue:
    """Who reported a case: the DPO asks deliberately (a POST), and the engine audits the answer."""
    _require_register()
    name = facade().breach_reporter(case_ref, user=current_user.username) if request.method == "POST" else None
    response = Response(render_template("breaches/reporter.html", case_ref=case_ref.strip().upper()[:40],
                                        name=name))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/breaches/<case_ref>/evidence")
@login_required
def evidence(case_ref: str) -> ResponseReturnValue:
    """The assigned investigator's evidence: the people and recordings the case concerns (audited)."""
    return render_template("breaches/evidence.html",
                           evidence=facade().breach_evidence(case_ref, user=current_user.username))


@bp.get("/breaches/<case_ref>/evidence/people/<username>")
@login_required
def person_trail(case_ref: str, username: str) -> ResponseReturnValue:
    """A page of the audit trail of a person the case concerns (the assigned investigator; audited)."""
    before = request.args.get("before", "")
    trail = facade().breach_person_trail(case_ref, username, user=current_user.username,
                                         before_seq=int(before) if before.isdigit() else None)
    return render_template("breaches/trail.html", trail=trail)


def _require_register() -> None:
    if not current_user.has_role(*REGISTER_ROLES):
        abort(403, "Only the Data Protection Officer can see the breach register.")
