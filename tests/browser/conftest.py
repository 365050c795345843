"""Fixtures for the browser tests: the real web process (gunicorn, as in production) on a fresh,
seeded database, and Debian's Chromium driven by Playwright.

The app runs in a child process with its own ``DATABASE_URL``, so the process-wide engine of the
other tests is never touched; this process writes to the same database through an engine of its
own (``BrowserApp.engine``) to seed it and to change things the pages must then show.

One backend per run, to keep the suite quick (the pages' queries are tested on both backends by
``tests/admin_ui``): PostgreSQL, as in production, when ``RMC_TEST_DATABASES`` includes it and it
can be reached (or ``RMC_TEST_REQUIRE_POSTGRES=1``), else SQLite, the embedded default. CI runs
the suite twice, so both are covered there: once on PostgreSQL, once with
``RMC_TEST_DATABASES=sqlite``.

Chromium is the system's (``/usr/bin/chromium``, the Debian package ``chromium``; override with
``RMC_CHROMIUM``); Playwright never downloads a browser. Where Chromium is missing the browser
tests fail and say how to install it, unless ``RMC_SKIP_BROWSER_TESTS=1`` asks to skip them.
Every page visited is saved as a full-page screenshot under ``test-output/screenshots/``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from rmc_outreach.config import PROJECT_ROOT
from rmc_outreach.db import make_engine
from rmc_outreach.migrate import upgrade_to_head
from tests.browser.seed import PASSWORD, Seeded, seed_database
from tests.conftest import BACKENDS, _create_postgres_database

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Dialog, Page, Playwright

CHROMIUM = os.environ.get("RMC_CHROMIUM", "/usr/bin/chromium")
# As in the machine notes: no GPU, no sandbox (we may run as root), and no background traffic
# to Google's hosts, which a closed network refuses many times over.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
START_TIMEOUT_S = 30.0
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
# A laptop; the tablet test sets its own size.
VIEWPORT = {"width": 1280, "height": 800}
MISSING_CHROMIUM = (
    f"Chromium is not installed at {CHROMIUM}; the browser tests need it.\n"
    "Install Debian's package:  apt-get update && apt-get install -y chromium\n"
    "(or point RMC_CHROMIUM at another Chromium; RMC_SKIP_BROWSER_TESTS=1 skips these tests)."
)


def browser_tests_skipped() -> bool:
    """True when the person running the tests asked, explicitly, to skip the browser tests."""
    return os.environ.get("RMC_SKIP_BROWSER_TESTS") == "1"


@dataclasses.dataclass
class BrowserApp:
    """The running web process, its database and what was seeded into it."""

    base_url: str
    engine: Engine
    backend: str
    seeded: Seeded
    output: list[str]
    env: dict[str, str]

    def url(self, path: str) -> str:
        """An absolute URL on the app."""
        return self.base_url + path

    def session(self) -> Session:
        """A session on the app's database (``with app.session() as s, s.begin(): ...``)."""
        return Session(self.engine, expire_on_commit=False)


def _fresh_database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Any]:
    """A fresh database: the backend, its URL and what drops it afterwards (PostgreSQL only)."""
    if "postgresql" in BACKENDS:
        try:
            url, admin_engine = _create_postgres_database()
            return "postgresql", url, admin_engine
        except Exception:
            if os.environ.get("RMC_TEST_REQUIRE_POSTGRES") == "1" or "sqlite" not in BACKENDS:
                raise
    path = tmp_path_factory.mktemp("browser-db") / "browser.sqlite3"
    return "sqlite", f"sqlite:///{path}", None


def _spawn(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``args`` in the project folder; returns the process and the lines it has printed
    so far (stdout and stderr together), collected by a background thread."""
    process = subprocess.Popen(
        args,
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return process, lines


def _stop(process: subprocess.Popen[str], timeout: float) -> None:
    """Ask ``process`` to stop; kill it if it has not within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start_web(env: dict[str, str]) -> tuple[subprocess.Popen[str], str, list[str]]:
    """gunicorn on a port the system picks; returns the process, its base URL and its output."""
    process, lines = _spawn(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "admin_ui.wsgi:app",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--threads",
            "8",
            "--no-control-socket",
        ],
        env,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        found = LISTENING.search("".join(lines))
        if found:
            break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the web process did not start:\n" + "".join(lines)[-3000:])
        time.sleep(0.05)
    base_url = f"http://127.0.0.1:{found.group(1)}"
    while True:  # listening is not yet serving: wait for the app to answer
        try:
            with urllib.request.urlopen(base_url + "/login", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return process, base_url, lines
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the web process does not answer:\n" + "".join(lines)[-3000:])
        time.sleep(0.1)


@pytest.fixture(scope="session")
def browser_app(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, chromium_checked: None
) -> Iterator[BrowserApp]:
    """The web app served by gunicorn on a fresh, migrated and seeded database."""
    backend, database_url, admin_engine = _fresh_database(tmp_path_factory)
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    with Session(engine) as session, session.begin():
        seeded = seed_database(session)
    var_dir = tmp_path_factory.mktemp("browser-var")
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PORT", "PUBLIC_BASE_URL", "RMC_MODE", "RMC_CLOCK")
    }
    env |= {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RMC_VAR_DIR": str(var_dir),
        "SECRET_KEY": "browser-test-secret-key-" + "y" * 32,
        "PYTHONUNBUFFERED": "1",
    }
    process, base_url, output = _start_web(env)
    try:
        yield BrowserApp(base_url, engine, backend, seeded, output, env)
    finally:
        _stop(process, timeout=10)
        engine.dispose()
        if admin_engine is not None:
            with admin_engine.connect() as connection:
                name = engine.url.database
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin_engine.dispose()


@pytest.fixture(scope="session")
def import_worker(browser_app: BrowserApp) -> Iterator[list[str]]:
    """A real Celery worker on the imports queue, beside the web process (same database, Redis
    and var/ folder, where uploads wait for it); yields the lines it has printed so far."""
    process, lines = _spawn(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.celery_app",
            "worker",
            "--queues",
            "imports",
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        # The worker's runtime builds its Twilio client at start, whatever the task: give it
        # throw-away credentials and an API address on loopback where nothing listens (an
        # import never calls Twilio; if anything did, it could not leave the machine).
        browser_app.env
        | {
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "browser-tests-throw-away-token",
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
        },
    )
    yield lines
    _stop(process, timeout=15)


@pytest.fixture(scope="session")
def chromium_checked() -> None:
    """Skip when asked to; fail, saying how to install them, without Chromium or Playwright."""
    if browser_tests_skipped():
        pytest.skip("RMC_SKIP_BROWSER_TESTS=1: browser tests skipped on request")
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the playwright package is missing: run `make install`", pytrace=False)


@pytest.fixture(scope="session")
def playwright_instance(chromium_checked: None) -> Iterator[Playwright]:
    """Playwright's sync API for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless; never a downloaded browser."""
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


@dataclasses.dataclass
class PageWatch:
    """What a page did that a test must not let pass: dialogs (an XSS payload that ran),
    JavaScript errors and Content-Security-Policy refusals."""

    dialogs: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(self, message: Any) -> None:
        # A refused sign-in answers 401 and a forbidden page 403, as they should; the browser
        # reports those as failed loads. Server errors are caught by ``on_response``.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def on_response(self, response: Any) -> None:
        if response.status >= 500:
            self.errors.append(f"{response.status} from {response.url}")


@pytest.fixture
def watch() -> PageWatch:
    """The dialogs and errors of the test's pages (checked at the end of every test)."""
    return PageWatch()


def _new_context(browser: Browser, watch: PageWatch, **options: Any) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB", **options)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    context.on("dialog", watch.on_dialog)
    context.on("console", watch.on_console)
    context.on("response", watch.on_response)
    context.on("weberror", lambda error: watch.errors.append(str(error.error)))
    return context


@pytest.fixture
def new_context(browser: Browser, watch: PageWatch) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh browser contexts (no cookies), e.g. ``new_context(java_script_enabled=False)``;
    no dialog may open and no script error or CSP refusal may happen on any of their pages."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = _new_context(browser, watch, **options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert watch.dialogs == [], f"a dialog opened (script ran from page data?): {watch.dialogs}"
    assert watch.errors == [], f"errors in the browser: {watch.errors}"


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    """A page in a fresh context."""
    return new_context().new_page()


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as ``test-output/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, app: BrowserApp, username: str, password: str = PASSWORD) -> None:
    """Sign in through the form at /login as a person does, and wait for the landing page."""
    page.goto(app.url("/login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def shoot(page: Page, app: BrowserApp, name: str) -> Path:
    """A full-page screenshot named after the page and the backend it ran on."""
    return screenshot(page, f"{app.backend}-{name}")
