"""Discovery in a real browser: making an insight from a selected passage, the live notes preview,
and hostile input that never runs.

Each test drives its own Chromium on a thread of its own: the e2e suite keeps a session-wide
browser open on the main thread, and Playwright's sync API allows one per thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from interviews import services
from interviews.models import Insight
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, HTMX_IDLE, PASSWORD
from tests.services import unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOSTILE = (
    '<script>alert("x")</script><img src=x onerror=alert(1)> [click me](javascript:alert(2)) <svg onload=alert(3)>'
)


class Browser:
    """One person's page, with what the console reported (CSP violations included) and any dialog."""

    def __init__(self, page: Any, base_url: str):
        self.page, self.base_url = page, base_url
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.settle()

    def settle(self) -> None:
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_function(HTMX_IDLE)

    def log_in(self, username: str) -> None:
        self.goto("/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", PASSWORD)
        self.page.click("button[type=submit]")
        self.settle()


@pytest.fixture
def in_browser(live_server) -> Callable[[str, Callable[[Browser], Any]], Any]:
    """Run `script(browser)` in Chromium, logged in as `username`, and return what it returns."""
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright", "the playwright package is not installed")

    def run(username: str, script: Callable[[Browser], Any]) -> Any:
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                with sync_playwright() as playwright:
                    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    try:
                        page = chromium.new_context(viewport={"width": 1280, "height": 860}).new_page()
                        page.set_default_timeout(10_000)
                        browser = Browser(page, live_server.url)
                        browser.log_in(username)
                        outcome["value"] = script(browser)
                    finally:
                        chromium.close()
            except BaseException as error:  # noqa: BLE001 - raised again on the test's thread
                outcome["error"] = error

        thread = threading.Thread(target=work)
        thread.start()
        thread.join(timeout=120)
        if "error" in outcome:
            raise outcome["error"]
        assert "value" in outcome, "the browser did not finish in time"
        return outcome["value"]

    return run


@pytest.fixture
def interview(team, editor):
    persona = services.persona_create(team=team, by=editor, name="Merchandiser Mia")
    return services.interview_create(
        team=team,
        by=editor,
        held_on=date(2026, 5, 4),
        interviewee_name="Raj Patel",
        persona=persona,
        notes="He orders on Monday.\n\nThe forecast lands on Tuesday, after his orders are placed.",
    )


def test_pm_selects_a_passage_of_the_notes_and_makes_it_an_insight(in_browser, team, editor, interview):
    def script(browser: Browser) -> dict:
        page = browser.page
        browser.goto(f"/t/{team.slug}/discovery/interviews/{interview.pk}/")
        passage = page.locator("#interview-notes p").nth(1).bounding_box()
        page.mouse.move(passage["x"], passage["y"] + passage["height"] / 2)  # drag across it, as a person does
        page.mouse.down()
        page.mouse.move(passage["x"] + passage["width"] - 2, passage["y"] + passage["height"] / 2, steps=6)
        page.mouse.up()
        page.locator("#quote-selection").click()
        quoted = page.input_value("#id_quote")
        page.locator(".kind-option", has_text="Need").click()
        page.fill("#id_tags", "Forecast timing")
        page.get_by_role("button", name="Add insight").click()
        page.get_by_text("Insight added.").wait_for()
        browser.settle()
        return {"quoted": quoted, "after": page.input_value("#id_quote"), "errors": browser.console_errors}

    seen = in_browser(editor.username, script)

    assert seen["quoted"].startswith("The forecast lands on Tuesday")
    insight = Insight.objects.get(interview=interview)
    assert insight.quote == seen["quoted"] and insight.kind == "need" and insight.tags == ["forecast-timing"]
    assert seen["after"] == "", "a fresh form for the next insight"
    assert seen["errors"] == []


def test_the_notes_preview_follows_what_is_typed(in_browser, team, editor, interview):
    def script(browser: Browser) -> dict:
        page = browser.page
        browser.goto(f"/t/{team.slug}/discovery/interviews/{interview.pk}/edit/")
        page.fill("#id_notes", "## Heard\n\n**Late** forecasts <script>alert(1)</script>")
        page.locator("#notes-preview h2", has_text="Heard").wait_for()
        browser.settle()
        return {
            "strong": page.locator("#notes-preview strong").inner_text(),
            "scripts": page.locator("#notes-preview script").count(),
            "errors": browser.console_errors,
            "dialogs": browser.dialogs,
        }

    seen = in_browser(editor.username, script)

    assert seen == {"strong": "Late", "scripts": 0, "errors": [], "dialogs": []}


def test_script_and_handler_payloads_do_not_run_in_the_browser(in_browser, team, editor):
    persona = services.persona_create(team=team, by=editor, name=HOSTILE[:100], pains=HOSTILE)
    interview = services.interview_create(
        team=team,
        by=editor,
        held_on=date(2026, 5, 4),
        interviewee_name=HOSTILE[:100],
        persona=persona,
        notes=HOSTILE,
        tags=[HOSTILE],
    )
    services.insight_create(team=team, by=editor, interview=interview, quote=HOSTILE, tags=[HOSTILE])
    paths = [
        "/discovery/",
        "/discovery/?by=persona",
        "/discovery/interviews/?q=alert",
        f"/discovery/interviews/{interview.pk}/",
        f"/discovery/interviews/{interview.pk}/edit/",
        "/discovery/insights/",
        f"/discovery/personas/{persona.pk}/",
        "/discovery/personas/",
        "/",
    ]

    def script(browser: Browser) -> dict:
        inline = 0
        for path in paths:
            browser.goto(f"/t/{team.slug}{path}")
            browser.page.wait_for_timeout(150)
            inline += browser.page.evaluate("document.querySelectorAll('script:not([src])').length")
        return {"dialogs": browser.dialogs, "errors": browser.console_errors, "inline scripts": inline}

    seen = in_browser(editor.username, script)

    # No alert ran, and none was even attempted: a blocked one would be a CSP report in the console.
    assert seen == {"dialogs": [], "errors": [], "inline scripts": 0}
