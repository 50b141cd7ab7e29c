"""Weekly review test data: factories, and metrics with crafted snapshot series.

`metric_with_series(team, [..values..])` makes a metric whose last value is today's (or the
given day's), one period apart by its grain, and marks it freshly refreshed, so its numbers
and status are exactly what the test wrote.
"""

from __future__ import annotations

from datetime import date, timedelta

import factory
from django.utils import timezone

from metrics.models import Grain, Metric, RefreshRun, RunStatus, Snapshot, Warehouse
from reviews.models import ActionItem, Delivery, Review, ReviewItem, ReviewSchedule, Section
from tests.portfolio.factories import TeamFactory

STEP = {Grain.DAY: timedelta(days=1), Grain.WEEK: timedelta(weeks=1)}


def monday(day: date | None = None) -> date:
    day = day or timezone.localdate()
    return day - timedelta(days=day.weekday())


class ReviewScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewSchedule

    team = factory.SubFactory(TeamFactory)


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    team = factory.SubFactory(TeamFactory)
    week = factory.LazyFunction(monday)


class ReviewItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewItem

    review = factory.SubFactory(ReviewFactory)
    section = Section.OFF_TRACK
    key = factory.Sequence(lambda n: f"metric:{n + 1000}")
    title = factory.Sequence(lambda n: f"Item {n}")
    display_value = "1,234"
    status = "off_track"
    sparkline = factory.LazyFunction(lambda: [[(timezone.localdate() - timedelta(days=1)).isoformat(), 1.0]])


class ActionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionItem

    review = factory.SubFactory(ReviewFactory)
    team = factory.LazyAttribute(lambda a: a.review.team)
    title = factory.Sequence(lambda n: f"Action {n}")


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    review = factory.SubFactory(ReviewFactory)
    channel = "webhook"
    target = "https://hooks.example.com/…"


def warehouse_for(team) -> Warehouse:
    """A warehouse row for crafted series (never queried: the snapshots are written directly)."""
    warehouse, _ = Warehouse.objects.get_or_create(team=team, name="Crafted", defaults={"url": "duckdb:///:memory:"})
    return warehouse


_keys = iter(range(1, 10**6))


def metric_with_series(
    team,
    values: list[float],
    *,
    last_day: date | None = None,
    grain: str = Grain.DAY,
    fresh: bool = True,
    **fields,
) -> Metric:
    """A metric of `team` with `values` (oldest first) ending on `last_day` (today), one period apart."""
    n = next(_keys)
    fields.setdefault("key", f"crafted_metric_{n}")
    fields.setdefault("name", f"Crafted metric {n}")
    metric = Metric.objects.create(
        team=team,
        warehouse=warehouse_for(team),
        definition="Crafted for a test.",
        sql="SELECT 1",
        grain=grain,
        last_refreshed_at=timezone.now() if fresh else None,
        **fields,
    )
    last_day = last_day or timezone.localdate()
    if grain == Grain.WEEK:
        last_day = monday(last_day)
    step = STEP[grain]
    now = timezone.now()
    Snapshot.objects.bulk_create(
        Snapshot(metric=metric, period=last_day - step * (len(values) - 1 - i), value=v, computed_at=now)
        for i, v in enumerate(values)
    )
    return metric


def failed_run(metric: Metric, error: str = "relation daily_orders does not exist") -> RefreshRun:
    return RefreshRun.objects.create(
        metric=metric, status=RunStatus.FAILED, error=error, finished_at=timezone.now(), attempts=1
    )
