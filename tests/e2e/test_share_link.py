"""A stakeholder reads the roadmap through a share link until it is revoked; an editor drags cards between lanes."""

import re

import pytest

from opportunities.models import Lane, Node, ShareLink
from tests.opportunities.roadmap_factories import roadmap_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(team, other_team, people):
    return roadmap_world(team, people, other_team)


def lane_titles(page, lane: str) -> list[str]:
    return page.locator(f"ol.rm-cards[data-lane={lane}] .rm-title").all_inner_texts()


def test_a_stakeholder_reads_the_shared_roadmap_until_the_editor_revokes_the_link(open_session, world, editor):
    pm = open_session(editor.username)
    pm.goto(f"/t/{world.team.slug}/roadmap/")
    pm.page.get_by_role("link", name="Share links…").click()
    pm.settle()
    pm.page.get_by_label("Label").fill("Finance leadership")
    pm.page.get_by_role("button", name="Create link").click()
    pm.settle()
    address = pm.page.locator("#share-address").input_value()
    assert re.fullmatch(r"http://[^/]+/share/[A-Za-z0-9_-]{43}/", address)

    stakeholder = open_session()  # a fresh browser context: no account, no cookies
    stakeholder.page.goto(address)
    stakeholder.settle()
    page = stakeholder.page
    assert page.get_by_role("heading", name="Data Team · Roadmap").is_visible()
    assert lane_titles(page, "now") == ["Can't find tables", "Loads fail at night"]
    assert lane_titles(page, "next") == ["A searchable catalogue"]
    assert page.get_by_text("Hours to answer").first.is_visible()
    assert page.locator("[draggable=true], form, .rm-move, nav.nav, aside.sidebar").count() == 0
    assert page.locator("a[href^='/t/']").count() == 0
    assert "@pam" not in page.content()
    stakeholder.page.get_by_role("link", name="Timeline").click()
    stakeholder.settle()
    assert page.get_by_role("heading", name="Unscheduled").is_visible()
    assert stakeholder.console_errors == []

    pm.page.get_by_role("button", name="Revoke “Finance leadership”").click()
    pm.settle()
    assert pm.page.get_by_text("Revoked “Finance leadership”").is_visible()
    assert ShareLink.objects.get().revoked_at is not None

    response = page.goto(address)
    stakeholder.settle()
    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    assert page.locator(".rm-card").count() == 0


def test_an_editor_drags_a_card_from_next_to_now_and_it_stays_there(open_session, world, editor):
    session = open_session(editor.username)
    page = session.page
    session.goto(f"/t/{world.team.slug}/roadmap/")
    card = page.locator(".rm-card", has=page.locator(".rm-title", has_text="A searchable catalogue"))
    target = page.locator("ol.rm-cards[data-lane=now]")

    card.drag_to(target, target_position={"x": 20, "y": 5})  # the top of the lane: above its first card
    page.get_by_text("Moved “A searchable catalogue” to Now.").wait_for()
    session.settle()
    assert lane_titles(page, "now") == ["A searchable catalogue", "Can't find tables", "Loads fail at night"]
    assert Node.objects.get(pk=world.nodes["S1"].pk).lane == Lane.NOW

    page.reload()
    session.settle()
    assert lane_titles(page, "now") == ["A searchable catalogue", "Can't find tables", "Loads fail at night"]
    assert lane_titles(page, "next") == []
    assert session.console_errors == []


def test_a_viewer_gets_the_board_without_anything_to_drag(open_session, world, viewer):
    session = open_session(viewer.username)
    session.goto(f"/t/{world.team.slug}/roadmap/")
    page = session.page
    assert lane_titles(page, "now") == ["Can't find tables", "Loads fail at night"]
    assert page.locator("[draggable=true], .rm-move").count() == 0
    assert page.get_by_role("link", name="Share links…").count() == 0
