"""The metrics pages: who may see and do what, forms, the SQL preview and refreshes on a real DuckDB
file, htmx polling, secrets that never show, safe Markdown, and query counts."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from metrics import services
from metrics.forms import SECRET_PLACEHOLDER
from metrics.models import Annotation, Metric, RefreshRun, RunStatus, Snapshot, Warehouse
from opportunities.models import Kind
from portfolio.models import Team
from tests.html import Node, assert_no_active_content, error_next_to, form_values, main_of, parse, post_form
from tests.metrics import factories
from tests.metrics.factories import (
    DAILY_ORDERS_SQL,
    MetricFactory,
    RefreshRunFactory,
    add_snapshots,
    duckdb_values,
    make_duckdb_file,
)
from tests.opportunities.factories import add

pytestmark = pytest.mark.django_db

# The real DuckDB warehouse the pages read from (fixtures shared with the other metrics tests).
duckdb_path = factories.duckdb_path
duckdb_warehouse = factories.duckdb_warehouse

HTMX = {"HTTP_HX_REQUEST": "true"}
SECRET = "hunter2-Sup3r-s3cret-token"  # what must never show


def url(name: str, team: Team, *args: object, query: str = "") -> str:
    return reverse(f"metrics:{name}", args=[team.slug, *args]) + query


def htmx_to(target: str) -> dict[str, str]:
    return {**HTMX, "HTTP_HX_TARGET": target}


@dataclass
class World:
    team: Team
    warehouse: Warehouse
    spare: Warehouse  # no metric uses it
    north_star: Metric
    child: Metric
    path: Path


@pytest.fixture
def world(team, people, duckdb_warehouse, duckdb_path) -> World:
    editor, admin = people["editor"], people["admin"]
    north_star = services.metric_create(
        team=team,
        by=editor,
        key="orders_daily_count",
        name="Daily orders",
        definition="Orders placed per day, **cancelled ones included**.",
        warehouse=duckdb_warehouse,
        sql=DAILY_ORDERS_SQL,
        owner=editor,
        is_north_star=True,
        target_value=140,
        warning_threshold=110,
        critical_threshold=100,
        tags=["sales", "board"],
    )
    child = services.metric_create(
        team=team,
        by=editor,
        key="orders_daily_max",
        name="Biggest day",
        definition="The most orders in a day.",
        warehouse=duckdb_warehouse,
        sql="SELECT max(orders) FROM daily_orders",
        parent=north_star,
        tags=["ops"],
    )
    services.refresh_sync(metric=north_star, trigger="test")
    services.annotation_add(
        metric=north_star, day=timezone.localdate() - timedelta(days=5), text="Checkout redesign shipped", by=editor
    )
    spare = services.warehouse_create(team=team, by=admin, name="Spare", url="sqlite:////tmp/nowhere.sqlite3")
    return World(team, duckdb_warehouse, spare, north_star, child, duckdb_path)


def metric_data(w: World, **changes: object) -> dict[str, object]:
    data = {
        "key": "orders_weekly_count",
        "name": "Weekly orders",
        "definition": "Orders per week.",
        "unit": "count",
        "currency": "EUR",
        "decimals": 0,
        "direction": "up",
        "grain": "week",
        "warehouse": w.warehouse.pk,
        "sql": "SELECT date_trunc('week', day) AS week, sum(orders) FROM daily_orders GROUP BY 1 ORDER BY 1",
        "schedule": "daily",
        "tags": "sales, weekly",
    }
    return data | changes


def edit_data(metric: Metric, **changes: object) -> dict[str, object]:
    data = {
        "key": metric.key,
        "name": metric.name,
        "definition": metric.definition,
        "unit": metric.unit,
        "currency": metric.currency,
        "decimals": metric.decimals,
        "direction": metric.direction,
        "grain": metric.grain,
        "warehouse": metric.warehouse_id,
        "sql": metric.sql,
        "schedule": metric.schedule,
        "tags": ", ".join(metric.tags),
        "version": metric.version,
    }
    return data | changes


READ_PAGES: dict[str, Callable[[World], str]] = {
    "catalogue": lambda w: url("catalogue", w.team),
    "catalogue filtered": lambda w: url("catalogue", w.team, query="?text=orders&tag=sales&certified=no"),
    "metric": lambda w: url("metric", w.team, w.north_star.key),
    "metric (all time)": lambda w: url("metric", w.team, w.north_star.key, query="?range=all"),
    "input metric": lambda w: url("metric", w.team, w.child.key),
    "runs": lambda w: url("metric_runs", w.team, w.north_star.key),
}
EDIT_PAGES = {
    "new metric": lambda w: url("metric_new", w.team),
    "metric edit": lambda w: url("metric_edit", w.team, w.north_star.key),
}
ADMIN_PAGES = {
    "warehouses": lambda w: url("warehouses", w.team),
    "new warehouse": lambda w: url("warehouse_new", w.team),
    "warehouse edit": lambda w: url("warehouse_edit", w.team, w.warehouse.pk),
    "warehouse delete": lambda w: url("warehouse_delete", w.team, w.spare.pk),
}
PAGES = READ_PAGES | EDIT_PAGES | ADMIN_PAGES

EDITOR_WRITES: dict[str, Callable[[World], tuple[str, dict]]] = {
    "add metric": lambda w: (url("metric_new", w.team), metric_data(w)),
    "edit metric": lambda w: (url("metric_edit", w.team, w.child.key), edit_data(w.child, name="Best day")),
    "refresh now": lambda w: (url("metric_refresh", w.team, w.child.key), {}),
    "add annotation": lambda w: (
        url("annotation_new", w.team, w.north_star.key),
        {"date": timezone.localdate().isoformat(), "text": "Price change"},
    ),
}
EDITOR_READ_ONLY_POSTS = {
    "preview": lambda w: (url("metric_preview", w.team), {"sql": DAILY_ORDERS_SQL, "warehouse": w.warehouse.pk}),
}
ADMIN_WRITES = {
    "certify": lambda w: (url("metric_certify", w.team, w.north_star.key), {"certified": "1"}),
    "add warehouse": lambda w: (
        url("warehouse_new", w.team),
        {"name": "Lake", "url": "duckdb:////data/lake.duckdb", "statement_timeout_s": 30, "row_cap": 5000},
    ),
    "edit warehouse": lambda w: (
        url("warehouse_edit", w.team, w.warehouse.pk),
        {
            "name": "Analytics (prod)",
            "url": w.warehouse.url,
            "statement_timeout_s": 30,
            "row_cap": 5000,
            "version": w.warehouse.version,
        },
    ),
    "delete warehouse": lambda w: (url("warehouse_delete", w.team, w.spare.pk), {}),
}
ADMIN_READ_ONLY_POSTS = {
    "test connection": lambda w: (url("warehouse_test", w.team, w.warehouse.pk), {}),
}
POSTS = EDITOR_WRITES | EDITOR_READ_ONLY_POSTS | ADMIN_WRITES | ADMIN_READ_ONLY_POSTS
EVERY_REQUEST = [("GET", name) for name in PAGES] + [("POST", name) for name in POSTS]


def send(client: Client, method: str, name: str, world: World, **extra):
    if method == "GET":
        return client.get(PAGES[name](world), **extra)
    path, data = POSTS[name](world)
    return client.post(path, data, **extra)


def db_state() -> dict[str, list[dict]]:
    """Every row of the metrics domain, to tell whether a request changed anything."""
    models = (Warehouse, Metric, Snapshot, RefreshRun, Annotation)
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


# Who may see and do what


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
@pytest.mark.parametrize("page", READ_PAGES)
def test_every_member_reads_every_metric_page(world, people, client_for, role, page):
    assert client_for(people[role]).get(READ_PAGES[page](world)).status_code == 200


@pytest.mark.parametrize("role", ["editor", "admin"])
@pytest.mark.parametrize("page", EDIT_PAGES)
def test_editors_and_admins_open_the_metric_form(world, people, client_for, role, page):
    assert client_for(people[role]).get(EDIT_PAGES[page](world)).status_code == 200


@pytest.mark.parametrize("page", EDIT_PAGES)
def test_viewer_gets_403_on_the_metric_form(world, viewer, client_for, page):
    assert client_for(viewer).get(EDIT_PAGES[page](world)).status_code == 403


@pytest.mark.parametrize("role", ["viewer", "editor"])
@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_only_admins_see_warehouses(world, people, client_for, role, page):
    assert client_for(people[role]).get(ADMIN_PAGES[page](world)).status_code == 403


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_opens_every_warehouse_page(world, team_admin, client_for, page):
    assert client_for(team_admin).get(ADMIN_PAGES[page](world)).status_code == 200


@pytest.mark.parametrize("write", list(EDITOR_WRITES) + list(EDITOR_READ_ONLY_POSTS) + list(ADMIN_WRITES))
def test_viewer_gets_403_on_every_write_and_nothing_changes(world, viewer, client_for, write):
    before = db_state()
    assert send(client_for(viewer), "POST", write, world).status_code == 403
    assert db_state() == before


@pytest.mark.parametrize("write", list(ADMIN_WRITES) + list(ADMIN_READ_ONLY_POSTS))
def test_editor_gets_403_on_admin_writes_and_nothing_changes(world, editor, client_for, write):
    before = db_state()
    assert send(client_for(editor), "POST", write, world).status_code == 403
    assert db_state() == before


@pytest.mark.parametrize("role", ["editor", "admin"])
@pytest.mark.parametrize("write", EDITOR_WRITES)
def test_editors_and_admins_change_metrics(world, people, client_for, role, write):
    before = db_state()
    response = send(client_for(people[role]), "POST", write, world)
    assert response.status_code == 302
    assert not response["Location"].startswith("/login/")
    assert db_state() != before


@pytest.mark.parametrize("write", ADMIN_WRITES)
def test_admin_certifies_and_manages_warehouses(world, team_admin, client_for, write):
    before = db_state()
    response = send(client_for(team_admin), "POST", write, world)
    assert response.status_code == 302
    assert db_state() != before


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


def test_another_teams_metric_and_warehouse_are_404_through_your_own_team(
    world, other_team, outsider, team_admin, client_for
):
    their_warehouse = services.warehouse_create(team=other_team, by=outsider, name="Theirs", url="sqlite:////tmp/x.db")
    their_metric = MetricFactory(warehouse=their_warehouse, key="their_secret_metric")
    client = client_for(team_admin)
    assert client.get(url("metric", world.team, their_metric.key)).status_code == 404
    assert client.get(url("warehouse_edit", world.team, their_warehouse.pk)).status_code == 404
    before = db_state()
    assert client.post(url("warehouse_delete", world.team, their_warehouse.pk)).status_code == 404
    assert client.post(url("metric_refresh", world.team, their_metric.key)).status_code == 404
    preview = client.post(
        url("metric_preview", world.team), {"sql": "SELECT 1", "warehouse": their_warehouse.pk}, **HTMX
    )
    assert "Pick one of the team's warehouses" in parse(preview).text
    assert db_state() == before


def controls(main: Node) -> set[str]:
    """The labels of the buttons and links of a page's content that lead to a change."""
    found = set()
    for node in main.iter():
        if node.tag == "button" or (node.tag == "a" and "btn" in node.classes):
            found.add(node.text)
    return found


def test_viewer_sees_no_edit_controls_on_metric_pages(world, viewer, client_for):
    for page in ("catalogue", "metric"):
        main = main_of(client_for(viewer).get(READ_PAGES[page](world)))
        assert controls(main) <= {"Filter", "Clear"}, page
        assert all(form.get("method").lower() != "post" for form in main.find_all("form"))


def test_editor_sees_refresh_edit_and_annotate_but_not_certify_or_warehouses(world, editor, client_for):
    main = main_of(client_for(editor).get(READ_PAGES["metric"](world)))
    assert {"Refresh now", "Edit", "Add annotation"} <= controls(main)
    assert not {"Certify", "Remove certification"} & controls(main)
    catalogue = main_of(client_for(editor).get(READ_PAGES["catalogue"](world)))
    assert "New metric" in controls(catalogue) and "Warehouses" not in controls(catalogue)


def test_admin_certifies_and_removes_the_certification(world, team_admin, client_for):
    client = client_for(team_admin)
    page = url("metric", world.team, world.north_star.key)
    assert "Certify" in controls(main_of(client.get(page)))

    client.post(url("metric_certify", world.team, world.north_star.key), {"certified": "1"})
    main = main_of(client.get(page))
    assert Metric.objects.get(pk=world.north_star.pk).certified
    assert main.find("span", cls="badge-certified").text == "Certified"
    assert "Remove certification" in controls(main)

    client.post(url("metric_certify", world.team, world.north_star.key), {"certified": "0"})
    assert not Metric.objects.get(pk=world.north_star.pk).certified


# The catalogue


def catalogue_rows(main: Node) -> list[tuple[str, str]]:
    """(group heading, metric name) for every row, in page order."""
    rows = []
    for group in main.find_all("section", cls="metric-group"):
        heading = group.find("h2").text
        rows.extend((heading, row.find("a", cls="item-title").text) for row in group.find_all("tr", cls="metric-row"))
    return rows


def row_of(main: Node, name: str) -> Node:
    return next(row for row in main.find_all("tr", cls="metric-row") if row.find("a", cls="item-title").text == name)


def test_catalogue_groups_inputs_under_their_north_star(world, editor, viewer, client_for):
    grandchild = MetricFactory(
        warehouse=world.warehouse, key="orders_daily_peak_hour", name="Peak hour", parent=world.child
    )
    MetricFactory(warehouse=world.warehouse, key="ops_pipeline_runs", name="Pipeline runs")

    main = main_of(client_for(viewer).get(url("catalogue", world.team)))

    assert catalogue_rows(main) == [
        ("Daily orders North star", "Daily orders"),
        ("Daily orders North star", "Biggest day"),
        ("Daily orders North star", "Peak hour"),
        ("Other metrics", "Pipeline runs"),
    ]
    assert "depth-2" in row_of(main, grandchild.name).classes


def test_catalogue_row_shows_value_change_status_freshness_and_sparkline(world, viewer, client_for):
    expected = duckdb_values(world.path)
    previous, last = [expected[day] for day in sorted(expected)[-2:]]

    row = row_of(main_of(client_for(viewer).get(url("catalogue", world.team))), "Daily orders")

    assert row.find("code", cls="metric-key").text == "orders_daily_count"
    assert row.find(cls="metric-value").text == f"{last:,.0f}"
    change = row.find("span", cls="change")
    word = "better" if last > previous else "worse"
    assert f"change-{word}" in change.classes and change.find(cls="change-word").text == word
    assert change.find(cls="sr-only").text == ("Up" if last > previous else "Down")
    status = Metric.objects.get(pk=world.north_star.pk).status_for(last)
    assert row.find("span", cls=f"badge-{status.value}").text == status.label
    assert row.find(cls="freshness").text == "computed just now"
    spark = row.find("svg", cls="sparkline")
    assert len(spark.find("polyline").get("points").split()) == 30
    assert spark.get("role") == "img" and "Last 30 values" in spark.get("aria-label")


def test_catalogue_says_when_the_last_refresh_failed_with_the_error_in_a_title(world, viewer, client_for):
    RefreshRunFactory(metric=world.north_star, status=RunStatus.FAILED, error="The warehouse rejected the query: boom")
    row = row_of(main_of(client_for(viewer).get(url("catalogue", world.team))), "Daily orders")
    failed = row.find("span", cls="fresh-failed")
    assert failed.text == "last refresh failed"
    assert failed.get("title") == "The warehouse rejected the query: boom"


def test_catalogue_marks_stale_and_never_computed_metrics(world, viewer, client_for):
    Metric.objects.filter(pk=world.north_star.pk).update(last_refreshed_at=timezone.now() - timedelta(days=3))
    main = main_of(client_for(viewer).get(url("catalogue", world.team)))
    north_star = row_of(main, "Daily orders")
    assert north_star.find(cls="fresh-stale").text == "stale · 3 d ago"
    assert north_star.find("span", cls="badge-stale").text == "Stale"
    child = row_of(main, "Biggest day")
    assert child.find(cls="freshness").text == "never computed"
    assert child.find("span", cls="badge-no_data").text == "No data yet"
    assert child.find(cls="sparkline-empty") is not None


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("?text=biggest", ["Daily orders", "Biggest day"]),  # the parent stays, for context
        ("?tag=sales", ["Daily orders"]),
        ("?owner=pam", ["Daily orders"]),
        ("?status=no_data", ["Daily orders", "Biggest day"]),
        ("?certified=yes", []),
    ],
)
def test_catalogue_filters_over_htmx_answer_the_list_only(world, viewer, client_for, query, names):
    response = client_for(viewer).get(url("catalogue", world.team, query=query), **htmx_to("metric-list"))

    page = parse(response)
    assert page.find("html") is None and page.find("form") is None
    assert page.find("div", id="metric-list") is not None
    assert [name for _, name in catalogue_rows(page)] == names
    if not names:
        assert "No metric matches" in page.text


def test_catalogue_filter_form_asks_htmx_to_replace_the_list_and_push_the_url(world, viewer, client_for):
    main = main_of(client_for(viewer).get(url("catalogue", world.team, query="?tag=board")))
    form = main.find("form", role="search")
    assert form.get("hx-get") == url("catalogue", world.team)
    assert (form.get("hx-target"), form.get("hx-push-url")) == ("#metric-list", "true")
    assert form_values(form)["tag"] == "board"
    assert [option.get("value") for option in form.find("select", name="tag").find_all("option")] == [
        "",
        "board",
        "ops",
        "sales",
    ]


def test_empty_catalogue_tells_admins_to_connect_a_warehouse_first(team, people, client_for):
    admin_main = main_of(client_for(people["admin"]).get(url("catalogue", team)))
    assert admin_main.find(cls="empty").find("a").get("href") == url("warehouse_new", team)
    editor_empty = main_of(client_for(people["editor"]).get(url("catalogue", team))).find(cls="empty")
    assert "Ask an admin" in editor_empty.text and editor_empty.find("a") is None


def test_empty_catalogue_with_a_warehouse_invites_editors_to_define_the_first_metric(
    team,
    people,
    client_for,
    duckdb_warehouse,
):
    empty = main_of(client_for(people["editor"]).get(url("catalogue", team))).find(cls="empty")
    link = empty.find("a")
    assert (link.text, link.get("href")) == ("Define the first metric", url("metric_new", team))
    viewer_empty = main_of(client_for(people["viewer"]).get(url("catalogue", team))).find(cls="empty")
    assert viewer_empty.find("a") is None


# A metric's page


def test_metric_page_shows_header_chart_definition_sql_and_links(world, editor, viewer, client_for):
    outcome = add(world.team, editor, Kind.OUTCOME, "More repeat orders", metric=world.north_star)
    expected = duckdb_values(world.path)

    main = main_of(client_for(viewer).get(url("metric", world.team, world.north_star.key)))

    overview = main.find("section", id="overview")
    assert overview.find(cls="figure-value").text == f"{expected[max(expected)]:,.0f}"
    chart = overview.find("svg", cls="trend-chart")
    assert len(chart.find_all("circle", cls="trend-point")) == 60  # the quarter holds all 60 days
    assert "Target 140" in chart.find("g", cls="target").text
    assert (
        chart.find("g", cls="threshold-warning") is not None and chart.find("g", cls="threshold-critical") is not None
    )
    annotation = chart.find("g", cls="annotation")
    assert annotation.find("title").text.endswith("Checkout redesign shipped")
    assert [a.text for a in overview.find("nav").find_all("a", **{"aria-current": "page"})] == ["Quarter"]

    assert main.find(cls="prose").find("strong").text == "cancelled ones included"
    assert main.find("pre", cls="sql").text == DAILY_ORDERS_SQL
    facts = main.find("dl", cls="facts").text
    assert "Biggest day" in facts and "Analytics" in facts and "board" in facts
    outcome_link = main.find("a", href=reverse("opportunities:node", args=[world.team.slug, outcome.pk]))
    assert outcome_link.text == "More repeat orders"


@pytest.mark.parametrize(("range_", "points"), [("4w", 28), ("quarter", 60), ("year", 60), ("all", 60)])
def test_metric_page_ranges(world, viewer, client_for, range_, points):
    main = main_of(client_for(viewer).get(url("metric", world.team, world.north_star.key, query=f"?range={range_}")))
    chart = main.find("svg", cls="trend-chart")
    assert len(chart.find_all("circle", cls="trend-point")) == points


def test_range_link_over_htmx_answers_the_overview_only(world, viewer, client_for):
    response = client_for(viewer).get(
        url("metric", world.team, world.north_star.key, query="?range=4w"), **htmx_to("overview")
    )
    page = parse(response)
    assert page.find("html") is None
    assert page.find("section", id="overview").find("a", **{"aria-current": "page"}).text == "4 weeks"


def test_metric_without_values_says_so_instead_of_a_chart(world, viewer, client_for):
    main = main_of(client_for(viewer).get(url("metric", world.team, world.child.key)))
    assert main.find("svg", cls="trend-chart") is None
    assert "No values in this range yet" in main.find("section", id="overview").text
    assert "Never refreshed yet" in main.find("section", id="runs").text


def test_metric_page_lists_runs_with_status_trigger_and_error(world, viewer, client_for):
    RefreshRunFactory(
        metric=world.north_star,
        status=RunStatus.FAILED,
        trigger="manual",
        error="Row 3 (2026-01-03) is 'x', not a number.",
    )
    runs = main_of(client_for(viewer).get(url("metric", world.team, world.north_star.key))).find("section", id="runs")
    rows = runs.find("tbody").find_all("tr")
    assert rows[0].find("span", cls="badge-failed").text == "Failed"
    assert "manual" in rows[0].text
    assert "not a number" in rows[1].text
    succeeded = next(row for row in rows if row.find("span", cls="badge-succeeded"))
    assert "test" in succeeded.text and "60" in succeeded.text


def test_metric_page_shows_its_history(world, team_admin, viewer, client_for):
    services.metric_update(
        metric=world.north_star, expected_version=world.north_star.version, by=team_admin, name="Orders per day"
    )
    main = main_of(client_for(viewer).get(url("metric", world.team, world.north_star.key)))
    history = [
        li.text
        for li in main.find("h2", id="history-title").ancestor("section").find("ul", cls="history").children
        if isinstance(li, Node)
    ]
    assert history[0].startswith("ada changed") and "name: Daily orders → Orders per day" in history[0]
    assert history[-1].startswith("pam created")


def test_editor_adds_an_annotation_that_the_chart_draws(world, editor, client_for):
    client = client_for(editor)
    day = timezone.localdate() - timedelta(days=2)
    response = client.post(
        url("annotation_new", world.team, world.north_star.key), {"date": day.isoformat(), "text": "Promo <b>week</b>"}
    )
    assert response.status_code == 302
    chart = main_of(client.get(url("metric", world.team, world.north_star.key))).find("svg", cls="trend-chart")
    titles = [g.find("title").text for g in chart.find_all("g", cls="annotation")]
    assert f"{day:%d %b %Y}: Promo <b>week</b>" in titles


def test_bad_annotation_is_422_with_the_error_next_to_the_field(world, editor, client_for):
    before = db_state()
    response = client_for(editor).post(
        url("annotation_new", world.team, world.north_star.key), {"date": "soon", "text": ""}
    )
    assert response.status_code == 422
    main = main_of(response)
    assert "Enter a valid date." in error_next_to(main, "date")
    assert "This field is required." in error_next_to(main, "text")
    assert db_state() == before


# Refresh now, and the runs that poll while it is under way


def test_refresh_now_queues_a_run_that_polls_then_stores_the_warehouse_values(
    world, editor, client_for, django_capture_on_commit_callbacks
):
    make_duckdb_file(world.path, days=45)  # new numbers in the warehouse since the last refresh
    client = client_for(editor)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url("metric_refresh", world.team, world.north_star.key), **HTMX)

    assert response.status_code == 200
    run = RefreshRun.objects.get(metric=world.north_star, trigger="manual")
    assert (run.status, run.requested_by) == (RunStatus.QUEUED, editor)
    runs = parse(response).find("section", id="runs")
    assert runs.get("hx-trigger") == "every 2s"
    assert runs.get("hx-get").startswith(url("metric_runs", world.team, world.north_star.key))
    assert runs.find("span", cls="badge-queued").text == "Queued"

    for callback in callbacks:  # the commit: Celery (eager in tests) runs the refresh
        callback()

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    expected = duckdb_values(world.path)
    stored = dict(Snapshot.objects.filter(metric=world.north_star).values_list("period", "value"))
    assert {day: stored[day] for day in expected} == expected

    polled = client.get(runs.get("hx-get"), **HTMX)
    page = parse(polled)
    done = page.find("section", id="runs")
    assert done.get("hx-trigger") == "" and done.get("hx-get") == ""
    assert done.find("span", cls="badge-succeeded") is not None
    overview = page.find("section", id="overview")
    assert overview.get("hx-swap-oob") == "true", "the new value replaces the old one without a reload"
    assert overview.find(cls="figure-value").text == f"{expected[max(expected)]:,.0f}"


def test_refresh_now_reuses_a_run_already_under_way(world, editor, client_for):
    RefreshRunFactory(metric=world.child, status=RunStatus.RUNNING)
    client_for(editor).post(url("metric_refresh", world.team, world.child.key), **HTMX)
    assert RefreshRun.objects.filter(metric=world.child).count() == 1


@pytest.mark.parametrize(
    ("status", "polls"),
    [(RunStatus.QUEUED, True), (RunStatus.RUNNING, True), (RunStatus.SUCCEEDED, False), (RunStatus.FAILED, False)],
)
def test_runs_partial_polls_only_while_a_run_is_active(world, viewer, client_for, status, polls):
    RefreshRunFactory(metric=world.north_star, status=status)
    response = client_for(viewer).get(url("metric_runs", world.team, world.north_star.key), **HTMX)
    runs = parse(response).find("section", id="runs")
    assert (runs.get("hx-trigger") == "every 2s") is polls
    assert bool(runs.get("hx-get")) is polls
    full_page = main_of(client_for(viewer).get(url("metric", world.team, world.north_star.key)))
    assert (full_page.find("section", id="runs").get("hx-trigger") == "every 2s") is polls


def test_a_failing_refresh_shows_why_and_keeps_the_values(
    world, editor, client_for, django_capture_on_commit_callbacks
):
    before = list(Snapshot.objects.filter(metric=world.north_star).values_list("period", "value"))
    Metric.objects.filter(pk=world.north_star.pk).update(sql="SELECT day, orders FROM no_such_table")
    client = client_for(editor)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("metric_refresh", world.team, world.north_star.key), **HTMX)
    runs = parse(client.get(url("metric_runs", world.team, world.north_star.key), **HTMX)).find("section", id="runs")
    assert runs.find("span", cls="badge-failed") is not None
    assert "no_such_table" in runs.find("tr", cls="run-error").text
    assert list(Snapshot.objects.filter(metric=world.north_star).values_list("period", "value")) == before


def test_refresh_now_without_htmx_goes_back_to_the_runs(world, editor, client_for):
    response = client_for(editor).post(url("metric_refresh", world.team, world.child.key))
    assert response.status_code == 302
    assert response["Location"] == url("metric", world.team, world.child.key) + "#runs"


# The metric form


def test_new_metric_is_saved_with_its_tags_and_opens_its_page(world, editor, client_for):
    response = client_for(editor).post(url("metric_new", world.team), metric_data(world, tags=" Sales,weekly ,, "))
    assert response.status_code == 302
    metric = Metric.objects.get(team=world.team, key="orders_weekly_count")
    assert response["Location"] == url("metric", world.team, metric.key)
    assert metric.tags == ["sales", "weekly"]
    assert metric.history.first().history_user == editor


def test_metric_form_offers_only_the_teams_people_warehouses_metrics_and_products(
    world, editor, other_team, outsider, client_for
):
    services.warehouse_create(team=other_team, by=outsider, name="Theirs", url="sqlite:////tmp/theirs.db")
    form = post_form(main_of(client_for(editor).get(url("metric_edit", world.team, world.child.key))))

    def options(name: str) -> list[str]:
        return [o.text for o in form.find("select", name=name).find_all("option") if o.get("value")]

    assert options("owner") == ["ada", "pam", "vic"]
    assert options("warehouse") == ["Analytics", "Spare"]
    assert options("parent") == ["Daily orders (orders_daily_count)"]  # not itself
    values = form_values(form)
    assert values["tags"] == "ops"
    assert values["version"] == str(world.child.version)


BAD_METRICS = [
    ({"key": "OrdersDaily"}, "key", "Write the key in lower_snake_case"),
    ({"key": "orders"}, "key", "lower_snake_case, at least two words"),
    ({"key": "orders_daily_count"}, "key", "The team already has a metric with this key."),
    ({"sql": "delete from daily_orders"}, "sql", "Only read-only queries are allowed"),
    ({"sql": "select 1; drop table daily_orders"}, "sql", "Write exactly one statement; this has 2."),
    ({"sql": "select * from read_csv('/etc/passwd')"}, "sql", "reads files, reaches the network"),
    ({"sql": ""}, "sql", "This field is required."),
    ({"warning_threshold": "high"}, "warning_threshold", "Enter a number."),
    ({"critical_threshold": "1,5"}, "critical_threshold", "Enter a number."),
    ({"target_value": "lots"}, "target_value", "Enter a number."),
    ({"decimals": "9"}, "decimals", "less than or equal to 6"),
    ({"warehouse": "999999"}, "warehouse", "Select a valid choice."),
]


@pytest.mark.parametrize("page", ["new", "edit"])
@pytest.mark.parametrize(
    ("changes", "field", "message"), BAD_METRICS, ids=[f"{f}: {list(c.values())[0]}" for c, f, _ in BAD_METRICS]
)
def test_bad_metric_is_422_with_the_error_next_to_the_field_and_nothing_saved(
    world, editor, client_for, page, changes, field, message
):
    if page == "new":
        path, data = url("metric_new", world.team), metric_data(world, **changes)
    else:
        if changes.get("key") == "orders_daily_count":
            changes = {"key": "orders_daily_count"}
        path, data = url("metric_edit", world.team, world.child.key), edit_data(world.child, **changes)
    before = db_state()

    response = client_for(editor).post(path, data)

    assert response.status_code == 422
    assert message in error_next_to(main_of(response), field)
    assert db_state() == before


def test_a_certified_metric_says_that_changing_its_sql_removes_the_certification(world, team_admin, editor, client_for):
    services.metric_certify(metric=world.north_star, by=team_admin)
    metric = Metric.objects.get(pk=world.north_star.pk)
    client = client_for(editor)
    form_page = main_of(client.get(url("metric_edit", world.team, metric.key)))
    sql_help = form_page.find("textarea", name="sql").ancestor("field").find(cls="help").text
    assert "changing its SQL or warehouse removes the certification" in sql_help

    renamed = client.post(url("metric_edit", world.team, metric.key), edit_data(metric, name="Orders a day"))
    assert renamed.status_code == 302
    metric = Metric.objects.get(pk=metric.pk)
    assert metric.certified, "a new name keeps the certification"

    response = client.post(
        url("metric_edit", world.team, metric.key),
        edit_data(metric, sql="SELECT day, orders * 2 FROM daily_orders"),
        follow=True,
    )
    assert "no longer certified" in main_of(response).find_all(cls="alert-success")[-1].text
    assert not Metric.objects.get(pk=metric.pk).certified


def test_stale_metric_edit_shows_their_change_keeps_mine_and_a_resubmit_succeeds(world, editor, team_admin, client_for):
    client = client_for(editor)
    edit_url = url("metric_edit", world.team, world.child.key)
    mine = form_values(post_form(main_of(client.get(edit_url))))
    services.metric_update(
        metric=world.child, expected_version=world.child.version, by=team_admin, definition="Theirs."
    )
    mine["name"] = "Mine, typed while they saved"

    response = client.post(edit_url, mine)

    assert response.status_code == 422
    main = main_of(response)
    alert = main.find(cls="alert-error").text
    assert "Someone else changed" in alert and "definition: Theirs." in alert
    shown = form_values(post_form(main))
    assert shown["name"] == "Mine, typed while they saved"
    assert Metric.objects.get(pk=world.child.pk).name == "Biggest day"

    assert client.post(edit_url, shown).status_code == 302
    assert Metric.objects.get(pk=world.child.pk).name == "Mine, typed while they saved"


def test_preview_shows_the_first_rows_from_the_duckdb_file(world, editor, client_for):
    expected = duckdb_values(world.path)
    response = client_for(editor).post(
        url("metric_preview", world.team), {"sql": DAILY_ORDERS_SQL, "warehouse": world.warehouse.pk}, **HTMX
    )
    assert response.status_code == 200
    preview = parse(response).find("div", id="preview")
    assert [th.text for th in preview.find_all("th")] == ["day", "orders"]
    rows = [[td.text for td in tr.find_all("td")] for tr in preview.find("tbody").find_all("tr")]
    first_days = sorted(expected)[:20]
    assert rows == [[day.isoformat(), f"{expected[day]:.0f}"] for day in first_days]
    assert "The first 20 rows" in preview.text


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("delete from daily_orders", "Only read-only queries are allowed"),
        ("select 1; drop table daily_orders", "Write exactly one statement"),
        ("SELECT day FROM no_such_table", "The warehouse rejected the query"),
        ("SELEC 1", "The query does not parse"),
    ],
)
def test_preview_says_why_a_query_did_not_run(world, editor, client_for, sql, message):
    before = db_state()
    response = client_for(editor).post(
        url("metric_preview", world.team), {"sql": sql, "warehouse": world.warehouse.pk}, **HTMX
    )
    error = parse(response).find("div", id="preview").find(cls="alert-error")
    assert message in error.text
    assert db_state() == before
    assert len(duckdb_values(world.path)) == 60  # the table is untouched


def test_metric_form_preview_button_posts_the_form_to_the_preview_with_htmx(world, editor, client_for):
    main = main_of(client_for(editor).get(url("metric_new", world.team)))
    button = next(b for b in main.find_all("button") if b.text == "Preview")
    assert button.get("hx-post") == url("metric_preview", world.team)
    assert button.get("hx-target") == "#preview"
    assert button.ancestor("metric-form").tag == "form", "it sends the form's sql and warehouse"


# Warehouses


def test_warehouse_list_shows_connections_and_how_many_metrics_use_each(world, team_admin, client_for):
    rows = main_of(client_for(team_admin).get(url("warehouses", world.team))).find("tbody").find_all("tr")
    summary = {row.find("a", cls="item-title").text: row.find_all("td")[2].text for row in rows}
    assert summary == {"Analytics": "2", "Spare": "0"}


def test_new_warehouse_keeps_its_secret_encrypted_and_never_shows_it(world, team_admin, client_for):
    client = client_for(team_admin)
    response = client.post(
        url("warehouse_new", world.team),
        {
            "name": "Lake",
            "url": "postgresql://reader@db.internal:5432/lake",
            "secret": SECRET,
            "statement_timeout_s": 60,
            "row_cap": 1000,
        },
    )
    assert response.status_code == 302
    lake = Warehouse.objects.get(team=world.team, name="Lake")
    assert lake.secret == SECRET and SECRET not in lake.secret_ciphertext

    edit = main_of(client.get(url("warehouse_edit", world.team, lake.pk)))
    secret_input = edit.find("input", name="secret")
    assert (secret_input.get("type"), secret_input.get("value")) == ("password", "")
    assert secret_input.get("placeholder") == SECRET_PLACEHOLDER == "•••••••• (unchanged)"
    assert edit.find("input", name="clear_secret") is not None


@pytest.mark.parametrize(
    ("secret", "clear", "expected"),
    [("", False, SECRET), ("new-token", False, "new-token"), ("", True, "")],
    ids=["empty keeps it", "typed replaces it", "clear removes it"],
)
def test_editing_a_warehouse_keeps_replaces_or_clears_the_secret(
    world, team_admin, client_for, secret, clear, expected
):
    lake = services.warehouse_create(
        team=world.team, by=team_admin, name="Lake", url="postgresql://reader@db/lake", secret=SECRET
    )
    data = {
        "name": "Lake 2",
        "url": lake.url,
        "statement_timeout_s": 60,
        "row_cap": 1000,
        "version": lake.version,
        "secret": secret,
    }
    if clear:
        data["clear_secret"] = "on"
    assert client_for(team_admin).post(url("warehouse_edit", world.team, lake.pk), data).status_code == 302
    lake = Warehouse.objects.get(pk=lake.pk)
    assert (lake.name, lake.secret) == ("Lake 2", expected)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "Analytics"}, "name", "already has a warehouse with this name"),
        ({"url": "not a url"}, "url", "This is not a SQLAlchemy URL"),
        ({"url": f"postgresql://reader:{SECRET}@db/lake"}, "url", "Leave the password out of the URL"),
        ({"url": "duckdb://"}, "url", "Give the path of the database file"),
        ({"statement_timeout_s": "0"}, "statement_timeout_s", "greater than or equal to 1"),
        ({"row_cap": "lots"}, "row_cap", "Enter a whole number."),
    ],
    ids=["duplicate name", "not a url", "password in the url", "no file", "zero timeout", "row cap not a number"],
)
def test_bad_warehouse_is_422_next_to_the_field_and_never_echoes_a_password(
    world, team_admin, client_for, changes, field, message
):
    data = {
        "name": "Lake",
        "url": "postgresql://reader@db/lake",
        "secret": SECRET,
        "statement_timeout_s": 60,
        "row_cap": 1000,
    }
    before = db_state()
    response = client_for(team_admin).post(url("warehouse_new", world.team), data | changes)
    assert response.status_code == 422
    assert message in error_next_to(main_of(response), field)
    assert SECRET not in response.content.decode()
    assert db_state() == before


def test_deleting_a_warehouse_that_metrics_use_is_refused_with_the_reason(world, team_admin, client_for):
    before = db_state()
    response = client_for(team_admin).post(url("warehouse_delete", world.team, world.warehouse.pk))
    assert response.status_code == 409
    assert "Metrics still compute from this warehouse" in main_of(response).find(cls="alert-error").text
    assert db_state() == before


def test_deleting_an_unused_warehouse(world, team_admin, client_for):
    response = client_for(team_admin).post(url("warehouse_delete", world.team, world.spare.pk))
    assert response["Location"] == url("warehouses", world.team)
    assert not Warehouse.objects.filter(pk=world.spare.pk).exists()


def test_test_connection_answers_in_words(world, team_admin, client_for, tmp_path):
    client = client_for(team_admin)
    ok = parse(client.post(url("warehouse_test", world.team, world.warehouse.pk), **HTMX))
    assert (
        ok.find("div", id=f"connection-{world.warehouse.pk}").find(cls="connection-ok").text.startswith("✓ Connected")
    )

    broken = services.warehouse_create(
        team=world.team, by=team_admin, name="Gone", url=f"duckdb:///{tmp_path}/gone.duckdb"
    )
    failed = parse(client.post(url("warehouse_test", world.team, broken.pk), **HTMX))
    assert failed.find(cls="connection-failed").text.startswith("✗ ")
    assert "Connected" not in failed.text


def test_test_connection_without_htmx_reports_in_a_message(world, team_admin, client_for):
    response = client_for(team_admin).post(url("warehouse_test", world.team, world.warehouse.pk), follow=True)
    assert "Analytics: Connected" in main_of(response).find(cls="alert-success").text


def sqlite_warehouse_file(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE signups (day TEXT, n INTEGER)")
        conn.executemany("INSERT INTO signups VALUES (?, ?)", [(f"2026-01-0{i}", i * 3) for i in range(1, 8)])
    return path


def test_the_secret_appears_in_no_page(world, people, client_for, tmp_path, django_capture_on_commit_callbacks):
    """Every warehouse and metric page, fragment and error message of a scenario, searched for the secret."""
    admin, editor = people["admin"], people["editor"]
    world.warehouse.secret = SECRET  # DuckDB cannot take a password: its errors must not leak it either
    world.warehouse.save()
    signups = services.warehouse_create(
        team=world.team,
        by=admin,
        name="Signups",
        url=f"sqlite:///{sqlite_warehouse_file(tmp_path / 's.db')}",
        secret=SECRET,
    )
    metric = services.metric_create(
        team=world.team, by=editor, key="growth_daily_signups", name="Signups", definition="Sign-ups.",
        warehouse=signups, sql="SELECT day, n FROM signups",
    )  # fmt: skip
    services.refresh_sync(metric=metric, trigger="test")
    assert metric.runs.get().status == RunStatus.SUCCEEDED
    services.refresh_sync(metric=world.north_star, trigger="test")  # fails on DuckDB: its error is shown

    client = client_for(admin)
    responses = [client.get(PAGES[name](world)) for name in PAGES]
    responses += [client.get(path) for path in (
        url("metric", world.team, metric.key), url("metric_edit", world.team, metric.key),
        url("warehouse_edit", world.team, signups.pk), url("warehouse_delete", world.team, signups.pk),
    )]  # fmt: skip
    for warehouse in (world.warehouse, signups):
        responses.append(client.post(url("warehouse_test", world.team, warehouse.pk), **HTMX))
        responses.append(client.post(url("warehouse_test", world.team, warehouse.pk), follow=True))
        responses.append(
            client.post(
                url("metric_preview", world.team), {"sql": "SELECT * FROM signups", "warehouse": warehouse.pk}, **HTMX
            )
        )
    with django_capture_on_commit_callbacks(execute=True):
        responses.append(client.post(url("metric_refresh", world.team, world.north_star.key), **HTMX))
    responses.append(
        client.post(
            url("warehouse_edit", world.team, signups.pk),
            {"name": "", "url": signups.url, "version": signups.version, "secret": SECRET},  # refused: typed again
        )
    )
    responses.append(client.get(url("catalogue", world.team, query=f"?text={SECRET[:6]}"), **htmx_to("metric-list")))

    assert {r.status_code for r in responses} <= {200, 422}
    for response in responses:
        body = response.content.decode()
        assert SECRET not in body and SECRET[:12] not in body, response.request["PATH_INFO"]
    assert Warehouse.objects.get(pk=signups.pk).secret == SECRET


# Safety


HOSTILE_MARKDOWN = "\n\n".join(
    [
        "Intro <script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[a link](javascript:alert(1))",
        '<a href="#" onclick="x()">click me</a>',
    ]
)


def test_metric_definition_markdown_is_rendered_without_anything_active(world, viewer, client_for):
    Metric.objects.filter(pk=world.north_star.pk).update(definition=HOSTILE_MARKDOWN)
    main = main_of(client_for(viewer).get(url("metric", world.team, world.north_star.key)))
    prose = main.find(cls="prose")
    assert "click me" in prose.text
    assert_no_active_content(main)
    assert main.find("script") is None and main.find("img") is None


def test_hostile_names_and_annotations_are_escaped_in_charts_and_lists(world, editor, viewer, client_for):
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    Metric.objects.filter(pk=world.north_star.pk).update(name=hostile, tags=[hostile])
    services.annotation_add(metric=world.north_star, day=timezone.localdate(), text=hostile, by=editor)
    for page in ("catalogue", "metric"):
        main = main_of(client_for(viewer).get(READ_PAGES[page](world)))
        assert hostile in main.text
        assert_no_active_content(main)
        assert main.find("img") is None


@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_no_inline_code_or_style(world, team_admin, client_for, page):
    RefreshRunFactory(metric=world.north_star, status=RunStatus.RUNNING)  # the polling state too
    response = client_for(team_admin).get(PAGES[page](world))
    assert response.status_code == 200
    policy = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";") if d.strip())
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-inline'" not in policy.get("style-src", "")
    page_tree = parse(response)
    assert_no_active_content(page_tree)
    assert [node.tag for node in page_tree.iter() if "style" in node.attrs or node.tag == "style"] == []


def test_nav_links_to_metrics_and_marks_it_current(world, viewer, client_for):
    page = parse(client_for(viewer).get(url("metric", world.team, world.north_star.key)))
    link = page.find("nav").find("a", href=url("catalogue", world.team))
    assert link.text == "Metrics" and link.get("aria-current") == "page"


# Query counts: each page costs the same whatever the number of metrics, snapshots and runs

SHARED_QUERIES = ["session", "user", "membership + team", "nav: your teams"]
CATALOGUE_QUERIES = [
    "tags in use",
    "members for the owner filter",
    "metrics + owners + warehouses + latest run status and error",
    "the last 30 snapshots of each metric (a window)",
]
METRIC_QUERIES = [
    "metric + owner, warehouse, parent, data product, team",
    "its inputs",
    "its snapshots in the range",
    "its annotations in the range + authors",
    "its latest runs + who asked",
    "its history + users",
    "the outcomes it measures",
]


def sized_catalogue(team: Team, warehouse: Warehouse, owner, size: int) -> Metric:
    north_star = MetricFactory(warehouse=warehouse, key="zz_north_star", is_north_star=True, owner=owner, tags=["a"])
    for i in range(size - 1):
        metric = MetricFactory(
            warehouse=warehouse,
            owner=owner,
            parent=north_star if i % 2 else None,
            tags=[f"tag{i % 5}"],
            last_refreshed_at=timezone.now(),
        )
        add_snapshots(metric, 60)
        RefreshRunFactory(metric=metric, status=RunStatus.FAILED if i % 3 else RunStatus.SUCCEEDED, error="boom")
    add_snapshots(north_star, 60)
    return north_star


@pytest.mark.parametrize("size", [3, 30], ids=lambda size: f"{size}-metrics")
@pytest.mark.parametrize("query", ["", "?text=orders&owner=pam&status=on_track&certified=no&tag=tag1"])
def test_catalogue_costs_a_fixed_number_of_queries(
    team,
    people,
    client_for,
    django_assert_num_queries,
    duckdb_warehouse,
    size,
    query,
):
    sized_catalogue(team, duckdb_warehouse, people["editor"], size)
    assert Snapshot.objects.count() == size * 60
    client = client_for(people["admin"])  # the admin sees every control a page can show

    with django_assert_num_queries(len(SHARED_QUERIES + CATALOGUE_QUERIES)):  # named in the lists above
        response = client.get(url("catalogue", team, query=query))

    assert response.status_code == 200
    if not query:
        assert len(main_of(response).find_all("tr", cls="metric-row")) == size


@pytest.mark.parametrize("size", [3, 30], ids=lambda size: f"{size}-of-each")
@pytest.mark.parametrize("range_", ["quarter", "all"])
def test_metric_page_costs_a_fixed_number_of_queries(
    team,
    people,
    client_for,
    django_assert_num_queries,
    duckdb_warehouse,
    size,
    range_,
):
    editor = people["editor"]
    north_star = sized_catalogue(team, duckdb_warehouse, editor, size)
    add_snapshots(north_star, size * 20, last_day=timezone.localdate() - timedelta(days=60))
    for i in range(size):
        RefreshRunFactory(metric=north_star, requested_by=editor, status=RunStatus.SUCCEEDED)
        services.annotation_add(
            metric=north_star, day=timezone.localdate() - timedelta(days=i), text=f"Note {i}", by=editor
        )
        north_star = services.metric_update(
            metric=north_star, expected_version=north_star.version, by=editor, definition=f"Take {i}"
        )
        add(team, editor, Kind.OUTCOME, f"Outcome {i}", metric=north_star)
    client = client_for(people["admin"])

    expected = (
        SHARED_QUERIES + METRIC_QUERIES + ([] if range_ == "all" else ["its latest period (the range ends there)"])
    )
    with django_assert_num_queries(len(expected)):  # named in the lists above
        response = client.get(url("metric", team, north_star.key, query=f"?range={range_}"))

    assert response.status_code == 200
    main = main_of(response)
    assert f"Outcome {size - 1}" in main.text and f"Note {size - 1}" in main.text


def test_runs_fragment_costs_a_fixed_number_of_queries(world, viewer, client_for, django_assert_num_queries):
    for _ in range(15):
        RefreshRunFactory(metric=world.north_star, status=RunStatus.QUEUED, requested_by=viewer)
    client = client_for(viewer)
    with django_assert_num_queries(5):  # session, user, membership + team, the metric, its latest runs + who asked
        client.get(url("metric_runs", world.team, world.north_star.key), **HTMX)


# Shipped markers carry their impact readout


def stepped_days(metric: Metric, shipped_on, step: float) -> None:
    """Instead of its values: 130 days alternating 100/102, plus `step` after `shipped_on` (until yesterday)."""
    Snapshot.objects.filter(metric=metric).delete()
    now = timezone.now()
    Snapshot.objects.bulk_create(
        Snapshot(
            metric=metric,
            period=day,
            value=100 + 2 * (day.toordinal() % 2) + (step if day > shipped_on else 0),
            computed_at=now,
        )
        for day in (shipped_on + timedelta(days=d) for d in range(-90, 40))
        if day < timezone.localdate()
    )


def test_a_shipped_marker_says_whether_the_metric_moved(world, viewer, client_for):
    shipped_on = timezone.localdate() - timedelta(days=35)
    stepped_days(world.north_star, shipped_on, step=15)
    Annotation.objects.create(
        metric=world.north_star, date=shipped_on, text="Shipped: Faster checkout", source="shipped"
    )
    Annotation.objects.create(metric=world.north_star, date=shipped_on, text="A plain note")

    notes = main_of(client_for(viewer).get(url("metric", world.team, world.north_star.key))).find(
        "ul", cls="annotations"
    )

    items = notes.find_all("li")
    shipped = next(li for li in items if "Shipped: Faster checkout" in li.text)
    plain = next(li for li in items if "A plain note" in li.text)
    assert shipped.find(cls="impact").get("data-verdict") == "improved"
    assert "a clear improvement" in shipped.find(cls="impact-message").text
    assert shipped.find(cls="impact-metric") is None  # its own page: no need to name it
    assert plain.find(cls="impact") is None


def test_shipped_markers_cost_one_query_whatever_their_number(world, viewer, client_for):
    shipped_on = timezone.localdate() - timedelta(days=35)
    stepped_days(world.north_star, shipped_on, step=15)
    client = client_for(viewer)
    page = url("metric", world.team, world.north_star.key)
    with CaptureQueriesContext(connection) as without:
        client.get(page)
    for i in range(6):
        Annotation.objects.create(
            metric=world.north_star, date=shipped_on + timedelta(days=i), text=f"Shipped: {i}", source="shipped"
        )

    with CaptureQueriesContext(connection) as with_six:
        response = client.get(page)

    assert len(with_six) == len(without) + 1  # the snapshots around every ship date, at once
    assert response.content.decode().count('class="impact ') == 6
