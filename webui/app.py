"""The app factory: configuration, extensions, blueprints."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from flask import Flask, current_app
from flask_wtf.csrf import CSRFProtect

from engine.config import Settings
from engine.facade import Callgov

csrf = CSRFProtect()

_TRUE = {"1", "true", "yes", "on"}


def create_app(config: Mapping[str, Any] | None = None, *, callgov: Callgov | None = None) -> Flask:
    """Build the web app around ``callgov`` (default: a facade built from ``CALLGOV_*`` settings).

    ``config`` overrides any Flask setting, e.g. ``{"TESTING": True}`` in tests or ``{"DEV": True}``
    for local development over plain HTTP.
    """
    app = Flask(__name__)
    settings = Settings.from_env()
    app.config.from_mapping(_defaults(settings))
    app.config.update(config or {})
    _finish_config(app, explicit=set(config or ()))
    if callgov is None:
        from engine.bootstrap import build

        callgov = build(settings)
    app.extensions["callgov"] = callgov

    from webui import (
        admin,
        auth,
        breaches,
        cases,
        disclosure,
        errors,
        filters,
        governance,
        migration,
        recordings,
        sandbox,
        security,
        tasks,
    )

    csrf.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    filters.init_app(app)
    disclosure.init_app(app)
    for blueprint in (auth.bp, tasks.bp, cases.bp, recordings.bp, disclosure.bp, breaches.bp, admin.bp,
                      governance.bp, migration.bp, sandbox.bp, errors.bp):
        app.register_blueprint(blueprint)
    _start_scheduler(app, settings, callgov)
    return app


def _start_scheduler(app: Flask, settings: Settings, callgov: Callgov) -> None:
    """Run the periodic jobs in this process when ``CALLGOV_SCHEDULER`` says so (never twice under the
    reloader); production runs ``callgov scheduler run`` as a process of its own instead."""
    from engine.scheduler import should_start_in_process

    if app.testing or not should_start_in_process(settings.scheduler_enabled, settings.environ):
        return
    import atexit

    from engine.jobs import engine_jobs
    from engine.scheduler import Scheduler

    scheduler = Scheduler(callgov.db, engine_jobs(callgov), clock=callgov.clock)
    scheduler.start()
    atexit.register(scheduler.stop)
    app.extensions["callgov.scheduler"] = scheduler


def facade() -> Callgov:
    """The engine facade of the running app."""
    return cast(Callgov, current_app.extensions["callgov"])


def _defaults(settings: Settings) -> dict[str, Any]:
    env = settings.environ
    return {
        "DEV": (env.get("CALLGOV_DEV") or "").strip().lower() in _TRUE,
        "SECRET_KEY": settings.secret_key,
        "SESSION_COOKIE_NAME": "callgov_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),  # idle limit: the cookie is renewed on each request
        "CALLGOV_SESSION_MAX_AGE": timedelta(hours=12),  # absolute limit, however active the session
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session: long forms stay valid
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "TRUSTED_PROXIES": int(env.get("CALLGOV_TRUSTED_PROXIES") or 0),
    }


def _finish_config(app: Flask, *, explicit: set[str]) -> None:
    """Settings that follow from others: Secure cookies outside development, a secret key."""
    dev = bool(app.config["DEV"] or app.debug)
    if "SESSION_COOKIE_SECURE" not in explicit:
        app.config["SESSION_COOKIE_SECURE"] = not dev
    if not app.config.get("SECRET_KEY"):
        if not (dev or app.testing):
            raise RuntimeError("Set CALLGOV_SECRET_KEY to a long random value (or CALLGOV_DEV=1 for local use)")
        app.config["SECRET_KEY"] = secrets.token_hex(32)  # sessions end when the process does
