"""The tree's REST API: who may do what, the tree rules, stale edits, moves, subtrees, filters, query counts."""

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse

from opportunities import queries, services
from opportunities.models import Evidence, Kind, Lane, Node, OpportunityStatus, SolutionStatus
from portfolio.models import Role
from tests.opportunities.factories import add, small_tree, wide_tree
from tests.portfolio.factories import DataProductFactory, GoalFactory, MembershipFactory, TeamFactory, UserFactory
from tests.support import rows_and_history, send

pytestmark = pytest.mark.django_db

LIST = reverse("api:node-list")


def detail(node: Node) -> str:
    return reverse("api:node-detail", args=[node.pk])


def move_url(node: Node) -> str:
    return reverse("api:node-move", args=[node.pk])


def subtree_url(node: Node) -> str:
    return reverse("api:node-subtree", args=[node.pk])


def tree_url(slug: str | None = "data") -> str:
    url = reverse("api:node-tree")
    return f"{url}?team={slug}" if slug is not None else url


def db_state() -> dict[str, Any]:
    """Every node (paths included) and every history record, to prove a refused request changed nothing."""
    return {
        "nodes": list(Node.objects.order_by("pk").values()),
        "history": list(Node.history.order_by("history_id").values_list("history_id", flat=True)),
    }


def shape(team) -> list[tuple[int, str]]:
    """The team's tree as (depth, title) in depth-first order."""
    return list(Node.objects.filter(team=team).order_by("path").values_list("depth", "title"))


@pytest.fixture
def tree(people, team):
    """outcome ─ A ─ A1 ─ S ─ E; outcome ─ B; O2 (see factories.small_tree)."""
    return small_tree(team, people["editor"])


@pytest.fixture
def theirs(outsider, other_team):
    """The other team's tree: an outcome with one opportunity."""
    outcome = add(other_team, outsider, Kind.OUTCOME, "Their outcome")
    return {"outcome": outcome, "opportunity": add(other_team, outsider, Kind.OPPORTUNITY, "Their need", outcome)}


# Each role on each action


# An operation is (method, url, body) built from the tree; `changes` says whether success writes.
Operation = Callable[[dict[str, Node]], tuple[str, str, dict | None]]
OPERATIONS: dict[str, tuple[Operation, bool]] = {
    "list": (lambda t: ("get", LIST, None), False),
    "retrieve": (lambda t: ("get", detail(t["A"]), None), False),
    "create": (
        lambda t: ("post", LIST, {"team": "data", "kind": "opportunity", "title": "New", "parent": t["outcome"].pk}),
        True,
    ),
    "update": (lambda t: ("patch", detail(t["A"]), {"title": "Renamed", "version": t["A"].version}), True),
    "delete": (lambda t: ("delete", detail(t["B"]), None), True),
    "move": (lambda t: ("post", move_url(t["B"]), {"parent": t["A"].pk}), True),
    "subtree": (lambda t: ("get", subtree_url(t["A"]), None), False),
    "tree": (lambda t: ("get", tree_url("data"), None), False),
}

# Per operation, in the order admin, editor, viewer, outsider.
EXPECTED = {
    "list": (200, 200, 200, 200),  # the outsider's list simply holds none of the team's nodes
    "retrieve": (200, 200, 200, 404),
    "create": (201, 201, 403, 400),  # the outsider cannot name the team: "does not exist"
    "update": (200, 200, 403, 404),
    "delete": (204, 204, 403, 404),
    "move": (200, 200, 403, 404),
    "subtree": (200, 200, 200, 404),
    "tree": (200, 200, 200, 404),
}
ROLES = ["admin", "editor", "viewer", "outsider"]


@pytest.mark.parametrize(
    ("operation", "role", "expected"),
    [
        pytest.param(operation, role, codes[index], id=f"{operation}-{role}")
        for operation, codes in EXPECTED.items()
        for index, role in enumerate(ROLES)
    ],
)
def test_each_role_on_each_action(api_for, people, tree, operation, role, expected):
    build, changes = OPERATIONS[operation]
    method, url, body = build(tree)
    before = db_state()

    response = send(api_for(people[role]), method, url, body)

    assert response.status_code == expected, response.content
    if not (changes and expected < 300):
        assert db_state() == before
        return
    assert Node.history.order_by("-history_id").first().history_user == people[role]


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_anonymous_request_answers_401_and_changes_nothing(api_for, tree, operation):
    method, url, body = OPERATIONS[operation][0](tree)
    before = db_state()

    response = send(api_for(None), method, url, body)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert db_state() == before


def test_outsider_list_holds_their_nodes_and_none_of_the_teams(api_for, outsider, tree, theirs):
    response = api_for(outsider).get(LIST)

    assert {row["title"] for row in response.json()["results"]} == {"Their outcome", "Their need"}


def test_outsider_creating_into_the_team_gets_the_answer_for_a_team_that_does_not_exist(api_for, outsider, tree):
    body = {"team": "data", "kind": "outcome", "title": "Sneaky"}
    before = db_state()

    ours = send(api_for(outsider), "post", LIST, body)
    unknown = send(api_for(outsider), "post", LIST, {**body, "team": "no-such-team"})

    assert ours.status_code == unknown.status_code == 400
    assert ours.json() == {"team": ["Object with slug=data does not exist."]}
    assert unknown.json() == {"team": ["Object with slug=no-such-team does not exist."]}
    assert db_state() == before


def test_viewer_cannot_create_by_sending_the_team_slug_as_a_number(api_for):
    numbered = TeamFactory(slug="2026")
    reader = UserFactory(username="reader")
    MembershipFactory(team=numbered, user=reader, role=Role.VIEWER)

    response = send(api_for(reader), "post", LIST, {"team": 2026, "kind": "outcome", "title": "Sneaky"})

    assert response.status_code == 403
    assert not Node.objects.exists()


def test_viewer_cannot_delete_by_lifting_children(api_for, viewer, tree):
    before = db_state()

    response = api_for(viewer).delete(f"{detail(tree['A'])}?mode=lift")

    assert response.status_code == 403
    assert db_state() == before


# Reading a node


def test_retrieve_gives_every_field_with_the_score_explained(api_for, viewer, editor, team, tree):
    product = DataProductFactory(team=team, name="Orders")
    goal = GoalFactory(team=team)
    solution = tree["S"]
    Node.objects.filter(pk=solution.pk).update(
        reach=500, impact="2", confidence=80, effort="2.5", owner=editor, data_product=product, lane=Lane.NOW
    )
    Node.objects.filter(pk=tree["outcome"].pk).update(goal=goal)

    body = api_for(viewer).get(detail(solution)).json()
    outcome = api_for(viewer).get(detail(tree["outcome"])).json()

    assert body == {
        "id": solution.pk,
        "team": "data",
        "kind": "solution",
        "parent": tree["A1"].pk,
        "depth": 4,
        "children_count": 1,
        "title": "Certify the orders table",
        "description": "",
        "status": "idea",
        "shipped_on": None,
        "owner": "pam",
        "goal": None,
        "data_product": product.pk,
        "lane": "now",
        "target_date": None,
        "reach": 500,
        "impact": "2",
        "confidence": 80,
        "effort": "2.50",
        "score": 320.0,
        "score_explanation": "reach 500 × impact 2 × confidence 80% ÷ effort 2.5 person-weeks = 320",
        "assumption": "",
        "method": "",
        "success_criterion": "",
        "result": "",
        "insights": [],
        "evidence": {"insights": 0, "interviewees": 0, "personas": 0, "last_heard": None, "assumption": False},
        "version": 1,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert (outcome["goal"], outcome["parent"], outcome["children_count"]) == (goal.pk, None, 2)
    assert (outcome["score"], outcome["score_explanation"]) == (
        None,
        "No score yet: give reach, impact, confidence, effort.",
    )


def test_retrieve_of_another_teams_node_is_404_like_a_missing_one(api_for, editor, tree, theirs):
    theirs_response = api_for(editor).get(detail(theirs["outcome"]))
    missing = api_for(editor).get(reverse("api:node-detail", args=[999_999]))

    assert theirs_response.status_code == missing.status_code == 404
    assert theirs_response.json() == missing.json()


# Creating


def test_editor_creates_a_node_with_its_content_at_a_position(api_for, editor, team, tree):
    product = DataProductFactory(team=team)
    body = {
        "team": "data",
        "kind": "solution",
        "title": "Publish a data dictionary",
        "parent": tree["A"].pk,
        "position": 0,
        "description": "Write it **once**.",
        "status": "building",
        "owner": "pam",
        "data_product": product.pk,
        "lane": "next",
        "reach": 40,
        "impact": "1",
        "confidence": 50,
        "effort": "2",
    }

    response = send(api_for(editor), "post", LIST, body)

    assert response.status_code == 201, response.content
    created = Node.objects.get(pk=response.json()["id"])
    assert [n.title for n in Node.objects.get_children(tree["A"])] == [
        "Publish a data dictionary",
        "Nobody trusts the orders table",
    ]
    assert (created.parent_id, created.team.slug, created.owner.username, created.data_product) == (
        tree["A"].pk,
        "data",
        "pam",
        product,
    )
    assert response.json() | {"effort": "2"} == {
        **{name: value for name, value in body.items() if name != "position"},
        **{name: response.json()[name] for name in ("id", "created_at", "updated_at")},
        "depth": 3,
        "children_count": 0,
        "goal": None,
        "shipped_on": None,
        "target_date": None,
        "score": 10.0,
        "score_explanation": "reach 40 × impact 1 × confidence 50% ÷ effort 2 person-weeks = 10",
        "assumption": "",
        "method": "",
        "success_criterion": "",
        "result": "",
        "insights": [],
        "evidence": {
            "insights": 0,
            "interviewees": 0,
            "personas": 0,
            "last_heard": None,
            "assumption": False,
        },  # a solution is never flagged,
        "version": 1,
    }
    assert created.history.get().history_user == editor


def test_new_node_starts_at_its_kinds_first_status_and_last_among_siblings(api_for, editor, tree):
    response = send(
        api_for(editor),
        "post",
        LIST,
        {"team": "data", "kind": "opportunity", "title": "Last", "parent": tree["outcome"].pk},
    )

    assert response.status_code == 201
    assert response.json()["status"] == OpportunityStatus.IDENTIFIED
    assert [n.title for n in Node.objects.get_children(tree["outcome"])][-1] == "Last"


def test_outcome_is_created_at_the_top_of_the_teams_tree(api_for, editor, team, tree, theirs):
    response = send(api_for(editor), "post", LIST, {"team": "data", "kind": "outcome", "title": "Faster answers"})

    assert response.status_code == 201
    assert response.json()["parent"] is None
    assert shape(team)[-1] == (1, "Faster answers")


# Bad input: each refused with a clear message and the tree unchanged


@pytest.mark.parametrize(
    ("kind", "parent", "message"),
    [
        pytest.param(
            "solution",
            "outcome",
            "Solutions cannot sit under outcomes: put them under an opportunity.",
            id="sol-outcome",
        ),
        pytest.param(
            "experiment", "A", "Experiments cannot sit under opportunities: put them under a solution.", id="exp-opp"
        ),
        pytest.param(
            "outcome", "A", "Outcomes are the roots of the tree: they cannot sit under another node.", id="outcome-opp"
        ),
        pytest.param(
            "opportunity",
            None,
            "Opportunities cannot sit at the top of the tree: put them under an outcome or an opportunity.",
            id="opp-top",
        ),
        pytest.param(
            "experiment",
            None,
            "Experiments cannot sit at the top of the tree: put them under a solution.",
            id="exp-top",
        ),
    ],
)
def test_create_breaking_the_tree_rules_is_refused(api_for, editor, tree, kind, parent, message):
    body = {"team": "data", "kind": kind, "title": "Misplaced"}
    if parent:
        body["parent"] = tree[parent].pk
    before = db_state()

    response = send(api_for(editor), "post", LIST, body)

    assert response.status_code == 400
    assert response.json() == {"parent": [message]}
    assert db_state() == before


@pytest.mark.parametrize(
    ("node", "parent", "message"),
    [
        pytest.param(
            "S", "O2", "Solutions cannot sit under outcomes: put them under an opportunity.", id="sol-outcome"
        ),
        pytest.param("E", "A1", "Experiments cannot sit under opportunities: put them under a solution.", id="exp-opp"),
        pytest.param(
            "O2", "B", "Outcomes are the roots of the tree: they cannot sit under another node.", id="outcome-opp"
        ),
        pytest.param(
            "A",
            None,
            "Opportunities cannot sit at the top of the tree: put them under an outcome or an opportunity.",
            id="opp-top",
        ),
        pytest.param("A", "A1", "A node cannot move under itself or one of its own descendants.", id="under-child"),
        pytest.param("A", "S", "A node cannot move under itself or one of its own descendants.", id="under-grandchild"),
        pytest.param("A", "A", "A node cannot move under itself or one of its own descendants.", id="under-itself"),
    ],
)
def test_move_breaking_the_tree_rules_is_refused(api_for, editor, team, tree, node, parent, message):
    before, layout = db_state(), shape(team)

    response = send(
        api_for(editor), "post", move_url(tree[node]), {"parent": tree[parent].pk if parent else None, "position": 0}
    )

    assert response.status_code == 400
    assert response.json() == {"parent": [message]}
    assert db_state() == before
    assert shape(team) == layout


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        pytest.param({"confidence": 101}, "confidence", "less than or equal to 100", id="confidence-over-100"),
        pytest.param({"confidence": -1}, "confidence", "greater than or equal to 0", id="confidence-negative"),
        pytest.param({"reach": -1}, "reach", "greater than or equal to 0", id="reach-negative"),
        pytest.param({"reach": 10_000_001}, "reach", "less than or equal to 10000000", id="reach-too-big"),
        pytest.param({"effort": "0"}, "effort", "greater than or equal to 0.1", id="effort-zero"),
        pytest.param({"effort": "1000.01"}, "effort", "less than or equal to 1000", id="effort-too-big"),
        pytest.param({"effort": "lots"}, "effort", "A valid number is required.", id="effort-not-a-number"),
        pytest.param({"impact": "7"}, "impact", '"7" is not a valid choice.', id="impact-off-scale"),
    ],
)
@pytest.mark.parametrize("method", ["post", "patch"])
def test_scores_out_of_range_are_refused(api_for, editor, tree, change, field, message, method):
    before = db_state()

    if method == "post":
        body = {"team": "data", "kind": "opportunity", "title": "Scored", "parent": tree["outcome"].pk, **change}
        response = send(api_for(editor), "post", LIST, body)
    else:
        response = send(api_for(editor), "patch", detail(tree["A"]), {**change, "version": tree["A"].version})

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert message in response.json()[field][0]
    assert db_state() == before


@pytest.mark.parametrize("kind_key", ["outcome", "E"])
def test_only_opportunities_and_solutions_are_scored(api_for, editor, tree, kind_key):
    node = tree[kind_key]
    before = db_state()

    response = send(api_for(editor), "patch", detail(node), {"reach": 100, "version": node.version})

    assert response.status_code == 400
    assert response.json() == {"reach": ["Only opportunities and solutions are scored."]}
    assert db_state() == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"status": "shipped"}, {"status"}, id="status-of-another-kind"),
        pytest.param({"shipped_on": "2026-01-01"}, {"shipped_on"}, id="ship-date-on-an-opportunity"),
        pytest.param({"title": ""}, {"title"}, id="empty-title"),
        pytest.param({"lane": "someday"}, {"lane"}, id="unknown-lane"),
        pytest.param({"owner": "nobody"}, {"owner"}, id="unknown-owner"),
        pytest.param({"title": "No version"}, {"version"}, id="no-version"),
    ],
)
def test_invalid_edit_is_refused_with_a_field_error(api_for, editor, tree, change, expected):
    node = tree["A"]
    body = change if "version" in expected else {**change, "version": node.version}
    before = db_state()

    response = send(api_for(editor), "patch", detail(node), body)

    assert response.status_code == 400
    assert set(response.json()) == expected
    assert db_state() == before


def test_status_of_another_kind_names_the_allowed_ones(api_for, editor, tree):
    response = send(api_for(editor), "patch", detail(tree["A"]), {"status": "shipped", "version": 1})

    assert "is one of: identified, exploring, prioritised, parked." in response.json()["status"][0]


def test_status_message_uses_the_right_article(api_for, editor, tree):
    response = send(api_for(editor), "patch", detail(tree["A"]), {"status": "shipped", "version": 1})

    assert response.json()["status"][0].startswith("An opportunity is one of")


@pytest.mark.parametrize("method", ["create", "move"])
def test_parent_from_a_team_you_do_not_belong_to_does_not_exist(api_for, editor, tree, theirs, method):
    parent = theirs["opportunity"]
    before = db_state()

    if method == "create":
        body = {"team": "data", "kind": "solution", "title": "Misplaced", "parent": parent.pk}
        response = send(api_for(editor), "post", LIST, body)
    else:
        response = send(api_for(editor), "post", move_url(tree["B"]), {"parent": parent.pk})

    assert response.status_code == 400
    assert response.json() == {"parent": [f'Invalid pk "{parent.pk}" - object does not exist.']}
    assert db_state() == before


@pytest.mark.parametrize("method", ["create", "move"])
def test_parent_from_another_team_you_belong_to_is_refused(api_for, editor, other_team, tree, theirs, method):
    MembershipFactory(team=other_team, user=editor, role=Role.EDITOR)
    parent = theirs["opportunity"]
    before = db_state()

    if method == "create":
        body = {"team": "data", "kind": "solution", "title": "Misplaced", "parent": parent.pk}
        response = send(api_for(editor), "post", LIST, body)
    else:
        response = send(api_for(editor), "post", move_url(tree["B"]), {"parent": parent.pk})

    assert response.status_code == 400
    assert response.json() == {"parent": ["The parent must be a node of this team's tree."]}
    assert db_state() == before


def test_goal_and_data_product_must_be_the_nodes_teams(api_for, editor, other_team, tree):
    MembershipFactory(team=other_team, user=editor, role=Role.EDITOR)
    goal, product = GoalFactory(team=other_team), DataProductFactory(team=other_team)
    node = tree["outcome"]
    before = db_state()

    response = send(
        api_for(editor), "patch", detail(node), {"goal": goal.pk, "data_product": product.pk, "version": node.version}
    )

    assert response.status_code == 400
    assert response.json() == {
        "goal": ["Pick a goal of this team."],
        "data_product": ["Pick a data product of this team."],
    }
    assert db_state() == before


def test_bad_move_bodies_are_refused(api_for, editor, tree):
    before = db_state()
    client = api_for(editor)

    no_parent = send(client, "post", move_url(tree["B"]), {"position": 0})
    negative = send(client, "post", move_url(tree["B"]), {"parent": tree["A"].pk, "position": -1})
    missing = send(client, "post", move_url(tree["B"]), {"parent": 999_999})

    assert no_parent.json() == {"parent": ["This field is required."]}
    assert negative.json() == {"position": ["Ensure this value is greater than or equal to 0."]}
    assert missing.json() == {"parent": ['Invalid pk "999999" - object does not exist.']}
    assert {no_parent.status_code, negative.status_code, missing.status_code} == {400}
    assert db_state() == before


# Editing content; kind and place are read-only here


def test_editor_edits_content_and_the_version_moves_on(api_for, editor, tree):
    node = tree["S"]
    body = {"status": "shipped", "reach": 200, "impact": "0.5", "confidence": 100, "effort": "1", "version": 1}

    response = send(api_for(editor), "patch", detail(node), body)

    assert response.status_code == 200
    node.refresh_from_db()
    assert (node.status, node.shipped_on is not None, node.version) == (SolutionStatus.SHIPPED, True, 2)
    assert (response.json()["version"], response.json()["score"]) == (2, 100.0)
    assert node.history.first().history_user == editor


def test_put_replaces_the_content(api_for, editor, tree):
    node = tree["B"]
    body = {"title": "Dashboards take a minute", "status": "exploring", "lane": "later", "version": 1}

    response = send(api_for(editor), "put", detail(node), body)

    assert response.status_code == 200, response.content
    node.refresh_from_db()
    assert (node.title, node.status, node.lane, node.version) == ("Dashboards take a minute", "exploring", "later", 2)


def test_kind_parent_and_team_cannot_be_changed_by_editing(api_for, editor, other_team, team, tree):
    MembershipFactory(team=other_team, user=editor, role=Role.EDITOR)
    node = tree["A1"]
    layout = shape(team)
    body = {"kind": "solution", "parent": tree["B"].pk, "team": "growth", "title": "Renamed", "version": 1}

    response = send(api_for(editor), "patch", detail(node), body)

    assert response.status_code == 200
    node.refresh_from_db()
    assert (node.kind, node.parent_id, node.team, node.title) == (Kind.OPPORTUNITY, tree["A"].pk, team, "Renamed")
    assert shape(team) == [(3, "Renamed") if row == (3, "Nobody trusts the orders table") else row for row in layout]


# Stale versions


def test_stale_edit_answers_409_with_what_changed_and_changes_nothing(api_for, team_admin, editor, tree):
    node = tree["A"]
    first = send(api_for(team_admin), "patch", detail(node), {"title": "Theirs", "version": 1})
    assert first.status_code == 200
    before = db_state()

    stale = send(api_for(editor), "patch", detail(node), {"title": "Mine", "version": 1})

    assert stale.status_code == 409
    body = stale.json()
    assert set(body) == {"detail", "changed", "current"}
    assert "Someone else changed title while you were editing." in body["detail"]
    assert body["changed"] == {"title": "Theirs"}
    assert body["current"] == api_for(editor).get(detail(node)).json()
    assert (body["current"]["title"], body["current"]["version"]) == ("Theirs", 2)
    assert db_state() == before

    retried = send(api_for(editor), "patch", detail(node), {"title": "Mine", "version": 2})

    assert retried.status_code == 200
    assert (retried.json()["title"], retried.json()["version"]) == ("Mine", 3)


def test_stale_move_answers_409_and_leaves_the_tree_unchanged(api_for, team_admin, editor, team, tree):
    node = tree["A1"]
    send(api_for(team_admin), "patch", detail(node), {"title": "Theirs", "version": 1})
    before, layout = db_state(), shape(team)

    stale = send(api_for(editor), "post", move_url(node), {"parent": tree["B"].pk, "version": 1})

    assert stale.status_code == 409
    assert set(stale.json()) == {"detail", "changed", "current"}
    assert "while you were editing" in stale.json()["detail"]
    assert stale.json()["current"] == api_for(editor).get(detail(node)).json()
    assert db_state() == before
    assert shape(team) == layout


def test_stale_move_names_what_changed(api_for, team_admin, editor, tree):
    node = tree["A1"]
    send(api_for(team_admin), "patch", detail(node), {"title": "Theirs", "version": 1})

    stale = send(api_for(editor), "post", move_url(node), {"parent": tree["B"].pk, "version": 1})

    assert stale.json()["changed"] == {"title": "Theirs"}


def test_stale_edit_after_a_move_names_the_new_parent(api_for, team_admin, editor, tree):
    node = tree["A1"]
    send(api_for(team_admin), "post", move_url(node), {"parent": tree["B"].pk})

    stale = send(api_for(editor), "patch", detail(node), {"title": "Mine", "version": 1})

    assert stale.status_code == 409
    assert stale.json()["changed"] == {"parent": tree["B"].pk}


def test_move_with_the_current_version_is_accepted(api_for, editor, tree):
    response = send(api_for(editor), "post", move_url(tree["A1"]), {"parent": tree["B"].pk, "version": 1})

    assert response.status_code == 200
    assert (response.json()["parent"], response.json()["version"]) == (tree["B"].pk, 2)


# Moving


def test_move_takes_the_subtree_under_the_new_parent(api_for, editor, team, tree):
    response = send(api_for(editor), "post", move_url(tree["A1"]), {"parent": tree["B"].pk})

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["parent"], response.json()["depth"]) == (
        tree["A1"].pk,
        tree["B"].pk,
        3,
    )
    assert shape(team) == [
        (1, "More self-serve answers"),
        (2, "Analysts wait for data"),
        (2, "Dashboards are slow"),
        (3, "Nobody trusts the orders table"),
        (4, "Certify the orders table"),
        (5, "Ask five analysts"),
        (1, "Fewer broken pipelines"),
    ]
    assert Node.objects.get(pk=tree["A1"].pk).history.first().history_user == editor


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (0, ["Dashboards are slow", "Analysts wait for data"]),
        (1, ["Analysts wait for data", "Dashboards are slow"]),
        (99, ["Analysts wait for data", "Dashboards are slow"]),  # past the end: last
    ],
)
def test_move_to_a_position_among_siblings(api_for, editor, tree, position, expected):
    response = send(api_for(editor), "post", move_url(tree["B"]), {"parent": tree["outcome"].pk, "position": position})

    assert response.status_code == 200
    assert [n.title for n in Node.objects.get_children(tree["outcome"])] == expected


def test_move_into_a_new_parent_at_a_position(api_for, editor, tree):
    add(tree["outcome"].team, editor, Kind.OPPORTUNITY, "Already there", tree["B"])

    response = send(api_for(editor), "post", move_url(tree["A1"]), {"parent": tree["B"].pk, "position": 0})

    assert response.status_code == 200
    assert [n.title for n in Node.objects.get_children(Node.objects.get(pk=tree["B"].pk))] == [
        "Nobody trusts the orders table",
        "Already there",
    ]


def test_outcomes_reorder_at_the_top(api_for, editor, team, tree, theirs):
    response = send(api_for(editor), "post", move_url(tree["O2"]), {"parent": None, "position": 0})

    assert response.status_code == 200
    assert response.json()["parent"] is None
    assert [title for depth, title in shape(team) if depth == 1] == [
        "Fewer broken pipelines",
        "More self-serve answers",
    ]


# Deleting


def test_delete_takes_the_subtree_by_default(api_for, editor, team, tree):
    response = api_for(editor).delete(detail(tree["A"]))

    assert response.status_code == 204
    assert shape(team) == [(1, "More self-serve answers"), (2, "Dashboards are slow"), (1, "Fewer broken pipelines")]


def test_delete_lifting_the_children_keeps_them(api_for, editor, team, tree):
    response = api_for(editor).delete(f"{detail(tree['A'])}?mode=lift")

    assert response.status_code == 204
    assert shape(team) == [
        (1, "More self-serve answers"),
        (2, "Nobody trusts the orders table"),
        (3, "Certify the orders table"),
        (4, "Ask five analysts"),
        (2, "Dashboards are slow"),
        (1, "Fewer broken pipelines"),
    ]
    assert Node.objects.get(pk=tree["A1"].pk).parent_id == tree["outcome"].pk


def test_refused_lift_answers_400_with_the_reason(api_for, editor, tree):
    before = db_state()

    response = api_for(editor).delete(f"{detail(tree['S'])}?mode=lift")

    assert response.status_code == 400
    assert response.json() == {
        "mode": [
            "Its child 'Ask five analysts' (experiment) cannot sit under 'Nobody trusts the orders table': "
            "delete the subtree instead, or move the children first."
        ]
    }
    assert db_state() == before


def test_unknown_delete_mode_is_refused(api_for, editor, tree):
    before = db_state()

    response = api_for(editor).delete(f"{detail(tree['A'])}?mode=everything")

    assert response.status_code == 400
    assert response.json() == {"mode": ["Say 'subtree' to delete the children too, or 'lift' to keep them."]}
    assert db_state() == before


# Subtree and whole tree


def test_subtree_is_the_node_and_its_descendants_depth_first(api_for, viewer, tree):
    Node.objects.filter(pk=tree["S"].pk).update(reach=100, impact="1", confidence=50, effort=5)

    response = api_for(viewer).get(subtree_url(tree["A"]))

    assert response.status_code == 200
    rows = response.json()
    assert [row["id"] for row in rows] == [tree[key].pk for key in ("A", "A1", "S", "E")]
    assert rows[1:] == [
        {
            "id": tree[key].pk,
            "parent": tree[parent].pk,
            "depth": depth,
            "kind": kind,
            "title": tree[key].title,
            "status": tree[key].status,
            "lane": "none",
            "owner": None,
            "score": score,
            "children_count": children,
            "version": 1,
        }
        for key, parent, depth, kind, score, children in [
            ("A1", "A", 3, "opportunity", None, 1),
            ("S", "A1", 4, "solution", 10.0, 1),
            ("E", "S", 5, "experiment", None, 0),
        ]
    ]
    assert {name: value for name, value in rows[0].items() if name != "parent"} == {
        "id": tree["A"].pk,
        "depth": 2,
        "kind": "opportunity",
        "title": "Analysts wait for data",
        "status": "identified",
        "lane": "none",
        "owner": None,
        "score": None,
        "children_count": 1,
        "version": 1,
    }


def test_subtree_top_names_its_real_parent(api_for, viewer, tree):
    rows = api_for(viewer).get(subtree_url(tree["A"])).json()

    assert rows[0]["parent"] == tree["outcome"].pk


def test_subtree_of_a_leaf_is_the_leaf(api_for, viewer, tree):
    assert [row["title"] for row in api_for(viewer).get(subtree_url(tree["E"])).json()] == ["Ask five analysts"]


def test_tree_is_the_teams_whole_tree_and_nothing_else(api_for, editor, other_team, tree, theirs):
    MembershipFactory(team=other_team, user=editor, role=Role.VIEWER)
    Node.objects.filter(pk=tree["B"].pk).update(owner=editor)

    rows = api_for(editor).get(tree_url("data")).json()

    assert rows == queries.tree_flat(team=tree["outcome"].team)
    assert [(row["depth"], row["title"]) for row in rows] == shape(tree["outcome"].team)
    assert [row["parent"] for row in rows] == [None] + [tree[k].pk for k in ("outcome", "A", "A1", "S", "outcome")] + [
        None
    ]
    assert rows[5]["owner"] == "pam"
    assert [row["title"] for row in api_for(editor).get(tree_url("growth")).json()] == ["Their outcome", "Their need"]


def test_tree_of_a_team_you_do_not_belong_to_is_404_like_a_missing_team(api_for, editor, tree, theirs):
    theirs_response = api_for(editor).get(tree_url("growth"))
    missing = api_for(editor).get(tree_url("no-such-team"))

    assert theirs_response.status_code == missing.status_code == 404
    assert theirs_response.json() == missing.json() == {"detail": "No such team."}


@pytest.mark.parametrize("url", [tree_url(None), tree_url("")])
def test_tree_needs_a_team(api_for, editor, tree, url):
    response = api_for(editor).get(url)

    assert response.status_code == 400
    assert response.json() == {"team": ["Give the team's slug: ?team=<slug>."]}


def test_tree_of_an_empty_team_is_an_empty_list(api_for, viewer):
    assert api_for(viewer).get(tree_url("data")).json() == []


# Filters and pagination


@pytest.fixture
def filtered(people, other_team, tree, theirs):
    """The tree with a few statuses, lanes and owners set; the editor also sees the other team."""
    MembershipFactory(team=other_team, user=people["editor"], role=Role.VIEWER)
    Node.objects.filter(pk=tree["A1"].pk).update(
        status=OpportunityStatus.EXPLORING, lane=Lane.NOW, owner=people["editor"]
    )
    Node.objects.filter(pk=tree["S"].pk).update(lane=Lane.NOW, owner=people["viewer"])
    names = {node.pk: key for key, node in tree.items()}
    names.update({node.pk: f"theirs-{key}" for key, node in theirs.items()})
    return names


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"outcome", "A", "A1", "S", "E", "B", "O2", "theirs-outcome", "theirs-opportunity"}),
        ("team=data", {"outcome", "A", "A1", "S", "E", "B", "O2"}),
        ("team=growth", {"theirs-outcome", "theirs-opportunity"}),
        ("team=no-such-team", set()),
        ("kind=outcome", {"outcome", "O2", "theirs-outcome"}),
        ("kind=opportunity&team=data", {"A", "A1", "B"}),
        ("status=exploring", {"A1"}),
        ("status=identified&team=data", {"A", "B"}),
        ("lane=now", {"A1", "S"}),
        ("owner=pam", {"A1"}),
        ("owner=vic", {"S"}),
        ("owner=nobody", set()),
        ("parent=OUTCOME", {"A", "B"}),
        ("parent=A", {"A1"}),
        ("lane=now&owner=pam&kind=opportunity", {"A1"}),
    ],
)
def test_list_filters(api_for, editor, tree, filtered, query, expected):
    query = query.replace("OUTCOME", str(tree["outcome"].pk)).replace("parent=A", f"parent={tree['A'].pk}")

    response = api_for(editor).get(f"{LIST}?{query}")

    assert response.status_code == 200
    assert {filtered[row["id"]] for row in response.json()["results"]} == expected
    assert response.json()["count"] == len(expected)


def test_list_is_in_tree_order(api_for, viewer, team, tree):
    rows = api_for(viewer).get(f"{LIST}?team=data").json()["results"]

    assert [(row["depth"], row["title"]) for row in rows] == shape(team)


@pytest.mark.parametrize(("query", "field"), [("status=done", "status"), ("kind=epic", "kind"), ("lane=soon", "lane")])
def test_unknown_filter_values_are_a_400(api_for, viewer, tree, query, field):
    response = api_for(viewer).get(f"{LIST}?{query}")

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_filtering_by_the_team_does_not_reveal_its_nodes_to_an_outsider(api_for, outsider, tree):
    response = api_for(outsider).get(f"{LIST}?team=data")

    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_list_is_paginated(api_for, viewer, editor, team, settings):
    wide_tree(team, editor, 60)
    page_size = settings.REST_FRAMEWORK["PAGE_SIZE"]

    first = api_for(viewer).get(LIST).json()
    second = api_for(viewer).get(first["next"]).json()

    assert first["count"] == 60
    assert (len(first["results"]), len(second["results"])) == (page_size, 60 - page_size)
    assert {row["id"] for row in first["results"] + second["results"]} == set(Node.objects.values_list("pk", flat=True))


# Query counts: the same whatever the size of the tree


@pytest.fixture(params=[10, 500], ids=lambda size: f"{size}-nodes")
def sized_tree(request, team, editor, team_admin) -> Node:
    """A tree of `size` nodes (wide_tree), each with an owner, returning its outcome."""
    wide_tree(team, editor, request.param)
    Node.objects.filter(team=team).update(owner=editor)  # so a missing join would cost a query per row
    assert Node.objects.filter(team=team).count() == request.param
    return Node.objects.get(team=team, depth=1)


def test_list_query_count_is_fixed(api_for, team_admin, sized_tree, django_assert_num_queries):
    client = api_for(team_admin)  # force_authenticate: no session or token query

    # count, page of nodes joined with team and owner with their evidence counts (subqueries), their insights' ids
    with django_assert_num_queries(3):
        response = client.get(f"{LIST}?team=data")

    assert response.json()["count"] == Node.objects.count()


def test_subtree_query_count_is_fixed(api_for, team_admin, sized_tree, django_assert_num_queries):
    client = api_for(team_admin)

    with django_assert_num_queries(3):  # the node joined with team and owner, your role in the team, the rows
        response = client.get(subtree_url(sized_tree))

    assert len(response.json()) == Node.objects.count()


def test_tree_query_count_is_fixed(api_for, team_admin, sized_tree, django_assert_num_queries):
    client = api_for(team_admin)

    with django_assert_num_queries(2):  # your membership joined with the team, the rows
        response = client.get(tree_url("data"))

    rows = response.json()
    assert len(rows) == Node.objects.count()
    assert rows[0]["id"] == sized_tree.pk


# The OpenAPI schema


@pytest.fixture
def schema(tmp_path) -> dict[str, Any]:
    path = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_documents_every_node_endpoint_and_its_answers(schema):
    paths = {path: operations for path, operations in schema["paths"].items() if path.startswith("/api/nodes/")}
    answers = {
        (path, method): set(operation["responses"])
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    assert answers == {
        ("/api/nodes/", "get"): {"200", "401"},
        ("/api/nodes/", "post"): {"201", "400", "401", "403", "404"},
        ("/api/nodes/{id}/", "get"): {"200", "401", "404"},
        ("/api/nodes/{id}/", "put"): {"200", "400", "401", "403", "404", "409"},
        ("/api/nodes/{id}/", "patch"): {"200", "400", "401", "403", "404", "409"},
        ("/api/nodes/{id}/", "delete"): {"204", "400", "401", "403", "404"},
        ("/api/nodes/{id}/move/", "post"): {"200", "400", "401", "403", "404", "409"},
        ("/api/nodes/{id}/subtree/", "get"): {"200", "401", "404"},
        ("/api/nodes/{id}/insights/", "post"): {"200", "201", "400", "401", "403", "404"},
        ("/api/nodes/{id}/insights/{insight_id}/", "delete"): {"204", "400", "401", "403", "404"},
        ("/api/nodes/tree/", "get"): {"200", "400", "401", "404"},
    }


def test_schema_shapes_of_requests_and_answers(schema):
    components = schema["components"]["schemas"]
    create, patch, move = (
        components["NodeCreateRequest"],
        components["PatchedNodeRequest"],
        components["NodeMoveRequest"],
    )
    assert {"team", "kind", "parent", "position"} <= set(create["properties"])
    assert set(create["required"]) == {"team", "kind", "title"}
    assert not {"team", "kind", "parent", "position"} & set(patch["properties"])
    assert set(move["properties"]) == {"parent", "position", "version"} and move["required"] == ["parent"]
    assert {"score", "score_explanation", "children_count", "parent", "version"} <= set(
        components["Node"]["properties"]
    )
    tree_answer = schema["paths"]["/api/nodes/tree/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert tree_answer["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/TreeItem"}}
    assert components["NodeKindEnum"]["enum"] == Kind.values
    assert "dashboard" in components["KindEnum"]["enum"]  # the data products' kinds keep their name
    parameters = {p["name"] for p in schema["paths"]["/api/nodes/"]["get"]["parameters"]}
    assert {"team", "kind", "status", "lane", "owner", "parent", "page"} <= parameters
    assert [p["name"] for p in schema["paths"]["/api/nodes/tree/"]["get"]["parameters"]] == ["team"]
    assert "mode" in {p["name"] for p in schema["paths"]["/api/nodes/{id}/"]["delete"]["parameters"]}


def test_schema_of_tree_items_matches_what_the_tree_endpoint_returns(schema, api_for, viewer, tree):
    item = schema["components"]["schemas"]["TreeItem"]
    rows = api_for(viewer).get(tree_url("data")).json()

    assert set(item["properties"]) == set(item["required"]) == set(rows[0])


# Evidence: insights attached to nodes


def insights_url(node: Node) -> str:
    return reverse("api:node-insights", args=[node.pk])


def unlink_url(node: Node, insight_id: int) -> str:
    return reverse("api:node-insight-unlink", args=[node.pk, insight_id])


@pytest.fixture
def quotes(team, other_team, people):
    from interviews import services as discovery

    editor = people["editor"]
    persona = discovery.persona_create(team=team, by=editor, name="Analyst Aiko")
    interview = discovery.interview_create(
        team=team, by=editor, held_on="2026-05-04", interviewee_name="Raj", persona=persona
    )
    return {
        "said": discovery.insight_create(team=team, by=editor, interview=interview, quote="Can't find it."),
        "typed": discovery.insight_create(team=team, by=editor, quote="Ticket: which table?"),
        "theirs": discovery.insight_create(team=other_team, by=people["outsider"], quote="Their secret."),
    }


def evidence_state() -> dict[str, Any]:
    return rows_and_history(Evidence)


def test_attaching_an_insight_answers_the_node_with_its_evidence(api_for, editor, tree, quotes):
    client = api_for(editor)

    created = send(client, "post", insights_url(tree["A"]), {"insight": quotes["said"].pk})
    again = send(client, "post", insights_url(tree["A"]), {"insight": quotes["said"].pk})

    assert (created.status_code, again.status_code) == (201, 200)
    body = again.json()
    assert body["insights"] == [quotes["said"].pk]
    assert body["evidence"] == {
        "insights": 1,
        "interviewees": 1,
        "personas": 1,
        "last_heard": "2026-05-04",
        "assumption": False,
    }
    assert Evidence.objects.count() == 1


def test_a_node_shows_its_evidence_and_an_opportunity_without_any_is_an_assumption(api_for, viewer, tree):
    body = api_for(viewer).get(detail(tree["B"])).json()
    assert body["insights"] == []
    assert body["evidence"] == {"insights": 0, "interviewees": 0, "personas": 0, "last_heard": None, "assumption": True}
    assert api_for(viewer).get(detail(tree["S"])).json()["evidence"]["assumption"] is False


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "insight", "This field is required."),
        ({"insight": "x"}, "insight", "A valid integer is required."),
        ({"insight": 999999}, "insight", "There is no insight 999999 among your teams."),
        ("theirs", "insight", "There is no insight"),
    ],
)
def test_bad_insights_are_400_with_the_reason_and_change_nothing(api_for, editor, tree, quotes, body, field, message):
    if body == "theirs":
        body = {"insight": quotes["theirs"].pk}
    before = evidence_state()
    response = send(api_for(editor), "post", insights_url(tree["A"]), body)
    assert response.status_code == 400
    assert response.json()[field][0].startswith(message)
    assert evidence_state() == before


def test_an_insight_of_another_of_your_teams_is_400(api_for, editor, other_team, tree, quotes):
    MembershipFactory(team=other_team, user=editor, role=Role.EDITOR)  # sees both teams: still no mixing
    response = send(api_for(editor), "post", insights_url(tree["A"]), {"insight": quotes["theirs"].pk})
    assert response.status_code == 400
    assert response.json() == {"insight": ["That insight belongs to another team: attach insights of this team only."]}
    assert not Evidence.objects.exists()


def test_an_outcome_takes_no_evidence(api_for, editor, tree, quotes):
    response = send(api_for(editor), "post", insights_url(tree["outcome"]), {"insight": quotes["said"].pk})
    assert response.status_code == 400
    assert response.json() == {"node": ["Evidence backs opportunities and solutions, not outcomes."]}


def test_unlinking_is_204_and_idempotent_and_bad_ids_are_400(api_for, editor, tree, quotes):
    client = api_for(editor)
    send(client, "post", insights_url(tree["A"]), {"insight": quotes["said"].pk})

    assert send(client, "delete", unlink_url(tree["A"], quotes["said"].pk)).status_code == 204
    assert send(client, "delete", unlink_url(tree["A"], quotes["said"].pk)).status_code == 204
    assert not Evidence.objects.exists()
    unknown = send(client, "delete", unlink_url(tree["A"], 999999))
    assert unknown.status_code == 400 and unknown.json() == {
        "insight": ["There is no insight 999999 among your teams."]
    }
    assert send(client, "delete", unlink_url(tree["A"], quotes["theirs"].pk)).status_code == 400


def test_viewers_cannot_link_and_outsiders_cannot_see_the_node(api_for, viewer, outsider, tree, quotes):
    before = evidence_state()
    assert send(api_for(viewer), "post", insights_url(tree["A"]), {"insight": quotes["said"].pk}).status_code == 403
    assert send(api_for(outsider), "post", insights_url(tree["A"]), {"insight": quotes["said"].pk}).status_code == 404
    assert send(api_for(viewer), "delete", unlink_url(tree["A"], quotes["said"].pk)).status_code == 403
    assert evidence_state() == before


def test_the_insight_api_lists_the_nodes_it_is_evidence_for(api_for, editor, viewer, tree, quotes):
    client = api_for(editor)
    for key in ("B", "A"):
        send(client, "post", insights_url(tree[key]), {"insight": quotes["said"].pk})
    body = api_for(viewer).get(reverse("api:insight-detail", args=[quotes["said"].pk])).json()
    assert body["nodes"] == sorted([tree["A"].pk, tree["B"].pk])


def test_the_list_counts_evidence_in_a_fixed_number_of_queries(
    api_for, team_admin, editor, tree, quotes, django_assert_num_queries
):
    from interviews import services as discovery

    for i in range(6):
        insight = discovery.insight_create(team=tree["A"].team, by=editor, quote=f"Quote {i}")
        services.evidence_attach(node=tree["A" if i % 2 else "B"], insight=insight, by=editor)
    client = api_for(team_admin)
    with django_assert_num_queries(3):  # count, nodes with evidence counts, their insights' ids
        response = client.get(f"{LIST}?team=data")
    by_title = {row["title"]: row for row in response.json()["results"]}
    assert by_title["Dashboards are slow"]["evidence"]["insights"] == 3
    assert len(by_title["Analysts wait for data"]["insights"]) == 3


def test_schema_documents_the_evidence(schema):
    components = schema["components"]["schemas"]
    assert {"insights", "evidence"} <= set(components["Node"]["properties"])
    assert set(components["Evidence"]["properties"]) == {
        "insights",
        "interviewees",
        "personas",
        "last_heard",
        "assumption",
    }
    assert components["EvidenceAttachRequest"]["required"] == ["insight"]
    assert components["Insight"]["properties"]["nodes"]["items"] == {"type": "integer"}
