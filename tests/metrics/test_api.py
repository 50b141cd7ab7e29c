"""The metrics REST API against a real DuckDB file: who may do what, bad input, stale edits, the
warehouse secret, refreshes through Celery, snapshots, filters, query counts and the schema."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app as celery_app
from metrics import services, warehouses
from metrics.models import Annotation, Metric, RefreshRun, RunStatus, Snapshot, Warehouse
from portfolio.models import Role
from tests.portfolio.factories import DataProductFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "pg-S3cret-7f3c9e-do-not-leak"  # noqa: S105 - the plaintext the tests hunt for
UNREACHABLE_URL = "postgresql+psycopg2://reader@127.0.0.1:1/analytics"  # nothing listens on port 1
ORDERS_SQL = "SELECT day, orders FROM daily_orders ORDER BY day"
FIRST_DAY = date(2026, 3, 1)
DAYS = 12

WAREHOUSES = reverse("api:warehouse-list")
METRICS = reverse("api:metric-list")
PREVIEW = reverse("api:metric-preview")
SNAPSHOTS = reverse("api:snapshot-list")
RUNS = reverse("api:refresh-run-list")


def url(name: str, obj: Any) -> str:
    return reverse(f"api:{name}", args=[obj.pk])


def send(client: APIClient, method: str, path: str, body: dict | None = None):
    if method in ("get", "delete"):
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


def db_state() -> dict[str, Any]:
    """Every metrics row and history record, to prove a refused request changed nothing."""
    state: dict[str, Any] = {}
    for model in (Warehouse, Metric, Snapshot, RefreshRun, Annotation):
        state[model.__name__] = list(model.objects.order_by("pk").values())
    for model in (Warehouse, Metric):
        state[f"{model.__name__} history"] = list(model.history.order_by("pk").values_list("pk", flat=True))
    return state


# A real DuckDB warehouse


def make_duckdb(path: Path, values: dict[date, float]) -> Path:
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE daily_orders (day DATE, orders DOUBLE, channel VARCHAR)")
        conn.executemany("INSERT INTO daily_orders VALUES (?, ?, 'web')", list(values.items()))
    return path


def in_the_warehouse(path: Path, sql: str) -> list[tuple]:
    """What DuckDB itself answers, through its own driver rather than Sextant's adapter."""
    warehouses.dispose_all()  # DuckDB opens a file with one configuration per process
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def duckdb_path(tmp_path) -> Path:
    values = {FIRST_DAY + timedelta(days=i): round(100 + 17.25 * i - (i % 3) * 9.5, 2) for i in range(DAYS)}
    yield make_duckdb(tmp_path / "warehouse.duckdb", values)
    warehouses.dispose_all()


@pytest.fixture
def eager_celery():
    """Refreshes run in the test's process (the embedded default), whatever the environment says."""
    saved = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = True, True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = saved


@pytest.fixture
def warehouse(team, team_admin, duckdb_path) -> Warehouse:
    return services.warehouse_create(team=team, by=team_admin, name="Analytics", url=f"duckdb:///{duckdb_path}")


@pytest.fixture
def locked_warehouse(team, team_admin) -> Warehouse:
    """A PostgreSQL warehouse with a stored secret, on a port where nothing answers."""
    return services.warehouse_create(
        team=team, by=team_admin, name="Finance", url=UNREACHABLE_URL, secret=SECRET, statement_timeout_s=5
    )


def make_metric(team, by, warehouse, key="sales_daily_orders_count", **fields) -> Metric:
    defaults = {"name": "Daily orders", "definition": "Orders placed per day.", "sql": ORDERS_SQL}
    return services.metric_create(team=team, by=by, warehouse=warehouse, key=key, **{**defaults, **fields})


def metric_body(warehouse: Warehouse, **overrides: Any) -> dict[str, Any]:
    """A valid creation body for a metric on the warehouse."""
    body = {
        "team": "data",
        "key": "sales_daily_orders_count",
        "name": "Daily orders",
        "definition": "Orders placed per day.",
        "warehouse": warehouse.pk,
        "sql": ORDERS_SQL,
    }
    return {**body, **overrides}


def snapshot(metric: Metric, period: date, value: float, run: RefreshRun | None = None) -> Snapshot:
    return Snapshot.objects.create(metric=metric, period=period, value=value, computed_at=timezone.now(), run=run)


@pytest.fixture
def metric(team, editor, warehouse) -> Metric:
    return make_metric(team, editor, warehouse, owner=editor, tags=["sales"])


@pytest.fixture
def theirs(other_team, outsider, duckdb_path) -> dict[str, Any]:
    """The other team's warehouse, metric, snapshot and run."""
    warehouse = services.warehouse_create(team=other_team, by=outsider, name="Theirs", url=f"duckdb:///{duckdb_path}")
    metric = make_metric(other_team, outsider, warehouse, key="growth_daily_signups_count")
    Snapshot.objects.create(metric=metric, period=FIRST_DAY, value=1.0, computed_at=timezone.now())
    return {"warehouse": warehouse, "metric": metric, "run": RefreshRun.objects.create(metric=metric)}


@pytest.fixture
def world(people, team, team_admin, warehouse, metric) -> dict[str, Any]:
    spare = services.warehouse_create(team=team, by=team_admin, name="Spare", url=warehouse.url)
    Snapshot.objects.create(metric=metric, period=FIRST_DAY, value=5.0, computed_at=timezone.now())
    run = RefreshRun.objects.create(metric=metric, status=RunStatus.SUCCEEDED)
    return {"warehouse": warehouse, "spare": spare, "metric": metric, "run": run}


# Each role on each action

Operation = Callable[[dict[str, Any]], tuple[str, str, dict | None]]
OPERATIONS: dict[str, tuple[Operation, bool]] = {
    "warehouse-list": (lambda w: ("get", WAREHOUSES, None), False),
    "warehouse-retrieve": (lambda w: ("get", url("warehouse-detail", w["warehouse"]), None), False),
    "warehouse-create": (
        lambda w: ("post", WAREHOUSES, {"team": "data", "name": "Second", "url": w["warehouse"].url}),
        True,
    ),
    "warehouse-update": (
        lambda w: ("patch", url("warehouse-detail", w["warehouse"]), {"row_cap": 500, "version": 1}),
        True,
    ),
    "warehouse-delete": (lambda w: ("delete", url("warehouse-detail", w["spare"]), None), True),
    "warehouse-test-connection": (lambda w: ("post", url("warehouse-test-connection", w["warehouse"]), None), False),
    "metric-list": (lambda w: ("get", METRICS, None), False),
    "metric-retrieve": (lambda w: ("get", url("metric-detail", w["metric"]), None), False),
    "metric-create": (lambda w: ("post", METRICS, metric_body(w["warehouse"], key="sales_weekly_orders_count")), True),
    "metric-update": (lambda w: ("patch", url("metric-detail", w["metric"]), {"name": "Renamed", "version": 1}), True),
    "metric-delete": (lambda w: ("delete", url("metric-detail", w["metric"]), None), True),
    "metric-certify": (lambda w: ("post", url("metric-certify", w["metric"]), {"certified": True}), True),
    "metric-refresh": (lambda w: ("post", url("metric-refresh", w["metric"]), None), True),
    "metric-preview": (
        lambda w: ("post", PREVIEW, {"warehouse": w["warehouse"].pk, "sql": ORDERS_SQL, "rows": 3}),
        False,
    ),
    "snapshot-list": (lambda w: ("get", f"{SNAPSHOTS}?metric={w['metric'].pk}", None), False),
    "refresh-run-list": (lambda w: ("get", RUNS, None), False),
    "refresh-run-retrieve": (lambda w: ("get", url("refresh-run-detail", w["run"]), None), False),
}

# Per operation, in the order admin, editor, viewer, outsider.
EXPECTED = {
    "warehouse-list": (200, 200, 200, 200),  # the others' lists hold none of the team's warehouses
    "warehouse-retrieve": (200, 404, 404, 404),  # only admins can tell a warehouse exists
    "warehouse-create": (201, 403, 403, 400),  # the outsider cannot name the team: "does not exist"
    "warehouse-update": (200, 404, 404, 404),
    "warehouse-delete": (204, 404, 404, 404),
    "warehouse-test-connection": (200, 404, 404, 404),
    "metric-list": (200, 200, 200, 200),
    "metric-retrieve": (200, 200, 200, 404),
    "metric-create": (201, 201, 403, 400),
    "metric-update": (200, 200, 403, 404),
    "metric-delete": (204, 204, 403, 404),
    "metric-certify": (200, 403, 403, 404),  # only admins certify
    "metric-refresh": (202, 202, 403, 404),
    "metric-preview": (200, 200, 403, 400),  # running SQL at will is an editor's job
    "snapshot-list": (200, 200, 200, 200),  # the outsider's list is empty
    "refresh-run-list": (200, 200, 200, 200),
    "refresh-run-retrieve": (200, 200, 200, 404),
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
def test_each_role_on_each_action(api_for, people, world, operation, role, expected):
    build, changes = OPERATIONS[operation]
    method, path, body = build(world)
    before = db_state()

    response = send(api_for(people[role]), method, path, body)

    assert response.status_code == expected, response.content
    if changes and expected < 300:
        assert db_state() != before
    else:
        assert db_state() == before
    if role == "outsider" and expected == 200 and "results" in response.json():
        assert response.json()["results"] == []


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_anonymous_request_answers_401_and_changes_nothing(api_for, world, operation):
    method, path, body = OPERATIONS[operation][0](world)
    before = db_state()

    response = send(api_for(None), method, path, body)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert db_state() == before


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_members_list_their_teams_objects_and_not_the_other_teams(api_for, people, world, theirs, role):
    client = api_for(people[role])

    listed = {
        name: {row["id"] for row in client.get(path).json()["results"]}
        for name, path in (("warehouse", WAREHOUSES), ("metric", METRICS), ("run", RUNS))
    }

    ours = {"warehouse": {world["warehouse"].pk, world["spare"].pk}, "metric": {world["metric"].pk}}
    assert listed["warehouse"] == (ours["warehouse"] if role == "admin" else set())
    assert listed["metric"] == ours["metric"]
    assert listed["run"] == {world["run"].pk}
    snapshots = client.get(f"{SNAPSHOTS}?metric={theirs['metric'].pk}").json()
    assert snapshots["count"] == 0


def test_an_admin_of_another_team_sees_only_that_teams_warehouses(api_for, outsider, world, theirs):
    response = api_for(outsider).get(WAREHOUSES)

    assert [row["name"] for row in response.json()["results"]] == ["Theirs"]


def test_editor_who_is_admin_elsewhere_cannot_see_this_teams_warehouses(api_for, editor, other_team, world, theirs):
    MembershipFactory(team=other_team, user=editor, role=Role.ADMIN)

    listed = api_for(editor).get(WAREHOUSES).json()["results"]
    retrieved = api_for(editor).get(url("warehouse-detail", world["warehouse"]))

    assert [row["name"] for row in listed] == ["Theirs"]
    assert retrieved.status_code == 404


# Warehouses and their secret


def test_admin_connects_a_warehouse_and_the_secret_is_stored_encrypted(api_for, team_admin, team):
    body = {"team": "data", "name": "Sales DB", "url": UNREACHABLE_URL, "secret": SECRET, "row_cap": 5000}

    response = send(api_for(team_admin), "post", WAREHOUSES, body)

    assert response.status_code == 201, response.content
    warehouse = Warehouse.objects.get()
    assert response.json() == {
        "id": warehouse.pk,
        "team": "data",
        "name": "Sales DB",
        "url": UNREACHABLE_URL,
        "statement_timeout_s": 60,
        "row_cap": 5000,
        "secret": services.MASK,
        "version": 1,
    }
    assert warehouse.secret == SECRET
    assert SECRET not in warehouse.secret_ciphertext
    assert warehouse.history.get().history_user == team_admin


def test_warehouse_without_a_secret_shows_an_empty_secret(api_for, team_admin, warehouse):
    response = api_for(team_admin).get(url("warehouse-detail", warehouse))

    assert response.json()["secret"] == ""


@pytest.mark.parametrize(
    ("change", "stored", "shown"),
    [
        pytest.param({"secret": services.MASK}, SECRET, services.MASK, id="mask-keeps-it"),
        pytest.param({}, SECRET, services.MASK, id="leaving-it-out-keeps-it"),
        pytest.param({"secret": "a-new-token"}, "a-new-token", services.MASK, id="a-new-one-replaces-it"),
        pytest.param({"secret": ""}, "", "", id="empty-removes-it"),
    ],
)
def test_secret_round_trip(api_for, team_admin, locked_warehouse, change, stored, shown):
    client = api_for(team_admin)
    read = client.get(url("warehouse-detail", locked_warehouse)).json()
    assert read["secret"] == services.MASK

    body = {**{name: read[name] for name in ("name", "url", "statement_timeout_s", "row_cap", "version")}, **change}
    response = send(client, "put", url("warehouse-detail", locked_warehouse), body)

    assert response.status_code == 200, response.content
    assert (response.json()["secret"], response.json()["version"]) == (shown, 2)
    locked_warehouse.refresh_from_db()
    assert locked_warehouse.secret == stored


def test_sending_the_mask_as_a_new_warehouses_secret_is_refused(api_for, team_admin):
    body = {"team": "data", "name": "Sales DB", "url": UNREACHABLE_URL, "secret": services.MASK}

    response = send(api_for(team_admin), "post", WAREHOUSES, body)

    assert response.status_code == 400
    assert response.json() == {"secret": ["Type the secret itself: the mask only keeps a secret already stored."]}
    assert not Warehouse.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param(
            {"url": f"postgresql+psycopg2://reader:{SECRET}@db:5432/x"}, "url", "Leave the password out", id="password"
        ),
        pytest.param({"url": "not a url"}, "url", "not a SQLAlchemy URL", id="not-a-url"),
        pytest.param({"url": "duckdb://"}, "url", "path of the database file", id="no-file"),
        pytest.param({"statement_timeout_s": 0}, "statement_timeout_s", "greater than or equal to 1", id="timeout"),
        pytest.param({"row_cap": 20_000_000}, "row_cap", "less than or equal to 10000000", id="row-cap"),
        pytest.param({"name": "Finance"}, "name", "already has a warehouse with this name", id="duplicate-name"),
    ],
)
def test_invalid_warehouse_is_refused_with_a_field_error(
    api_for, team_admin, locked_warehouse, overrides, field, message
):
    body = {"team": "data", "name": "Sales DB", "url": UNREACHABLE_URL, "secret": "x", **overrides}
    before = db_state()

    response = send(api_for(team_admin), "post", WAREHOUSES, body)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert message in response.json()[field][0]
    assert SECRET not in response.content.decode()
    assert db_state() == before


def test_deleting_a_warehouse_that_metrics_use_is_refused(api_for, team_admin, warehouse, metric):
    before = db_state()

    response = api_for(team_admin).delete(url("warehouse-detail", warehouse))

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Metrics still compute from this warehouse: move or delete them first."]
    }
    assert db_state() == before


def test_deleting_an_unused_warehouse_is_recorded(api_for, team_admin, warehouse):
    response = api_for(team_admin).delete(url("warehouse-detail", warehouse))

    assert response.status_code == 204
    assert not Warehouse.objects.exists()
    assert Warehouse.history.filter(history_type="-").get().history_user == team_admin


def test_test_connection_answers_ok_for_a_duckdb_file(api_for, team_admin, warehouse):
    response = api_for(team_admin).post(url("warehouse-test-connection", warehouse))

    assert response.status_code == 200
    assert response.json() == {"ok": True, "message": "Connected: the warehouse answered a test query."}


def test_test_connection_says_why_it_failed(api_for, team_admin, locked_warehouse):
    response = api_for(team_admin).post(url("warehouse-test-connection", locked_warehouse))

    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert response.json()["message"].startswith("Cannot reach the warehouse:")
    assert "Connection refused" in response.json()["message"]


def test_test_connection_of_a_missing_duckdb_file_fails_in_words(api_for, team_admin, team, tmp_path):
    gone = services.warehouse_create(team=team, by=team_admin, name="Gone", url=f"duckdb:///{tmp_path / 'no.duckdb'}")

    response = api_for(team_admin).post(url("warehouse-test-connection", gone))

    assert response.json()["ok"] is False
    assert "database does not exist" in response.json()["message"]


def test_the_secret_never_appears_in_a_response_or_a_log_line(api_for, team_admin, editor, caplog):
    caplog.set_level(logging.DEBUG)
    responses = []

    def call(user, method: str, path: str, body: dict | None = None, expected: int = 200):
        response = send(api_for(user), method, path, body)
        assert response.status_code == expected, response.content
        responses.append(response)
        return response.json() if response.content else None

    body = {"team": "data", "name": "Sales DB", "url": UNREACHABLE_URL, "secret": SECRET, "statement_timeout_s": 5}
    created = call(team_admin, "post", WAREHOUSES, body, 201)
    warehouse = Warehouse.objects.get(pk=created["id"])
    detail = url("warehouse-detail", warehouse)
    call(team_admin, "get", WAREHOUSES)
    call(team_admin, "get", detail)
    call(team_admin, "patch", detail, {"name": "Sales", "secret": services.MASK, "version": 1})
    call(team_admin, "put", detail, {"name": "Sales", "url": UNREACHABLE_URL, "version": 2})
    call(team_admin, "patch", detail, {"name": "Stale", "version": 1}, 409)
    password_in_url = UNREACHABLE_URL.replace("reader@", f"reader:{SECRET}@")
    call(team_admin, "patch", detail, {"url": password_in_url, "version": 3}, 400)
    call(team_admin, "post", url("warehouse-test-connection", warehouse))
    metric_body = {
        "team": "data",
        "key": "finance_daily_revenue_sum",
        "name": "Revenue",
        "definition": "Revenue per day.",
        "warehouse": warehouse.pk,
        "sql": "SELECT day, SUM(amount) FROM payments GROUP BY day",
    }
    metric = call(editor, "post", METRICS, metric_body, 201)
    call(editor, "get", url("metric-detail", Metric.objects.get(pk=metric["id"])))
    call(editor, "post", PREVIEW, {"warehouse": warehouse.pk, "sql": "SELECT 1"}, 400)
    smuggled = f"SELECT '{SECRET}' FROM x; DROP TABLE x"  # noqa: S608 - refused before it reaches a warehouse
    call(editor, "post", PREVIEW, {"warehouse": warehouse.pk, "sql": smuggled}, 400)
    call(team_admin, "delete", detail, None, 400)
    ciphertext = Warehouse.objects.get(pk=warehouse.pk).secret_ciphertext

    assert Warehouse.objects.get(pk=warehouse.pk).secret == SECRET  # it is stored, and used, all along
    assert len(responses) == 13
    for response in responses:
        assert SECRET not in response.content.decode()
        assert ciphertext not in response.content.decode()
    assert caplog.records  # the scenario logs (bad requests, at least): the search below means something
    assert SECRET not in caplog.text
    assert all(SECRET not in record.getMessage() for record in caplog.records)


# Metrics: defining them


def test_editor_defines_a_metric_with_every_field(api_for, editor, team, warehouse):
    product = DataProductFactory(team=team, name="Orders")
    north_star = make_metric(team, editor, warehouse, key="sales_weekly_revenue_sum", is_north_star=True)
    body = {
        "team": "data",
        "key": "sales_checkout_conversion_rate",
        "name": "Checkout conversion",
        "definition": "Completed checkouts ÷ started checkouts.",
        "unit": "percent",
        "currency": "",
        "decimals": 1,
        "direction": "up",
        "grain": "week",
        "owner": "pam",
        "warehouse": warehouse.pk,
        "sql": ORDERS_SQL,
        "schedule": "hourly",
        "target_value": 7.5,
        "target_date": "2026-12-31",
        "warning_threshold": 6.5,
        "critical_threshold": 5.0,
        "is_north_star": False,
        "parent": north_star.pk,
        "tags": ["Checkout", " funnel ", "checkout"],
        "data_product": product.pk,
    }

    response = send(api_for(editor), "post", METRICS, body)

    assert response.status_code == 201, response.content
    metric = Metric.objects.get(key="sales_checkout_conversion_rate")
    assert response.json() == {
        **body,
        "id": metric.pk,
        "tags": ["checkout", "funnel"],
        "certified": False,
        "current_value": None,
        "last_refreshed_at": None,
        "is_stale": True,
        "status": "no_data",
        "version": 1,
        "created_at": response.json()["created_at"],
        "updated_at": response.json()["updated_at"],
    }
    assert (metric.parent, metric.data_product, metric.owner, metric.tags) == (
        north_star,
        product,
        editor,
        ["checkout", "funnel"],
    )
    assert metric.history.get().history_user == editor


def test_a_new_metric_takes_the_defaults(api_for, editor, warehouse):
    body = metric_body(warehouse)

    response = send(api_for(editor), "post", METRICS, body)

    assert response.status_code == 201
    got = response.json()
    assert (got["unit"], got["direction"], got["grain"], got["schedule"], got["tags"], got["owner"]) == (
        "count",
        "up",
        "day",
        "daily",
        [],
        None,
    )


UNSAFE_SQL = [
    pytest.param("DELETE FROM daily_orders", "DELETE is not", id="delete"),
    pytest.param("INSERT INTO daily_orders VALUES (DATE '2026-01-01', 1, 'x')", "INSERT is not", id="insert"),
    pytest.param("UPDATE daily_orders SET orders = 0", "UPDATE is not", id="update"),
    pytest.param("DROP TABLE daily_orders", "DROP is not", id="drop"),
    pytest.param("SELECT 1; DROP TABLE daily_orders", "exactly one statement", id="second-statement"),
    pytest.param("-- harmless\nSELECT 1; DELETE FROM daily_orders", "exactly one statement", id="after-a-comment"),
    pytest.param("COMMIT; INSERT INTO daily_orders VALUES (NULL, 1, 'x')", "exactly one statement", id="commit"),
    pytest.param("SET threads = 1", "Only", id="set"),
    pytest.param(
        "WITH gone AS (DELETE FROM daily_orders RETURNING *) SELECT * FROM gone", "DELETE is not", id="writable-cte"
    ),
    pytest.param("SELECT * FROM read_csv('/etc/passwd')", "read_csv()", id="read-csv"),
    pytest.param("SELECT * FROM '/etc/hosts.csv'", "Reading a file", id="file-as-table"),
    pytest.param("ATTACH '/tmp/other.duckdb' AS other", "Only", id="attach"),
    pytest.param("INSTALL httpfs", "Only", id="install"),
    pytest.param("SELECT day FROM", "does not parse", id="does-not-parse"),
    pytest.param("   ", "may not be blank", id="blank"),
]


@pytest.mark.parametrize(("sql", "message"), UNSAFE_SQL)
@pytest.mark.parametrize("method", ["post", "patch"])
def test_unsafe_or_unparsable_sql_is_refused_on_the_sql_field(api_for, editor, warehouse, metric, method, sql, message):
    before = db_state()

    if method == "post":
        response = send(api_for(editor), "post", METRICS, metric_body(warehouse, sql=sql))
    else:
        response = send(api_for(editor), "patch", url("metric-detail", metric), {"sql": sql, "version": 1})

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["sql"]
    assert message in response.json()["sql"][0]
    assert db_state() == before


@pytest.mark.parametrize("key", ["Orders", "orders", "orders-count", "1_orders", "orders__count", "orders_count_"])
def test_a_key_breaking_the_naming_convention_is_refused(api_for, editor, warehouse, key):
    before = db_state()

    response = send(api_for(editor), "post", METRICS, metric_body(warehouse, key=key))

    assert response.status_code == 400
    assert list(response.json()) == ["key"]
    assert "lower_snake_case" in response.json()["key"][0]
    assert db_state() == before


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_key_the_team_already_has_is_refused_on_the_key_field(api_for, editor, team, warehouse, metric, method):
    other = make_metric(team, editor, warehouse, key="sales_daily_returns_count")
    before = db_state()

    if method == "post":
        response = send(api_for(editor), "post", METRICS, metric_body(warehouse, key=metric.key))
    else:
        response = send(api_for(editor), "patch", url("metric-detail", other), {"key": metric.key, "version": 1})

    assert response.status_code == 400
    assert response.json() == {"key": ["The team already has a metric with this key."]}
    assert db_state() == before


def test_the_same_key_is_fine_in_another_team(api_for, editor, other_team, metric, duckdb_path):
    MembershipFactory(team=other_team, user=editor, role=Role.ADMIN)
    theirs = services.warehouse_create(team=other_team, by=editor, name="Theirs", url=f"duckdb:///{duckdb_path}")
    body = metric_body(theirs, team="growth", key=metric.key)

    response = send(api_for(editor), "post", METRICS, body)

    assert response.status_code == 201


def test_links_must_stay_within_the_metrics_team(api_for, editor, other_team, warehouse, metric, duckdb_path):
    MembershipFactory(team=other_team, user=editor, role=Role.EDITOR)
    their_warehouse = services.warehouse_create(team=other_team, by=editor, name="Theirs", url=warehouse.url)
    their_metric = make_metric(other_team, editor, their_warehouse)
    their_product = DataProductFactory(team=other_team)
    stranger = UserFactory(username="stranger")
    MembershipFactory(team=other_team, user=stranger, role=Role.EDITOR)
    before = db_state()

    response = send(
        api_for(editor),
        "patch",
        url("metric-detail", metric),
        {
            "warehouse": their_warehouse.pk,
            "parent": their_metric.pk,
            "data_product": their_product.pk,
            "owner": "stranger",
            "version": 1,
        },
    )

    assert response.status_code == 400
    assert set(response.json()) == {"warehouse", "parent", "data_product", "owner"}
    assert response.json()["warehouse"] == ["Pick a warehouse of this team."]
    assert response.json()["parent"] == ["Pick a metric of this team."]
    assert db_state() == before


def test_a_warehouse_of_a_team_you_do_not_belong_to_does_not_exist(api_for, editor, metric, theirs):
    before = db_state()

    response = send(
        api_for(editor), "patch", url("metric-detail", metric), {"warehouse": theirs["warehouse"].pk, "version": 1}
    )

    assert response.status_code == 400
    assert response.json() == {"warehouse": [f'Invalid pk "{theirs["warehouse"].pk}" - object does not exist.']}
    assert db_state() == before


def test_a_metric_cannot_be_its_own_parent(api_for, editor, metric):
    response = send(api_for(editor), "patch", url("metric-detail", metric), {"parent": metric.pk, "version": 1})

    assert response.status_code == 400
    assert response.json() == {"parent": ["A metric cannot be its own parent."]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"unit": "furlongs"}, "unit"),
        ({"schedule": "yearly"}, "schedule"),
        ({"tags": "sales"}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"decimals": 9}, "decimals"),
        ({"owner": "nobody"}, "owner"),
        ({"target_date": "next year"}, "target_date"),
    ],
)
def test_invalid_metric_fields_are_refused(api_for, editor, metric, change, field):
    before = db_state()

    response = send(api_for(editor), "patch", url("metric-detail", metric), {**change, "version": 1})

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert db_state() == before


def test_team_and_certification_cannot_be_changed_by_editing(api_for, editor, other_team, metric):
    MembershipFactory(team=other_team, user=editor, role=Role.ADMIN)

    response = send(
        api_for(editor),
        "patch",
        url("metric-detail", metric),
        {"team": "growth", "certified": True, "name": "Renamed", "version": 1},
    )

    assert response.status_code == 200
    metric.refresh_from_db()
    assert (metric.team.slug, metric.certified, metric.name, metric.version) == ("data", False, "Renamed", 2)


def test_edit_without_a_version_is_refused(api_for, editor, metric):
    before = db_state()

    response = send(api_for(editor), "patch", url("metric-detail", metric), {"name": "Renamed"})

    assert response.status_code == 400
    assert response.json() == {"version": ["Send the version you started from."]}
    assert db_state() == before


@pytest.mark.parametrize(
    ("name", "change", "changed_field"),
    [("metric-detail", {"name": "Theirs"}, "name"), ("warehouse-detail", {"row_cap": 77}, "row_cap")],
)
def test_stale_edit_answers_409_with_what_changed_and_changes_nothing(
    api_for, team_admin, world, name, change, changed_field
):
    obj = world["metric"] if name == "metric-detail" else world["warehouse"]
    path = url(name, obj)
    first = send(api_for(team_admin), "patch", path, {**change, "version": 1})
    assert first.status_code == 200
    before = db_state()

    mine = change[changed_field] * 2
    stale = send(api_for(team_admin), "patch", path, {changed_field: mine, "version": 1})

    assert stale.status_code == 409
    body = stale.json()
    assert set(body) == {"detail", "changed", "current"}
    assert body["changed"] == {changed_field: change[changed_field]}
    assert body["current"] == api_for(team_admin).get(path).json()
    assert body["current"]["version"] == 2
    assert db_state() == before

    retried = send(api_for(team_admin), "patch", path, {**change, "version": 2})

    assert (retried.status_code, retried.json()["version"]) == (200, 3)


# Certification


def test_admin_certifies_and_withdraws_a_metric(api_for, team_admin, metric):
    certified = send(api_for(team_admin), "post", url("metric-certify", metric), {"certified": True})

    assert certified.status_code == 200
    assert (certified.json()["certified"], certified.json()["version"]) == (True, 2)
    metric.refresh_from_db()
    assert metric.certified
    assert metric.history.first().history_user == team_admin

    withdrawn = send(api_for(team_admin), "post", url("metric-certify", metric), {"certified": False})

    assert (withdrawn.json()["certified"], withdrawn.json()["version"]) == (False, 3)


@pytest.mark.parametrize("body", [{}, {"certified": "perhaps"}])
def test_certify_needs_a_yes_or_no(api_for, team_admin, metric, body):
    before = db_state()

    response = send(api_for(team_admin), "post", url("metric-certify", metric), body)

    assert response.status_code == 400
    assert list(response.json()) == ["certified"]
    assert db_state() == before


@pytest.mark.parametrize(
    ("change", "still_certified"),
    [
        ({"sql": "SELECT day, orders * 2 FROM daily_orders ORDER BY day"}, False),
        ({"sql": f"  {ORDERS_SQL}  "}, True),  # the same query
        ({"name": "Orders per day", "definition": "Clearer."}, True),
    ],
)
def test_changing_a_certified_metrics_sql_removes_the_certification(
    api_for, team_admin, editor, metric, change, still_certified
):
    services.metric_certify(metric=metric, by=team_admin)

    response = send(api_for(editor), "patch", url("metric-detail", metric), {**change, "version": 2})

    assert response.status_code == 200, response.content
    assert response.json()["certified"] is still_certified
    metric.refresh_from_db()
    assert metric.certified is still_certified


# Refresh now


def test_refresh_now_computes_the_snapshots_from_the_warehouse(
    api_for, editor, metric, duckdb_path, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_for(editor).post(url("metric-refresh", metric))

    assert response.status_code == 202, response.content
    assert len(callbacks) == 1
    run = RefreshRun.objects.get()
    assert response.json()["id"] == run.pk
    assert (response.json()["status"], response.json()["trigger"], response.json()["requested_by"]) == (
        "queued",  # answered before the transaction committed and the task ran
        "api",
        "pam",
    )
    assert (run.status, run.rows, run.changed, run.error) == (RunStatus.SUCCEEDED, DAYS, DAYS, "")
    stored = dict(Snapshot.objects.filter(metric=metric).values_list("period", "value"))
    assert stored == dict(in_the_warehouse(duckdb_path, "SELECT day, orders FROM daily_orders"))
    assert len(stored) == DAYS

    read = api_for(editor).get(url("metric-detail", metric)).json()
    last_day = FIRST_DAY + timedelta(days=DAYS - 1)
    assert read["current_value"] == stored[last_day]
    assert (read["is_stale"], read["status"]) == (False, "no_target")
    assert read["last_refreshed_at"] is not None
    listed = api_for(editor).get(f"{RUNS}?metric={metric.pk}").json()["results"]
    assert [(row["id"], row["status"], row["rows"], row["changed"]) for row in listed] == [
        (run.pk, "succeeded", DAYS, DAYS)
    ]
    assert listed[0]["duration_s"] >= 0


def test_refresh_now_while_a_run_is_queued_answers_that_run(api_for, editor, team_admin, metric):
    first = api_for(editor).post(url("metric-refresh", metric))  # the run waits for the commit
    second = api_for(team_admin).post(url("metric-refresh", metric))

    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert RefreshRun.objects.get().requested_by.username == "pam"


def test_refresh_now_of_bad_sql_fails_the_run_and_keeps_the_snapshots(
    api_for, editor, team, warehouse, eager_celery, django_capture_on_commit_callbacks
):
    broken = make_metric(team, editor, warehouse, key="sales_daily_missing_count", sql="SELECT day, x FROM nowhere")
    Snapshot.objects.create(metric=broken, period=FIRST_DAY, value=3.0, computed_at=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(editor).post(url("metric-refresh", broken))

    assert response.status_code == 202
    run = api_for(editor).get(url("refresh-run-detail", RefreshRun.objects.get())).json()
    assert run["status"] == "failed"
    assert "nowhere" in run["error"]
    assert list(Snapshot.objects.filter(metric=broken).values_list("period", "value")) == [(FIRST_DAY, 3.0)]


def test_refresh_now_of_an_unreachable_warehouse_fails_the_run_in_the_embedded_mode(
    api_for, editor, team, locked_warehouse, eager_celery, django_capture_on_commit_callbacks
):
    unreachable = make_metric(team, editor, locked_warehouse, key="finance_daily_revenue_sum", sql="SELECT 1")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(editor).post(url("metric-refresh", unreachable))

    assert response.status_code == 202
    assert RefreshRun.objects.get().status == RunStatus.FAILED


# Preview


def test_preview_shows_the_first_rows_without_storing_anything(api_for, editor, warehouse, duckdb_path):
    before = db_state()

    response = send(api_for(editor), "post", PREVIEW, {"warehouse": warehouse.pk, "sql": ORDERS_SQL, "rows": 3})

    assert response.status_code == 200, response.content
    expected = in_the_warehouse(duckdb_path, f"{ORDERS_SQL} LIMIT 3")
    assert response.json() == {
        "columns": ["day", "orders"],
        "rows": [[day.isoformat(), value] for day, value in expected],
        "truncated": True,
    }
    assert db_state() == before


def test_preview_of_a_short_result_is_not_truncated(api_for, editor, warehouse):
    sql = "SELECT COUNT(*) AS days, SUM(orders) AS total, 'x' AS label, CAST('nan' AS DOUBLE) AS odd FROM daily_orders"

    response = send(api_for(editor), "post", PREVIEW, {"warehouse": warehouse.pk, "sql": sql})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["columns"], body["truncated"]) == (["days", "total", "label", "odd"], False)
    assert body["rows"][0][0] == DAYS and body["rows"][0][2:] == ["x", "nan"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT day, nope FROM daily_orders", "The warehouse rejected the query"),
        ("SELECT * FROM missing_table", "missing_table"),
        ("SELECT day FROM", "does not parse"),
        ("SELECT 1; DROP TABLE daily_orders", "exactly one statement"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv()"),
    ],
)
def test_preview_of_broken_or_unsafe_sql_says_what_is_wrong(api_for, editor, warehouse, sql, message):
    response = send(api_for(editor), "post", PREVIEW, {"warehouse": warehouse.pk, "sql": sql})

    assert response.status_code == 400
    assert list(response.json()) == ["sql"]
    assert message in response.json()["sql"][0]


def test_preview_of_an_unreachable_warehouse_says_so(api_for, editor, locked_warehouse):
    response = send(api_for(editor), "post", PREVIEW, {"warehouse": locked_warehouse.pk, "sql": "SELECT 1"})

    assert response.status_code == 400
    assert list(response.json()) == ["warehouse"]
    assert response.json()["warehouse"][0].startswith("Cannot reach the warehouse:")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"rows": 101}, "rows"), ({"rows": 0}, "rows"), ({"sql": None}, "sql"), ({"warehouse": 999_999}, "warehouse")],
)
def test_preview_refuses_bad_bodies(api_for, editor, warehouse, body, field):
    response = send(api_for(editor), "post", PREVIEW, {"warehouse": warehouse.pk, "sql": "SELECT 1", **body})

    assert response.status_code == 400
    assert list(response.json()) == [field]


# Snapshots and runs


@pytest.fixture
def series(metric) -> dict[date, float]:
    values = {FIRST_DAY + timedelta(days=i): float(i * 10) for i in range(DAYS)}
    for period, value in values.items():
        Snapshot.objects.create(metric=metric, period=period, value=value, computed_at=timezone.now())
    return values


@pytest.mark.parametrize(
    ("query", "first", "last"),
    [
        ("", 0, DAYS - 1),
        ("&since=2026-03-05", 4, DAYS - 1),
        ("&until=2026-03-05", 0, 4),
        ("&since=2026-03-03&until=2026-03-06", 2, 5),
        ("&since=2026-03-06&until=2026-03-03", None, None),
    ],
)
def test_snapshots_of_a_metric_between_two_dates_oldest_first(api_for, viewer, metric, series, query, first, last):
    response = api_for(viewer).get(f"{SNAPSHOTS}?metric={metric.pk}{query}")

    assert response.status_code == 200
    rows = response.json()["results"]
    expected = [] if first is None else list(series.items())[first : last + 1]
    assert [(date.fromisoformat(row["period"]), row["value"]) for row in rows] == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(
    ("query", "field"),
    [("", "metric"), ("?since=2026-03-01", "metric"), ("?metric=x", "metric"), ("?metric=1&since=March", "since")],
)
def test_snapshots_need_a_metric_and_real_dates(api_for, viewer, metric, query, field):
    response = api_for(viewer).get(f"{SNAPSHOTS}{query}")

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_snapshots_without_a_metric_say_how_to_ask(api_for, viewer):
    response = api_for(viewer).get(SNAPSHOTS)

    assert response.json() == {"metric": ["Give the metric's id: ?metric=<id>."]}


def test_snapshots_are_paginated(api_for, viewer, metric, settings):
    page_size = settings.REST_FRAMEWORK["PAGE_SIZE"]
    start = date(2024, 1, 1)
    Snapshot.objects.bulk_create(
        Snapshot(metric=metric, period=start + timedelta(days=i), value=i, computed_at=timezone.now())
        for i in range(page_size + 5)
    )

    first = api_for(viewer).get(f"{SNAPSHOTS}?metric={metric.pk}").json()
    second = api_for(viewer).get(first["next"]).json()

    assert first["count"] == page_size + 5
    assert (len(first["results"]), len(second["results"])) == (page_size, 5)
    assert second["results"][-1]["period"] == (start + timedelta(days=page_size + 4)).isoformat()


@pytest.fixture
def runs(team_admin, metric, team, editor, warehouse) -> dict[str, RefreshRun]:
    other = make_metric(team, editor, warehouse, key="sales_daily_returns_count")
    return {
        "ok": RefreshRun.objects.create(metric=metric, status=RunStatus.SUCCEEDED, requested_by=team_admin),
        "failed": RefreshRun.objects.create(metric=metric, status=RunStatus.FAILED, error="No table."),
        "other": RefreshRun.objects.create(metric=other, status=RunStatus.QUEUED),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"ok", "failed", "other"}),
        ("?status=failed", {"failed"}),
        ("?status=queued", {"other"}),
        ("?metric=METRIC", {"ok", "failed"}),
        ("?metric=METRIC&status=succeeded", {"ok"}),
        ("?status=running", set()),
    ],
)
def test_refresh_runs_filter_by_metric_and_status(api_for, viewer, metric, runs, query, expected):
    response = api_for(viewer).get(RUNS + query.replace("METRIC", str(metric.pk)))

    assert response.status_code == 200
    names = {run.pk: name for name, run in runs.items()}
    assert {names[row["id"]] for row in response.json()["results"]} == expected


def test_unknown_run_status_is_a_400(api_for, viewer, runs):
    response = api_for(viewer).get(f"{RUNS}?status=done")

    assert response.status_code == 400
    assert list(response.json()) == ["status"]


def test_a_run_reads_with_its_error_and_requester(api_for, viewer, runs):
    ok = api_for(viewer).get(url("refresh-run-detail", runs["ok"])).json()
    failed = api_for(viewer).get(url("refresh-run-detail", runs["failed"])).json()

    assert (ok["status"], ok["requested_by"], ok["duration_s"]) == ("succeeded", "ada", None)
    assert (failed["status"], failed["error"], failed["requested_by"]) == ("failed", "No table.", None)


# Filtering the catalogue


@pytest.fixture
def catalogue(team, other_team, team_admin, editor, viewer, warehouse, duckdb_path):
    MembershipFactory(team=other_team, user=viewer, role=Role.VIEWER)
    theirs = services.warehouse_create(team=other_team, by=team_admin, name="Theirs", url=warehouse.url)
    ours = {
        "north": {
            "key": "sales_weekly_revenue_sum",
            "is_north_star": True,
            "tags": ["Revenue", "exec"],
            "owner": team_admin,
        },
        "input": {"key": "sales_daily_orders_count", "tags": ["revenue"], "owner": editor},
        "plain": {"key": "ops_daily_loads_count", "tags": ["ops", "revenue_ops"]},
    }
    metrics = {name: make_metric(team, editor, warehouse, **fields) for name, fields in ours.items()}
    metrics["theirs"] = make_metric(other_team, team_admin, theirs, key="growth_daily_signups_count", tags=["revenue"])
    services.metric_certify(metric=metrics["input"], by=team_admin)
    return metrics


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"north", "input", "plain", "theirs"}),
        ("team=data", {"north", "input", "plain"}),
        ("team=growth", {"theirs"}),
        ("owner=pam", {"input"}),
        ("owner=ada", {"north"}),
        ("tag=revenue", {"north", "input", "theirs"}),
        ("tag=Revenue", {"north", "input", "theirs"}),
        ("tag=reven", set()),  # a whole tag, not a piece of one
        ("tag=revenue_ops", {"plain"}),
        ("certified=true", {"input"}),
        ("certified=false", {"north", "plain", "theirs"}),
        ("is_north_star=true", {"north"}),
        ("team=data&tag=revenue&certified=false", {"north"}),
    ],
)
def test_metrics_filter_by_team_owner_tag_certified_and_north_star(api_for, viewer, catalogue, query, expected):
    response = api_for(viewer).get(f"{METRICS}?{query}")

    assert response.status_code == 200
    names = {metric.pk: name for name, metric in catalogue.items()}
    assert {names[row["id"]] for row in response.json()["results"]} == expected
    assert response.json()["count"] == len(expected)


def test_filtering_by_the_team_does_not_reveal_its_metrics_to_an_outsider(api_for, outsider, metric):
    response = api_for(outsider).get(f"{METRICS}?team=data")

    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_current_value_and_status_come_from_the_latest_snapshot(api_for, viewer, metric):
    Metric.objects.filter(pk=metric.pk).update(
        last_refreshed_at=timezone.now(), warning_threshold=50, critical_threshold=20
    )
    for day, value in (
        (FIRST_DAY, 100.0),
        (FIRST_DAY + timedelta(days=2), 30.0),
        (FIRST_DAY + timedelta(days=1), 90.0),
    ):
        Snapshot.objects.create(metric=metric, period=day, value=value, computed_at=timezone.now())

    row = api_for(viewer).get(METRICS).json()["results"][0]

    assert (row["current_value"], row["status"], row["is_stale"]) == (30.0, "at_risk", False)


# Query counts: a list costs the same whatever the number of rows.


def _rows_of_warehouses(team, admin, editor, warehouse, rows: int) -> None:
    for i in range(rows - 1):  # the team's warehouse is the first row
        services.warehouse_create(team=team, by=admin, name=f"Warehouse {i}", url=warehouse.url, secret=f"s{i}")


def _rows_of_metrics(team, admin, editor, warehouse, rows: int) -> Metric:
    parent = None
    for i in range(rows):
        owner = editor if i % 2 else admin
        key = f"sales_daily_count_{i}"
        parent = make_metric(team, editor, warehouse, key=key, owner=owner, parent=parent, tags=["a", "b"])
        for day in range(3):
            snapshot(parent, FIRST_DAY + timedelta(days=day), day)
    return parent


def _rows_of_snapshots(team, admin, editor, warehouse, rows: int) -> Metric:
    metric = make_metric(team, editor, warehouse)
    run = RefreshRun.objects.create(metric=metric, status=RunStatus.SUCCEEDED)
    for day in range(rows):
        snapshot(metric, FIRST_DAY + timedelta(days=day), day, run=run)
    return metric


def _rows_of_runs(team, admin, editor, warehouse, rows: int) -> Metric:
    metric = make_metric(team, editor, warehouse)
    for i in range(rows):
        RefreshRun.objects.create(metric=metric, requested_by=editor if i % 2 else admin, status=RunStatus.SUCCEEDED)
    return metric


LIST_QUERIES = [
    # count, warehouses page joined with team (the teams you administer: a subquery)
    pytest.param(WAREHOUSES, _rows_of_warehouses, 2, id="warehouses"),
    # count, metrics page joined with team and owner, the current value a subquery
    pytest.param(METRICS, _rows_of_metrics, 2, id="metrics"),
    # count, snapshots page (your teams: a subquery)
    pytest.param(SNAPSHOTS + "?metric=METRIC", _rows_of_snapshots, 2, id="snapshots"),
    # count, runs page joined with requester
    pytest.param(RUNS, _rows_of_runs, 2, id="refresh-runs"),
]


@pytest.mark.parametrize("rows", [1, 20])
@pytest.mark.parametrize(("path", "populate", "queries"), LIST_QUERIES)
def test_list_query_count_is_fixed(
    api_for, team_admin, editor, team, warehouse, django_assert_num_queries, path, populate, queries, rows
):
    made = populate(team, team_admin, editor, warehouse, rows)
    if "METRIC" in path:
        path = path.replace("METRIC", str(made.pk))
    client = api_for(team_admin)  # force_authenticate: no session or token query

    with django_assert_num_queries(queries):
        response = client.get(path)

    assert response.status_code == 200
    assert response.json()["count"] == rows


# The OpenAPI schema


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("schema") / "schema.yml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_documents_every_metrics_endpoint_and_its_answers(schema):
    prefixes = ("/api/warehouses/", "/api/metrics/", "/api/snapshots/", "/api/refresh-runs/")
    answers = {
        (path, method): set(operation["responses"])
        for path, operations in schema["paths"].items()
        if path.startswith(prefixes)
        for method, operation in operations.items()
    }
    crud = {
        "list": {"200", "401"},
        "create": {"201", "400", "401", "403", "404"},
        "retrieve": {"200", "401", "404"},
        "update": {"200", "400", "401", "403", "404", "409"},
        "delete": {"204", "400", "401", "403", "404"},
    }
    assert answers == {
        ("/api/warehouses/", "get"): crud["list"],
        ("/api/warehouses/", "post"): crud["create"],
        ("/api/warehouses/{id}/", "get"): crud["retrieve"],
        ("/api/warehouses/{id}/", "put"): crud["update"],
        ("/api/warehouses/{id}/", "patch"): crud["update"],
        ("/api/warehouses/{id}/", "delete"): crud["delete"],
        ("/api/warehouses/{id}/test-connection/", "post"): {"200", "401", "404"},
        ("/api/metrics/", "get"): crud["list"],
        ("/api/metrics/", "post"): crud["create"],
        ("/api/metrics/{id}/", "get"): crud["retrieve"],
        ("/api/metrics/{id}/", "put"): crud["update"],
        ("/api/metrics/{id}/", "patch"): crud["update"],
        ("/api/metrics/{id}/", "delete"): crud["delete"],
        ("/api/metrics/{id}/certify/", "post"): {"200", "400", "401", "403", "404"},
        ("/api/metrics/{id}/refresh/", "post"): {"202", "401", "403", "404"},
        ("/api/metrics/preview/", "post"): {"200", "400", "401", "403", "404"},
        ("/api/snapshots/", "get"): {"200", "400", "401"},
        ("/api/refresh-runs/", "get"): {"200", "400", "401"},
        ("/api/refresh-runs/{id}/", "get"): {"200", "401", "404"},
    }


def test_schema_shapes_of_requests_and_answers(schema):
    components = schema["components"]["schemas"]
    assert set(components["WarehouseRequest"]["required"]) == {"team", "name", "url"}
    assert "secret" in components["WarehouseRequest"]["properties"]
    assert "secret_ciphertext" not in components["Warehouse"]["properties"]
    assert services.MASK in components["Warehouse"]["properties"]["secret"]["description"]
    metric = components["Metric"]["properties"]
    for read_only in ("certified", "current_value", "last_refreshed_at", "is_stale", "status"):
        assert metric[read_only]["readOnly"] is True
        assert read_only not in components["MetricRequest"]["properties"]
    assert set(components["MetricRequest"]["required"]) == {"team", "key", "name", "definition", "warehouse", "sql"}
    assert components["MetricRequest"]["properties"]["tags"]["items"]["type"] == "string"
    assert set(components["PreviewRequest"]["properties"]) == {"warehouse", "sql", "rows"}
    assert components["PreviewRequest"]["properties"]["rows"]["maximum"] == 100
    assert set(components["MetricPreview"]["properties"]) == {"columns", "rows", "truncated"}
    assert set(components["ConnectionCheck"]["properties"]) == {"ok", "message"}
    assert components["CertifyRequest"]["required"] == ["certified"]
    refresh = schema["paths"]["/api/metrics/{id}/refresh/"]["post"]["responses"]["202"]["content"]["application/json"]
    assert refresh["schema"] == {"$ref": "#/components/schemas/RefreshRun"}
    snapshot_parameters = {p["name"]: p for p in schema["paths"]["/api/snapshots/"]["get"]["parameters"]}
    assert {"metric", "since", "until", "page"} <= set(snapshot_parameters)
    assert snapshot_parameters["metric"]["required"] is True
    metric_parameters = {p["name"] for p in schema["paths"]["/api/metrics/"]["get"]["parameters"]}
    assert {"team", "owner", "tag", "certified", "is_north_star"} <= metric_parameters


def test_schema_names_each_status_enum_apart(schema):
    components = schema["components"]["schemas"]

    assert components["RunStatusEnum"]["enum"] == RunStatus.values
    assert "no_data" in components["TargetStatusEnum"]["enum"]
    assert "achieved" in components["StatusEnum"]["enum"]  # the goals' statuses keep their name
    assert not [name for name in components if name.startswith("Status") and name != "StatusEnum"]
