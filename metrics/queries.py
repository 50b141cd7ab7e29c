"""Reads of the metrics domain shaped for pages and the API, each a fixed number of queries.

The catalogue reads every metric of a team with its latest values and a sparkline's worth of
recent snapshots in three queries, whatever the number of metrics or of snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import F, OuterRef, Prefetch, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from portfolio.models import Team

from .models import Annotation, Metric, RefreshRun, RunStatus, Snapshot, TargetStatus, Unit

SPARK_POINTS = 30


@dataclass
class MetricRow:
    metric: Metric
    points: list[tuple[date, float]]  # oldest first, at most SPARK_POINTS
    current: float | None
    previous: float | None
    status: TargetStatus
    run_status: str | None  # the latest run's status
    run_error: str
    children: list[MetricRow] = field(default_factory=list)

    @property
    def change(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def change_pct(self) -> float | None:
        if self.change is None or not self.previous:
            return None
        return self.change / abs(self.previous) * 100

    @property
    def improving(self) -> bool | None:
        if not self.change:
            return None
        return (self.change > 0) == (self.metric.direction == "up")


def _recent_points(metric_ids: list[int], limit: int = SPARK_POINTS) -> dict[int, list[tuple[date, float]]]:
    """The last `limit` snapshots of each metric, oldest first. One query (a window function)."""
    ranked = (
        Snapshot.objects.filter(metric_id__in=metric_ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("metric_id")], order_by=F("period").desc()))
        .filter(rank__lte=limit)
        .values_list("metric_id", "period", "value")
    )
    points: dict[int, list[tuple[date, float]]] = {pk: [] for pk in metric_ids}
    for metric_id, period, value in ranked:
        points[metric_id].append((period, value))
    for series in points.values():
        series.sort()
    return points


def _with_latest_run(queryset: QuerySet[Metric]) -> QuerySet[Metric]:
    latest = RefreshRun.objects.filter(metric=OuterRef("pk")).order_by("-queued_at", "-pk")
    return queryset.annotate(
        latest_run_status=Subquery(latest.values("status")[:1]),
        latest_run_error=Subquery(latest.values("error")[:1]),
    )


@dataclass
class CatalogueFilter:
    text: str = ""
    owner: str = ""
    tag: str = ""
    certified: str = ""  # "yes", "no" or ""
    status: str = ""

    @property
    def active(self) -> bool:
        return any((self.text, self.owner, self.tag, self.certified, self.status))


def catalogue(*, team: Team, catalogue_filter: CatalogueFilter | None = None) -> list[MetricRow]:
    """The team's metrics as the KPI tree (north stars first, inputs under them). Two queries."""
    f = catalogue_filter or CatalogueFilter()
    metrics = _with_latest_run(Metric.objects.filter(team=team).select_related("owner", "warehouse")).order_by(
        "-is_north_star", "key"
    )
    metrics = list(metrics)
    points = _recent_points([m.pk for m in metrics])
    rows: dict[int, MetricRow] = {}
    for metric in metrics:
        series = points[metric.pk]
        current = series[-1][1] if series else None
        previous = series[-2][1] if len(series) > 1 else None
        rows[metric.pk] = MetricRow(
            metric=metric,
            points=series,
            current=current,
            previous=previous,
            status=metric.status_for(current),
            run_status=metric.latest_run_status,
            run_error=metric.latest_run_error or "",
        )
    visible = {pk for pk, row in rows.items() if _matches(row, f)}
    if f.active:  # keep the ancestors of matches, for context
        for pk in list(visible):
            parent = rows[pk].metric.parent_id
            while parent and parent in rows and parent not in visible:
                visible.add(parent)
                parent = rows[parent].metric.parent_id
    roots = []
    for pk, row in rows.items():
        if pk not in visible:
            continue
        parent = row.metric.parent_id
        if parent in rows and parent in visible:
            rows[parent].children.append(row)
        else:
            roots.append(row)
    return roots


def _matches(row: MetricRow, f: CatalogueFilter) -> bool:
    m = row.metric
    text = f.text.casefold()
    return (
        (not text or text in m.key.casefold() or text in m.name.casefold() or text in m.definition.casefold())
        and (not f.owner or (m.owner and m.owner.username == f.owner))
        and (not f.tag or f.tag in m.tags)
        and (not f.certified or m.certified == (f.certified == "yes"))
        and (not f.status or row.status == f.status)
    )


RANGES = {"4w": 28, "quarter": 91, "year": 365, "all": None}


@dataclass
class MetricDetail:
    metric: Metric
    series: list[tuple[date, float]]
    annotations: list[Annotation]
    runs: list[RefreshRun]
    current: float | None
    previous: float | None
    status: TargetStatus
    range: str


def metric_detail(*, team: Team, key: str, range_: str = "quarter") -> MetricDetail:
    """One metric with its series in the range, annotations, recent runs. Five or six queries."""
    metric = (
        Metric.objects.select_related("owner", "warehouse", "parent", "data_product", "team")
        .prefetch_related(Prefetch("inputs", queryset=Metric.objects.order_by("key")))
        .get(team=team, key=key)
    )
    days = RANGES.get(range_, RANGES["quarter"])
    snapshots = Snapshot.objects.filter(metric=metric)
    annotations = Annotation.objects.filter(metric=metric).select_related("created_by")
    if days is not None:
        latest = snapshots.order_by("-period").values_list("period", flat=True).first() or timezone.localdate()
        since = latest - timedelta(days=days)
        snapshots = snapshots.filter(period__gt=since)
        annotations = annotations.filter(date__gt=since)
    series = list(snapshots.order_by("period").values_list("period", "value"))
    current = series[-1][1] if series else None
    previous = series[-2][1] if len(series) > 1 else None
    runs = list(RefreshRun.objects.filter(metric=metric).select_related("requested_by")[:10])
    return MetricDetail(
        metric=metric,
        series=series,
        annotations=list(annotations),
        runs=runs,
        current=current,
        previous=previous,
        status=metric.status_for(current),
        range=range_ if range_ in RANGES else "quarter",
    )


def active_run(*, metric: Metric) -> RefreshRun | None:
    return RefreshRun.objects.filter(metric=metric, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).first()


def format_value(value: float | None, metric: Metric) -> str:
    """A number as people read it: 12,340 · 3.4% · €1.2M · 2 h 05 min."""
    if value is None:
        return "—"
    if metric.unit == Unit.PERCENT:
        return f"{value:,.{max(metric.decimals, 1)}f}%"
    if metric.unit == Unit.CURRENCY:
        symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(metric.currency, metric.currency + " ")
        for threshold, divisor, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
            if abs(value) >= threshold:
                return f"{symbol}{value / divisor:,.1f}{suffix}"
        return f"{symbol}{value:,.{metric.decimals}f}"
    if metric.unit == Unit.DURATION:
        minutes = value / 60
        if minutes < 1:
            return f"{value:.0f} s"
        if minutes < 60:
            return f"{minutes:.1f} min"
        return f"{int(minutes // 60)} h {int(minutes % 60):02d} min"
    return f"{value:,.{metric.decimals}f}"


def metrics_for(*, team: Team) -> QuerySet[Metric]:
    return Metric.objects.filter(team=team).order_by("key")


def snapshots_for(*, metric: Metric, since: date | None = None, until: date | None = None) -> QuerySet[Snapshot]:
    qs = Snapshot.objects.filter(metric=metric)
    if since:
        qs = qs.filter(period__gte=since)
    if until:
        qs = qs.filter(period__lte=until)
    return qs.order_by("period")


def stale_or_failing(*, team: Team) -> QuerySet[Metric]:
    """Metrics whose last refresh failed (for reviews and the catalogue's data-trust view)."""
    latest = RefreshRun.objects.filter(metric=OuterRef("pk")).order_by("-queued_at", "-pk").values("status")[:1]
    return (
        Metric.objects.filter(team=team)
        .annotate(latest_run_status=Subquery(latest))
        .filter(Q(latest_run_status=RunStatus.FAILED) | Q(last_refreshed_at__isnull=True))
    )
