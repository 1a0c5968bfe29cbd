"""Administration of users for the ``admin`` role: add people, give and take roles, disable them,
sign them out everywhere. The engine checks the role again and audits every change."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from connectors.mail import LogMailer
from engine.errors import Conflict, InvalidInput, NotFound
from engine.mailqueue import STATUSES
from webui.app import facade
from webui.auth import role_required
from webui.forms import NewUserForm, PasswordForm, RolesForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@role_required("admin")
def users() -> ResponseReturnValue:
    """Everyone who can sign in, with their roles."""
    return render_template("admin/users.html", users=facade().list_users(actor=current_user.username))


@bp.route("/add-user", methods=["GET", "POST"])
@role_required("admin")
def new_user() -> ResponseReturnValue:
    """Add a person with roles and a first password."""
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = facade().create_user(
                form.username.data or "", actor=current_user.username, roles=form.roles.data or [],
                password=form.password.data or "", display_name=form.display_name.data or "",
                email=form.email.data or None, job_title=form.job_title.data or None)
        except (InvalidInput, Conflict) as error:
            _field_errors(form, error)
        else:
            flash(f"You added {user.display_name} ({user.username}).", "success")
            return redirect(url_for("admin.user", username=user.username))
    return render_template("admin/new_user.html", form=form), 400 if form.is_submitted() else 200


@bp.get("/users/<username>")
@role_required("admin")
def user(username: str) -> ResponseReturnValue:
    """One person: their roles, and the buttons to disable them or sign them out everywhere."""
    person = facade().managed_user(username, actor=current_user.username)
    form = RolesForm(data={"roles": sorted(person.roles)})
    return render_template("admin/user.html", person=person, form=form, password_form=PasswordForm())


@bp.post("/users/<username>/roles")
@role_required("admin")
def roles(username: str) -> ResponseReturnValue:
    """Replace the roles a person holds."""
    form = RolesForm()
    if form.validate_on_submit():
        try:
            person = facade().set_user_roles(username, form.roles.data or [], actor=current_user.username)
        except InvalidInput as error:
            _field_errors(form, error)
        else:
            flash(f"You changed the roles of {person.display_name}.", "success")
            return redirect(url_for("admin.user", username=person.username))
    person = facade().managed_user(username, actor=current_user.username)
    return render_template("admin/user.html", person=person, form=form, password_form=PasswordForm()), 400


@bp.post("/users/<username>/password")
@role_required("admin")
def password(username: str) -> ResponseReturnValue:
    """Set a new password (a forgotten one); the person is signed out everywhere."""
    form = PasswordForm()
    if form.validate_on_submit():
        person = facade().set_password(username, form.password.data or "", actor=current_user.username)
        flash(f"You set a new password for {person.display_name}. Give it to them in a safe way.", "success")
        return redirect(url_for("admin.user", username=person.username))
    person = facade().managed_user(username, actor=current_user.username)
    roles = RolesForm(formdata=None, data={"roles": sorted(person.roles)})
    return render_template("admin/user.html", person=person, form=roles, password_form=form), 400


@bp.post("/users/<username>/disable")
@role_required("admin")
def disable(username: str) -> ResponseReturnValue:
    """Stop a person signing in; their sessions end now."""
    person = facade().set_user_active(username, False, actor=current_user.username)
    flash(f"You disabled {person.display_name}. They are signed out and cannot sign in.", "success")
    return redirect(url_for("admin.user", username=person.username))


@bp.post("/users/<username>/enable")
@role_required("admin")
def enable(username: str) -> ResponseReturnValue:
    """Let a disabled person sign in again."""
    person = facade().set_user_active(username, True, actor=current_user.username)
    flash(f"You enabled {person.display_name}. They can sign in again.", "success")
    return redirect(url_for("admin.user", username=person.username))


@bp.post("/users/<username>/sign-out-everywhere")
@role_required("admin")
def sign_out_everywhere(username: str) -> ResponseReturnValue:
    """End every session of a person (a lost laptop, a shared password)."""
    person = facade().sign_out_everywhere(username, actor=current_user.username)
    flash(f"{person.display_name} is signed out on every device.", "success")
    return redirect(url_for("admin.user", username=person.username))


@bp.get("/mail")
@role_required("admin")
def mail() -> ResponseReturnValue:
    """The mail the processes sent or are trying to send, newest first, filtered by status."""
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        abort(404)
    page = facade().mail_queue_page(user=current_user.username, status=status,
                                    page=request.args.get("page", 1, type=int) or 1)
    mailer = getattr(facade().services, "mailer", None)
    return render_template("admin/mail.html", page=page, statuses=STATUSES,
                           mail_off=isinstance(mailer, LogMailer))


@bp.post("/mail/<int:mail_id>/retry")
@role_required("admin")
def retry_mail(mail_id: int) -> ResponseReturnValue:
    """Try a message again now (after the relay is fixed, say)."""
    try:
        outcome = facade().retry_mail(mail_id, user=current_user.username)
    except NotFound:
        abort(404)
    except InvalidInput as error:
        flash(str(error), "error")
    else:
        if outcome in ("sent", "logged"):
            flash(f"Mail {mail_id} was sent.", "success")
        else:
            flash(f"Mail {mail_id} could not be sent yet; it stays in the queue and is tried again.", "error")
    return redirect(url_for("admin.mail", status=request.args.get("status") or None))


def _field_errors(form: NewUserForm | RolesForm, error: InvalidInput | Conflict) -> None:
    """Put an engine refusal beside the field it concerns (the username, if it names none)."""
    named = list(error.problems) if isinstance(error, InvalidInput) else []
    default = "username" if isinstance(form, NewUserForm) else "roles"
    name = next((n for n in named if n in form), default)
    form[name].errors = [*form[name].errors, str(error)]
