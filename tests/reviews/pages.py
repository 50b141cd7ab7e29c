"""Builders for the review page tests: a team's metrics with real snapshots, and reviews prepared
from them by the real agenda (services.review_prepare without a warehouse refresh)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from metrics.models import Direction, Grain, Metric, Snapshot, Warehouse
from portfolio.models import Team
from reviews import services
from reviews.models import ActionItem, Review, ReviewStatus


def warehouse_of(team: Team) -> Warehouse:
    return Warehouse.objects.get_or_create(
        team=team, name="Test warehouse", defaults={"url": "sqlite:////tmp/none.db"}
    )[0]


def metric(team: Team, key: str, *, values: list[float], north_star: bool = False, **fields) -> Metric:  # type: ignore[no-untyped-def]
    """A daily metric refreshed just now, with one snapshot per day ending today (oldest first)."""
    defaults = {
        "name": key.replace("_", " ").capitalize(),
        "direction": Direction.UP,
        "grain": Grain.DAY,
        "sql": "SELECT 1",
        "target_value": 100,
        "warning_threshold": 90,
        "critical_threshold": 80,
    }
    m = Metric.objects.create(
        team=team,
        warehouse=warehouse_of(team),
        key=key,
        is_north_star=north_star,
        last_refreshed_at=timezone.now(),
        **{**defaults, **fields},
    )
    today = timezone.localdate()
    Snapshot.objects.bulk_create(
        Snapshot(metric=m, period=today - timedelta(days=len(values) - 1 - i), value=v, computed_at=timezone.now())
        for i, v in enumerate(values)
    )
    return m


def falling(start: float, days: int = 35, step: float = 1.0) -> list[float]:
    return [start - i * step for i in range(days)]


def catalogue(team: Team, size: int) -> None:
    """A north star on track plus `size - 1` metrics off track (each lands on the agenda)."""
    metric(team, "data_weekly_active_consumers", values=falling(150, step=-1), north_star=True, name="Active consumers")
    for i in range(size - 1):
        metric(team, f"pipeline_health_{i}", values=falling(100), name=f"Pipeline health {i}")


def prepared(team: Team, by, *, week=None) -> Review:  # type: ignore[no-untyped-def]
    return services.review_prepare(team=team, by=by, week=week, refresh=False)


def closed(team: Team, by, *, weeks_ago: int, summary: str = "A calm week.", actions=()) -> Review:  # type: ignore[no-untyped-def]
    """A review of an earlier week, prepared, with the given actions (titles or dicts of fields) raised, and closed."""
    week = services.current_week(team) - timedelta(weeks=weeks_ago)
    review = prepared(team, by, week=week)
    for raised in actions:
        fields = {"title": raised} if isinstance(raised, str) else raised
        services.action_add(review=review, by=by, **fields)
    return services.review_close(review=review, by=by, summary=summary)


def action(review: Review, by, title: str = "Fix the orders load", **fields) -> ActionItem:  # type: ignore[no-untyped-def]
    return services.action_add(review=review, title=title, by=by, **fields)


def draft_of(team: Team) -> Review:
    return Review.objects.get(team=team, status__in=[ReviewStatus.DRAFT, ReviewStatus.OPEN])
