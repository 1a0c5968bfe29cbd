"""A development and demo server: the app on Werkzeug's threaded server (not for production).

Production runs the app factory under gunicorn (``gunicorn 'webui:create_app()'``) behind HTTPS.
"""

from __future__ import annotations

from typing import Any

from werkzeug.serving import run_simple

from engine.facade import Callgov
from webui.app import create_app


def run(host: str = "127.0.0.1", port: int = 5000, *, callgov: Callgov | None = None,
        config: dict[str, Any] | None = None) -> None:
    """Serve callgov at ``http://host:port/`` until interrupted.

    Development mode is on (cookies work over plain HTTP, a random secret key is used if
    ``CALLGOV_SECRET_KEY`` is unset); the facade is built from ``CALLGOV_*`` settings unless given.
    """
    app = create_app({"DEV": True, **(config or {})}, callgov=callgov)
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
