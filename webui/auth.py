"""Signing in and out, the signed-in user (Flask-Login), the role check, and access auditing.

A session names the user *and* the session epoch it was issued in: raising a user's epoch (sign
out everywhere, disabling them) ends every session at its next request. Sessions also end after
``PERMANENT_SESSION_LIFETIME`` idle and ``CALLGOV_SESSION_MAX_AGE`` in all.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from engine.users import UserView
from webui.app import facade
from webui.forms import SignInForm

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
F = TypeVar("F", bound=Callable[..., Any])
_CASE_REF = re.compile(r"[A-Za-z0-9-]{1,40}")


class WebUser(UserMixin):
    """The signed-in person, as Flask-Login needs them."""

    def __init__(self, view: UserView) -> None:
        self.view = view

    @property
    def username(self) -> str:
        return self.view.username

    @property
    def display_name(self) -> str:
        return self.view.display_name

    @property
    def roles(self) -> frozenset[str]:
        return self.view.roles

    def get_id(self) -> str:
        """``username|epoch``: the loader refuses the session once the user's epoch has moved on."""
        return f"{self.view.username}|{self.view.session_epoch}"

    def has_role(self, *roles: str) -> bool:
        """Whether the user holds any of ``roles``."""
        return bool(self.view.roles & set(roles))


def init_app(app: Flask) -> None:
    """Set up Flask-Login: the loader and where to sign in."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)
    app.jinja_env.globals["service_owner"] = app.config.get("SERVICE_OWNER", "North Wales Housing")


def _load_user(user_id: str) -> WebUser | None:
    username, _, epoch = user_id.rpartition("|")
    signed_in_at = session.get("signed_in_at")
    if not username or not epoch.isdigit() or not isinstance(signed_in_at, int | float):
        return None
    if time.time() - signed_in_at > current_app.config["CALLGOV_SESSION_MAX_AGE"].total_seconds():
        return None
    view = facade().user_for_session(username, int(epoch))
    return WebUser(view) if view is not None else None


def role_required(*roles: str) -> Callable[[F], F]:
    """Only signed-in holders of one of ``roles`` reach the view; others get 403 (which is audited)."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.has_role(*roles):
                abort(403, "This page is for administrators only.")
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def record_access(action: str, *, reason: str = "", case_ref: str | None = None) -> None:
    """Audit a sign-out or refused page for the current user; a failure to audit is logged, not shown."""
    actor = current_user.username if current_user.is_authenticated else "anonymous"
    detail = {"path": request.path[:500], "method": request.method, "reason": reason[:500],
              "address": request.remote_addr or "unknown"}
    if case_ref and not _CASE_REF.fullmatch(case_ref):
        detail["case_ref"], case_ref = case_ref[:100], None
    try:
        facade().record_access(action, actor=actor, detail=detail, case_ref=case_ref.upper() if case_ref else None)
    except Exception:  # the refusal stands even if the audit store is down
        current_app.logger.exception("Could not audit %s for %s", action, actor)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (never another host), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """The sign-in page; a success starts a fresh session."""
    if current_user.is_authenticated:
        return redirect(url_for("tasks.inbox"))
    form = SignInForm()
    if not form.validate_on_submit():
        return render_template("auth/sign_in.html", form=form), 400 if form.is_submitted() else 200
    result = facade().sign_in(form.username.data or "", form.password.data or "", address=request.remote_addr)
    if result.user is None:
        status = 429 if result.locked_until else 400
        return render_template("auth/sign_in.html", form=form, locked_until=result.locked_until,
                               refused=True), status
    next_url = safe_next(request.args.get("next"))
    session.clear()  # a new session (new cookie content, new CSRF token): nothing carries over
    login_user(WebUser(result.user))
    session["signed_in_at"] = time.time()
    session.permanent = True
    return redirect(next_url or url_for("tasks.inbox"))


@bp.post("/sign-out")
@login_required
def sign_out() -> ResponseReturnValue:
    """End this session."""
    record_access("user.logout")
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("auth.sign_in"))
