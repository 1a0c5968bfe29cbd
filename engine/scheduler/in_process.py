"""Whether a web process should start the scheduler inside itself: behind a setting, never twice.

Flask's development server with the reloader runs two processes, and Flask 3 builds the app in
both: the parent watches files and restarts the child, the child (``WERKZEUG_RUN_MAIN=true``)
serves. A scheduler started in the parent would never see reloaded code and would keep the runner
post for ever, so only the child, or a process not under the reloader at all, may start one. The
engine imports no Flask, so this reads the environment variables Werkzeug and Flask use.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["should_start_in_process"]

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def should_start_in_process(settings_flag: bool, environ: Mapping[str, str], *,
                            use_reloader: bool | None = None) -> bool:
    """True if this process should run ``Scheduler.start()`` (``CALLGOV_SCHEDULER`` is ``settings_flag``).

    False when the flag is off, and in the Werkzeug reloader's parent process. Whether the reloader
    is in use is ``use_reloader`` when the caller knows it, else read from the environment as
    ``flask run`` decides it: ``FLASK_RUN_RELOAD`` if set, otherwise ``FLASK_DEBUG``. (``flask run
    --reload`` without ``--debug`` leaves no trace in the environment: pass ``use_reloader``.)
    """
    if not settings_flag:
        return False
    if environ.get("WERKZEUG_RUN_MAIN") == "true":
        return True  # the reloader's child: the process that serves
    reloading = use_reloader if use_reloader is not None else _reloader_expected(environ)
    return not reloading


def _reloader_expected(environ: Mapping[str, str]) -> bool:
    reload = environ.get("FLASK_RUN_RELOAD", "").strip().lower()
    if reload in _TRUE:
        return True
    if reload in _FALSE:
        return False
    debug = environ.get("FLASK_DEBUG", "").strip().lower()
    return bool(debug) and debug not in {"0", "false", "no"}
