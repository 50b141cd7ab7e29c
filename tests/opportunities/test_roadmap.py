"""The roadmap: lanes and their order, the board, filters in the URL, moves, timeline, exports, the team home."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from opportunities import roadmap, services, sharing
from opportunities.models import Kind, Lane, Node, ShareLink
from portfolio.models import GoalStatus, Team
from tests.html import assert_no_active_content, main_of, parse
from tests.opportunities.factories import add
from tests.opportunities.roadmap_factories import RoadmapWorld, big_roadmap, metric_with_points, roadmap_world

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
BODY = {**HTMX, "HTTP_HX_TARGET": "roadmap-body"}


def url(name: str, team: Team, *args: object, query: str = "") -> str:
    return reverse(f"opportunities:{name}", args=[team.slug, *args]) + query


@pytest.fixture
def world(team, other_team, people) -> RoadmapWorld:
    return roadmap_world(team, people, other_team)


def lane_titles(team: Team) -> dict[str, list[str]]:
    board = roadmap.team_roadmap(team=team)
    return {lane.value: [card.title for card in lane.cards] for lane in board.lanes}


def board_lanes(page) -> dict[str, list[str]]:
    """The titles of the cards in each lane shown on a page or fragment."""
    return {
        zone.get("data-lane"): [title.text for title in zone.find_all(cls="rm-title")]
        for zone in page.find_all("ol", cls="rm-cards")
    }


def db_state() -> dict[str, list]:
    return {
        "nodes": list(Node.objects.order_by("pk").values()),
        "history": list(Node.history.order_by("history_id").values_list("history_id", flat=True)),
    }


# Lanes and their order (services)


def test_setting_a_lane_places_the_card_and_renumbers_the_lane(world, editor):
    moved = services.node_set_lane(node=world["S1"], lane=Lane.NOW, position=0, by=editor)

    assert (moved.lane, moved.lane_position, moved.version) == (Lane.NOW, 0, world.nodes["S1"].version + 1)
    assert lane_titles(world.team)["now"] == ["A searchable catalogue", "Can't find tables", "Loads fail at night"]
    assert lane_titles(world.team)["next"] == []
    assert list(
        Node.objects.filter(lane=Lane.NOW, team=world.team)
        .order_by("lane_position")
        .values_list("lane_position", flat=True)
    ) == [0, 1, 2]


def test_a_card_dropped_above_another_lands_just_above_it(world, editor):
    services.node_set_lane(node=world["B"], lane=Lane.NOW, before=world.nodes["C"].pk, by=editor)
    assert lane_titles(world.team)["now"] == ["Can't find tables", "Waiting for access", "Loads fail at night"]


def test_moving_down_within_a_lane(world, editor):
    services.node_set_lane(node=world["A"], lane=Lane.NOW, position=1, by=editor)
    assert lane_titles(world.team)["now"] == ["Loads fail at night", "Can't find tables"]


def test_a_lane_change_is_history_with_who_and_what_but_the_place_is_not(world, editor, team_admin):
    services.node_set_lane(node=world["A"], lane=Lane.LATER, position=0, by=team_admin)

    record = world["A"].history.order_by("-history_id").first()
    previous = record.prev_record
    changes = {c.field: (c.old, c.new) for c in record.diff_against(previous).changes}
    assert record.history_user == team_admin
    assert changes == {"lane": ("now", "later")}
    assert (previous.version, record.version) == (1, 2)
    assert not hasattr(record, "lane_position")


@pytest.mark.parametrize("lane", ["someday", "", "NOW", "none "])
def test_a_lane_that_does_not_exist_is_refused_with_the_lanes_there_are(world, editor, lane):
    before = db_state()
    with pytest.raises(ValidationError) as refused:
        services.node_set_lane(node=world["A"], lane=lane, by=editor)
    assert refused.value.message_dict["lane"] == [
        f"There is no lane {lane!r} on the roadmap: pick now, next, later, done."
    ]
    assert db_state() == before


@pytest.mark.parametrize("key", ["O1", "E"])
def test_only_opportunities_and_solutions_go_on_the_roadmap(world, editor, key):
    node = world["O1"] if key == "O1" else add(world.team, editor, Kind.EXPERIMENT, "Ask five", world["S1"])
    before = db_state()
    with pytest.raises(ValidationError) as refused:
        services.node_set_lane(node=node, lane=Lane.NOW, by=editor)
    assert "Only opportunities and solutions go on the roadmap" in refused.value.messages[0]
    assert db_state() == before


def test_a_stale_version_is_a_conflict_and_changes_nothing(world, editor):
    stale = world["A"]
    services.node_update(node=stale, expected_version=stale.version, by=editor, title="Renamed")
    before = db_state()
    with pytest.raises(services.EditConflict):
        services.node_set_lane(node=stale, lane=Lane.DONE, expected_version=stale.version, by=editor)
    assert db_state() == before


def test_dropping_a_card_where_it_was_changes_nothing(world, editor):
    before = db_state()
    same = services.node_set_lane(node=world["A"], lane=Lane.NOW, position=0, by=editor)
    assert same.version == world.nodes["A"].version
    assert db_state() == before


def test_lane_none_takes_a_card_off_the_roadmap(world, editor):
    services.node_set_lane(node=world["A"], lane=Lane.NONE, by=editor)
    assert "Can't find tables" not in [c.title for c in roadmap.team_roadmap(team=world.team).cards]


def test_changing_the_lane_in_the_edit_form_puts_the_card_last_in_its_new_lane(world, editor):
    services.node_set_lane(node=world["S1"], lane=Lane.NOW, position=0, by=editor)
    b = world["B"]
    services.node_update(node=b, expected_version=b.version, by=editor, lane=Lane.NOW)
    assert lane_titles(world.team)["now"][-1] == "Waiting for access"


# The board (queries)


def test_cards_carry_their_outcome_goal_metric_owner_and_product(world):
    board = roadmap.team_roadmap(team=world.team)
    cards = {card.title: card for card in board.cards}

    a = cards["Can't find tables"]
    assert (a.kind, a.lane, a.owner, a.data_product) == ("opportunity", "now", "pam", "Orders")
    assert (a.outcome.title, a.outcome.goal_title, a.outcome.goal_status) == (
        "Analysts answer within a day",
        "Answer in a day",
        GoalStatus.ON_TRACK,
    )
    assert a.outcome.trend.metric == world.metric
    assert [value for _, value in a.outcome.trend.points] == [30, 28, 26, 24]
    assert a.outcome.trend.value == "24"
    # Deeper cards find their outcome from the root of their path.
    assert cards["A searchable catalogue"].outcome.title == "Analysts answer within a day"
    c = cards["Loads fail at night"]
    assert (c.outcome.title, c.outcome.goal_title, c.outcome.trend) == ("Fewer broken pipelines", "", None)
    assert "Retry loads" not in cards  # off the roadmap
    assert board.size == 5
    assert board.evidence is (roadmap.evidence_relation() is not None)


def test_past_target_dates_are_overdue_unless_done(world):
    cards = {card.title: card for card in roadmap.team_roadmap(team=world.team).cards}
    assert cards["Waiting for access"].overdue and cards["Waiting for access"].quarter_label == "Q1 2020"
    assert not cards["A searchable catalogue"].overdue
    Node.objects.filter(pk=world.nodes["B"].pk).update(lane=Lane.DONE)
    cards = {card.title: card for card in roadmap.team_roadmap(team=world.team).cards}
    assert not cards["Waiting for access"].overdue


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (
            {"goal": "goal"},
            {
                "now": ["Can't find tables"],
                "next": ["A searchable catalogue"],
                "later": ["Waiting for access"],
                "done": ["Self-serve access"],
            },
        ),
        ({"outcome": "O2"}, {"now": ["Loads fail at night"], "next": [], "later": [], "done": []}),
        ({"data_product": "product"}, {"now": ["Can't find tables"], "next": [], "later": [], "done": []}),
        ({"owner": "vic"}, {"now": ["Loads fail at night"], "next": [], "later": [], "done": []}),
        ({"lane": "later"}, {"later": ["Waiting for access"]}),
        ({"goal": "goal", "lane": "now"}, {"now": ["Can't find tables"]}),
    ],
    ids=["goal", "outcome", "data product", "owner", "lane", "goal and lane"],
)
def test_filters_keep_the_matching_cards_and_lanes(world, wanted, expected):
    values = {
        "goal": world.goal.pk,
        "O2": world.nodes["O2"].pk,
        "product": world.product.pk,
    }
    kwargs = {name: values.get(value, value) for name, value in wanted.items()}
    board = roadmap.team_roadmap(team=world.team).filtered(roadmap.RoadmapFilter(**kwargs))
    assert {lane.value: [c.title for c in lane.cards] for lane in board.lanes} == expected
    assert board.filtering and board.size == 5


def test_timeline_groups_cards_by_quarter_with_the_unscheduled_last(world):
    today = date(2026, 11, 20)
    board = roadmap.team_roadmap(team=world.team)
    quarters = roadmap.timeline(board, today=today)
    assert quarters[-1].key == roadmap.UNSCHEDULED
    assert sorted(c.title for c in quarters[-1].cards) == [
        "Can't find tables",
        "Loads fail at night",
        "Self-serve access",
    ]
    scheduled = {q.key: [c.title for c in q.cards] for q in quarters[:-1]}
    assert scheduled["2020-Q1"] == ["Waiting for access"]
    assert roadmap.quarter_of(world.nodes["S1"].target_date) in scheduled
    assert len(scheduled) == 1 + 1  # far apart: only the quarters that hold something


def test_timeline_shows_the_quarters_in_between_and_marks_this_one():
    card = lambda title, day: roadmap.Card(  # noqa: E731
        id=1, kind="solution", title=title, status="idea", lane="next", target_date=day, version=1,
        owner=None, data_product_id=None, data_product=None, path="0001", evidence=None,
    )  # fmt: skip
    lane = roadmap.LaneColumn("next", "Next", [card("First", date(2026, 11, 1)), card("Last", date(2027, 5, 1))], 2)
    quarters = roadmap.timeline(roadmap.Roadmap([lane], [], 2), today=date(2027, 1, 10))
    assert [(q.label, q.is_current, q.is_past) for q in quarters] == [
        ("Q4 2026", False, True),
        ("Q1 2027", True, False),
        ("Q2 2027", False, False),
        ("Unscheduled", False, False),
    ]


def test_roadmap_csv_has_a_row_per_card_in_lane_order_and_defuses_formulas(world, editor):
    services.node_update(node=world["C"], expected_version=world["C"].version, by=editor, title="=HYPERLINK(evil)")
    rows = list(csv.DictReader(io.StringIO(roadmap.roadmap_csv(roadmap.team_roadmap(team=world.team)))))

    assert [(r["lane"], r["position"], r["title"]) for r in rows] == [
        ("Now", "1", "Can't find tables"),
        ("Now", "2", "'=HYPERLINK(evil)"),
        ("Next", "1", "A searchable catalogue"),
        ("Later", "1", "Waiting for access"),
        ("Done", "1", "Self-serve access"),
    ]
    first = rows[0]
    assert (first["outcome"], first["goal"], first["goal_status"], first["metric"], first["metric_value"]) == (
        "Analysts answer within a day",
        "Answer in a day",
        "On track",
        "Hours to answer",
        "24",
    )
    assert (first["owner"], first["data_product"], first["kind"], first["status"]) == (
        "pam",
        "Orders",
        "Opportunity",
        "Identified",
    )
    assert rows[2]["target_date"] == world.nodes["S1"].target_date.isoformat()


# The pages: who sees what


PAGES = {
    "lanes": lambda w: url("roadmap", w.team),
    "timeline": lambda w: url("roadmap_timeline", w.team),
    "print": lambda w: url("roadmap_print", w.team),
    "csv": lambda w: url("roadmap_csv", w.team),
}


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
@pytest.mark.parametrize("page", PAGES)
def test_every_member_reads_the_roadmap_pages(world, people, client_for, role, page):
    response = client_for(people[role]).get(PAGES[page](world))
    assert response.status_code == 200
    text = parse(response).text
    assert "Can't find tables" in text and "Their secret card" not in text


@pytest.mark.parametrize("page", PAGES)
def test_outsiders_get_404_and_anonymous_people_are_sent_to_log_in(world, outsider, client_for, page):
    assert client_for(outsider).get(PAGES[page](world)).status_code == 404
    response = client_for(None).get(PAGES[page](world))
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/t/data/roadmap/")


def edit_controls(page) -> list[str]:
    found = []
    for node in page.iter():
        if node.get("draggable") == "true":
            found.append(f"draggable {node.get('id')}")
        if node.tag == "form" and node.get("method").lower() == "post":
            found.append(f"form to {node.get('action')}")
        if any(part in (node.get("href") or node.get("hx-post")) for part in ("/lane/", "/share/")):
            found.append(f"<{node.tag}> to {node.get('href') or node.get('hx-post')}")
    return found


@pytest.mark.parametrize("page", ["lanes", "timeline"])
def test_viewers_see_no_edit_controls_and_editors_do(world, viewer, editor, client_for, page):
    assert edit_controls(main_of(client_for(viewer).get(PAGES[page](world)))) == []
    editor_controls = edit_controls(main_of(client_for(editor).get(PAGES[page](world))))
    assert any("share" in control for control in editor_controls)
    if page == "lanes":
        assert f"draggable rm-card-{world.nodes['A'].pk}" in editor_controls
        assert f"form to {url('roadmap_move', world.team, world.nodes['A'].pk)}" in editor_controls


def test_the_board_shows_each_card_with_its_outcome_goal_metric_and_owner(world, viewer, client_for):
    main = main_of(client_for(viewer).get(url("roadmap", world.team)))

    assert board_lanes(main) == {
        "now": ["Can't find tables", "Loads fail at night"],
        "next": ["A searchable catalogue"],
        "later": ["Waiting for access"],
        "done": ["Self-serve access"],
    }
    card = main.find("li", id=f"rm-card-{world.nodes['A'].pk}")
    assert "kind-opportunity" in card.classes
    assert card.find(cls="rm-title").get("href") == url("node", world.team, world.nodes["A"].pk)
    text = card.text
    for expected in (
        "Analysts answer within a day",
        "Answer in a day",
        "On track",
        "Hours to answer",
        "24",
        "@pam",
        "Orders",
    ):
        assert expected in text
    assert card.find("svg", cls="rm-spark").get("aria-label").startswith("Trend of Hours to answer: from 30")
    overdue = main.find("li", id=f"rm-card-{world.nodes['B'].pk}").find(cls="rm-target")
    assert "rm-overdue" in overdue.classes and overdue.text == "Overdue · Q1 2020"
    assert_no_active_content(parse(client_for(viewer).get(url("roadmap", world.team))))


def test_an_empty_roadmap_says_how_to_fill_it(team, editor, client_for):
    main = main_of(client_for(editor).get(url("roadmap", team)))
    assert main.find(cls="empty").find("h3").text == "Nothing on the roadmap yet"
    assert main.find("a", href=url("tree", team)) is not None


# Filters in the URL


def test_a_filtered_link_reproduces_the_view_and_the_tabs_and_exports_keep_it(world, viewer, client_for):
    query = f"?goal={world.goal.pk}&lane=now"
    main = main_of(client_for(viewer).get(url("roadmap", world.team, query=query)))

    assert board_lanes(main) == {"now": ["Can't find tables"]}
    assert "selected" in main.find("select", name="goal").find("option", value=str(world.goal.pk)).attrs
    tabs = {a.text: a.get("href") for a in main.find("nav", id="roadmap-tabs").find_all("a")}
    assert tabs["Timeline"] == url("roadmap_timeline", world.team, query=query)
    exports = {a.text: a.get("href") for a in main.find(cls="rm-exports").find_all("a")}
    assert exports["Export CSV"] == url("roadmap_csv", world.team, query=query)
    assert exports["Print view"] == url("roadmap_print", world.team, query=query)
    form = main.find("form", role="search")
    assert (form.get("method"), form.get("hx-push-url"), form.get("hx-target")) == ("get", "true", "#roadmap-body")


def test_filtering_over_htmx_answers_the_lanes_and_the_tabs_out_of_band(world, viewer, client_for):
    response = client_for(viewer).get(url("roadmap", world.team, query="?owner=vic&outcome=&goal="), **BODY)
    page = parse(response)
    assert response.status_code == 200 and page.find("html") is None
    assert page.find("div", id="roadmap-body") is not None
    assert board_lanes(page) == {"now": ["Loads fail at night"], "next": [], "later": [], "done": []}
    assert page.find("nav", id="roadmap-tabs").get("hx-swap-oob") == "true"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("goal", "their goal", "This team has no goal"),
        ("outcome", "their outcome", "This team has no outcome"),
        ("data_product", "their product", "This team has no data product"),
        ("outcome", "999999", "This team has no outcome 999999."),
        ("goal", "abc", "This team has no goal abc."),
        ("owner", "olga", "Nobody called “olga” is in this team."),
        ("lane", "someday", "There is no lane “someday”: pick now, next, later or done."),
    ],
)
@pytest.mark.parametrize("page", ["lanes", "timeline", "print", "csv"])
def test_a_filter_naming_what_this_team_does_not_have_is_422_and_shows_nothing(
    world, viewer, client_for, field, value, message, page
):
    ids = {
        "their goal": world.theirs["goal"].pk,
        "their outcome": world.theirs["outcome"].pk,
        "their product": world.theirs["product"].pk,
    }
    value = str(ids.get(value, value))
    before = db_state()

    response = client_for(viewer).get(PAGES[page](world) + f"?{field}={value}")

    assert response.status_code == 422
    text = parse(response).text
    assert message in text
    for secret in ("Their secret", "Can't find tables", "Loads fail at night"):
        assert secret not in text
    assert db_state() == before
    if page in ("lanes", "timeline"):
        main = main_of(response)
        assert (
            main.find("select", name=field).ancestor("field").find("ul", cls="errorlist").text.startswith(message[:20])
        )
        assert main.find(cls="empty").find("h3").text == "No such filter value"


# Moves


def move(client, world, key: str, **data):
    data.setdefault("version", world[key].version)
    return client.post(url("roadmap_move", world.team, world.nodes[key].pk), data, **BODY)


def test_an_editor_drags_a_card_to_another_lane_and_gets_the_lanes_back(world, editor, client_for):
    response = move(client_for(editor), world, "S1", lane="now", before=world.nodes["C"].pk)

    assert response.status_code == 200
    page = parse(response)
    assert page.find("html") is None
    assert board_lanes(page)["now"] == ["Can't find tables", "A searchable catalogue", "Loads fail at night"]
    assert page.find(cls="alert").text == "Moved “A searchable catalogue” to Now."
    assert world["S1"].lane == Lane.NOW


def test_a_move_keeps_the_filters_of_the_board_it_came_from(world, editor, client_for):
    response = move(client_for(editor), world, "S1", lane="now", filters=f"?goal={world.goal.pk}")
    assert board_lanes(parse(response)) == {
        "now": ["Can't find tables", "A searchable catalogue"],
        "next": [],
        "later": ["Waiting for access"],
        "done": ["Self-serve access"],
    }


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        ({"lane": "someday"}, 422, "stays where it was: There is no lane 'someday' on the roadmap"),
        ({"lane": "now", "version": 99}, 409, "was changed by someone else meanwhile"),
        ({"lane": "now", "position": "first"}, 422, "The move was not understood"),
    ],
    ids=["unknown lane", "stale version", "bad position"],
)
def test_a_refused_move_answers_the_lanes_unchanged_with_the_reason(world, editor, client_for, data, status, reason):
    before = db_state()
    response = move(client_for(editor), world, "S1", **data)
    assert response.status_code == status
    page = parse(response)
    assert reason in page.find(cls="alert").text
    assert board_lanes(page)["next"] == ["A searchable catalogue"]
    assert db_state() == before


def test_moving_an_outcome_onto_the_roadmap_is_refused(world, editor, client_for):
    before = db_state()
    response = move(client_for(editor), world, "O1", lane="now")
    assert response.status_code == 422
    assert "Only opportunities and solutions go on the roadmap" in parse(response).find(cls="alert").text
    assert db_state() == before


def test_a_move_without_javascript_redirects_back_with_a_message(world, editor, client_for):
    client = client_for(editor)
    response = client.post(
        url("roadmap_move", world.team, world.nodes["A"].pk),
        {"lane": "done", "position": "", "version": world["A"].version, "filters": "?lane=done"},
    )
    assert response.status_code == 302 and response["Location"] == url("roadmap", world.team, query="?lane=done")
    assert world["A"].lane == Lane.DONE
    page = main_of(client.get(response["Location"]))
    assert page.find(cls="alert").text == "Moved “Can't find tables” to Done."


def test_viewers_cannot_move_and_outsiders_cannot_tell_the_card_exists(world, viewer, outsider, team_admin, client_for):
    before = db_state()
    assert move(client_for(viewer), world, "A", lane="done").status_code == 403
    assert move(client_for(outsider), world, "A", lane="done").status_code == 404
    theirs = world.theirs["card"]
    response = client_for(team_admin).post(url("roadmap_move", world.team, theirs.pk), {"lane": "done"}, **BODY)
    assert response.status_code == 404
    assert db_state() == before


def test_the_move_menu_moves_a_card_up_one(world, editor, client_for):
    services.node_set_lane(node=world["S1"], lane=Lane.NOW, by=editor)
    main = main_of(client_for(editor).get(url("roadmap", world.team)))
    card = main.find("li", id=f"rm-card-{world.nodes['S1'].pk}")
    options = {o.text: o.get("value") for o in card.find("select", name="position").find_all("option")}
    assert options == {"At the bottom": "", "At the top": "0", "Up one": "1", "Down one": "3"}
    move(client_for(editor), world, "S1", lane="now", position=options["Up one"])
    assert lane_titles(world.team)["now"] == ["Can't find tables", "A searchable catalogue", "Loads fail at night"]


# Print and CSV


def test_the_print_view_has_no_navigation_and_a_table_per_lane(world, viewer, client_for):
    page = parse(client_for(viewer).get(url("roadmap_print", world.team, query=f"?goal={world.goal.pk}")))
    assert page.find("aside", cls="sidebar") is None and page.find("form", role="search") is None
    assert [h.text for h in page.find_all("h2")] == ["Now (1)", "Next (1)", "Later (1)", "Done (1)"]
    assert "Goal: Answer in a day" in page.find(cls="rm-print-head").text
    assert any("data-print" in button.attrs for button in page.find_all("button"))


def test_the_csv_download_keeps_the_filters(world, viewer, client_for):
    response = client_for(viewer).get(url("roadmap_csv", world.team, query="?owner=pam"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="data-roadmap.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["title"] for r in rows] == ["Can't find tables"]


# The team home: a stakeholder's summary


def test_a_viewer_sees_the_north_star_with_its_trend_and_the_lanes_on_the_team_home(world, viewer, client_for):
    main = main_of(client_for(viewer).get(reverse("portfolio:home", args=[world.team.slug])))

    star = main.find("section", cls="north-star")
    assert star.find("a", cls="item-title").text == "Hours to answer"
    assert star.find(cls="north-star-value").text == "24"
    assert star.find("svg", cls="rm-spark") is not None
    summary = main.find("section", cls="roadmap-summary")
    lanes = {
        lane.find("h3").text: [li.text for li in lane.find_all("li")] for lane in summary.find_all(cls="summary-lane")
    }
    assert lanes == {
        "Now 2": ["Can't find tables", "Loads fail at night"],
        "Next 1": ["A searchable catalogue"],
        "Later 1": ["Waiting for access"],
        "Done 1": ["Self-serve access"],
    }
    assert summary.find("a", href=url("roadmap", world.team)) is not None
    assert main.find("h2", id="vision-title") is not None and main.find("h2", id="goals-title") is not None


def test_the_home_summary_says_what_to_do_without_a_north_star(team, viewer, client_for):
    main = main_of(client_for(viewer).get(reverse("portfolio:home", args=[team.slug])))
    assert "No north-star metric yet" in main.find("section", cls="north-star").text
    assert [p.text for p in main.find("section", cls="roadmap-summary").find_all("p")] == ["Nothing here."] * 4


# Query counts: the same for a small and a large roadmap

SHARED = ["session", "user", "membership + team"]
BOARD = ["outcomes + goals + metrics", "the metrics' recent snapshots", "cards + owners + data products"]
CHOICES = ["goals (filter)", "data products (filter)", "members (filter)"]
NAV = "nav: your teams"
SIZED = {
    "lanes": (lambda t: url("roadmap", t), {}, [*BOARD, *CHOICES, NAV]),
    "lanes filtered": (lambda t: url("roadmap", t, query="?owner=pam&lane=now"), {}, [*BOARD, *CHOICES, NAV]),
    "lanes (htmx)": (lambda t: url("roadmap", t), BODY, [*BOARD, *CHOICES]),
    "timeline": (lambda t: url("roadmap_timeline", t), {}, [*BOARD, *CHOICES, NAV]),
    "print": (lambda t: url("roadmap_print", t), {}, [*BOARD, *CHOICES]),
    "csv": (lambda t: url("roadmap_csv", t), {}, [*BOARD, *CHOICES]),
}


@pytest.mark.parametrize("size", [10, 300], ids=lambda size: f"{size}-nodes")
@pytest.mark.parametrize("page", SIZED)
def test_roadmap_pages_cost_a_fixed_number_of_queries(team, people, client_for, django_assert_num_queries, page, size):
    big_roadmap(team, people, size)
    path, headers, names = SIZED[page]
    client = client_for(people["admin"])  # the admin sees every control a page can show
    expected = SHARED + names

    with django_assert_num_queries(len(expected)):  # the queries named in SHARED and SIZED
        response = client.get(path(team), **headers)

    assert response.status_code == 200
    if page.startswith("lanes") and "filtered" not in page:
        assert (
            len(parse(response).find_all("li", cls="rm-card"))
            == Node.objects.filter(team=team).exclude(lane="none").count()
        )


MOVE = [
    "the node", "savepoint (the service's transaction)", "team lock", "the node, locked", "the lane's cards",
    "renumbered cards", "the node saved", "its history", "savepoint released",
]  # fmt: skip


@pytest.mark.parametrize("size", [10, 300], ids=lambda size: f"{size}-nodes")
def test_a_move_costs_a_fixed_number_of_queries(team, people, client_for, django_assert_num_queries, size):
    big_roadmap(team, people, size)
    node = Node.objects.filter(team=team, lane=Lane.LATER).order_by("lane_position").last()
    client = client_for(people["admin"])
    expected = SHARED + MOVE + [*BOARD, *CHOICES]

    with django_assert_num_queries(len(expected)):  # the queries named in SHARED, MOVE, BOARD and CHOICES
        response = client.post(url("roadmap_move", team, node.pk), {"lane": "now", "position": 0}, **BODY)

    assert response.status_code == 200
    assert Node.objects.get(pk=node.pk).lane == Lane.NOW


@pytest.mark.parametrize("size", [10, 300], ids=lambda size: f"{size}-nodes")
def test_the_home_summary_costs_three_queries_whatever_the_size(team, people, django_assert_num_queries, size):
    big_roadmap(team, people, size)
    template = Template("{% load roadmap_summary %}{% roadmap_summary team %}")

    with django_assert_num_queries(3):  # north-star metrics, their recent snapshots, roadmap lanes in brief
        html = template.render(Context({"team": team}))

    assert html.count('class="summary-lane"') == 4 and "rm-spark" in html


def test_the_demo_roadmap_has_dates_over_the_coming_quarters_and_one_share_link():
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    team = Team.objects.get(slug="data-analytics")
    items = Node.objects.filter(team=team, kind__in=[Kind.OPPORTUNITY, Kind.SOLUTION]).exclude(lane=Lane.NONE)
    dated = items.exclude(target_date=None)
    first = {(n.pk, n.target_date, n.version) for n in items}
    quarters = {roadmap.quarter_of(n.target_date) for n in dated.exclude(lane=Lane.DONE)}
    assert len(quarters) >= 3 and 0 < items.filter(target_date=None).count() < items.count() / 3
    assert all(n.target_date >= timezone.localdate() for n in dated.exclude(lane=Lane.DONE))
    link = ShareLink.objects.get(team=team)
    assert link.revoked_at is None and link.expires_at > timezone.now()

    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    assert {(n.pk, n.target_date, n.version) for n in items} == first
    assert ShareLink.objects.filter(team=team).count() == 1


# Impact readouts on the Done lane: did shipping it move the metric?

BEFORE = [10, 11, 10, 12, 11, 10, 11, 12, 10, 11, 11, 10]  # twelve weeks of the usual ±1
STEPPED = [*BEFORE, 15, 20, 21, 20, 22, 21]  # the ship week, four weeks ten higher, and this (unfinished) week


def shipped_solution(team, editor, title: str, *, metric=None, outcome_metric=None) -> Node:
    """A solution shipped five weeks ago (mid-week), in the Done lane, under an outcome with `outcome_metric`."""
    shipped_on = timezone.localdate() - timedelta(weeks=5) + timedelta(days=3)
    outcome = add(team, editor, Kind.OUTCOME, f"Outcome of {title}", metric=outcome_metric)
    opportunity = add(team, editor, Kind.OPPORTUNITY, f"Need of {title}", outcome)
    solution = add(team, editor, Kind.SOLUTION, title, opportunity, status="shipped", shipped_on=shipped_on)
    if metric is not None:
        Node.objects.filter(pk=solution.pk).update(metric=metric)
    services.node_set_lane(node=solution, lane=Lane.DONE, by=editor)
    return Node.objects.get(pk=solution.pk)


def test_done_cards_say_whether_shipping_moved_the_metric(team, people, client_for):
    metric = metric_with_points(team, "requests_answered_weekly", STEPPED, name="Requests answered", grain="week")
    solution = shipped_solution(team, people["editor"], "Office hours", outcome_metric=metric)

    card = main_of(client_for(people["viewer"]).get(url("roadmap", team))).find("li", id=f"rm-card-{solution.pk}")

    impact = card.find(cls="impact")
    assert impact.get("data-verdict") == "improved"
    assert impact.find(cls="badge").text == "Improved"
    message = impact.find(cls="impact-message").text
    assert message.startswith("Up ") and "a clear improvement" in message
    link = impact.find("a", cls="impact-metric")
    assert link.text == "Requests answered" and link.get("href").startswith(f"/t/{team.slug}/metrics/{metric.key}/")


def test_the_share_page_shows_the_readout_without_a_link_to_the_metric(team, people, client):
    metric = metric_with_points(team, "requests_answered_weekly", STEPPED, name="Requests answered", grain="week")
    solution = shipped_solution(team, people["editor"], "Office hours", outcome_metric=metric)
    _, token = sharing.share_link_create(team=team, label="Leadership", by=people["editor"])

    page = parse(client.get(reverse("opportunities:shared_roadmap", args=[token])))

    impact = page.find("li", id=f"rm-card-{solution.pk}").find(cls="impact")
    assert impact.get("data-verdict") == "improved"
    assert impact.find("a") is None and impact.find(cls="impact-metric").text == "Requests answered"


def test_a_solution_with_its_own_metric_is_judged_by_it_and_cards_elsewhere_have_no_readout(team, people):
    outcome_metric = metric_with_points(team, "requests_answered_weekly", STEPPED, grain="week")
    own = metric_with_points(team, "requests_reopened_weekly", [*BEFORE, 11, 10, 11, 12, 10, 11], grain="week")
    solution = shipped_solution(team, people["editor"], "Office hours", metric=own, outcome_metric=outcome_metric)
    waiting = add(
        team, people["editor"], Kind.SOLUTION, "Not yet", Node.objects.get_parent(Node.objects.get(pk=solution.pk))
    )
    services.node_set_lane(node=waiting, lane=Lane.NOW, by=people["editor"])

    board = roadmap.team_roadmap(team=team)

    cards = {card.title: card for card in board.cards}
    readout = cards["Office hours"].impact
    assert readout.metric_id == own.pk and readout.enough_data
    assert readout.improved is None and "no clear effect yet" in readout.message
    assert cards["Not yet"].impact is None  # not in the Done lane


def test_a_recent_ship_waits_for_data_on_its_card(team, people, client_for):
    metric = metric_with_points(team, "requests_answered_weekly", STEPPED, grain="week")
    solution = shipped_solution(team, people["editor"], "Office hours", outcome_metric=metric)
    Node.objects.filter(pk=solution.pk).update(shipped_on=timezone.localdate() - timedelta(days=9))

    card = main_of(client_for(people["viewer"]).get(url("roadmap", team))).find("li", id=f"rm-card-{solution.pk}")

    assert card.find(cls="badge-impact_waiting").text == "Waiting for data"
    assert card.find(cls="impact-message").text.startswith("Not enough data yet: ")


@pytest.mark.parametrize("size", [10, 300], ids=lambda size: f"{size}-nodes")
def test_done_lane_readouts_cost_one_query_whatever_their_number(
    team, people, client_for, django_assert_num_queries, size
):
    big_roadmap(team, people, size)
    done = Node.objects.filter(team=team, kind=Kind.SOLUTION, lane=Lane.DONE)
    done.update(status="shipped", shipped_on=timezone.localdate() - timedelta(days=40))
    client = client_for(people["admin"])
    expected = [*SHARED, *BOARD, "the impact readouts' snapshots", *CHOICES, NAV]

    with django_assert_num_queries(len(expected)):  # the queries named in SHARED, BOARD, CHOICES and here
        response = client.get(url("roadmap", team))

    assert len(parse(response).find_all("div", cls="impact")) == done.count() > 0


# Evidence on the cards: how many insights back each one


def attach_quotes(team: Team, node: Node, count: int, by) -> None:
    from interviews import services as discovery

    for i in range(count):
        insight = discovery.insight_create(team=team, by=by, quote=f"{node.title}: quote {i}")
        services.evidence_attach(node=node, insight=insight, by=by)


def test_cards_and_the_csv_count_the_insights_behind_each_card(world, people, client_for):
    editor = people["editor"]
    attach_quotes(world.team, world.nodes["A"], 2, editor)
    attach_quotes(world.team, world.nodes["S1"], 1, editor)

    board = roadmap.team_roadmap(team=world.team)
    evidence = {card.title: card.evidence for card in board.cards}
    assert board.evidence is True
    assert evidence["Can't find tables"] == 2 and evidence["A searchable catalogue"] == 1
    assert evidence["Waiting for access"] == 0

    page = main_of(client_for(people["viewer"]).get(url("roadmap", world.team)))
    cards = {c.find(cls="rm-title").text: c for c in page.find_all("li", cls="rm-card")}
    assert cards["Can't find tables"].find("span", cls="rm-evidence").text == "2 insights"
    assert cards["A searchable catalogue"].find("span", cls="rm-evidence").text == "1 insight"

    rows = list(
        csv.DictReader(io.StringIO(client_for(people["viewer"]).get(url("roadmap_csv", world.team)).content.decode()))
    )
    assert {row["title"]: row["evidence"] for row in rows}["Can't find tables"] == "2"


@pytest.mark.parametrize("size", [10, 300], ids=lambda size: f"{size}-nodes")
def test_counting_evidence_keeps_the_board_at_a_fixed_number_of_queries(
    team, people, client_for, django_assert_num_queries, size
):
    from interviews.models import Insight
    from opportunities.models import Evidence

    big_roadmap(team, people, size)
    cards = list(Node.objects.filter(team=team).exclude(lane=Lane.NONE))
    quotes = Insight.objects.bulk_create([Insight(team=team, quote=f"Quote {i}") for i in range(3)])
    Evidence.objects.bulk_create(
        [Evidence(node=card, insight=quote) for i, card in enumerate(cards) for quote in quotes[: 1 + i % 3]]
    )
    client = client_for(people["admin"])
    expected = SHARED + [*BOARD, *CHOICES, NAV]

    with django_assert_num_queries(len(expected)):  # the queries named in SHARED, BOARD and CHOICES, and the nav
        response = client.get(url("roadmap", team))

    counts = [span.text for span in parse(response).find_all("span", cls="rm-evidence")]
    assert len(counts) == len(cards) and {"1 insight", "2 insights", "3 insights"} == set(counts)
