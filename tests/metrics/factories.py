"""Metrics test data: a real DuckDB warehouse file, and factories for definitions and their numbers."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import factory
import pytest
from django.utils import timezone

from metrics import warehouses
from metrics.models import Annotation, Metric, RefreshRun, Snapshot, Warehouse

DAILY_ORDERS_SQL = "SELECT day, orders FROM daily_orders ORDER BY day"


def make_duckdb_file(path: Path, *, days: int = 60, last_day: date | None = None) -> Path:
    """A DuckDB file with a table `daily_orders(day, orders)`: `days` days ending `last_day` (today)."""
    last_day = last_day or timezone.localdate()
    first_day = last_day - timedelta(days=days - 1)
    warehouses.dispose_all()  # DuckDB allows one configuration of a file per process
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "CREATE OR REPLACE TABLE daily_orders AS "
            "SELECT CAST(? + INTERVAL (i) DAY AS DATE) AS day, CAST(100 + (i * 37) % 50 AS BIGINT) AS orders "
            "FROM range(?) t(i)",
            [first_day, days],
        )
    return path


def duckdb_values(path: Path, sql: str = DAILY_ORDERS_SQL) -> dict[date, float]:
    """What the warehouse itself says, read with DuckDB's own driver (not through Sextant)."""
    warehouses.dispose_all()  # DuckDB allows one configuration of a file per process
    with duckdb.connect(str(path), read_only=True) as conn:
        return {day: float(value) for day, value in conn.execute(sql).fetchall()}


@pytest.fixture
def duckdb_path(tmp_path) -> Path:
    path = make_duckdb_file(tmp_path / "warehouse.duckdb")
    yield path
    warehouses.dispose_all()


@pytest.fixture
def duckdb_warehouse(team, duckdb_path) -> Warehouse:
    """The team's warehouse: a real DuckDB file with 60 days of orders."""
    return Warehouse.objects.create(team=team, name="Analytics", url=f"duckdb:///{duckdb_path}")


class MetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Metric

    team = factory.LazyAttribute(lambda m: m.warehouse.team)
    warehouse = None  # pass the team's warehouse
    key = factory.Sequence(lambda n: f"orders_daily_count_{n}")
    name = factory.Sequence(lambda n: f"Daily orders {n}")
    definition = "Orders placed per day, cancelled ones included."
    sql = DAILY_ORDERS_SQL


class SnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Snapshot

    metric = None
    period = factory.LazyFunction(timezone.localdate)
    value = 1.0
    computed_at = factory.LazyFunction(timezone.now)


class RefreshRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RefreshRun

    metric = None
    trigger = "schedule"


class AnnotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Annotation

    metric = None
    date = factory.LazyFunction(timezone.localdate)
    text = "Something happened."


def add_snapshots(metric: Metric, days: int, *, last_day: date | None = None, base: float = 100.0) -> None:
    """`days` daily snapshots ending `last_day` (today), in one insert."""
    last_day = last_day or timezone.localdate()
    now = timezone.now()
    Snapshot.objects.bulk_create(
        Snapshot(metric=metric, period=last_day - timedelta(days=i), value=base + (i * 7) % 13, computed_at=now)
        for i in range(days)
    )
