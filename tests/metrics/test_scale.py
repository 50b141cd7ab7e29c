"""The catalogue and the metric page cost the same queries with 300 metrics and two years of
daily snapshots each as with a handful (the issue's size, built in bulk)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from metrics.models import Metric, Snapshot
from tests.metrics.factories import duckdb_path, duckdb_warehouse  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
DAYS = 730


def build(team, warehouse, editor, count: int, days: int) -> list[Metric]:
    metrics = Metric.objects.bulk_create(
        Metric(
            team=team,
            key=f"scale_metric_{i:03d}",
            name=f"Metric {i}",
            definition="d",
            warehouse=warehouse,
            sql="SELECT 1",
            owner=editor,
            tags=["scale"],
            target_value=100,
            warning_threshold=90,
            critical_threshold=80,
            last_refreshed_at=timezone.now(),
        )  # fmt: skip
        for i in range(count)
    )
    last = timezone.localdate()
    Snapshot.objects.bulk_create(
        (
            Snapshot(metric=m, period=last - timedelta(days=d), value=100 + (d % 17), computed_at=timezone.now())
            for m in metrics
            for d in range(days)
        ),
        batch_size=5000,
    )
    return metrics


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_catalogue_and_metric_page_queries_do_not_grow_with_300_metrics_of_two_years(
    team,
    editor,
    other_team,
    duckdb_warehouse,  # noqa: F811 - the fixture imported above
    client_for,
):
    client = client_for(editor)
    small = build(team, duckdb_warehouse, editor, 3, 30)
    small_catalogue = queries_for(client, f"/t/{team.slug}/metrics/")
    small_page = queries_for(client, f"/t/{team.slug}/metrics/{small[0].key}/?range=all")
    Metric.objects.filter(team=team).delete()

    large = build(team, duckdb_warehouse, editor, 300, DAYS)
    assert Snapshot.objects.count() == 300 * DAYS
    assert queries_for(client, f"/t/{team.slug}/metrics/") == small_catalogue
    assert queries_for(client, f"/t/{team.slug}/metrics/{large[0].key}/?range=all") == small_page
