"""The product manager's daily workspace in a real browser: add, drag, reload; a viewer can't."""

import pytest

from opportunities.models import Kind, Node
from tests.opportunities.factories import add

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tree(team, editor):
    outcome = add(team, editor, Kind.OUTCOME, "Analysts self-serve")
    first = add(team, editor, Kind.OPPORTUNITY, "Can't find tables", outcome)
    second = add(team, editor, Kind.OPPORTUNITY, "Waiting for access", outcome)
    return {"outcome": outcome, "first": first, "second": second}


def card(page, title):
    return page.locator(".node-card", has=page.locator(".node-title", has_text=title))


def test_pm_adds_an_opportunity_drags_it_under_another_and_it_stays_there(open_session, team, editor, tree):
    session = open_session(editor.username)
    page = session.page
    session.goto(f"/t/{team.slug}/tree/")

    card(page, "Analysts self-serve").locator(".node-title").click()
    page.locator("#panel .panel-title", has_text="Analysts self-serve").wait_for()
    session.settle()  # each swapped-in part bound by htmx before it is used
    page.locator("#panel").get_by_role("link", name="+ Opportunity").click()
    page.locator("#panel-body #id_title").wait_for()
    session.settle()
    page.locator("#panel-body #id_title").fill("Dashboards are slow")
    page.locator("#panel-body").get_by_role("button", name="Add opportunity").click()
    card(page, "Dashboards are slow").wait_for()
    session.settle()
    added = Node.objects.get(team=team, title="Dashboards are slow")
    assert added.parent_id == tree["outcome"].pk

    card(page, "Dashboards are slow").drag_to(card(page, "Waiting for access"))
    page.get_by_text("Moved “Dashboards are slow” under “Waiting for access”").wait_for()
    session.settle()
    assert Node.objects.get(pk=added.pk).parent_id == tree["second"].pk

    page.reload()
    session.settle()
    toggle = card(page, "Waiting for access").locator(".toggle")
    if toggle.get_attribute("aria-expanded") == "false":
        toggle.click()
    moved = page.locator(f"#children-{tree['second'].pk} .node-title", has_text="Dashboards are slow")
    moved.wait_for()
    assert moved.is_visible()
    assert session.console_errors == []


def test_a_refused_drag_snaps_back_and_says_why(open_session, team, editor, tree):
    solution = add(team, editor, Kind.SOLUTION, "Certify one table", tree["first"])
    session = open_session(editor.username)
    page = session.page
    session.goto(f"/t/{team.slug}/tree/")
    card(page, "Can't find tables").locator(".toggle").click()
    card(page, "Certify one table").wait_for()

    card(page, "Certify one table").drag_to(card(page, "Analysts self-serve"))
    alert = page.locator("#tree-canvas [role=alert]")
    alert.wait_for()
    assert "stays where it was" in alert.inner_text()
    assert "Solutions cannot sit under outcomes" in alert.inner_text()
    assert Node.objects.get(pk=solution.pk).parent_id == tree["first"].pk


def test_keyboard_move_picker(open_session, team, editor, tree):
    session = open_session(editor.username)
    page = session.page
    session.goto(f"/t/{team.slug}/tree/")
    card(page, "Can't find tables").locator(".node-title").click()
    page.locator("#panel .panel-title", has_text="Can't find tables").wait_for()
    session.settle()
    page.evaluate("() => { window.__sameDocument = true; }")
    page.locator("#panel").get_by_label("New parent").select_option(label="Opportunity · Waiting for access")
    page.locator("#panel").get_by_role("button", name="Move").click()
    page.get_by_text("Moved “Can't find tables” under “Waiting for access”").wait_for()
    session.settle()
    assert page.evaluate("() => window.__sameDocument") is True, "the move reloaded the page"
    assert Node.objects.get(pk=tree["first"].pk).parent_id == tree["second"].pk


def test_viewer_sees_the_tree_without_edit_controls_and_cannot_post_a_move(open_session, team, viewer, tree):
    session = open_session(viewer.username)
    page = session.page
    session.goto(f"/t/{team.slug}/tree/")
    assert card(page, "Can't find tables").is_visible()
    assert page.locator(".node-card[draggable=true]").count() == 0
    assert page.get_by_role("link", name="New outcome").count() == 0
    card(page, "Can't find tables").locator(".node-title").click()
    page.locator("#panel .panel-title", has_text="Can't find tables").wait_for()
    assert page.locator("#panel form").count() == 0

    csrf = next(c["value"] for c in session.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"{session.base_url}/t/{team.slug}/tree/nodes/{tree['first'].pk}/move/",
        form={"parent": str(tree["second"].pk)},
        headers={"X-CSRFToken": csrf, "Referer": session.base_url + "/"},
    )
    assert response.status == 403
    assert Node.objects.get(pk=tree["first"].pk).parent_id == tree["outcome"].pk
