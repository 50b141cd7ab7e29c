"""What people do in the browser: read the demo, edit the vision inline, change a goal's status."""

import pytest
from django.core.management import call_command

from portfolio.models import Goal, GoalStatus, Team
from tests.portfolio.factories import GoalFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEMO_PAGES = [
    ("home", "/t/data-analytics/", "Data & Analytics"),
    ("vision", "/t/data-analytics/vision/", "Vision and strategy"),
    ("goals", "/t/data-analytics/goals/", "Goals"),
    ("data-products", "/t/data-analytics/data-products/", "Data products"),
    ("decisions", "/t/data-analytics/decisions/", "Decision log"),
    ("tree", "/t/data-analytics/tree/", "Opportunity tree"),
    ("outline", "/t/data-analytics/tree/outline/?status=prioritised", "Opportunity tree"),
    ("prioritise", "/t/data-analytics/tree/prioritise/", "Opportunity tree"),
    ("roadmap", "/t/data-analytics/roadmap/", "Roadmap"),
    ("metrics", "/t/data-analytics/metrics/", "Metrics"),
    ("metric", "/t/data-analytics/metrics/sales_daily_revenue/", "Revenue"),
    ("discovery", "/t/data-analytics/discovery/", "Discovery"),
    ("interviews", "/t/data-analytics/discovery/interviews/", "Discovery"),
]


@pytest.mark.parametrize("width", [1280, 375])
def test_demo_pages_render_cleanly_at_laptop_and_phone_widths(open_session, width):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    session = open_session(width=width)
    session.log_in("pm", "sextant-demo")
    page = session.page
    for name, path, heading in DEMO_PAGES:
        session.goto(path)
        assert page.locator("h1").first.inner_text() == heading
        overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"
        session.screenshot(f"{name}{'-phone' if width < 500 else ''}")
    product = page.locator("table a.item-title").first
    session.goto("/t/data-analytics/data-products/")
    page.get_by_role("link", name="Orders").click()
    session.settle()
    assert page.locator("svg.chart rect.bar-active").count() > 0
    session.screenshot(f"data-product{'-phone' if width < 500 else ''}")
    assert product is not None
    assert session.console_errors == [], "the pages logged errors (a CSP violation shows here)"


def test_editor_edits_the_vision_inline_and_nothing_executes(open_session, team, editor):
    session = open_session(editor.username)
    page = session.page
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    session.goto(f"/t/{team.slug}/vision/")
    page.evaluate("() => { window.__sameDocument = true; }")

    page.locator("#text-vision").get_by_role("link", name="Edit").click()
    editor_box = page.locator("#text-vision textarea")
    editor_box.wait_for()
    session.settle()  # the swapped-in form bound by htmx, or Save would post the page itself
    editor_box.fill(
        "Answers in **minutes**.\n\n<script>alert('xss')</script><img src=x onerror=\"alert('xss')\">"
        "[click](javascript:alert('xss'))"
    )
    page.locator("#text-vision").get_by_role("button", name="Save").click()
    page.locator("#text-vision strong", has_text="minutes").wait_for()
    session.settle()

    assert page.evaluate("() => window.__sameDocument") is True, "the save reloaded the page"
    assert dialogs == []
    assert page.locator("#text-vision script").count() == 0
    assert page.locator("#text-vision img[onerror]").count() == 0
    assert page.locator("#text-vision a[href^='javascript']").count() == 0
    team.refresh_from_db()
    assert team.vision.startswith("Answers in **minutes**.")
    assert session.console_errors == []


def test_a_stale_inline_edit_shows_the_conflict_instead_of_overwriting(open_session, team, editor, team_admin):
    mine, theirs = open_session(editor.username), open_session(team_admin.username)
    for session in (mine, theirs):
        session.goto(f"/t/{team.slug}/vision/")
        session.page.locator("#text-mission").get_by_role("link", name="Edit").click()
        session.page.locator("#text-mission textarea").wait_for()
        session.settle()

    theirs.page.locator("#text-mission textarea").fill("Their mission")
    theirs.page.locator("#text-mission").get_by_role("button", name="Save").click()
    theirs.page.locator("#text-mission .prose", has_text="Their mission").wait_for()

    mine.page.locator("#text-mission textarea").fill("My mission")
    mine.page.locator("#text-mission").get_by_role("button", name="Save").click()
    alert = mine.page.locator("#text-mission [role=alert]")
    alert.wait_for()
    mine.settle()
    assert "Someone else changed" in alert.inner_text()
    assert "Their mission" in mine.page.locator("#text-mission .theirs").inner_text()
    assert mine.page.locator("#text-mission textarea").input_value() == "My mission"
    assert Team.objects.get(pk=team.pk).mission == "Their mission"

    mine.page.locator("#text-mission").get_by_role("button", name="Save").click()
    mine.page.locator("#text-mission .prose", has_text="My mission").wait_for()
    assert Team.objects.get(pk=team.pk).mission == "My mission"


def test_editor_changes_a_goal_status_from_the_goals_page(open_session, team, editor):
    goal = GoalFactory(team=team, title="Grow adoption")
    session = open_session(editor.username)
    session.goto(f"/t/{team.slug}/goals/")
    session.page.get_by_label("Status of Grow adoption").select_option(GoalStatus.AT_RISK)
    session.page.locator(f"#goal-{goal.pk} .badge", has_text="At risk").wait_for()
    session.settle()
    assert Goal.objects.get(pk=goal.pk).status == GoalStatus.AT_RISK


def test_viewer_reads_without_edit_controls(open_session, team, viewer):
    GoalFactory(team=team, title="Grow adoption")
    session = open_session(viewer.username)
    session.goto(f"/t/{team.slug}/vision/")
    assert session.page.get_by_role("link", name="Edit").count() == 0
    session.goto(f"/t/{team.slug}/goals/")
    assert session.page.get_by_text("Grow adoption").is_visible()
    assert session.page.locator("select").count() == 0
    assert session.page.get_by_role("link", name="New goal").count() == 0


def test_api_docs_and_admin_load_without_policy_violations(open_session, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    session = open_session("root")
    for path in ["/api/docs/", "/admin/", "/admin/portfolio/goal/add/"]:
        session.goto(path)
    session.goto("/api/docs/")
    session.page.get_by_text("Sextant API").first.wait_for()
    assert session.console_errors == []
