"""The tree pages: who may see and do what, htmx fragments, filters, scoring, import and export, query counts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from interviews import services as discovery_services
from interviews.models import Insight
from opportunities import services
from opportunities.models import Evidence, Kind, Node, OpportunityStatus, SolutionStatus
from portfolio.models import Role, Team
from tests.html import Node as Element
from tests.html import assert_no_active_content, error_next_to, form_values, main_of, parse, post_form
from tests.opportunities.factories import add, small_tree, wide_tree
from tests.opportunities.roadmap_factories import metric_with_points
from tests.portfolio.factories import DataProductFactory, GoalFactory, MembershipFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, team: Team, *args: object, query: str = "") -> str:
    return reverse(f"opportunities:{name}", args=[team.slug, *args]) + query


@dataclass
class World:
    team: Team
    nodes: dict[str, Node]  # small_tree: outcome ─ A ─ A1 ─ S ─ E; outcome ─ B; O2
    theirs: Node  # an outcome of another team

    def __getitem__(self, key: str) -> Node:
        return self.nodes[key]


@pytest.fixture
def world(team, other_team, people) -> World:
    nodes = small_tree(team, people["editor"])
    theirs = add(other_team, people["outsider"], Kind.OUTCOME, "Their outcome")
    return World(team=team, nodes=nodes, theirs=theirs)


def node_data(kind: str, **changes: object) -> dict:
    """What the node form posts for a node of `kind` (its first status, off the roadmap)."""
    first = {
        Kind.OUTCOME: "active",
        Kind.OPPORTUNITY: OpportunityStatus.IDENTIFIED,
        Kind.SOLUTION: SolutionStatus.IDEA,
        Kind.EXPERIMENT: "planned",
    }[kind]
    return {"kind": kind, "title": "New node", "description": "", "status": first, "lane": "none"} | changes


def export_file(data: object, name: str = "tree.json") -> SimpleUploadedFile:
    content = data if isinstance(data, bytes) else json.dumps(data).encode()
    return SimpleUploadedFile(name, content, content_type="application/json")


ONE_OUTCOME = {
    "format": "sextant-tree",
    "version": 1,
    "outcomes": [
        {
            "kind": "outcome",
            "title": "Imported outcome",
            "children": [{"kind": "opportunity", "title": "Imported opportunity", "children": []}],
        }
    ],
}


# Every page, fragment and write of the tree.

READ_PAGES: dict[str, Callable[[World], str]] = {
    "tree": lambda w: url("tree", w.team),
    "outline": lambda w: url("outline", w.team),
    "outline filtered": lambda w: url("outline", w.team, query="?text=orders&kind=opportunity&lane=none"),
    "prioritise": lambda w: url("prioritise", w.team),
    **{
        f"prioritise by {sort}": (lambda w, sort=sort: url("prioritise", w.team, query=f"?sort={sort}"))
        for sort in ("score", "status", "owner", "title", "effort")
    },
    **{
        f"prioritise {kind}s": (lambda w, kind=kind: url("prioritise", w.team, query=f"?kind={kind}"))
        for kind in ("opportunity", "solution")
    },
    "node panel": lambda w: url("node", w.team, w["A"].pk),
    "node panel (htmx)": lambda w: url("node", w.team, w["A"].pk),
    "branch (tree)": lambda w: url("branch", w.team, w["A"].pk),
    "branch (outline)": lambda w: url("branch", w.team, w["A"].pk, query="?view=outline"),
    "export.json": lambda w: url("export_json", w.team),
    "export.csv": lambda w: url("export_csv", w.team),
}
EDIT_PAGES: dict[str, Callable[[World], str]] = {
    "new outcome form": lambda w: url("node_new", w.team),
    "new solution form": lambda w: url("node_new", w.team, query=f"?parent={w['A1'].pk}&kind=solution"),
    "edit form": lambda w: url("node_edit", w.team, w["A"].pk),
    "delete form": lambda w: url("node_delete", w.team, w["A"].pk),
    "import form": lambda w: url("import", w.team),
}
PAGES = READ_PAGES | EDIT_PAGES
HTMX_PAGES = {"node panel (htmx)"}


@dataclass
class Write:
    request: Callable[[World], tuple[str, dict]]
    done: Callable[[World], bool]  # whether the write took effect


def _reload(node: Node) -> Node:
    return Node.objects.get(pk=node.pk)


WRITES: dict[str, Write] = {
    "add node": Write(
        lambda w: (url("node_new", w.team), node_data(Kind.OPPORTUNITY, title="Exports fail", parent=w["B"].pk)),
        lambda w: Node.objects.get(title="Exports fail").parent_id == w["B"].pk,
    ),
    "edit node": Write(
        lambda w: (
            url("node_edit", w.team, w["A"].pk),
            node_data(Kind.OPPORTUNITY, title="Renamed", lane="now", version=w["A"].version),
        ),
        lambda w: (_reload(w["A"]).title, _reload(w["A"]).lane) == ("Renamed", "now"),
    ),
    "change status": Write(
        lambda w: (url("node_status", w.team, w["A"].pk), {"status": "exploring", "version": w["A"].version}),
        lambda w: _reload(w["A"]).status == OpportunityStatus.EXPLORING,
    ),
    "move node": Write(
        lambda w: (url("node_move", w.team, w["A1"].pk), {"parent": w["B"].pk, "version": w["A1"].version}),
        lambda w: _reload(w["A1"]).parent_id == w["B"].pk,
    ),
    "delete subtree": Write(
        lambda w: (url("node_delete", w.team, w["A"].pk), {"mode": "subtree"}),
        lambda w: not Node.objects.filter(pk__in=[w["A"].pk, w["A1"].pk, w["S"].pk, w["E"].pk]).exists(),
    ),
    "delete lifting children": Write(
        lambda w: (url("node_delete", w.team, w["A"].pk), {"mode": "lift"}),
        lambda w: not Node.objects.filter(pk=w["A"].pk).exists() and _reload(w["A1"]).parent_id == w["outcome"].pk,
    ),
    "import": Write(
        lambda w: (url("import", w.team), {"file": export_file(ONE_OUTCOME)}),
        lambda w: Node.objects.get(title="Imported opportunity").parent.title == "Imported outcome",
    ),
}

EVERY_REQUEST = [("GET", name) for name in PAGES] + [("POST", name) for name in WRITES]


def send(client: Client, method: str, name: str, world: World):
    if method == "GET":
        return client.get(PAGES[name](world), **(HTMX if name in HTMX_PAGES else {}))
    path, data = WRITES[name].request(world)
    return client.post(path, data)


def db_state() -> dict[str, list]:
    """Every node of every team and every history record, to tell whether a request changed anything."""
    return {
        "nodes": list(Node.objects.order_by("pk").values()),
        "history": list(Node.history.order_by("history_id").values_list("history_id", flat=True)),
    }


def content(response) -> Element:
    """The <main> of a full page, or the whole of a fragment."""
    page = parse(response)
    return page.find("main") or page


def tree_of(team: Team) -> list[tuple[int, str, str]]:
    return [(n.depth, n.kind, n.title) for n in Node.objects.filter(team=team).order_by("path")]


# Who may see and do what


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
@pytest.mark.parametrize("page", READ_PAGES)
def test_every_member_reads_every_page(world, people, client_for, role, page):
    response = client_for(people[role]).get(READ_PAGES[page](world), **(HTMX if page in HTMX_PAGES else {}))
    assert response.status_code == 200


@pytest.mark.parametrize("page", EDIT_PAGES)
def test_viewer_gets_403_on_form_pages(world, viewer, client_for, page):
    assert client_for(viewer).get(EDIT_PAGES[page](world)).status_code == 403


@pytest.mark.parametrize("role", ["editor", "admin"])
@pytest.mark.parametrize("page", EDIT_PAGES)
def test_editors_and_admins_open_form_pages(world, people, client_for, role, page):
    response = client_for(people[role]).get(EDIT_PAGES[page](world))
    assert response.status_code == 200
    assert post_form(main_of(response)) is not None


@pytest.mark.parametrize("write", WRITES)
def test_viewer_gets_403_on_every_write_and_the_tree_is_unchanged(world, viewer, client_for, write):
    before = db_state()
    assert send(client_for(viewer), "POST", write, world).status_code == 403
    assert db_state() == before


@pytest.mark.parametrize("write", WRITES)
def test_viewer_gets_403_over_htmx_too(world, viewer, client_for, write):
    before = db_state()
    path, data = WRITES[write].request(world)
    assert client_for(viewer).post(path, data, **HTMX).status_code == 403
    assert db_state() == before


@pytest.mark.parametrize("role", ["editor", "admin"])
@pytest.mark.parametrize("write", WRITES)
def test_editors_and_admins_write(world, people, client_for, role, write):
    response = send(client_for(people[role]), "POST", write, world)
    assert response.status_code == 302
    assert response["Location"].startswith("/t/data/tree/")
    assert WRITES[write].done(world)


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
    assert response["Location"].startswith("/login/?next=/t/data/tree/")
    assert db_state() == before


@pytest.mark.parametrize(
    ("method", "name"),
    [("GET", "node panel"), ("GET", "branch (tree)"), ("GET", "edit form"), ("GET", "delete form")]
    + [("POST", name) for name in ("edit node", "change status", "move node", "delete subtree")],
)
def test_another_teams_node_is_404_through_your_own_team(world, team_admin, client_for, method, name):
    """Their outcome's id in our team's URLs: as if it did not exist."""
    theirs = World(team=world.team, nodes={key: world.theirs for key in world.nodes}, theirs=world.theirs)
    before = db_state()
    assert send(client_for(team_admin), method, name, theirs).status_code == 404
    assert db_state() == before


def test_adding_under_another_teams_node_is_404(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(url("node_new", world.team), node_data(Kind.OPPORTUNITY, parent=world.theirs.pk))
    assert response.status_code == 404
    assert db_state() == before


EDIT_URLS = ("/new/", "/edit/", "/status/", "/move/", "/delete/", "/import/")


def edit_controls(page: Element) -> list[str]:
    found = []
    for node in page.iter():
        target = node.get("href") or node.get("hx-get") or node.get("hx-post") or node.get("action")
        if any(part in target for part in EDIT_URLS):
            found.append(f"<{node.tag}> to {target}")
        if node.tag == "form" and node.get("method").lower() == "post":
            found.append(f"<form method=post action={node.get('action')}>")
        if node.get("draggable") == "true":
            found.append(f"draggable <{node.tag} id={node.get('id')}>")
    return found


@pytest.mark.parametrize("page", ["tree", "outline", "prioritise", "node panel", "node panel (htmx)"])
def test_viewer_sees_no_edit_controls_and_editor_does(world, viewer, editor, client_for, page):
    headers = HTMX if page in HTMX_PAGES else {}
    assert edit_controls(content(client_for(viewer).get(READ_PAGES[page](world), **headers))) == []
    assert edit_controls(content(client_for(editor).get(READ_PAGES[page](world), **headers)))


# Everyday edits over htmx: the server answers the tree as it now has it


def fragment(response) -> Element:
    page = parse(response)
    assert page.find("html") is None, "an htmx answer is a fragment, not a page"
    return page


def canvas_of(response) -> Element:
    canvas = fragment(response).find("section", id="tree-canvas")
    assert canvas is not None
    return canvas


def cards_under(canvas: Element, parent: Node | None) -> list[str]:
    """The titles of the cards shown directly under `parent` (None: the outcomes at the top)."""
    holder = canvas.find("ul", cls="tree") if parent is None else canvas.find("ul", id=f"children-{parent.pk}")
    if holder is None:
        return []
    items = [child for child in holder.children if isinstance(child, Element) and child.tag == "li"]
    return [item.find(cls="node-title").text for item in items]


def alert_in(canvas: Element) -> str:
    alert = canvas.find(cls="alert")
    return alert.text if alert is not None else ""


def test_adding_over_htmx_answers_the_canvas_and_the_new_nodes_panel(world, editor, client_for):
    response = client_for(editor).post(
        url("node_new", world.team),
        node_data(Kind.SOLUTION, title="Freshness badge", parent=world["A1"].pk),
        **HTMX,
    )

    assert response.status_code == 200
    new = Node.objects.get(title="Freshness badge")
    assert (new.parent_id, new.kind, new.status) == (world["A1"].pk, Kind.SOLUTION, SolutionStatus.IDEA)
    canvas = canvas_of(response)
    assert "hx-swap-oob" not in canvas.attrs
    assert alert_in(canvas) == "Added “Freshness badge”."
    # A1 sits deeper than the tree opens by itself: the branch down to the new card is opened.
    assert cards_under(canvas, world["A1"]) == ["Certify the orders table", "Freshness badge"]
    panel = fragment(response).find("aside", id="panel")
    assert panel.get("hx-swap-oob") == "true"
    assert panel.find("h2").text == "Freshness badge"


def test_the_tree_page_opens_outcomes_and_their_opportunities_only(world, viewer, client_for):
    canvas = main_of(client_for(viewer).get(url("tree", world.team))).find("section", id="tree-canvas")
    assert cards_under(canvas, None) == ["More self-serve answers", "Fewer broken pipelines"]
    assert cards_under(canvas, world["outcome"]) == ["Analysts wait for data", "Dashboards are slow"]
    closed = canvas.find("ul", id=f"children-{world['A'].pk}")
    assert closed.get("data-lazy") == "1" and "hidden" in closed.attrs and closed.children == []
    assert canvas.find(id=f"node-{world['A1'].pk}") is None


def test_branch_fragment_holds_the_children_of_a_closed_branch(world, viewer, client_for):
    response = client_for(viewer).get(url("branch", world.team, world["A"].pk))
    assert response.status_code == 200
    page = fragment(response)
    holder = page.find("ul", id=f"children-{world['A'].pk}")
    assert holder is not None and "hidden" not in holder.attrs
    assert [a.text for a in page.find_all("a", cls="node-title")] == ["Nobody trusts the orders table"]
    assert page.find("ul", id=f"children-{world['A1'].pk}").get("data-lazy") == "1"


def test_outline_branch_fragment_holds_outline_rows(world, viewer, client_for):
    response = client_for(viewer).get(url("branch", world.team, world["A"].pk, query="?view=outline"))
    page = fragment(response)
    assert page.find(cls="node-card") is None
    assert page.find("ul", id=f"children-{world['A'].pk}").get("role") == "group"
    assert [a.text for a in page.find_all("a", cls="outline-title")] == [
        "Nobody trusts the orders table",
        "Certify the orders table",
        "Ask five analysts",
    ]


def test_moving_over_htmx_answers_the_canvas_with_the_node_under_its_new_parent(world, editor, client_for):
    a1 = world["A1"]
    response = client_for(editor).post(
        url("node_move", world.team, a1.pk), {"parent": world["B"].pk, "version": a1.version}, **HTMX
    )

    assert response.status_code == 200
    canvas = canvas_of(response)
    assert alert_in(canvas) == "Moved “Nobody trusts the orders table” under “Dashboards are slow”."
    assert cards_under(canvas, world["B"]) == ["Nobody trusts the orders table"]
    assert cards_under(canvas, world["A"]) == []
    panel = fragment(response).find("aside", id="panel")
    assert panel.get("hx-swap-oob") == "true"
    assert panel.find("h2").text == "Nobody trusts the orders table"
    assert _reload(a1).parent_id == world["B"].pk
    assert tree_of(world.team)[:3] == [
        (1, "outcome", "More self-serve answers"),
        (2, "opportunity", "Analysts wait for data"),
        (2, "opportunity", "Dashboards are slow"),
    ]


def test_moving_to_a_position_among_the_new_siblings(world, editor, client_for):
    b = world["B"]
    response = client_for(editor).post(
        url("node_move", world.team, b.pk), {"parent": world["outcome"].pk, "position": 0, "version": b.version}, **HTMX
    )
    assert response.status_code == 200
    assert cards_under(canvas_of(response), world["outcome"]) == ["Dashboards are slow", "Analysts wait for data"]


def test_deleting_a_subtree_over_htmx_answers_the_canvas_and_empties_the_panel(world, editor, client_for):
    response = client_for(editor).post(url("node_delete", world.team, world["A"].pk), {"mode": "subtree"}, **HTMX)

    assert response.status_code == 200
    canvas = canvas_of(response)
    assert alert_in(canvas) == "Deleted “Analysts wait for data” and 3 nodes under it."
    assert cards_under(canvas, world["outcome"]) == ["Dashboards are slow"]
    assert canvas.find(id=f"node-{world['A'].pk}") is None
    panel = fragment(response).find("aside", id="panel")
    assert panel.get("hx-swap-oob") == "true" and panel.classes == ["panel", "card", "panel-empty"]
    assert panel.find("h2") is None
    assert tree_of(world.team) == [
        (1, "outcome", "More self-serve answers"),
        (2, "opportunity", "Dashboards are slow"),
        (1, "outcome", "Fewer broken pipelines"),
    ]


def test_deleting_and_lifting_the_children_over_htmx(world, editor, client_for):
    response = client_for(editor).post(url("node_delete", world.team, world["A"].pk), {"mode": "lift"}, **HTMX)

    assert response.status_code == 200
    canvas = canvas_of(response)
    assert alert_in(canvas) == "Deleted “Analysts wait for data”."
    assert cards_under(canvas, world["outcome"]) == ["Nobody trusts the orders table", "Dashboards are slow"]
    assert _reload(world["A1"]).parent_id == world["outcome"].pk


def test_deleting_a_leaf_asks_nothing_about_children(world, editor, client_for):
    form = post_form(main_of(client_for(editor).get(url("node_delete", world.team, world["E"].pk))))
    assert form.find("input", type="radio") is None
    assert form_values(form)["mode"] == "subtree"
    assert client_for(editor).post(form.get("action"), form_values(form)).status_code == 302
    assert not Node.objects.filter(pk=world["E"].pk).exists()


def test_delete_form_of_a_node_with_children_offers_subtree_or_lift(world, editor, client_for):
    response = client_for(editor).get(url("node_delete", world.team, world["A"].pk), **HTMX)
    page = fragment(response)
    form = page.find("form")
    assert form.get("hx-post") == url("node_delete", world.team, world["A"].pk)
    assert form.get("hx-target") == "#tree-canvas"
    assert "It has 3 nodes under it." in form.text
    assert [radio.get("value") for radio in form.find_all("input", type="radio")] == ["subtree", "lift"]


def test_refused_lift_is_422_in_the_panel_and_deletes_nothing(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(url("node_delete", world.team, world["S"].pk), {"mode": "lift"}, **HTMX)

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#panel-body"
    assert "'Ask five analysts' (experiment) cannot sit under" in error_next_to(fragment(response), "mode")
    assert db_state() == before


@pytest.mark.parametrize(
    ("node", "parent", "reason"),
    [
        ("S", "O2", "Solutions cannot sit under outcomes: put them under an opportunity."),
        ("A", "A1", "A node cannot move under itself or one of its own descendants."),
        ("A", "theirs", "The new parent is not a node of this tree."),
        ("A", "unknown", "The new parent is not a node of this tree."),
        ("B", "", "Opportunities cannot sit at the top of the tree"),
    ],
    ids=["breaks the rules", "own descendant", "another team's node", "unknown parent", "opportunity to the top"],
)
def test_refused_move_is_422_with_the_reason_in_the_canvas_and_the_tree_unchanged(
    world, editor, client_for, node, parent, reason
):
    moving = world[node]
    special = {"theirs": world.theirs.pk, "unknown": 987654, "": ""}
    parent_id = special[parent] if parent in special else world[parent].pk
    before = db_state()

    response = client_for(editor).post(
        url("node_move", world.team, moving.pk), {"parent": parent_id, "version": moving.version}, **HTMX
    )

    assert response.status_code == 422
    canvas = canvas_of(response)
    assert reason in alert_in(canvas)
    assert canvas.find(cls="alert").get("role") == "alert"
    assert cards_under(canvas, world["outcome"]) == ["Analysts wait for data", "Dashboards are slow"]
    assert fragment(response).find("aside", id="panel") is None
    assert db_state() == before


def test_move_that_is_not_understood_is_422(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(
        url("node_move", world.team, world["A"].pk), {"parent": "the top", "version": world["A"].version}, **HTMX
    )
    assert response.status_code == 422
    assert "The move was not understood" in alert_in(canvas_of(response))
    assert db_state() == before


def test_stale_move_is_409_with_the_current_tree(world, editor, team_admin, client_for):
    a1 = world["A1"]
    services.node_update(node=a1, expected_version=a1.version, by=team_admin, title="Orders table is wrong")
    before = db_state()

    response = client_for(editor).post(
        url("node_move", world.team, a1.pk), {"parent": world["B"].pk, "version": a1.version}, **HTMX
    )

    assert response.status_code == 409
    assert "was changed by someone else meanwhile" in alert_in(canvas_of(response))
    assert db_state() == before


def test_refused_move_without_htmx_goes_back_to_the_node_and_says_why(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(
        url("node_move", world.team, world["S"].pk),
        {"parent": world["O2"].pk, "version": world["S"].version},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url("node", world.team, world["S"].pk)
    assert "Solutions cannot sit under outcomes" in main_of(response).find(cls="alert-error").text
    assert db_state() == before


@pytest.mark.parametrize("parent", ["unknown", "stale"])
def test_other_refused_moves_without_htmx_also_go_back_to_the_node(world, editor, team_admin, client_for, parent):
    """A plain form post (no JavaScript) gets a page, never a bare fragment."""
    a1 = world["A1"]
    data = {"parent": world["B"].pk, "version": a1.version}
    if parent == "unknown":
        data["parent"] = 987654
    else:
        services.node_update(node=a1, expected_version=a1.version, by=team_admin, title="Orders table is wrong")
    before = db_state()

    response = client_for(editor).post(url("node_move", world.team, a1.pk), data, follow=True)

    assert response.redirect_chain[-1][0] == url("node", world.team, a1.pk)
    assert main_of(response).find(cls="alert-error") is not None
    assert db_state() == before


def test_status_change_over_htmx_answers_the_panel_and_the_canvas(world, editor, client_for):
    a = world["A"]
    response = client_for(editor).post(
        url("node_status", world.team, a.pk), {"status": "exploring", "version": a.version}, **HTMX
    )

    assert response.status_code == 200
    page = fragment(response)
    panel = page.find("aside", id="panel")
    assert "hx-swap-oob" not in panel.attrs
    assert panel.find(cls="badge").text == "Exploring"
    assert form_values(panel.find("form", cls="status-form"))["version"] == str(a.version + 1)
    canvas = page.find("section", id="tree-canvas")
    assert canvas.get("hx-swap-oob") == "true"
    assert canvas.find(id=f"node-{a.pk}").find(cls="badge").text == "Exploring"


def selected(select: Element) -> str:
    return next(o.get("value") for o in select.find_all("option") if "selected" in o.attrs)


def test_stale_status_change_is_409_with_the_current_status(world, editor, team_admin, client_for):
    a = world["A"]
    services.node_update(node=a, expected_version=a.version, by=team_admin, status=OpportunityStatus.PARKED)

    response = client_for(editor).post(
        url("node_status", world.team, a.pk), {"status": "prioritised", "version": a.version}, **HTMX
    )

    assert response.status_code == 409
    page = fragment(response)
    assert page.find("section", id="tree-canvas") is None
    panel = page.find("aside", id="panel")
    assert "Someone changed this node meanwhile" in panel.find(cls="alert-error").text
    assert selected(panel.find("select", name="status")) == "parked"
    assert panel.find(cls="badge").text == "Parked"
    assert form_values(panel.find("form", cls="status-form"))["version"] == str(a.version + 1)
    assert _reload(a).status == OpportunityStatus.PARKED


@pytest.mark.parametrize("status", ["shipped", "", "x" * 13])
def test_status_of_another_kind_is_422_and_changes_nothing(world, editor, client_for, status):
    before = db_state()
    response = client_for(editor).post(
        url("node_status", world.team, world["A"].pk), {"status": status, "version": world["A"].version}, **HTMX
    )
    assert response.status_code == 422
    assert fragment(response).find("aside", id="panel").find(cls="alert-error").text
    assert db_state() == before


# Forms: errors next to the field, in the panel


FORMS = {
    "new": lambda w: (url("node_new", w.team), node_data(Kind.OPPORTUNITY, parent=w["outcome"].pk)),
    "edit": lambda w: (
        url("node_edit", w.team, w["A"].pk),
        node_data(Kind.OPPORTUNITY, title=w["A"].title, version=w["A"].version),
    ),
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"title": "x" * 201}, "title", "Ensure this value has at most 200 characters (it has 201)."),
        ({"confidence": 101}, "confidence", "Ensure this value is less than or equal to 100."),
        ({"effort": 0}, "effort", "Ensure this value is greater than or equal to 0.1."),
        ({"status": "shipped"}, "status", "Select a valid choice."),
    ],
    ids=["empty title", "201-char title", "confidence 101", "effort 0", "status of another kind"],
)
def test_form_with_errors_is_422_retargeted_to_the_panel_and_saves_nothing(
    world, editor, client_for, form, changes, field, message
):
    path, data = FORMS[form](world)
    before = db_state()

    response = client_for(editor).post(path, data | changes, **HTMX)

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#panel-body"
    assert response["HX-Reswap"] == "innerHTML"
    page = fragment(response)
    assert message in error_next_to(page, field)
    assert form_values(page.find("form"))["title"] == (data | changes)["title"]
    assert db_state() == before


@pytest.mark.parametrize("form", FORMS)
def test_form_with_errors_without_htmx_is_a_whole_page(world, editor, client_for, form):
    path, data = FORMS[form](world)
    before = db_state()
    response = client_for(editor).post(path, data | {"confidence": 101})
    assert response.status_code == 422
    assert "less than or equal to 100" in error_next_to(main_of(response), "confidence")
    assert db_state() == before


def test_form_fragment_shows_only_the_fields_of_its_kind(world, editor, client_for):
    client = client_for(editor)

    def fields(query: str) -> set[str]:
        page = fragment(client.get(url("node_new", world.team, query=query), **HTMX))
        assert page.find("form").get("hx-target") == "#tree-canvas"
        return set(form_values(page.find("form")))

    common = {
        "csrfmiddlewaretoken",
        "version",
        "kind",
        "title",
        "description",
        "status",
        "owner",
        "lane",
        "data_product",
    }
    assert fields("") == common | {"goal", "metric"}
    rice = {"reach", "impact", "confidence", "effort"}
    assert fields(f"?parent={world['outcome'].pk}&kind=opportunity") == common | {"parent", "target_date"} | rice
    assert fields(f"?parent={world['A1'].pk}&kind=solution") == common | {"parent", "target_date", "shipped_on"} | rice
    experiment = {"assumption", "method", "success_criterion", "result"}
    assert fields(f"?parent={world['S'].pk}&kind=experiment") == common | {"parent"} | experiment


def test_edit_form_round_trips_and_a_stale_save_is_409_keeping_what_was_typed(world, editor, team_admin, client_for):
    client = client_for(editor)
    edit_url = url("node_edit", world.team, world["A"].pk)
    mine = form_values(fragment(client.get(edit_url, **HTMX)).find("form"))
    assert mine["title"] == "Analysts wait for data" and mine["version"] == str(world["A"].version)
    services.node_update(node=world["A"], expected_version=world["A"].version, by=team_admin, lane="later")
    mine["title"] = "Mine, typed meanwhile"

    response = client.post(edit_url, mine, **HTMX)

    assert response.status_code == 409
    assert response["HX-Retarget"] == "#panel-body"
    page = fragment(response)
    alert = page.find(cls="alert-error").text
    assert "Someone else changed lane" in alert and "lane: later" in alert
    shown = form_values(page.find("form"))
    assert shown["title"] == "Mine, typed meanwhile"
    assert _reload(world["A"]).title == "Analysts wait for data"

    resaved = client.post(edit_url, shown, **HTMX)
    assert resaved.status_code == 200
    assert _reload(world["A"]).title == "Mine, typed meanwhile"
    assert cards_under(canvas_of(resaved), world["outcome"])[0] == "Mine, typed meanwhile"


# The outline and its filter


def outline_rows(response) -> list[tuple[str, bool]]:
    """(title, marked as a match) for every row of the outline, in order."""
    section = parse(response).find("section", id="outline")
    return [(a.text, a.find("mark") is not None) for a in section.find_all("a", cls="outline-title")]


def test_unfiltered_outline_shows_the_whole_tree_in_order_with_nothing_marked(world, viewer, client_for):
    rows = outline_rows(client_for(viewer).get(url("outline", world.team)))
    assert rows == [(title, False) for _, _, title in tree_of(world.team)]


@pytest.mark.parametrize(
    ("query", "shown", "matches"),
    [
        (
            "text=ORDERS",
            [
                "More self-serve answers",
                "Analysts wait for data",
                "Nobody trusts the orders table",
                "Certify the orders table",
            ],
            ["Nobody trusts the orders table", "Certify the orders table"],
        ),
        (
            "kind=solution",
            [
                "More self-serve answers",
                "Analysts wait for data",
                "Nobody trusts the orders table",
                "Certify the orders table",
            ],
            ["Certify the orders table"],
        ),
        ("status=exploring", ["More self-serve answers", "Dashboards are slow"], ["Dashboards are slow"]),
        ("owner=vic", ["Fewer broken pipelines"], ["Fewer broken pipelines"]),
        (
            "lane=now",
            [
                "More self-serve answers",
                "Analysts wait for data",
                "Nobody trusts the orders table",
                "Certify the orders table",
                "Ask five analysts",
                "Dashboards are slow",
            ],
            ["Ask five analysts", "Dashboards are slow"],
        ),
        ("kind=opportunity&lane=now", ["More self-serve answers", "Dashboards are slow"], ["Dashboards are slow"]),
    ],
    ids=["text", "kind", "status", "owner", "lane", "kind and lane"],
)
def test_outline_filter_keeps_the_matches_and_their_ancestors(world, viewer, client_for, query, shown, matches):
    b, e, o2 = world["B"], world["E"], world["O2"]
    services.node_update(node=b, expected_version=b.version, by=viewer, status="exploring", lane="now")
    services.node_update(node=e, expected_version=e.version, by=viewer, lane="now")
    services.node_update(node=o2, expected_version=o2.version, by=viewer, owner=viewer)

    response = client_for(viewer).get(url("outline", world.team, query=f"?{query}"))

    assert response.status_code == 200
    rows = outline_rows(response)
    assert [title for title, _ in rows] == shown
    assert [title for title, marked in rows if marked] == matches
    status = main_of(response).find("section", id="outline").find(role="status").text
    assert status.startswith(f"{len(matches)} match")


def test_outline_filter_with_no_match_says_nothing_matches(world, viewer, client_for):
    main = main_of(client_for(viewer).get(url("outline", world.team, query="?text=kubernetes")))
    outline = main.find("section", id="outline")
    assert outline.find("ul") is None
    assert outline.find(cls="empty").find("h3").text == "Nothing matches"
    assert "0 matches of 7 nodes" in outline.text


def test_outline_filter_form_keeps_what_was_asked(world, viewer, client_for):
    main = main_of(client_for(viewer).get(url("outline", world.team, query="?text=orders&kind=solution&owner=pam")))
    values = form_values(main.find("form", role="search"))
    assert (values["text"], values["kind"], values["owner"], values["status"], values["lane"]) == (
        "orders",
        "solution",
        "pam",
        "",
        "",
    )


def test_outline_filter_over_htmx_answers_only_the_outline(world, viewer, client_for):
    response = client_for(viewer).get(url("outline", world.team, query="?text=slow"), HTTP_HX_TARGET="outline", **HTMX)
    page = fragment(response)
    assert page.find("form") is None
    assert outline_rows(response) == [("More self-serve answers", False), ("Dashboards are slow", True)]


def test_empty_tree_says_what_to_do_next(team, editor, viewer, client_for):
    for who in (editor, viewer):
        for name in ("tree", "outline"):
            empty = main_of(client_for(who).get(url(name, team))).find(cls="empty")
            assert empty.find("h3").text == "No outcomes yet"
            first = empty.find("a", href=url("node_new", team))
            assert (first is not None) == (who == editor)


# The node panel and prioritisation


def score(node: Node, by, reach, impact, confidence, effort, **more) -> Node:
    return services.node_update(
        node=node,
        expected_version=_reload(node).version,
        by=by,
        reach=reach,
        impact=impact,
        confidence=confidence,
        effort=effort,
        **more,
    )


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_node_panel_explains_the_score_with_the_nodes_numbers(world, editor, viewer, client_for, htmx):
    score(world["A"], editor, 500, "2", 80, "2.5")

    response = client_for(viewer).get(url("node", world.team, world["A"].pk), **(HTMX if htmx else {}))

    panel = (fragment(response) if htmx else main_of(response)).find("aside", id="panel")
    section = panel.find("section", **{"aria-label": "Score"})
    assert section.find(cls="score-big").text == "320"
    assert section.find("p", cls="explanation").text == (
        "reach 500 × impact 2 × confidence 80% ÷ effort 2.5 person-weeks = 320"
    )
    inputs = {div.find("dt").text: div.find("dd").text for div in section.find_all("div")}
    assert inputs == {"Reach": "500", "Impact": "2 · high", "Confidence": "80%", "Effort": "2.5 pw"}
    assert [a.text for a in panel.find("nav", cls="crumbs").find_all("a")] == ["More self-serve answers"]
    assert panel.find("h2").text == "Analysts wait for data"


def test_node_panel_says_which_score_inputs_are_missing(world, editor, viewer, client_for):
    services.node_update(node=world["B"], expected_version=world["B"].version, by=editor, reach=40, confidence=0)
    panel = main_of(client_for(viewer).get(url("node", world.team, world["B"].pk))).find("aside", id="panel")
    assert panel.find(cls="score-big") is None
    assert panel.find("p", cls="explanation").text == "No score yet: give impact, effort."


def test_node_panel_shows_children_history_and_move_targets(world, editor, team_admin, client_for):
    services.node_update(node=world["A"], expected_version=world["A"].version, by=team_admin, title="Analysts wait")
    panel = main_of(client_for(editor).get(url("node", world.team, world["A"].pk))).find("aside", id="panel")

    under = panel.find("section", **{"aria-label": "Links"})
    assert [a.text for a in under.find_all("a")] == ["Nobody trusts the orders table"]
    history = [li.text for li in panel.find("ul", cls="history").children if isinstance(li, Element)]
    assert history[0].startswith("ada changed") and "title: Analysts wait for data → Analysts wait" in history[0]
    assert history[-1].startswith("pam created")
    move = panel.find("form", cls="move-form").find("select", name="parent")
    options = {o.text: o.get("value") for o in move.find_all("option") if o.get("value")}
    # An opportunity may go under an outcome or another opportunity, never under itself or its descendants.
    assert options == {
        "Outcome · More self-serve answers": str(world["outcome"].pk),
        "Opportunity · Dashboards are slow": str(world["B"].pk),
        "Outcome · Fewer broken pipelines": str(world["O2"].pk),
    }
    assert [o.get("value") for o in move.find_all("option") if "selected" in o.attrs] == [str(world["outcome"].pk)]


def test_experiment_panel_shows_the_assumption_test(world, editor, viewer, client_for):
    e = world["E"]
    services.node_update(
        node=e, expected_version=e.version, by=editor, assumption="Analysts trust a badge", method="Interviews",
        success_criterion="4 of 5 say yes", result="5 of 5",
    )  # fmt: skip
    panel = main_of(client_for(viewer).get(url("node", world.team, e.pk))).find("aside", id="panel")
    test = panel.find("dl", cls="experiment")
    assert [dd.text for dd in test.find_all("dd")] == [
        "Analysts trust a badge",
        "Interviews",
        "4 of 5 say yes",
        "5 of 5",
    ]
    assert panel.find("section", **{"aria-label": "Score"}) is None


@pytest.fixture
def scored(world, people) -> World:
    """A1 300 (ada, exploring), A 100 (vic, prioritised), S 40 (pam, building), B unscored (nobody, parked)."""
    pam = people["editor"]
    score(world["A1"], pam, 200, "3", 100, 2, owner=people["admin"], status="exploring")
    score(world["A"], pam, 1000, "1", 50, 5, owner=people["viewer"], status="prioritised")
    score(world["S"], pam, 100, "0.5", 80, 1, owner=pam, status="building")
    services.node_update(node=world["B"], expected_version=world["B"].version, by=pam, status="parked")
    return world


def table_rows(main: Element) -> list[tuple[str, str]]:
    return [(tr.find("a").text, tr.find_all("td")[-1].text) for tr in main.find("tbody").find_all("tr")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "",
            [
                ("Nobody trusts the orders table", "300"),
                ("Analysts wait for data", "100"),
                ("Certify the orders table", "40"),
                ("Dashboards are slow", "—"),
            ],
        ),
        (
            "?sort=owner",
            [
                ("Nobody trusts the orders table", "300"),
                ("Certify the orders table", "40"),
                ("Analysts wait for data", "100"),
                ("Dashboards are slow", "—"),
            ],
        ),
        (
            "?sort=status",
            [
                ("Certify the orders table", "40"),
                ("Nobody trusts the orders table", "300"),
                ("Dashboards are slow", "—"),
                ("Analysts wait for data", "100"),
            ],
        ),
        ("?kind=solution", [("Certify the orders table", "40")]),
        (
            "?sort=title&kind=opportunity",
            [
                ("Analysts wait for data", "100"),
                ("Dashboards are slow", "—"),
                ("Nobody trusts the orders table", "300"),
            ],
        ),
        (
            "?sort=nonsense",
            [
                ("Nobody trusts the orders table", "300"),
                ("Analysts wait for data", "100"),
                ("Certify the orders table", "40"),
                ("Dashboards are slow", "—"),
            ],
        ),
    ],
    ids=["score by default", "owner", "status", "solutions", "opportunities by title", "unknown sort"],
)
def test_prioritise_sorts_and_filters(scored, viewer, client_for, query, expected):
    main = main_of(client_for(viewer).get(url("prioritise", scored.team, query=query)))
    assert table_rows(main) == expected


NO_EVIDENCE = ["0", "0", "0", "never"]  # insights, interviewees, personas, last heard


def test_prioritise_shows_a_dash_for_missing_inputs(scored, viewer, client_for):
    main = main_of(client_for(viewer).get(url("prioritise", scored.team)))
    unscored = main.find("tbody").find_all("tr")[-1]
    assert [td.text for td in unscored.find_all("td")][1:] == ["Parked", "—", "—", "—", "—", "—", *NO_EVIDENCE, "—"]
    certify = main.find("tbody").find_all("tr")[2]
    assert [td.text for td in certify.find_all("td")][1:] == [
        "Building",
        "pam",
        "100",
        "0.5",
        "80%",
        "1",
        *NO_EVIDENCE,
        "40",
    ]


def test_value_effort_matrix_has_one_linked_dot_per_scored_node(scored, viewer, client_for):
    main = main_of(client_for(viewer).get(url("prioritise", scored.team)))

    matrix = main.find("svg", cls="matrix")
    dots = matrix.find_all("circle", cls="dot")
    assert len(dots) == 3
    links = {dot.parent.get("href"): dot.find("title").text for dot in dots}
    assert links == {
        url(
            "node", scored.team, scored["A1"].pk
        ): "Nobody trusts the orders table · score 300 · effort 2 pw · Quick wins",
        url("node", scored.team, scored["A"].pk): "Analysts wait for data · score 100 · effort 5 pw · Big bets",
        url("node", scored.team, scored["S"].pk): "Certify the orders table · score 40 · effort 1 pw · Fill-ins",
    }
    assert all(dot.parent.tag == "a" for dot in dots)


def test_value_effort_matrix_follows_the_kind_filter(scored, viewer, client_for):
    main = main_of(client_for(viewer).get(url("prioritise", scored.team, query="?kind=opportunity")))
    hrefs = {a.get("href") for a in main.find("svg", cls="matrix").find_all("a")}
    assert hrefs == {url("node", scored.team, scored["A1"].pk), url("node", scored.team, scored["A"].pk)}


def test_prioritise_without_scores_says_how_to_get_some(team, editor, viewer, client_for):
    add(team, editor, Kind.OUTCOME, "Lonely outcome")
    main = main_of(client_for(viewer).get(url("prioritise", team)))
    assert main.find("svg") is None
    assert "No scored opportunities or solutions yet" in main.text
    assert main.find(cls="empty").find("h3").text == "Nothing to prioritise yet"


# Export and import through the pages


@pytest.fixture
def rich(world, people, other_team) -> World:
    """small_tree with every exported field filled in somewhere, and a second team that can take it in."""
    pam = people["editor"]
    goal = GoalFactory(team=world.team, title="Self-serve by Q4")
    product = DataProductFactory(team=world.team, name="Orders mart")
    GoalFactory(team=other_team, title="Self-serve by Q4")
    DataProductFactory(team=other_team, name="Orders mart")
    MembershipFactory(user=pam, team=other_team, role=Role.EDITOR)
    o, a, s, e = world["outcome"], world["A"], world["S"], world["E"]
    services.node_update(node=o, expected_version=o.version, by=pam, goal=goal, description="Why it *matters*.")
    score(a, pam, 1200, "0.25", 65, "1.5", owner=pam, lane="next", description="Line one\n\n- a list")
    score(s, pam, 10, "3", 100, 4, status="shipped", data_product=product, lane="done")
    services.node_update(
        node=e, expected_version=e.version, by=pam, status="failed", assumption="Analysts want a badge",
        method="Five interviews", success_criterion="Four say yes", result="Only two did.",
    )  # fmt: skip
    return world


def test_export_json_is_a_download_of_the_nested_tree(rich, viewer, client_for):
    response = client_for(viewer).get(url("export_json", rich.team))

    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="data-tree.json"'
    data = json.loads(response.content)
    assert (data["format"], data["version"], data["team"]) == ("sextant-tree", 1, "data")
    [first, second] = data["outcomes"]
    assert (first["title"], first["goal"], second["title"]) == (
        "More self-serve answers",
        "Self-serve by Q4",
        "Fewer broken pipelines",
    )
    a = first["children"][0]
    assert (a["owner"], a["lane"], a["reach"], a["impact"], a["confidence"], a["effort"]) == (
        "pam",
        "next",
        1200,
        "0.25",
        65,
        "1.5",
    )
    s = a["children"][0]["children"][0]
    assert (s["status"], s["data_product"], s["shipped_on"] is not None) == ("shipped", "Orders mart", True)
    assert s["children"][0]["result"] == "Only two did."


def test_export_imported_into_another_team_gives_the_same_export(rich, editor, other_team, client_for):
    client = client_for(editor)
    exported = client.get(url("export_json", rich.team)).content

    response = client.post(url("import", other_team), {"file": export_file(exported, "data-tree.json")}, follow=True)

    assert response.redirect_chain[-1] == (url("tree", other_team), 302)
    assert main_of(response).find(cls="alert-success").text == "Imported 7 nodes."
    before, again = json.loads(exported), json.loads(client.get(url("export_json", other_team)).content)
    assert again["team"] == "growth" and again["outcomes"][0]["title"] == "Their outcome"
    assert again | {"team": "data", "outcomes": again["outcomes"][1:]} == before
    assert tree_of(other_team) == [(1, "outcome", "Their outcome"), *tree_of(rich.team)]
    assert Node.objects.get(team=other_team, title="Analysts wait for data").history.first().history_user == editor


def test_export_csv_has_a_row_per_node_with_its_parent(rich, viewer, client_for):
    response = client_for(viewer).get(url("export_csv", rich.team))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="data-tree.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    nodes = Node.objects.filter(team=rich.team).order_by("path")
    assert [row["id"] for row in rows] == [str(n.pk) for n in nodes]
    assert [row["parent_id"] for row in rows] == [str(n.parent_id or "") for n in nodes]
    assert [(row["depth"], row["kind"], row["title"]) for row in rows] == [
        (str(d), kind, title) for d, kind, title in tree_of(rich.team)
    ]
    a = next(row for row in rows if row["title"] == "Analysts wait for data")
    assert (a["owner"], a["effort"], a["score"], a["description"]) == ("pam", "1.5", "130.0", "Line one\n\n- a list")
    assert next(row for row in rows if row["kind"] == "experiment")["result"] == "Only two did."


MISPLACED = {
    "outcomes": [
        {"kind": "solution", "title": "Stray solution", "children": []},
        {
            "kind": "outcome",
            "title": "Fine outcome",
            "children": [
                {"kind": "experiment", "title": "Too high", "children": []},
                {"kind": "opportunity", "title": "Overconfident", "confidence": 150, "owner": "nobody"},
            ],
        },
    ]
}


@pytest.mark.parametrize(
    "content",
    [b'{"outcomes": [', b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"id,parent_id,depth\n1,,1\n"],
    ids=["broken JSON", "an image", "a CSV"],
)
def test_file_that_is_not_json_is_422_next_to_the_field_and_creates_nothing(world, editor, client_for, content):
    before = db_state()
    response = client_for(editor).post(url("import", world.team), {"file": export_file(content)})
    assert response.status_code == 422
    assert "This is not a JSON file" in error_next_to(main_of(response), "file")
    assert db_state() == before


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        ({"nodes": []}, ["This is not a Sextant tree export: it has no 'outcomes' list."]),
        ([ONE_OUTCOME], ["This is not a Sextant tree export: it has no 'outcomes' list."]),
        ({"outcomes": {"title": "Not a list"}}, ["outcomes: expected a list of nodes."]),
        (
            MISPLACED,
            [
                "outcomes[0] 'Stray solution': Solutions cannot sit at the top of the tree: put them under an opportunity.",
                "outcomes[1] 'Fine outcome' › children[0] 'Too high': "
                "Experiments cannot sit under outcomes: put them under a solution.",
                "outcomes[1] 'Fine outcome' › children[1] 'Overconfident': no member 'nobody' in this team.",
                "outcomes[1] 'Fine outcome' › children[1] 'Overconfident': confidence: "
                "Ensure this value is less than or equal to 100.",
            ],
        ),
    ],
    ids=["JSON but not a tree", "a list", "outcomes not a list", "misplaced nodes"],
)
def test_bad_tree_is_422_listing_every_problem_and_creates_nothing(world, editor, client_for, data, problems):
    before = db_state()

    response = client_for(editor).post(url("import", world.team), {"file": export_file(data)})

    assert response.status_code == 422
    alert = main_of(response).find(cls="alert-error")
    plural = "s" if len(problems) > 1 else ""
    assert alert.find("strong").text == f"Nothing was imported: {len(problems)} problem{plural} in the file."
    assert [li.text for li in alert.find_all("li")] == problems
    assert db_state() == before


def test_owner_that_is_not_a_name_is_a_listed_problem(world, editor, client_for):
    data = {"outcomes": [{"kind": "outcome", "title": "Owned by a list", "owner": ["pam"]}]}
    before = db_state()
    response = client_for(editor).post(url("import", world.team), {"file": export_file(data)})
    assert response.status_code == 422
    assert db_state() == before


def test_import_without_a_file_says_so(world, editor, client_for):
    client = client_for(editor)
    form = post_form(main_of(client.get(url("import", world.team))))
    assert form.get("enctype") == "multipart/form-data" and form.find("input", type="file", name="file")
    response = client.post(url("import", world.team), form_values(form))
    assert response.status_code == 422
    assert "This field is required." in error_next_to(main_of(response), "file")


# Markdown people write is shown without anything active

HOSTILE_MARKDOWN = "\n\n".join(
    [
        "Intro <script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[a link](javascript:alert(1))",
        '<a href="#" onclick="x()">click me</a>',
        "[Spaced](  JaVaScRiPt:alert(1))",
        "**Still bold**",
    ]
)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_node_description_is_rendered_without_scripts_handlers_or_script_urls(world, viewer, client_for, htmx):
    Node.objects.filter(pk=world["A"].pk).update(description=HOSTILE_MARKDOWN)

    response = client_for(viewer).get(url("node", world.team, world["A"].pk), **(HTMX if htmx else {}))

    panel = (fragment(response) if htmx else main_of(response)).find("aside", id="panel")
    prose = panel.find(cls="prose")
    assert "click me" in prose.text and "Intro" in prose.text
    assert prose.find("strong").text == "Still bold"
    assert_no_active_content(panel)
    assert panel.find("script") is None and panel.find("img") is None


def test_hostile_description_added_over_htmx_is_shown_safely_in_the_panel(world, editor, client_for):
    response = client_for(editor).post(
        url("node_new", world.team),
        node_data(Kind.OPPORTUNITY, parent=world["outcome"].pk, title="Hostile", description=HOSTILE_MARKDOWN),
        **HTMX,
    )
    assert response.status_code == 200
    page = fragment(response)
    assert "click me" in page.find("aside", id="panel").find(cls="prose").text
    assert_no_active_content(page)
    assert page.find("script") is None and page.find("img") is None


HOSTILE_TITLE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.mark.parametrize(
    "page", ["tree", "outline", "outline filtered", "prioritise", "node panel", "node panel (htmx)", "branch (tree)"]
)
def test_hostile_titles_are_shown_as_text_everywhere(world, editor, client_for, page):
    for key in ("A", "A1"):
        Node.objects.filter(pk=world[key].pk).update(title=HOSTILE_TITLE + key)
    score(world["A1"], editor, 10, "1", 50, 1)  # so it is on the value/effort matrix too
    path = READ_PAGES[page](world).replace("text=orders", "text=onerror")

    response = client_for(editor).get(path, **(HTMX if page in HTMX_PAGES else {}))

    assert response.status_code == 200
    shown = content(response)
    assert HOSTILE_TITLE in shown.text
    assert_no_active_content(shown)
    assert shown.find("img") is None


def test_nothing_can_be_added_under_an_experiment(world, editor, client_for):
    before = db_state()
    new_url = url("node_new", world.team, query=f"?parent={world['E'].pk}&kind=experiment")
    assert client_for(editor).get(new_url).status_code == 404
    response = client_for(editor).post(url("node_new", world.team), node_data(Kind.EXPERIMENT, parent=world["E"].pk))
    assert response.status_code == 404
    assert db_state() == before


FULL_PAGES = [name for name in PAGES if name not in HTMX_PAGES and not name.startswith(("branch", "export"))]


@pytest.mark.parametrize("page", FULL_PAGES)
def test_every_page_has_a_nonce_script_policy_and_no_inline_code(world, team_admin, client_for, page):
    response = client_for(team_admin).get(PAGES[page](world))
    policy = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";") if d.strip())
    sources = policy["script-src"].split()
    assert any(s.startswith("'nonce-") for s in sources) and "'unsafe-inline'" not in sources
    assert_no_active_content(parse(response))


# Query counts: each page costs the same whatever the size of the tree

SHARED_QUERIES = ["session", "user", "membership + team"]
NAV = "nav: your teams"
NODE = "the node + owner, goal, data product, parent, team"
EVIDENCE = "its evidence + insights, interviews, personas, who attached them"
EVIDENCE_HISTORY = "its evidence's history + users, insights"
SIZED_PAGES: dict[str, tuple[Callable[[Team, dict[str, Node]], str], list[str]]] = {
    "tree": (lambda t, n: url("tree", t), ["the team's nodes + owners", NAV]),
    "outline": (lambda t, n: url("outline", t), ["members for the owner filter", "the team's nodes + owners", NAV]),
    "outline filtered": (
        lambda t, n: url("outline", t, query="?text=solution&kind=solution&owner=pam"),
        ["members for the owner filter", "the team's nodes + owners", NAV],
    ),
    "branch (tree)": (lambda t, n: url("branch", t, n["outcome"].pk), ["the branch's path", "its subtree + owners"]),
    "branch (outline)": (
        lambda t, n: url("branch", t, n["outcome"].pk, query="?view=outline"),
        ["the branch's path", "its subtree + owners"],
    ),
    "node panel": (
        lambda t, n: url("node", t, n["opportunity"].pk),
        [
            NODE,
            "its ancestors",
            "its children + owners",
            EVIDENCE,
            EVIDENCE_HISTORY,
            "its history + users",
            "where it may move",
            NAV,
        ],
    ),
    "node panel (htmx)": (
        lambda t, n: url("node", t, n["opportunity"].pk),
        [
            NODE,
            "its ancestors",
            "its children + owners",
            EVIDENCE,
            EVIDENCE_HISTORY,
            "its history + users",
            "where it may move",
        ],
    ),
    # An outcome has no ancestors and may only sit at the top: neither needs a query.
    "outcome panel": (
        lambda t, n: url("node", t, n["outcome"].pk),
        [NODE, "its children + owners", "its history + users", NAV],
    ),
    "prioritise": (lambda t, n: url("prioritise", t), ["opportunities and solutions + owners, evidence", NAV]),
}


@pytest.mark.parametrize("size", [10, 500], ids=lambda size: f"{size}-nodes")
@pytest.mark.parametrize("page", SIZED_PAGES)
def test_page_costs_a_fixed_number_of_queries(team, people, client_for, django_assert_num_queries, page, size):
    wide_tree(team, people["editor"], size)
    Node.objects.filter(team=team).update(owner=people["editor"])  # a missing join would cost a query per row
    assert Node.objects.filter(team=team).count() == size
    nodes = {
        "outcome": Node.objects.get(team=team, depth=1),
        "opportunity": Node.objects.get(team=team, title="Opportunity 1"),  # 3 solutions under it at either size
    }
    path, names = SIZED_PAGES[page]
    client = client_for(people["admin"])  # the admin sees every control a page can show
    expected = SHARED_QUERIES + names

    with django_assert_num_queries(len(expected)):  # the queries named in SHARED_QUERIES and SIZED_PAGES
        response = client.get(path(team, nodes), **(HTMX if "htmx" in page else {}))

    assert response.status_code == 200
    if page.startswith("branch"):
        assert f"children-{nodes['outcome'].pk}" in response.content.decode()
    if page == "outline filtered":
        assert outline_rows(response)[-1] == (Node.objects.filter(team=team, kind="solution").last().title, True)


def test_outline_orders_siblings_by_score_when_asked(team, editor, client_for):
    outcome = add(team, editor, Kind.OUTCOME, "Outcome")
    add(team, editor, Kind.OPPORTUNITY, "Low", outcome, reach=10, impact="1", confidence=50, effort=1)
    add(team, editor, Kind.OPPORTUNITY, "High", outcome, reach=100, impact="2", confidence=80, effort=1)
    client = client_for(editor)
    arranged = client.get(url("outline", team)).content.decode()
    by_score = client.get(url("outline", team) + "?order=score").content.decode()
    assert arranged.index(">Low<") < arranged.index(">High<")
    assert by_score.index(">High<") < by_score.index(">Low<")
    assert 'name="order"' in by_score


# Evidence: the node panel's insights, search and attach, and the insight's side


@dataclass
class Discovery:
    said: Insight  # from an interview with Raj (persona Aiko)
    typed: Insight  # typed in, persona Aiko
    theirs: Insight  # another team's


@pytest.fixture
def discovery(world, people, other_team) -> Discovery:
    editor = people["editor"]
    persona = discovery_services.persona_create(team=world.team, by=editor, name="Analyst Aiko", colour="teal")
    interview = discovery_services.interview_create(
        team=world.team, by=editor, held_on=date(2026, 5, 4), interviewee_name="Raj Patel", persona=persona
    )
    said = discovery_services.insight_create(
        team=world.team, by=editor, interview=interview, quote="I can't find the orders table.", kind="pain"
    )
    typed = discovery_services.insight_create(
        team=world.team, by=editor, quote="Ticket: which orders table is right?", persona=persona, kind="need"
    )
    theirs = discovery_services.insight_create(team=other_team, by=people["outsider"], quote="Their secret quote.")
    return Discovery(said, typed, theirs)


def evidence_section(response, node: Node) -> Element:
    section = parse(response).find("section", id=f"evidence-{node.pk}")
    assert section is not None, "the panel has an evidence section"
    return section


def stats(section: Element) -> dict[str, str]:
    return {dd.get("data-stat"): dd.text for dd in section.find_all("dd")}


def test_the_panel_lists_the_evidence_with_who_said_it_and_when(world, discovery, editor, viewer, client_for):
    services.evidence_attach(node=world["A"], insight=discovery.said, by=editor)
    services.evidence_attach(node=world["A"], insight=discovery.typed, by=editor)

    response = client_for(viewer).get(url("node", world.team, world["A"].pk))

    section = evidence_section(response, world["A"])
    assert stats(section) == {
        "insights": "2",
        "interviewees": "1",
        "personas": "1",
        "last-heard": section.find("time").text,
    }
    notes = section.find_all("li", cls="insight-note")
    assert [n.find("a", cls="insight-note-quote").text for n in notes] == [
        "Ticket: which orders table is right?",
        "I can't find the orders table.",
    ]
    said = notes[1]
    assert (
        "Raj Patel" in said.text and "4 May 2026" in said.text and "Analyst Aiko" in said.text and "Pain" in said.text
    )
    assert said.find("a", href=f"/t/data/discovery/insights/{discovery.said.pk}/") is not None
    assert said.find("a", href=f"/t/data/discovery/interviews/{discovery.said.interview_id}/") is not None
    # A viewer reads the evidence and gets no control over it.
    assert section.find("form") is None and "Assumption" not in section.text


def test_an_opportunity_without_evidence_says_so_and_editors_get_a_search_box(world, editor, client_for):
    response = client_for(editor).get(url("node", world.team, world["B"].pk), **HTMX)

    section = evidence_section(response, world["B"])
    assert section.find("span", cls="badge-assumption").text == "Assumption"
    assert "No insight supports it yet" in section.text
    assert section.find("input", name="q") is not None


def test_outcomes_and_experiments_have_no_evidence_section(world, editor, client_for):
    for key in ("outcome", "E"):
        page = parse(client_for(editor).get(url("node", world.team, world[key].pk)))
        assert page.find("section", id=f"evidence-{world[key].pk}") is None


def test_searching_finds_the_teams_insights_that_are_not_attached_yet(world, discovery, editor, client_for):
    services.evidence_attach(node=world["A"], insight=discovery.said, by=editor)
    target = {"HTTP_HX_TARGET": f"evidence-results-{world['A'].pk}"}

    response = client_for(editor).get(
        url("node_evidence", world.team, world["A"].pk, query="?q=orders"), **HTMX, **target
    )

    results = parse(response).find("div", id=f"evidence-results-{world['A'].pk}")
    quotes = [n.find("span", cls="insight-note-quote").text for n in results.find_all("li")]
    assert quotes == ["Ticket: which orders table is right?"]  # attached ones and the other team's are not offered
    assert form_values(results.find("form")) == {
        "insight": str(discovery.typed.pk),
        "q": "orders",
        "csrfmiddlewaretoken": form_values(results.find("form"))["csrfmiddlewaretoken"],
    }


def test_a_search_with_no_match_says_what_to_do(world, discovery, editor, client_for):
    target = {"HTTP_HX_TARGET": f"evidence-results-{world['A'].pk}"}
    response = client_for(editor).get(
        url("node_evidence", world.team, world["A"].pk, query="?q=zebra"), **HTMX, **target
    )
    assert "No insight matches “zebra”" in parse(response).text


def test_viewers_get_no_search_results(world, discovery, viewer, client_for):
    target = {"HTTP_HX_TARGET": f"evidence-results-{world['A'].pk}"}
    response = client_for(viewer).get(
        url("node_evidence", world.team, world["A"].pk, query="?q=orders"), **HTMX, **target
    )
    assert response.status_code == 200 and parse(response).find("li") is None


def test_attaching_answers_the_section_with_the_counts_updated_and_history_records_it(
    world, discovery, editor, client_for
):
    client = client_for(editor)
    response = client.post(
        url("node_evidence_attach", world.team, world["B"].pk), {"insight": discovery.said.pk, "q": "orders"}, **HTMX
    )

    assert response.status_code == 200
    section = evidence_section(response, world["B"])
    assert stats(section)["insights"] == "1" and section.find("span", cls="badge-assumption") is None
    assert "Attached the insight as evidence." in section.text
    assert list(world["B"].insights.all()) == [discovery.said]
    panel = parse(client.get(url("node", world.team, world["B"].pk)))
    assert "pam attached evidence: “I can't find the orders table.”" in " ".join(
        panel.find("ul", cls="history").text.split()
    )

    again = client.post(url("node_evidence_attach", world.team, world["B"].pk), {"insight": discovery.said.pk}, **HTMX)
    assert "That insight was already attached." in again.content.decode()
    assert world["B"].insights.count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Pick an insight to attach."),
        ({"insight": "abc"}, "Enter a whole number."),
        ({"insight": "999999"}, "This team has no such insight"),
        ("theirs", "This team has no such insight"),
    ],
)
def test_bad_input_to_attach_is_422_with_the_reason_and_links_nothing(
    world, discovery, editor, client_for, data, message
):
    if data == "theirs":
        data = {"insight": discovery.theirs.pk}
    response = client_for(editor).post(url("node_evidence_attach", world.team, world["A"].pk), data, **HTMX)
    assert response.status_code == 422
    assert message in evidence_section(response, world["A"]).find("div", cls="alert").text
    assert not Evidence.objects.exists()


def test_attaching_to_an_outcome_is_refused_with_the_rule(world, discovery, editor, client_for):
    response = client_for(editor).post(
        url("node_evidence_attach", world.team, world["outcome"].pk), {"insight": discovery.said.pk}
    )
    assert response.status_code == 422
    assert "Evidence backs opportunities and solutions, not outcomes." in response.content.decode()
    assert not Evidence.objects.exists()


def test_attaching_without_javascript_redirects_to_the_node(world, discovery, editor, client_for):
    response = client_for(editor).post(
        url("node_evidence_attach", world.team, world["A"].pk), {"insight": discovery.said.pk}
    )
    assert response.status_code == 302 and response["Location"] == url("node", world.team, world["A"].pk)
    assert world["A"].insights.count() == 1


def test_unlinking_from_the_panel_answers_the_section_without_it(world, discovery, editor, client_for):
    services.evidence_attach(node=world["A"], insight=discovery.said, by=editor)
    response = client_for(editor).post(
        url("node_evidence_unlink", world.team, world["A"].pk, discovery.said.pk), **HTMX
    )
    section = evidence_section(response, world["A"])
    assert stats(section)["insights"] == "0" and section.find("span", cls="badge-assumption") is not None
    assert not Evidence.objects.exists()


def test_unlinking_from_the_insight_page_goes_back_there_but_never_off_site(world, discovery, editor, client_for):
    client = client_for(editor)
    services.evidence_attach(node=world["A"], insight=discovery.said, by=editor)
    back = reverse("interviews:insight", args=[world.team.slug, discovery.said.pk])
    unlink = url("node_evidence_unlink", world.team, world["A"].pk, discovery.said.pk)

    response = client.post(unlink, {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert not Evidence.objects.exists()

    response = client.post(unlink, {"next": "https://evil.example/"})
    assert response["Location"] == url("node", world.team, world["A"].pk)


def test_viewers_cannot_attach_or_unlink_and_outsiders_cannot_tell_the_node_exists(
    world, discovery, viewer, outsider, editor, client_for
):
    services.evidence_attach(node=world["A"], insight=discovery.said, by=editor)
    attach = url("node_evidence_attach", world.team, world["A"].pk)
    unlink = url("node_evidence_unlink", world.team, world["A"].pk, discovery.said.pk)
    assert client_for(viewer).post(attach, {"insight": discovery.typed.pk}).status_code == 403
    assert client_for(viewer).post(unlink).status_code == 403
    assert client_for(outsider).post(attach, {"insight": discovery.typed.pk}).status_code == 404
    assert client_for(outsider).get(url("node_evidence", world.team, world["A"].pk)).status_code == 404
    # An outsider naming their own insight on our node, or our insight on their node: still nothing.
    assert (
        client_for(outsider)
        .post(url("node_evidence_unlink", world.team, world["A"].pk, discovery.theirs.pk))
        .status_code
        == 404
    )
    assert list(Evidence.objects.values_list("insight_id", flat=True)) == [discovery.said.pk]


XSS_QUOTE = '<script>alert("quote")</script><img src=x onerror=alert(1)> "><svg onload=alert(2)>'


def test_quotes_are_escaped_in_the_evidence_list_and_the_search_results(world, people, editor, client_for):
    evil = discovery_services.insight_create(team=world.team, by=editor, quote=XSS_QUOTE)
    bait = discovery_services.insight_create(team=world.team, by=editor, quote="alert bait " + XSS_QUOTE)
    services.evidence_attach(node=world["A"], insight=evil, by=editor)
    client = client_for(editor)

    panel = client.get(url("node", world.team, world["A"].pk))
    results = client.get(url("node_evidence", world.team, world["A"].pk, query="?q=alert"), **HTMX)

    for response in (panel, results):
        body = response.content.decode()
        assert "<script>alert" not in body and "<img src=x" not in body and "<svg onload" not in body
        assert_no_active_content(parse(response))
    assert "&lt;script&gt;alert(&quot;quote&quot;)&lt;/script&gt;" in panel.content.decode()
    assert str(bait.pk) in results.content.decode()


def test_the_evidence_panel_costs_the_same_with_one_insight_or_many(
    world, people, editor, client_for, django_assert_num_queries
):
    def fill(node: Node, count: int) -> None:
        for i in range(count):
            persona = discovery_services.persona_create(team=world.team, by=editor, name=f"Persona {node.pk}-{i}")
            interview = discovery_services.interview_create(
                team=world.team, by=editor, held_on=date(2026, 4, 1 + i), interviewee_name=f"P{i}", persona=persona
            )
            insight = discovery_services.insight_create(team=world.team, by=editor, interview=interview, quote=f"Q{i}")
            services.evidence_attach(node=node, insight=insight, by=editor)
        services.evidence_attach(
            node=node, insight=discovery_services.insight_create(team=world.team, by=editor, quote="typed"), by=editor
        )

    fill(world["A"], 1)
    fill(world["B"], 12)
    services.evidence_unlink(node=world["B"], insight=world["B"].insights.first(), by=editor)
    client = client_for(editor)
    expected = SHARED_QUERIES + [
        NODE,
        "its ancestors",
        "its children + owners",
        EVIDENCE,
        EVIDENCE_HISTORY,
        "its history + users",
        "where it may move",
    ]
    counts = {}
    for key in ("A", "B"):
        with django_assert_num_queries(len(expected)):  # the queries named in `expected`
            response = client.get(url("node", world.team, world[key].pk), **HTMX)
        counts[key] = stats(evidence_section(response, world[key]))["insights"]
    assert counts == {"A": "2", "B": "12"}

    section_queries = SHARED_QUERIES + [NODE, EVIDENCE, "insights matching the search (not attached)"]
    for key in ("A", "B"):
        with django_assert_num_queries(len(section_queries)):
            client.get(url("node_evidence", world.team, world[key].pk, query="?q=Q"), **HTMX)


def test_prioritise_shows_the_evidence_and_flags_assumptions(world, discovery, editor, viewer, client_for):
    services.evidence_attach(node=world["A"], insight=discovery.said, by=editor)
    services.evidence_attach(node=world["A"], insight=discovery.typed, by=editor)

    page = main_of(client_for(viewer).get(url("prioritise", world.team, query="?sort=insights")))

    rows = page.find("table").find("tbody").find_all("tr")
    first = [td.text for td in rows[0].find_all("td")]
    assert first[0] == "Analysts wait for data" and first[-5:-1] == ["2", "1", "1", first[-2]]
    flagged = {r.find("a").text for r in rows if r.find("span", cls="badge-assumption")}
    assert flagged == {"Nobody trusts the orders table", "Dashboards are slow"}  # opportunities only, never solutions
    assert page.find("a", href="?sort=heard&kind=") is not None


def test_tree_and_outline_cards_flag_assumptions_and_count_insights(world, discovery, editor, viewer, client_for):
    services.evidence_attach(node=world["A"], insight=discovery.said, by=editor)
    for page in ("tree", "outline"):
        body = parse(client_for(viewer).get(url(page, world.team)))
        card_a = body.find(id=f"node-{world['A'].pk}") if page == "tree" else None
        text = body.text
        assert "Assumption" in text and "1 insight" in text
        if card_a is not None:
            assert "1 insight" in card_a.text and card_a.find("span", cls="badge-assumption") is None


@pytest.mark.parametrize("size", [1, 12])
def test_prioritise_costs_the_same_whatever_the_evidence(
    world, people, editor, client_for, django_assert_num_queries, size
):
    for i in range(size):
        insight = discovery_services.insight_create(team=world.team, by=editor, quote=f"Q{i}")
        services.evidence_attach(node=world["A" if i % 2 else "B"], insight=insight, by=editor)
    client = client_for(editor)
    with django_assert_num_queries(len(SHARED_QUERIES) + 2):  # opportunities and solutions + owners, evidence; nav
        response = client.get(url("prioritise", world.team, query="?sort=personas"))
    assert response.status_code == 200


# From an insight: attach it to an opportunity, or start a new one


def test_the_insight_page_attaches_it_to_an_opportunity(world, discovery, editor, client_for):
    client = client_for(editor)
    insight_url = reverse("interviews:insight", args=[world.team.slug, discovery.said.pk])
    form = parse(client.get(insight_url)).find("form", cls="insight-attach")
    options = [o.get("value") for o in form.find_all("option") if o.get("value")]
    assert str(world["A"].pk) in options and str(world["outcome"].pk) not in options

    response = client.post(form.get("action"), {"node": world["A"].pk})

    assert response.status_code == 302 and response["Location"] == insight_url
    page = parse(client.get(insight_url))
    supports = page.find("section", cls="insight-evidence")
    assert supports.find("a", href=url("node", world.team, world["A"].pk)).text == "Analysts wait for data"
    assert str(world["A"].pk) not in [
        o.get("value") for o in page.find("form", cls="insight-attach").find_all("option")
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose the opportunity this insight supports."),
        ("outcome", "Pick one of this team's opportunities"),
        ("theirs", "Pick one of this team's opportunities"),
    ],
)
def test_bad_input_to_attach_from_the_insight_is_422_next_to_the_field(
    world, discovery, editor, client_for, data, message
):
    if data == "outcome":
        data = {"node": world["outcome"].pk}
    elif data == "theirs":
        data = {"node": world.theirs.pk}
    response = client_for(editor).post(url("insight_attach", world.team, discovery.said.pk), data)
    assert response.status_code == 422
    assert message in error_next_to(main_of(response), "node")
    assert not Evidence.objects.exists()


def test_a_new_opportunity_from_an_insight_goes_under_the_chosen_parent_with_its_evidence(
    world, discovery, editor, client_for
):
    client = client_for(editor)
    page = main_of(client.get(url("opportunity_from_insight", world.team, discovery.said.pk)))
    form = page.find("form", action=url("opportunity_from_insight", world.team, discovery.said.pk))
    assert form_values(form)["title"] == "I can't find the orders table."
    parents = [o.get("value") for o in form.find("select").find_all("option") if o.get("value")]
    assert parents == [str(world[k].pk) for k in ("outcome", "A", "A1", "B")] + [str(world["O2"].pk)]

    response = client.post(
        form.get("action"), {**form_values(form), "parent": world["A"].pk, "title": "Analysts can't find tables"}
    )

    node = Node.objects.get(title="Analysts can't find tables")
    assert response.status_code == 302 and response["Location"] == url("node", world.team, node.pk)
    assert node.kind == Kind.OPPORTUNITY and node.parent_id == world["A"].pk
    assert list(node.insights.all()) == [discovery.said]


def test_a_new_opportunity_needs_a_parent_of_this_team_and_a_title(world, discovery, editor, client_for):
    response = client_for(editor).post(
        url("opportunity_from_insight", world.team, discovery.said.pk), {"parent": world.theirs.pk, "title": ""}
    )
    page = main_of(response)
    assert response.status_code == 422
    assert "Pick one of this team's outcomes or opportunities." in error_next_to(page, "parent")
    assert error_next_to(page, "title")
    assert Node.objects.filter(team=world.team).count() == 7 and not Evidence.objects.exists()


def test_another_teams_insight_cannot_be_linked_from_here(world, discovery, editor, client_for):
    assert client_for(editor).get(url("insight_attach", world.team, discovery.theirs.pk)).status_code == 404
    assert (
        client_for(editor)
        .post(url("opportunity_from_insight", world.team, discovery.theirs.pk), {"parent": world["A"].pk, "title": "x"})
        .status_code
        == 404
    )


# The impact of a shipped solution, in its panel

WEEKS_BEFORE = [10, 11, 10, 12, 11, 10, 11, 12, 10, 11, 11, 10]  # twelve weeks of the usual ±1
WEEKS_STEPPED = [*WEEKS_BEFORE, 15, 20, 21, 20, 22, 21]  # the ship week, four weeks ten higher, this week


def ship(world: World, editor, **metric_fields) -> Node:
    """Ship S five weeks ago (mid-week), its outcome measured by a weekly metric that stepped up since."""
    if metric_fields:
        metric = metric_with_points(
            world.team, "requests_answered_weekly", WEEKS_STEPPED, grain="week", **metric_fields
        )
        Node.objects.filter(pk=world["outcome"].pk).update(metric=metric)
    shipped_on = timezone.localdate() - timedelta(weeks=5) + timedelta(days=3)
    Node.objects.filter(pk=world["S"].pk).update(status=SolutionStatus.SHIPPED, shipped_on=shipped_on)
    return Node.objects.get(pk=world["S"].pk)


def test_a_shipped_solutions_panel_shows_before_after_and_the_size_of_the_change(world, editor, viewer, client_for):
    solution = ship(world, editor, name="Requests answered")

    panel = main_of(client_for(viewer).get(url("node", world.team, solution.pk))).find("aside", id="panel")

    section = panel.find("section", cls="impact-section")
    assert section.find("h3").text == "Impact"
    assert section.find(cls="badge").text == "Improved"
    stats = {dd.get("data-stat"): dd.text for dd in section.find_all("dd")}
    assert stats["before"] == "10"  # 10.5 (the four weeks before the ship week), with the metric's 0 decimals
    assert stats["after"] == "21" and stats["difference"] == "+10"  # 20.75 and +10.25
    assert float(stats["effect"].rstrip("×")) > 2
    assert section.find(cls="impact-message").text.endswith("its usual weekly variation: a clear improvement.")
    assert (
        section.find("a", cls="impact-metric")
        .get("href")
        .startswith(reverse("metrics:metric", args=[world.team.slug, "requests_answered_weekly"]))
    )


def test_a_shipped_solution_without_a_metric_says_how_to_get_a_readout(world, editor, viewer, client_for):
    solution = ship(world, editor, name="unused")
    Node.objects.filter(pk=world["outcome"].pk).update(metric=None)

    section = main_of(client_for(viewer).get(url("node", world.team, solution.pk))).find(
        "section", cls="impact-section"
    )

    assert "give the outcome it serves a metric" in section.text
    assert section.find(cls="impact") is None


def test_a_solution_not_shipped_has_no_impact_section(world, viewer, client_for):
    panel = main_of(client_for(viewer).get(url("node", world.team, world["S"].pk))).find("aside", id="panel")
    assert panel.find("section", cls="impact-section") is None


def test_the_impact_block_escapes_the_metric_name(world, editor, viewer, client_for):
    solution = ship(world, editor, name='<script>alert(1)</script><img src=x onerror="alert(2)">')

    page = parse(client_for(viewer).get(url("node", world.team, solution.pk)))

    assert_no_active_content(page)
    assert page.find("a", cls="impact-metric").text == '<script>alert(1)</script><img src=x onerror="alert(2)">'


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_the_impact_costs_two_queries_more_than_any_solutions_panel(world, editor, viewer, client_for, htmx):
    client = client_for(viewer)
    headers = HTMX if htmx else {}
    with CaptureQueriesContext(connection) as unshipped:
        client.get(url("node", world.team, world["S"].pk), **headers)
    solution = ship(world, editor, name="Requests answered")

    with CaptureQueriesContext(connection) as shipped:
        response = client.get(url("node", world.team, solution.pk), **headers)

    # the metric (its own, or its outcome's), and its snapshots around the ship date
    assert len(shipped) == len(unshipped) + 2
    assert 'class="impact ' in response.content.decode()
