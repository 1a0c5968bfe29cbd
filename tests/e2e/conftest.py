"""Browser tests: the real app on a local port, driven by headless Chromium through Playwright.

The app runs in a thread (Werkzeug's ``make_server``) on a temporary SQLite database with the
review process of ``tests/webui/bpmn``. Debian's ``chromium`` is used (``/usr/bin/chromium``);
without it every browser test is skipped with the reason (``browser_test``). Screenshots go to
``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from engine.db import Database
from engine.facade import Callgov
from engine.operations import OperationRegistry
from tests.conftest import PASSWORD, create_schema
from webui import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BPMN = Path(__file__).resolve().parents[1] / "webui" / "bpmn" / "review.bpmn"
PEOPLE = {"sam": ("Sam Patel", ("staff",)), "tess": ("Tess Morgan", ("staff", "cs_team_leader")),
          "admin1": ("Ada Admin", ("admin",))}


browser_test = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"{CHROMIUM} is missing: install Debian's chromium package to run browser tests"),
]
"""Marks for every browser test module: ``pytestmark = browser_test``."""


@dataclass(frozen=True)
class LiveApp:
    """The running app: where it is, and the facade behind it (to check what the browser did)."""

    url: str
    callgov: Callgov


@contextmanager
def serve(callgov: Callgov) -> Iterator[LiveApp]:
    """The app around ``callgov``, served on 127.0.0.1 at an ephemeral port until the block ends;
    the database is disposed of afterwards."""
    app = create_app({"DEV": True, "SECRET_KEY": "browser-tests"}, callgov=callgov)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="callgov-e2e", daemon=True)
    thread.start()
    try:
        yield LiveApp(f"http://127.0.0.1:{server.server_port}", callgov)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        callgov.db.dispose()


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app served on 127.0.0.1 at an ephemeral port, with users and the review process."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.sqlite3'}")
    create_schema(db)
    callgov = Callgov(db, operations=OperationRegistry())
    for username, (name, roles) in PEOPLE.items():
        callgov.add_user(username, roles=roles, password=PASSWORD, display_name=name)
    callgov.deploy(BPMN.read_bytes(), filename=BPMN.name, actor="tester", publish=True)
    with serve(callgov) as app:
        yield app


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium (one per module)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_app: LiveApp) -> Iterator[object]:
    """A fresh browser context and page (laptop-sized); fails the test on any console error (a CSP
    violation, a script error) or failed subresource."""
    context = browser.new_context(base_url=live_app.url, viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  timezone_id="Europe/London")
    page = context.new_page()
    errors: list[str] = []

    def on_console(message) -> None:
        # A page answered 4xx on purpose (a form with errors) is logged as "Failed to load resource";
        # failed scripts, styles and fetches are caught by on_response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def on_response(response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            errors.append(f"{response.status} for {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"browser console errors: {errors}"


@pytest.fixture
def shot() -> Callable[[object, str], Path]:
    """Save a full-page screenshot to test-artifacts/<name>.png."""

    def take(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def sign_in() -> Callable[[object, str], None]:
    """Sign in through the form."""

    def do(page, username: str) -> None:
        page.goto("/sign-in")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/tasks")

    return do


# Werkzeug's development server leaves a static file open when the browser abandons its request
# (a navigation cancels a script load); the file is closed when collected. That is the test
# server's behaviour, not the app's, so it is not an error in the browser tests.
_ABANDONED_STATIC = [
    pytest.mark.filterwarnings(r"ignore:unclosed file <_io.BufferedReader name='[^']*/webui/static/:ResourceWarning"),
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <_io.FileIO name='[^']*/webui/static/:pytest.PytestUnraisableExceptionWarning"),
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Apply the filters above to the browser tests only."""
    for item in items:
        if "/tests/e2e/" in str(item.path):
            for mark in _ABANDONED_STATIC:
                item.add_marker(mark)
