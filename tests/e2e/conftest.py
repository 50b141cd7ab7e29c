"""Browser journeys in a real headless Chromium (Debian's), driven by Playwright.

Set SEXTANT_SCREENSHOTS=1 to write the README's screenshots to docs/screenshots/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.services import unavailable

# Playwright's sync API runs an event loop; the ORM calls in these tests are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "pw-for-tests-1"
# True once htmx has no request in flight and no swapped content left to settle (and bind).
HTMX_IDLE = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright", "the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Session:
    """One person's browser context, with what the console reported (CSP violations included)."""

    def __init__(self, browser, base_url: str, width: int = 1280, height: int = 860):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.base_url = base_url
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.settle()

    def settle(self) -> None:
        """Wait until no htmx request is in flight and swapped content is bound, so the test never
        ends mid-swap nor acts on new content before its hx-* attributes work. htmx takes
        .htmx-request off right after the swap, but binds the new content in its settle step,
        about 20 ms later, taking .htmx-added off each new element as it does. (networkidle only
        counts until the page's first load.)"""
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_function(HTMX_IDLE)

    def log_in(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit]")
        self.settle()

    def screenshot(self, name: str) -> None:
        if os.environ.get("SEXTANT_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)

    def close(self) -> None:
        self.settle()
        self.context.close()


@pytest.fixture
def open_session(browser, live_server):
    sessions: list[Session] = []

    def make(username: str | None = None, **size) -> Session:
        session = Session(browser, live_server.url, **size)
        sessions.append(session)
        if username:
            session.log_in(username)
        return session

    yield make
    for session in sessions:
        session.close()
