"""The demo team's metric catalogue on the DuckDB demo warehouse, computed at seed time."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from metrics import services as metric_services
from metrics.models import Direction, Grain, Metric, Schedule, Unit, Warehouse
from metrics.progress import ProgressBar
from opportunities import services as tree_services
from opportunities.models import Kind, Node, SolutionStatus

from . import warehouse as demo_warehouse

WAREHOUSE_PATH = Path(settings.BASE_DIR) / "var" / "demo-warehouse.duckdb"

WEEK = "date_trunc('week', day)"

# key, name, unit, direction, grain, parent key, north star, target, warning, critical, tags, product, definition, sql
METRICS = [
    ("data_weekly_active_consumers", "Weekly active data consumers", Unit.COUNT, Direction.UP, Grain.WEEK, None, True,
     1200, 900, 700, ["north-star", "adoption"], "Revenue dashboard",
     "People outside the data team who used at least one of our data products in the week (dashboard viewers, "
     "counted once per day and product, summed over the week).",
     f"SELECT {WEEK} AS period, sum(viewers) AS value FROM dashboard_views "
     f"WHERE day < date_trunc('week', (SELECT max(day) FROM calendar)) GROUP BY 1 ORDER BY 1"),
    ("dashboards_weekly_views", "Dashboard views per week", Unit.COUNT, Direction.UP, Grain.WEEK,
     "data_weekly_active_consumers", False, None, None, None, ["adoption"], "Revenue dashboard",
     "Views of every dashboard we own, per week.",
     f"SELECT {WEEK} AS period, sum(views) AS value FROM dashboard_views "
     f"WHERE day < date_trunc('week', (SELECT max(day) FROM calendar)) GROUP BY 1 ORDER BY 1"),
    ("forecast_weekly_active_merchandisers", "Merchandisers using the forecast weekly", Unit.COUNT, Direction.UP,
     Grain.WEEK, "data_weekly_active_consumers", False, 40, 30, 20, ["forecast", "adoption"], "Demand forecast",
     "Distinct merchandisers who opened the demand forecast at least once in the week (the peak day counts).",
     f"SELECT {WEEK} AS period, max(active_merchandisers) AS value FROM forecast_usage "
     f"WHERE day < date_trunc('week', (SELECT max(day) FROM calendar)) GROUP BY 1 ORDER BY 1"),
    ("requests_median_hours_to_answer", "Hours to answer a data request", Unit.COUNT, Direction.DOWN, Grain.WEEK,
     "data_weekly_active_consumers", False, 24, 30, 48, ["self-serve"], None,
     "Median hours from an ad-hoc data request to its answer, per week (median of the daily medians).",
     f"SELECT {WEEK} AS period, round(median(median_hours_to_answer), 1) AS value FROM data_requests "
     f"WHERE day < date_trunc('week', (SELECT max(day) FROM calendar)) GROUP BY 1 ORDER BY 1"),
    ("pipelines_daily_failure_rate", "Pipeline failure rate", Unit.PERCENT, Direction.DOWN, Grain.DAY,
     "data_weekly_active_consumers", False, 3, 5, 10, ["reliability"], "Orders",
     "Share of scheduled pipeline runs that failed that day, in percent.",
     "SELECT day AS period, round(100.0 * sum(CASE WHEN succeeded THEN 0 ELSE 1 END) / count(*), 1) AS value "
     "FROM pipeline_runs GROUP BY 1 ORDER BY 1"),
    ("pipelines_orders_load_seconds", "Orders load time", Unit.DURATION, Direction.DOWN, Grain.DAY,
     "pipelines_daily_failure_rate", False, 1200, 1500, 1800, ["reliability"], "Orders",
     "How long the nightly orders load took, in seconds.",
     "SELECT day AS period, duration_s AS value FROM pipeline_runs WHERE pipeline = 'orders' ORDER BY 1"),
    ("orders_data_freshness_hours", "Orders data age", Unit.COUNT, Direction.DOWN, Grain.DAY,
     "pipelines_daily_failure_rate", False, 6, 12, 24, ["reliability", "freshness"], "Orders",
     "Hours since the orders table last loaded successfully, as of the end of the latest day.",
     "SELECT date_diff('hour', max(started_at), CAST((SELECT max(day) FROM calendar) AS TIMESTAMP) + INTERVAL 6 HOUR) "
     "FROM pipeline_runs WHERE pipeline = 'orders' AND succeeded"),
    ("sales_daily_revenue", "Revenue", Unit.CURRENCY, Direction.UP, Grain.DAY, None, True,
     90000, 75000, 60000, ["north-star", "sales"], "Revenue dashboard",
     "Net revenue of all orders placed that day, across web, app and stores, in euros.",
     "SELECT day AS period, round(sum(revenue), 2) AS value FROM daily_orders GROUP BY 1 ORDER BY 1"),
    ("sales_daily_orders", "Orders", Unit.COUNT, Direction.UP, Grain.DAY, "sales_daily_revenue", False,
     None, None, None, ["sales"], "Orders",
     "Orders placed that day, all channels.",
     "SELECT day AS period, sum(orders) AS value FROM daily_orders GROUP BY 1 ORDER BY 1"),
    ("checkout_conversion_rate", "Checkout conversion", Unit.PERCENT, Direction.UP, Grain.DAY,
     "sales_daily_revenue", False, 8, 7, 6, ["sales", "web"], None,
     "Completed checkouts over web and app sessions that day, in percent.",
     "SELECT day AS period, round(100.0 * checkouts_completed / sessions, 2) AS value FROM checkout_sessions ORDER BY 1"),
    ("sales_average_order_value", "Average order value", Unit.CURRENCY, Direction.UP, Grain.DAY,
     "sales_daily_revenue", False, 60, 55, 50, ["sales"], "Orders",
     "Revenue divided by orders, all channels, that day.",
     "SELECT day AS period, round(sum(revenue) / sum(orders), 2) AS value FROM daily_orders GROUP BY 1 ORDER BY 1"),
    ("stores_weekly_dashboard_viewers", "Store managers reading the revenue dashboard", Unit.COUNT, Direction.UP,
     Grain.WEEK, "dashboards_weekly_views", False, 150, 120, 90, ["adoption", "stores"], "Revenue dashboard",
     "Store viewers of the revenue dashboard per week.",
     f"SELECT {WEEK} AS period, sum(viewers) AS value FROM dashboard_views WHERE consuming_team = 'Stores' "
     f"AND day < date_trunc('week', (SELECT max(day) FROM calendar)) GROUP BY 1 ORDER BY 1"),
]  # fmt: skip

OUTCOME_METRICS = {
    "Analysts answer their own questions within a day": "requests_median_hours_to_answer",
    "Merchandisers order from the forecast, not from spreadsheets": "forecast_weekly_active_merchandisers",
    "Leaders trust the numbers they read": "data_weekly_active_consumers",
}
CERTIFIED = {"sales_daily_revenue", "sales_daily_orders", "data_weekly_active_consumers", "checkout_conversion_rate"}


def seed_metrics(team, users: dict, products: dict, *, stream=None) -> int:  # type: ignore[no-untyped-def]
    """Build the warehouse file, define the catalogue, compute it, link outcomes. Returns metrics created."""
    shipped = dict(
        Node.objects.filter(team=team, kind=Kind.SOLUTION, title__in=list(demo_warehouse.EFFECTS))
        .exclude(shipped_on=None)
        .values_list("title", "shipped_on")
    )  # the warehouse's numbers move on the day these solutions really shipped in the tree
    demo_warehouse.build(WAREHOUSE_PATH, timezone.localdate(), shipped)
    warehouse = Warehouse.objects.filter(team=team, name="Demo warehouse (DuckDB)").first()
    if warehouse is None:
        warehouse = metric_services.warehouse_create(
            team=team, by=users["admin"], name="Demo warehouse (DuckDB)", url=f"duckdb:///{WAREHOUSE_PATH}"
        )
    created = 0
    by_key = {m.key: m for m in Metric.objects.filter(team=team)}
    for key, name, unit, direction, grain, parent, north, target, warn, crit, tags, product, definition, sql in METRICS:
        if key in by_key:
            continue
        owner = users["lead"] if "pipelines" in key or "orders_data" in key else users["pm"]
        by_key[key] = metric_services.metric_create(
            team=team, by=owner, key=key, name=name, unit=unit, direction=direction, grain=grain,
            parent=by_key.get(parent) if parent else None, is_north_star=north, target_value=target,
            target_date=timezone.localdate().replace(month=12, day=31) if target is not None else None,
            warning_threshold=warn, critical_threshold=crit, tags=tags, owner=owner, warehouse=warehouse,
            data_product=products.get(product) if product else None, definition=definition, sql=sql,
            schedule=Schedule.WEEKLY if grain == Grain.WEEK else Schedule.DAILY, decimals=1 if unit == Unit.PERCENT else 0,
        )  # fmt: skip
        if key in CERTIFIED:
            metric_services.metric_certify(metric=by_key[key], by=users["admin"])
        created += 1
    bar = ProgressBar(len(by_key), "Computing the demo metrics", stream=stream or sys.stderr)
    for metric in by_key.values():
        metric.refresh_from_db()
        metric_services.refresh_sync(metric=metric, trigger="seed")
        bar.advance(metric.key)
    _link_tree(team, users, by_key)
    return created


def _link_tree(team, users: dict, by_key: dict) -> None:  # type: ignore[no-untyped-def]
    """Outcomes point at the metric that measures them; shipped solutions annotate its chart."""
    for title, key in OUTCOME_METRICS.items():
        outcome = Node.objects.filter(team=team, kind=Kind.OUTCOME, title=title).first()
        if outcome is not None and outcome.metric_id is None:
            tree_services.node_update(
                node=outcome, expected_version=outcome.version, by=users["pm"], metric=by_key[key]
            )
    for solution in Node.objects.filter(team=team, kind=Kind.SOLUTION, status=SolutionStatus.SHIPPED):
        tree_services.annotate_shipped(solution, by=users["pm"])
    revenue = by_key.get("sales_daily_revenue")
    if revenue is not None and not revenue.annotations.filter(source="note").exists():
        metric_services.annotation_add(
            metric=revenue,
            day=timezone.localdate() - timedelta(days=26),
            by=users["lead"],
            text="Black Friday campaign started",
        )
