"""The HTML pages: who may see and do what, htmx fragments, forms, safety and query counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portfolio import services
from portfolio.models import (
    Adoption,
    AdoptionStage,
    DataProduct,
    Decision,
    Goal,
    GoalStatus,
    Membership,
    Role,
    Team,
    quarter_bounds,
)
from tests.html import Node, assert_no_active_content, error_next_to, form_values, main_of, parse, post_form
from tests.portfolio.factories import AdoptionFactory, DataProductFactory, GoalFactory, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
HTMX = {"HTTP_HX_REQUEST": "true"}
PASSWORD = "pw-for-tests-1"  # the factories' password


# The team's content, and every page and write of the portfolio.


def this_quarter() -> str:
    today = timezone.localdate()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def days_ago(days: int) -> date:
    return timezone.localdate() - timedelta(days=days)


def url(name: str, team: Team, *args: object, query: str = "") -> str:
    return reverse(f"portfolio:{name}", args=[team.slug, *args]) + query


@dataclass
class World:
    team: Team
    goal: Goal
    product: DataProduct
    adoption: Adoption
    decision: Decision
    viewer_membership: Membership
    newcomer: User


@pytest.fixture
def world(team, people) -> World:
    editor = people["editor"]
    goal = services.goal_create(team=team, by=editor, title="Grow usage", quarter=this_quarter(), owner=editor)
    product = services.data_product_create(team=team, by=editor, name="Orders", owner=editor)
    adoption = services.adoption_create(
        product=product, by=editor, consuming_team="Sales", stage=AdoptionStage.ACTIVE, since=days_ago(60)
    )
    decision = services.decision_create(
        team=team, by=editor, title="Use dbt", decided_on=days_ago(10), decision="dbt it is.", goals=[goal]
    )
    return World(
        team=team,
        goal=goal,
        product=product,
        adoption=adoption,
        decision=decision,
        viewer_membership=Membership.objects.get(team=team, user=people["viewer"]),
        newcomer=UserFactory(username="nina"),
    )


READ_PAGES = {
    "home": lambda w: url("home", w.team),
    "vision": lambda w: url("vision", w.team),
    "goals": lambda w: url("goals", w.team),
    "archived goals": lambda w: url("goals", w.team, query="?archived=1"),
    "goal": lambda w: url("goal", w.team, w.goal.pk),
    "data products": lambda w: url("data_products", w.team),
    "data product": lambda w: url("data_product", w.team, w.product.pk),
    "decisions": lambda w: url("decisions", w.team),
    "decision": lambda w: url("decision", w.team, w.decision.pk),
    "members": lambda w: url("members", w.team),
}
EDIT_PAGES = {
    "vision editor": lambda w: url("vision_text", w.team, "vision"),
    "new goal": lambda w: url("goal_new", w.team),
    "goal edit": lambda w: url("goal_edit", w.team, w.goal.pk),
    "new data product": lambda w: url("data_product_new", w.team),
    "data product edit": lambda w: url("data_product_edit", w.team, w.product.pk),
    "adoption edit": lambda w: url("adoption_edit", w.team, w.product.pk, w.adoption.pk),
    "new decision": lambda w: url("decision_new", w.team),
    "decision edit": lambda w: url("decision_edit", w.team, w.decision.pk),
}
PAGES = READ_PAGES | EDIT_PAGES

CONTENT_WRITES = {
    "save vision": lambda w: (url("vision_text", w.team, "vision"), {"text": "Elsewhere.", "version": w.team.version}),
    "add goal": lambda w: (url("goal_new", w.team), {"title": "Ship it", "quarter": "2026-Q4", "status": "on_track"}),
    "edit goal": lambda w: (
        url("goal_edit", w.team, w.goal.pk),
        {"title": "Renamed", "quarter": "2026-Q4", "status": "at_risk", "version": w.goal.version},
    ),
    "change goal status": lambda w: (
        url("goal_status", w.team, w.goal.pk),
        {"status": "at_risk", "version": w.goal.version},
    ),
    "archive goal": lambda w: (url("goal_archive", w.team, w.goal.pk), {}),
    "add data product": lambda w: (
        url("data_product_new", w.team),
        {"name": "Churn model", "kind": "ml_model", "stage": "beta"},
    ),
    "edit data product": lambda w: (
        url("data_product_edit", w.team, w.product.pk),
        {"name": "Orders v2", "kind": "dataset", "stage": "ga", "version": w.product.version},
    ),
    "add adoption": lambda w: (
        url("adoption_new", w.team, w.product.pk),
        {"consuming_team": "Finance", "stage": "trialling", "since": "2026-05-01"},
    ),
    "change adoption": lambda w: (
        url("adoption_edit", w.team, w.product.pk, w.adoption.pk),
        {"consuming_team": "Sales", "stage": "churned", "since": "2026-07-01"},
    ),
    "remove adoption": lambda w: (url("adoption_edit", w.team, w.product.pk, w.adoption.pk), {"delete": "1"}),
    "log decision": lambda w: (
        url("decision_new", w.team),
        {"title": "Pivot", "decided_on": "2026-09-01", "decision": "We do Y."},
    ),
    "edit decision": lambda w: (
        url("decision_edit", w.team, w.decision.pk),
        {"title": "Pivot harder", "decided_on": "2026-09-01", "decision": "We do Z.", "version": w.decision.version},
    ),
}
MEMBER_WRITES = {
    "add member": lambda w: (url("member_add", w.team), {"username": "nina", "role": "editor"}),
    "change role": lambda w: (url("member_change", w.team, w.viewer_membership.pk), {"role": "editor"}),
    "remove member": lambda w: (url("member_change", w.team, w.viewer_membership.pk), {"remove": "1"}),
}
WRITES = CONTENT_WRITES | MEMBER_WRITES


EVERY_REQUEST = [("GET", name) for name in PAGES] + [("POST", name) for name in WRITES]


def send(client: Client, method: str, name: str, world: World):
    if method == "GET":
        return client.get(PAGES[name](world))
    path, data = WRITES[name](world)
    return client.post(path, data)


def db_state() -> dict[str, list[dict]]:
    """Every row of the portfolio, to tell whether a request changed anything."""
    models = (Team, Membership, Goal, DataProduct, Adoption, Decision, Decision.goals.through)
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


# Who may see and do what


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
@pytest.mark.parametrize("page", READ_PAGES)
def test_every_member_reads_every_page(world, people, client_for, role, page):
    assert client_for(people[role]).get(READ_PAGES[page](world)).status_code == 200


@pytest.mark.parametrize("page", EDIT_PAGES)
def test_viewer_gets_403_on_edit_pages(world, viewer, client_for, page):
    assert client_for(viewer).get(EDIT_PAGES[page](world)).status_code == 403


@pytest.mark.parametrize("role", ["editor", "admin"])
@pytest.mark.parametrize("page", EDIT_PAGES)
def test_editors_and_admins_open_edit_pages(world, people, client_for, role, page):
    assert client_for(people[role]).get(EDIT_PAGES[page](world)).status_code == 200


@pytest.mark.parametrize("write", WRITES)
def test_viewer_gets_403_on_every_post_and_nothing_changes(world, viewer, client_for, write):
    before = db_state()
    assert send(client_for(viewer), "POST", write, world).status_code == 403
    assert db_state() == before


@pytest.mark.parametrize("role", ["editor", "admin"])
@pytest.mark.parametrize("write", list(CONTENT_WRITES))
def test_editors_and_admins_change_content(world, people, client_for, role, write):
    before = db_state()
    response = send(client_for(people[role]), "POST", write, world)
    assert response.status_code == 302
    assert not response["Location"].startswith("/login/")
    assert db_state() != before


@pytest.mark.parametrize("write", MEMBER_WRITES)
def test_editor_cannot_manage_members(world, editor, client_for, write):
    before = db_state()
    assert send(client_for(editor), "POST", write, world).status_code == 403
    assert db_state() == before


def test_admin_adds_a_member_changes_a_role_and_removes_a_member(world, team_admin, client_for):
    client = client_for(team_admin)
    for write in MEMBER_WRITES:
        assert send(client, "POST", write, world).status_code == 302
        if write == "add member":
            assert Membership.objects.get(team=world.team, user=world.newcomer).role == Role.EDITOR
        if write == "change role":
            assert Membership.objects.get(pk=world.viewer_membership.pk).role == Role.EDITOR
    assert not Membership.objects.filter(pk=world.viewer_membership.pk).exists()


@pytest.mark.parametrize(("method", "name"), EVERY_REQUEST, ids=[f"{m} {n}" for m, n in EVERY_REQUEST])
def test_outsider_gets_404_for_everything_of_the_team(world, outsider, client_for, method, name):
    before = db_state()
    assert send(client_for(outsider), method, name, world).status_code == 404
    assert db_state() == before


@pytest.mark.parametrize(("method", "name"), EVERY_REQUEST, ids=[f"{m} {n}" for m, n in EVERY_REQUEST])
def test_anonymous_is_sent_to_log_in(world, client_for, method, name):
    before = db_state()
    response = send(client_for(None), method, name, world)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/t/data/")
    assert db_state() == before


@pytest.mark.parametrize(
    "page", ["goal", "goal edit", "data product", "data product edit", "adoption edit", "decision", "decision edit"]
)
def test_another_teams_objects_are_404_through_your_own_team(world, other_team, team_admin, client_for, page):
    their_product = DataProductFactory(team=other_team)
    theirs = replace(
        world,
        goal=GoalFactory(team=other_team),
        product=their_product,
        adoption=AdoptionFactory(data_product=their_product),
        decision=services.decision_create(
            team=other_team, by=team_admin, title="Theirs", decided_on=days_ago(1), decision="Theirs."
        ),
    )
    assert client_for(team_admin).get(PAGES[page](theirs)).status_code == 404


WRITE_URL = re.compile(r"/(new|edit|status|archive|adoptions|add)/|/vision/\w+/|/members/\d+/")
EDIT_LABELS = {"Edit", "New goal", "New data product", "Log a decision", "Archive", "Restore", "Add member"}


def edit_controls(main: Node) -> list[str]:
    """Links, buttons and forms in the page's content that lead to a change."""
    found = []
    for node in main.iter():
        target = node.get("href") or node.get("hx-get") or node.get("hx-post") or node.get("action")
        if WRITE_URL.search(target):
            found.append(f"<{node.tag}> to {target}")
        if node.tag == "form" and node.get("method").lower() == "post":
            found.append(f"<form method=post action={node.get('action')}>")
        if node.tag in ("a", "button") and node.text in EDIT_LABELS:
            found.append(f"<{node.tag}>{node.text}")
    return found


@pytest.mark.parametrize("page", READ_PAGES)
def test_viewer_sees_no_edit_controls(world, viewer, client_for, page):
    assert edit_controls(main_of(client_for(viewer).get(READ_PAGES[page](world)))) == []


@pytest.mark.parametrize("page", sorted(set(READ_PAGES) - {"members"}))
def test_editor_sees_edit_controls(world, editor, client_for, page):
    assert edit_controls(main_of(client_for(editor).get(READ_PAGES[page](world))))


def test_only_admins_see_member_management(world, editor, team_admin, client_for):
    members_url = READ_PAGES["members"](world)
    assert edit_controls(main_of(client_for(editor).get(members_url))) == []
    controls = edit_controls(main_of(client_for(team_admin).get(members_url)))
    assert any("/members/add/" in control for control in controls)
    assert any(f"/members/{world.viewer_membership.pk}/" in control for control in controls)


# Inline editing with htmx


def test_vision_editor_over_htmx_is_just_the_form(world, editor, client_for):
    world.team.vision = "Trusted data."
    world.team.save()
    response = client_for(editor).get(url("vision_text", world.team, "vision"), **HTMX)

    assert response.status_code == 200
    page = parse(response)
    assert page.find("html") is None
    form = page.find("form")
    assert form.get("hx-post") == url("vision_text", world.team, "vision")
    assert form_values(form)["text"] == "Trusted data."
    assert form_values(form)["version"] == str(world.team.version)


def test_vision_editor_without_htmx_is_a_whole_page(world, editor, client_for):
    response = client_for(editor).get(url("vision_text", world.team, "vision"))
    assert response.status_code == 200
    assert post_form(main_of(response)).find("textarea", name="text") is not None


def test_saving_the_vision_over_htmx_answers_the_rendered_text(world, editor, client_for):
    started_from = world.team.version
    response = client_for(editor).post(
        url("vision_text", world.team, "vision"), {"text": "We make data *boring*.", "version": started_from}, **HTMX
    )

    assert response.status_code == 200
    page = parse(response)
    assert page.find("html") is None and page.find("form") is None
    assert page.find(cls="prose").find("em").text == "boring"
    world.team.refresh_from_db()
    assert (world.team.vision, world.team.version) == ("We make data *boring*.", started_from + 1)


def test_saving_the_vision_without_htmx_goes_back_to_the_vision_page(world, editor, client_for):
    response = client_for(editor).post(
        url("vision_text", world.team, "mission"), {"text": "Serve analysts.", "version": world.team.version}
    )
    assert response.status_code == 302
    assert response["Location"] == url("vision", world.team)
    assert Team.objects.get(pk=world.team.pk).mission == "Serve analysts."


def test_cancelling_the_vision_editor_shows_the_text_again(world, editor, client_for):
    response = client_for(editor).get(url("vision_text", world.team, "vision", query="?cancel=1"), **HTMX)
    page = parse(response)
    assert page.find("form") is None
    assert page.find(cls="prose").text == world.team.vision


def test_stale_vision_save_is_409_shows_their_text_and_saves_nothing(world, editor, team_admin, client_for):
    client = client_for(editor)
    editor_form = form_values(parse(client.get(url("vision_text", world.team, "vision"), **HTMX)).find("form"))
    services.team_update(
        team=world.team, expected_version=world.team.version, by=team_admin, vision="Their **bold** vision."
    )
    editor_form["text"] = "My vision."

    response = client.post(url("vision_text", world.team, "vision"), editor_form, **HTMX)

    assert response.status_code == 409
    page = parse(response)
    assert page.find("html") is None
    assert "Someone else changed vision while you were editing" in page.find(cls="alert-error").text
    assert page.find(cls="theirs").find(cls="prose").find("strong").text == "bold"
    assert form_values(page.find("form"))["text"] == "My vision."
    assert Team.objects.get(pk=world.team.pk).vision == "Their **bold** vision."

    resubmitted = client.post(url("vision_text", world.team, "vision"), form_values(page.find("form")), **HTMX)
    assert resubmitted.status_code == 200
    assert Team.objects.get(pk=world.team.pk).vision == "My vision."


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_team_text_is_404(world, editor, client_for, method):
    client = client_for(editor)
    path = url("vision_text", world.team, "motto")
    response = client.get(path, **HTMX) if method == "GET" else client.post(path, {"text": "x", "version": 1}, **HTMX)
    assert response.status_code == 404


def goal_card(response_or_page, goal: Goal) -> Node:
    page = response_or_page if isinstance(response_or_page, Node) else parse(response_or_page)
    card = page.find("li", id=f"goal-{goal.pk}")
    assert card is not None
    return card


def selected_status(card: Node) -> str:
    return next(o.get("value") for o in card.find("select", name="status").find_all("option") if "selected" in o.attrs)


def test_goal_status_change_over_htmx_answers_the_refreshed_card(world, editor, client_for):
    client = client_for(editor)
    response = client.post(
        url("goal_status", world.team, world.goal.pk), {"status": "at_risk", "version": world.goal.version}, **HTMX
    )

    assert response.status_code == 200
    assert parse(response).find("html") is None
    card = goal_card(response, world.goal)
    assert selected_status(card) == "at_risk"
    assert card.find("span", cls="badge-at_risk").text == "At risk"
    assert Goal.objects.get(pk=world.goal.pk).status == GoalStatus.AT_RISK
    # The same card as on the goals page, decision count included.
    assert card.text == goal_card(client.get(url("goals", world.team)), world.goal).text
    assert "1 decision" in card.text


def test_stale_goal_status_change_is_409_with_the_current_status(world, editor, team_admin, client_for):
    started_from = world.goal.version
    services.goal_update(goal=world.goal, expected_version=started_from, by=team_admin, status=GoalStatus.OFF_TRACK)

    response = client_for(editor).post(
        url("goal_status", world.team, world.goal.pk), {"status": "achieved", "version": started_from}, **HTMX
    )

    assert response.status_code == 409
    card = goal_card(response, world.goal)
    assert "Someone changed this goal meanwhile" in card.find(cls="errorlist").text
    assert selected_status(card) == "off_track"
    assert card.find("span", cls="badge-off_track").text == "Off track"
    assert Goal.objects.get(pk=world.goal.pk).status == GoalStatus.OFF_TRACK


def test_unknown_goal_status_is_refused(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(
        url("goal_status", world.team, world.goal.pk), {"status": "done", "version": world.goal.version}, **HTMX
    )
    assert response.status_code == 422
    assert "Pick one of the listed statuses" in goal_card(response, world.goal).text
    assert db_state() == before


# Markdown people write is shown without anything active

HOSTILE_MARKDOWN = "\n\n".join(
    [
        "Intro <script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[a link](javascript:alert(1))",
        '<a href="#" onclick="x()">click me</a>',
        "[Spaced](  JaVaScRiPt:alert(1))",
    ]
)


def _hostile_vision(world: World) -> str:
    Team.objects.filter(pk=world.team.pk).update(vision=HOSTILE_MARKDOWN)
    return url("vision", world.team)


def _hostile_vision_on_home(world: World) -> str:
    Team.objects.filter(pk=world.team.pk).update(vision=HOSTILE_MARKDOWN)
    return url("home", world.team)


def _hostile_goal(world: World) -> str:
    Goal.objects.filter(pk=world.goal.pk).update(description=HOSTILE_MARKDOWN)
    return url("goal", world.team, world.goal.pk)


def _hostile_decision(world: World) -> str:
    Decision.objects.filter(pk=world.decision.pk).update(
        context=HOSTILE_MARKDOWN, decision=HOSTILE_MARKDOWN, consequence=HOSTILE_MARKDOWN
    )
    return url("decision", world.team, world.decision.pk)


def _hostile_decision_in_the_log(world: World) -> str:
    _hostile_decision(world)
    return url("decisions", world.team)


def _hostile_product(world: World) -> str:
    DataProduct.objects.filter(pk=world.product.pk).update(description=HOSTILE_MARKDOWN)
    return url("data_product", world.team, world.product.pk)


@pytest.mark.parametrize(
    "show",
    [
        _hostile_vision,
        _hostile_vision_on_home,
        _hostile_goal,
        _hostile_decision,
        _hostile_decision_in_the_log,
        _hostile_product,
    ],
    ids=lambda f: f.__name__.removeprefix("_hostile_"),
)
def test_markdown_is_rendered_without_scripts_handlers_or_script_urls(world, viewer, client_for, show):
    main = main_of(client_for(viewer).get(show(world)))

    prose = main.find_all(cls="prose")
    assert prose and all("click me" in p.text for p in prose), "the text itself is shown"
    assert_no_active_content(main)
    assert main.find("script") is None and main.find("img") is None


def test_inline_saved_markdown_is_rendered_safely(world, editor, client_for):
    response = client_for(editor).post(
        url("vision_text", world.team, "vision"), {"text": HOSTILE_MARKDOWN, "version": world.team.version}, **HTMX
    )
    page = parse(response)
    assert "click me" in page.find(cls="prose").text
    assert_no_active_content(page)
    assert page.find("script") is None and page.find("img") is None


# Forms: errors next to the field, conflicts that keep what was typed


GOAL_FORM = {"title": "Grow", "quarter": "2026-Q4", "status": "on_track"}


@pytest.mark.parametrize("page", ["new goal", "goal edit"])
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"title": "x" * 201}, "title", "Ensure this value has at most 200 characters"),
        (
            {"quarter": "", "starts_on": "2026-05-01", "ends_on": "2026-04-01"},
            "ends_on",
            "The timeframe ends before it starts.",
        ),
        ({"quarter": "Q4"}, "quarter", "Write the quarter as YYYY-QN"),
    ],
    ids=["empty title", "long title", "ends before it starts", "bad quarter"],
)
def test_bad_goal_shows_the_error_next_to_the_field_and_saves_nothing(
    world, editor, client_for, page, changes, field, message
):
    before = db_state()
    data = GOAL_FORM | changes | {"version": world.goal.version}
    response = client_for(editor).post(PAGES[page](world), data)

    assert response.status_code == 422
    assert message in error_next_to(main_of(response), field)
    assert db_state() == before


def test_duplicate_data_product_name_is_shown_on_the_name(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(
        url("data_product_new", world.team), {"name": "ORDERS", "kind": "dataset", "stage": "idea"}
    )
    assert response.status_code == 422
    assert "already has a data product with this name" in error_next_to(main_of(response), "name")
    assert db_state() == before


def test_renaming_a_data_product_to_a_taken_name_is_refused(world, editor, client_for):
    other = DataProductFactory(team=world.team, name="Churn")
    before = db_state()
    response = client_for(editor).post(
        url("data_product_edit", world.team, other.pk),
        {"name": "orders", "kind": "dataset", "stage": "idea", "version": other.version},
    )
    assert response.status_code == 422
    assert "already has a data product with this name" in error_next_to(main_of(response), "name")
    assert db_state() == before


def test_same_data_product_name_in_another_team_is_fine(world, outsider, other_team, client_for):
    response = client_for(outsider).post(
        url("data_product_new", other_team), {"name": "Orders", "kind": "dataset", "stage": "idea"}
    )
    assert response.status_code == 302
    assert DataProduct.objects.filter(name="Orders").count() == 2


def test_duplicate_consuming_team_is_shown_on_the_field(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(
        url("adoption_new", world.team, world.product.pk),
        {"consuming_team": "sales", "stage": "trialling", "since": "2026-05-01"},
    )
    assert response.status_code == 422
    assert "already has an adoption row" in error_next_to(main_of(response), "consuming_team")
    assert db_state() == before


def test_duplicate_team_slug_is_shown_on_the_slug(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(reverse("portfolio:team_new"), {"name": "Copy", "slug": "data"})
    assert response.status_code == 422
    assert "A team with this slug already exists" in error_next_to(main_of(response), "slug")
    assert db_state() == before


def test_creating_a_team_makes_you_its_admin(world, editor, client_for):
    response = client_for(editor).post(reverse("portfolio:team_new"), {"name": "Platform", "slug": "platform"})
    assert response.status_code == 302
    assert response["Location"] == reverse("portfolio:home", args=["platform"])
    assert Membership.objects.get(team__slug="platform", user=editor).role == Role.ADMIN


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"username": "nobody", "role": "viewer"}, "username", "No account with this username"),
        ({"username": "vic", "role": "viewer"}, "username", "already a member"),
        ({"username": "nina", "role": "owner"}, "role", "Select a valid choice"),
    ],
    ids=["unknown username", "already a member", "unknown role"],
)
def test_bad_member_shows_the_error_next_to_the_field_and_adds_nobody(
    world, team_admin, client_for, data, field, message
):
    before = db_state()
    response = client_for(team_admin).post(url("member_add", world.team), data)
    assert response.status_code == 422
    add_form = main_of(response).find("form", action=url("member_add", world.team))
    assert message in error_next_to(add_form, field)
    assert db_state() == before


@pytest.mark.parametrize(
    ("who", "data", "message"),
    [
        ("viewer", {"role": "owner"}, "Pick admin, editor or viewer."),
        ("admin", {"role": "viewer"}, "A team needs at least one admin"),
        ("admin", {"remove": "1"}, "A team needs at least one admin"),
    ],
    ids=["unknown role", "demote the last admin", "remove the last admin"],
)
def test_refused_member_change_says_why_and_changes_nothing(world, people, team_admin, client_for, who, data, message):
    membership = Membership.objects.get(team=world.team, user=people[who])
    before = db_state()
    response = client_for(team_admin).post(url("member_change", world.team, membership.pk), data, follow=True)
    assert response.redirect_chain[-1][0] == url("members", world.team)
    assert message in main_of(response).find(cls="alert-error").text
    assert db_state() == before


def _their_goal_change(world: World, by: User) -> None:
    services.goal_update(goal=world.goal, expected_version=world.goal.version, by=by, status=GoalStatus.OFF_TRACK)


def _their_product_change(world: World, by: User) -> None:
    services.data_product_update(
        product=world.product, expected_version=world.product.version, by=by, description="Their notes."
    )


def _their_decision_change(world: World, by: User) -> None:
    services.decision_update(
        record=world.decision, expected_version=world.decision.version, by=by, consequence="Their consequence."
    )


@dataclass
class StaleEdit:
    page: str
    their_change: Callable[[World, User], object]
    field: str  # what the editor types meanwhile
    their_summary: str  # how their change is listed
    fetch: Callable[[World], object]


STALE_EDITS = {
    "goal": StaleEdit(
        "goal edit", _their_goal_change, "title", "status: off_track", lambda w: Goal.objects.get(pk=w.goal.pk)
    ),
    "data product": StaleEdit(
        "data product edit",
        _their_product_change,
        "name",
        "description: Their notes.",
        lambda w: DataProduct.objects.get(pk=w.product.pk),
    ),
    "decision": StaleEdit(
        "decision edit",
        _their_decision_change,
        "title",
        "consequence: Their consequence.",
        lambda w: Decision.objects.get(pk=w.decision.pk),
    ),
}


@pytest.mark.parametrize("kind", list(STALE_EDITS))
def test_stale_edit_shows_their_changes_keeps_mine_and_a_resubmit_succeeds(world, editor, team_admin, client_for, kind):
    edit = STALE_EDITS[kind]
    client, edit_url = client_for(editor), PAGES[edit.page](world)
    mine = form_values(post_form(main_of(client.get(edit_url))))
    edit.their_change(world, team_admin)
    mine[edit.field] = "Mine, typed while they saved"

    response = client.post(edit_url, mine)

    assert response.status_code == 422
    main = main_of(response)
    alert = main.find(cls="alert-error").text
    assert "Someone else changed" in alert and edit.their_summary in alert
    shown = form_values(post_form(main))
    assert shown[edit.field] == "Mine, typed while they saved"
    assert getattr(edit.fetch(world), edit.field) != "Mine, typed while they saved"

    assert client.post(edit_url, shown).status_code == 302, "the resubmit replaces their version"
    assert getattr(edit.fetch(world), edit.field) == "Mine, typed while they saved"


@pytest.mark.parametrize("page", ["goal edit", "decision edit", "adoption edit"])
def test_date_fields_are_rendered_as_iso_dates_for_the_date_picker(world, editor, client_for, page):
    form = post_form(main_of(client_for(editor).get(PAGES[page](world))))
    dates = [node.get("value") for node in form.find_all("input", type="date") if node.get("value")]
    assert dates and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) for value in dates)


# What the pages show


def timeframe_groups(main: Node) -> list[tuple[str, list[str]]]:
    groups: list[tuple[str, list[str]]] = []
    for node in main.iter():
        if "timeframe-head" in node.classes:
            groups.append((node.find("h2").text, []))
        elif "item-title" in node.classes and groups:
            groups[-1][1].append(node.text)
    return groups


def test_goals_page_groups_goals_by_timeframe_latest_first(world, viewer, client_for):
    Goal.objects.all().delete()
    for title, quarter in [("Cut costs", "2026-Q3"), ("Adopt dbt", "2026-Q3"), ("Grow", "2026-Q4")]:
        start, end = quarter_bounds(quarter)
        GoalFactory(team=world.team, title=title, quarter=quarter, starts_on=start, ends_on=end)
    GoalFactory(team=world.team, title="Migrate", quarter="", starts_on=date(2026, 11, 1), ends_on=date(2027, 1, 31))

    main = main_of(client_for(viewer).get(url("goals", world.team)))

    assert timeframe_groups(main) == [
        ("01 Nov 2026 – 31 Jan 2027", ["Migrate"]),
        ("2026-Q4", ["Grow"]),
        ("2026-Q3", ["Adopt dbt", "Cut costs"]),
    ]


def test_archiving_moves_a_goal_to_the_archived_view_and_restoring_brings_it_back(world, editor, client_for):
    client = client_for(editor)
    goals_url, archived_url = url("goals", world.team), url("goals", world.team, query="?archived=1")

    def titles(page_url: str) -> list[str]:
        return [title for _, group in timeframe_groups(main_of(client.get(page_url))) for title in group]

    assert titles(goals_url) == ["Grow usage"] and titles(archived_url) == []

    assert client.post(url("goal_archive", world.team, world.goal.pk)).status_code == 302
    assert titles(goals_url) == [] and titles(archived_url) == ["Grow usage"]
    detail = main_of(client.get(url("goal", world.team, world.goal.pk)))
    assert detail.find(cls="badge-archived").text == "Archived"
    assert detail.find("button", name="restore") is not None

    assert client.post(url("goal_archive", world.team, world.goal.pk), {"restore": "1"}).status_code == 302
    assert titles(goals_url) == ["Grow usage"] and titles(archived_url) == []


def test_data_products_list_shows_how_many_teams_use_each(world, viewer, client_for):
    for consumer, stage in [("Ops", "active"), ("Finance", "trialling"), ("Legal", "churned")]:
        AdoptionFactory(data_product=world.product, consuming_team=consumer, stage=stage)
    DataProductFactory(team=world.team, name="Unused")

    main = main_of(client_for(viewer).get(url("data_products", world.team)))

    usage = {row.find(cls="item-title").text: row.find_all("td")[-1].text for row in main.find("tbody").find_all("tr")}
    assert usage == {"Orders": "2 active + 1 trialling", "Unused": "0 active"}


def test_data_product_page_draws_the_adoption_chart(world, viewer, client_for):
    main = main_of(client_for(viewer).get(url("data_product", world.team, world.product.pk)))
    chart = main.find("svg", cls="chart")
    assert chart is not None
    months = [title.text for title in chart.find_all("title")]
    assert len(months) >= 2 and months[-1].endswith("1 active, 0 trialling")


def test_data_product_without_adoption_says_so_instead_of_a_chart(world, viewer, client_for):
    product = DataProductFactory(team=world.team, name="Fresh")
    main = main_of(client_for(viewer).get(url("data_product", world.team, product.pk)))
    assert main.find("svg") is None
    assert "No adoption yet" in main.text


def history_of_page(main: Node) -> list[str]:
    """Each entry of the page's history, newest first."""
    history = main.find("h2", id="history-title").ancestor("section").find("ul", cls="history")
    return [li.text for li in history.children if isinstance(li, Node) and li.tag == "li"]


def has_entry(history: list[str], starts: str, *changes: str) -> bool:
    return any(entry.startswith(starts) and all(c in entry for c in changes) for entry in history)


def test_goal_page_shows_who_changed_what(world, team_admin, viewer, client_for):
    services.goal_update(goal=world.goal, expected_version=world.goal.version, by=team_admin, title="Grow adoption")
    history = history_of_page(main_of(client_for(viewer).get(url("goal", world.team, world.goal.pk))))
    assert has_entry(history, "ada changed", "title: Grow usage → Grow adoption")
    assert has_entry(history[-1:], "pam created")


def test_data_product_page_shows_who_changed_the_product_and_its_adoption(world, team_admin, viewer, client_for):
    services.data_product_update(
        product=world.product, expected_version=world.product.version, by=team_admin, stage="ga"
    )
    services.adoption_update(adoption=world.adoption, by=team_admin, stage=AdoptionStage.CHURNED)
    history = history_of_page(main_of(client_for(viewer).get(url("data_product", world.team, world.product.pk))))
    assert has_entry(history, "ada changed data product Orders", "stage: idea → ga")
    assert has_entry(history, "ada changed adoption Sales", "stage: active → churned")
    assert has_entry(history, "pam created adoption Sales")
    assert has_entry(history, "pam created data product Orders")


def test_decision_page_shows_who_changed_what(world, team_admin, viewer, client_for):
    services.decision_update(
        record=world.decision, expected_version=world.decision.version, by=team_admin, title="Use dbt Core"
    )
    history = history_of_page(main_of(client_for(viewer).get(url("decision", world.team, world.decision.pk))))
    assert has_entry(history, "ada changed", "title: Use dbt → Use dbt Core")
    assert has_entry(history[-1:], "pam created")


def test_team_home_shows_vision_current_goals_and_recent_changes(world, editor, viewer, client_for):
    services.team_update(
        team=world.team, expected_version=world.team.version, by=editor, vision="Data *everyone* trusts."
    )
    start, end = quarter_bounds("2020-Q1")
    GoalFactory(team=world.team, title="Long gone", quarter="2020-Q1", starts_on=start, ends_on=end)
    start, end = quarter_bounds(this_quarter())
    GoalFactory(
        team=world.team,
        title="Shelved",
        quarter=this_quarter(),
        starts_on=start,
        ends_on=end,
        archived_at=timezone.now(),
    )

    main = main_of(client_for(viewer).get(url("home", world.team)))

    vision = main.find("h2", id="vision-title").ancestor("card")
    assert vision.find(cls="prose").find("em").text == "everyone"
    goals = main.find("h2", id="goals-title").ancestor("card")
    assert [a.text for a in goals.find_all("a", cls="item-title")] == ["Grow usage"]
    changes = [li.text for li in main.find("h2", id="changes-title").ancestor("card").find_all("li")]
    assert has_entry(changes, "pam changed team Data Team (vision)")
    assert has_entry(changes, "pam created goal Grow usage")
    assert has_entry(changes, "pam created decision Use dbt")
    assert has_entry(changes, "pam created data product Orders")


# Security: headers, log-in, health


def script_sources(response) -> list[str]:
    directives = [d.split() for d in response["Content-Security-Policy"].split(";") if d.strip()]
    return next(sources for name, *sources in directives if name == "script-src")


def assert_strict_script_policy(response) -> None:
    sources = script_sources(response)
    nonces = [s for s in sources if s.startswith("'nonce-")]
    assert len(nonces) == 1, sources
    assert not {"'unsafe-inline'", "'unsafe-eval'"} & set(sources)
    nonce = nonces[0].removeprefix("'nonce-").removesuffix("'")
    page = parse(response)
    assert page.find_all("script"), "the page loads its scripts"
    for script in page.find_all("script"):
        assert script.get("nonce") == nonce or not script.raw_text.strip(), "inline code needs the nonce"
    assert_no_active_content(page)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_a_nonce_script_policy_and_no_inline_code(world, team_admin, client_for, page):
    response = client_for(team_admin).get(PAGES[page](world))
    assert response.status_code == 200
    assert_strict_script_policy(response)


@pytest.mark.parametrize(("who", "expected_status"), [("viewer", 403), ("outsider", 404), (None, 200)])
def test_error_and_log_in_pages_have_the_same_policy(world, people, client_for, who, expected_status):
    client = client_for(people[who] if who else None)
    response = client.get(url("goal_new", world.team) if who else "/login/")
    assert response.status_code == expected_status
    assert_strict_script_policy(response)


def log_in(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def test_correct_log_in_opens_your_team(viewer):
    client = Client()
    response = log_in(client, "vic", PASSWORD)
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == "/t/data/"
    assert client.get("/t/data/").status_code == 200


def test_five_failed_log_ins_lock_the_account_even_with_the_right_password(viewer, team_admin):
    client = Client()
    for _ in range(4):
        response = log_in(client, "vic", "wrong")
        assert response.status_code == 200
        assert main_of(response).find(cls="alert-error") is not None

    locked = log_in(client, "vic", "wrong")
    assert locked.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in locked.templates]
    assert_strict_script_policy(locked)

    refused = log_in(client, "vic", PASSWORD)
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/t/data/").status_code == 302
    # Only that account is locked: others log in from the same address.
    assert log_in(Client(), "ada", PASSWORD).status_code == 302


def test_healthz_reports_the_database_cache_and_broker_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(state.startswith("up") for state in body["checks"].values()), body


# Query counts: each page costs the same whatever the team's size

SHARED_QUERIES = ["session", "user", "membership + team", "nav: your teams"]
PAGE_QUERIES = {
    "home": [
        "current goals + owners + alignment",
        "team history",
        "goal history",
        "data product history",
        "decision history",
        "membership history + users",
        "team stats",
        "north-star metrics (with none, their snapshots cost no query)",
        "roadmap lanes in brief",
        "last interview (discovery nudge)",
        "wins of recent closed reviews",
    ],
    "vision": ["organisation", "organisation goals"],
    "goals": ["goals + owners + alignment + decision counts"],
    "data products": ["products + owners + adoption counts"],
    "decisions": ["decisions + authors", "their goals"],
    "members": ["memberships + users"],
    "goal": ["goal + owner + alignment + team", "its decisions", "goals aligned to it", "its history"],
    "data product": [
        "product + owner",
        "its adoptions",
        "adoption history (chart)",
        "its history",
        "adoption history (changes)",
    ],
    "decision": ["decision + author", "its goals", "its history"],
}


def populate(team: Team, *, editor: User, admin: User, size: int) -> World:
    """`size` of everything the pages list, each with owners, links, adoption and history."""
    quarter = this_quarter()
    start, end = quarter_bounds(quarter)
    org_goal = GoalFactory(team=None, title="Company goal", quarter=quarter, starts_on=start, ends_on=end)
    goal = services.goal_create(
        team=team, by=editor, title="Anchor goal", quarter=quarter, owner=editor, aligned_to=org_goal
    )
    product = services.data_product_create(team=team, by=editor, name="Anchor product", owner=editor)
    decision = services.decision_create(
        team=team, by=editor, title="Anchor decision", decided_on=days_ago(1), decision="Go.", goals=[goal]
    )
    goals = [goal]
    for i in range(size):
        member = UserFactory(username=f"member{i}")
        services.membership_add(team=team, user=member, role=Role.VIEWER, by=admin)
        GoalFactory(team=None, title=f"Company goal {i}", quarter=quarter, starts_on=start, ends_on=end)
        other = services.goal_create(
            team=team,
            by=editor,
            title=f"Goal {i}",
            starts_on=days_ago(30 * (i % 4)),
            ends_on=days_ago(30 * (i % 4) - 60),
            owner=member,
            aligned_to=goal,
        )
        services.goal_update(goal=other, expected_version=other.version, by=admin, status=GoalStatus.AT_RISK)
        goals.append(other)
        goal = services.goal_update(goal=goal, expected_version=goal.version, by=admin, description=f"Take {i}")
        owned = services.data_product_create(team=team, by=editor, name=f"Product {i}", owner=member)
        services.adoption_create(
            product=owned, by=editor, consuming_team="Sales", stage=AdoptionStage.ACTIVE, since=days_ago(40)
        )
        stage = AdoptionStage.TRIALLING if i % 2 else AdoptionStage.ACTIVE
        services.adoption_create(
            product=product, by=editor, consuming_team=f"Team {i}", stage=stage, since=days_ago(20 * i)
        )
        product = services.data_product_update(
            product=product, expected_version=product.version, by=admin, description=f"Take {i}"
        )
        decision = services.decision_update(
            record=decision, expected_version=decision.version, by=admin, context=f"Take {i}"
        )
        services.decision_create(
            team=team,
            by=editor,
            title=f"Decision {i}",
            decided_on=days_ago(i),
            decision=f"We do {i}.",
            goals=[other, goal],
        )
    decision = services.decision_update(
        record=decision, expected_version=decision.version, by=admin, consequence="All of it.", goals=goals
    )
    team = services.team_update(team=team, expected_version=team.version, by=admin, vision="Bigger.")
    adoption = Adoption.objects.filter(data_product=product).first()
    viewer_membership = Membership.objects.get(team=team, role=Role.VIEWER, user__username="vic")
    return World(team, goal, product, adoption, decision, viewer_membership, member)


@pytest.mark.parametrize("size", [2, 25])
@pytest.mark.parametrize("page", PAGE_QUERIES)
def test_page_costs_a_fixed_number_of_queries(team, people, client_for, django_assert_num_queries, page, size):
    world = populate(team, editor=people["editor"], admin=people["admin"], size=size)
    client = client_for(people["admin"])  # the admin sees every control a page can show
    expected = SHARED_QUERIES + PAGE_QUERIES[page]

    with django_assert_num_queries(len(expected)):  # the queries named in SHARED_QUERIES and PAGE_QUERIES
        response = client.get(READ_PAGES[page](world))

    assert response.status_code == 200
