"""The weekly review's agenda, generated from the team's real data in a fixed number of queries.

`generate(team=…, since=…, now=…)` reads every metric of the team with its recent snapshots,
latest refresh and annotations, the tree's experiments and shipped solutions, the team's goals
and the adoptions of its data products, and returns the agenda as plain `AgendaItem`s in
section order. Every number an item shows is computed here once and stored on the review item,
so a closed review never recomputes.

"Since the last review" means since the previous review of the team closed (or, while it is
still open, since it was prepared); a team's first review looks back one week. Status changes of
experiments, goals and adoptions are read from their history (django-simple-history), so the
moment something *became* passed or achieved counts, not the last time it was edited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone

from metrics.models import Annotation, Direction, Grain, Metric, RefreshRun, RunStatus, Snapshot, TargetStatus, Unit
from metrics.queries import format_value
from opportunities.models import ExperimentStatus, Kind, Node, SolutionStatus
from portfolio.models import Adoption, AdoptionStage, Goal, GoalStatus, Team

from .models import ActionItem, ItemStatus, Review, ReviewStatus, Section

FINISHED_EXPERIMENT = (ExperimentStatus.PASSED, ExperimentStatus.FAILED, ExperimentStatus.INCONCLUSIVE)
RANKED_POINTS = 40  # recent snapshots read per metric: enough for 4 weeks of a daily metric plus gaps
# How far back the sparkline of an item reaches, by the metric's grain.
SPARK_WINDOW = {Grain.DAY: timedelta(days=35), Grain.WEEK: timedelta(weeks=12), Grain.MONTH: timedelta(days=366)}
# A comparison value must be no older than this before its target date (a gap is not a week ago).
TOLERANCE = {Grain.DAY: timedelta(days=3), Grain.WEEK: timedelta(days=6), Grain.MONTH: timedelta(days=31)}
STATUS_OF_TARGET = {
    TargetStatus.ON_TRACK: ItemStatus.ON_TRACK,
    TargetStatus.AT_RISK: ItemStatus.AT_RISK,
    TargetStatus.OFF_TRACK: ItemStatus.OFF_TRACK,
    TargetStatus.STALE: ItemStatus.STALE,
}


@dataclass
class MetricFigures:
    """A metric's numbers as of now: latest value, comparisons, target status, chart window."""

    metric: Metric
    latest_period: date | None = None
    value: float | None = None
    value_week_ago: float | None = None
    value_4_weeks_ago: float | None = None
    status: TargetStatus = TargetStatus.NO_DATA
    points: list[tuple[date, float]] = field(default_factory=list)
    annotations: list[dict[str, str]] = field(default_factory=list)
    last_run_status: str | None = None
    last_run_error: str = ""

    @property
    def week_change_pct(self) -> float | None:
        return _pct(self.value, self.value_week_ago)

    @property
    def stale(self) -> bool:
        return self.metric.is_stale

    @property
    def failed(self) -> bool:
        return self.last_run_status == RunStatus.FAILED


@dataclass
class AgendaItem:
    section: str
    key: str
    title: str
    detail: str = ""
    url: str = ""
    metric: Metric | None = None
    node: Node | None = None
    goal: Goal | None = None
    value: float | None = None
    value_week_ago: float | None = None
    value_4_weeks_ago: float | None = None
    target_value: float | None = None
    display_value: str = ""
    display_week_change: str = ""
    display_4w_change: str = ""
    display_target: str = ""
    direction: str = ""
    status: str = ""
    sparkline: list[list[Any]] = field(default_factory=list)
    annotations: list[dict[str, str]] = field(default_factory=list)

    STORED = (
        "title", "detail", "url", "metric", "node", "goal", "value", "value_week_ago", "value_4_weeks_ago",
        "target_value", "display_value", "display_week_change", "display_4w_change", "display_target",
        "direction", "status", "sparkline", "annotations",
    )  # fmt: skip

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.STORED}


# Numbers


def _pct(value: float | None, before: float | None) -> float | None:
    if value is None or before is None or before == 0:
        return None
    return (value - before) / abs(before) * 100


def _value_at(points: list[tuple[date, float]], day: date, tolerance: timedelta) -> float | None:
    """The value of the latest period on or before `day`, if it is not older than the tolerance."""
    for period, value in reversed(points):
        if period <= day:
            return value if day - period <= tolerance else None
    return None


def display_change(value: float | None, before: float | None, metric: Metric) -> str:
    """ "+4.2% (+120)", or in points for a percentage metric: "+1.5 pts"."""
    if value is None or before is None:
        return ""
    difference = value - before
    sign = "+" if difference > 0 else "−" if difference < 0 else "±"
    if metric.unit == Unit.PERCENT:
        return f"{sign}{abs(difference):,.{max(metric.decimals, 1)}f} pts"
    absolute = format_value(abs(difference), metric)
    pct = _pct(value, before)
    return f"{sign}{abs(pct):.1f}% ({sign}{absolute})" if pct is not None else f"{sign}{absolute}"


def figures_for(metrics: list[Metric]) -> dict[int, MetricFigures]:
    """Numbers for every metric: two queries (ranked recent snapshots, annotations in the window)."""
    ids = [m.pk for m in metrics]
    series: dict[int, list[tuple[date, float]]] = defaultdict(list)
    if ids:
        ranked = (
            Snapshot.objects.filter(metric_id__in=ids)
            .annotate(rank=Window(RowNumber(), partition_by=[F("metric_id")], order_by=F("period").desc()))
            .filter(rank__lte=RANKED_POINTS)
            .values_list("metric_id", "period", "value")
        )
        for metric_id, period, value in ranked:
            series[metric_id].append((period, value))
    figures: dict[int, MetricFigures] = {}
    earliest: date | None = None
    for metric in metrics:
        points = sorted(series[metric.pk])
        fig = MetricFigures(
            metric=metric,
            last_run_status=getattr(metric, "latest_run_status", None),
            last_run_error=getattr(metric, "latest_run_error", None) or "",
        )
        if points:
            latest, value = points[-1]
            window = SPARK_WINDOW[metric.grain]
            tolerance = TOLERANCE[metric.grain]
            fig.latest_period, fig.value = latest, value
            # A monthly metric has no week-over-week change; its "4 weeks ago" is the month before.
            if metric.grain != Grain.MONTH:
                fig.value_week_ago = _value_at(points, latest - timedelta(days=7), tolerance)
            fig.value_4_weeks_ago = _value_at(points, latest - timedelta(days=28), tolerance)
            fig.points = [(p, v) for p, v in points if p > latest - window]
            start = latest - window
            earliest = start if earliest is None else min(earliest, start)
        fig.status = metric.status_for(fig.value)
        figures[metric.pk] = fig
    if earliest is not None:
        notes = Annotation.objects.filter(metric_id__in=ids, date__gt=earliest).values_list("metric_id", "date", "text")
        for metric_id, day, text in notes:
            fig = figures[metric_id]
            if fig.points and fig.points[0][0] <= day <= max(fig.latest_period or day, timezone.localdate()):
                fig.annotations.append({"day": day.isoformat(), "text": text})
    return figures


def _metric_url(metric: Metric, team: Team) -> str:
    return reverse("metrics:metric", args=[team.slug, metric.key])


def metric_item(section: str, fig: MetricFigures, team: Team, detail: str) -> AgendaItem:
    metric = fig.metric
    status = STATUS_OF_TARGET.get(fig.status, ItemStatus.NONE)
    if fig.stale and fig.value is not None:
        status = ItemStatus.STALE  # stale data never reads as on track, whatever the number says
    return AgendaItem(
        section=section,
        key=f"metric:{metric.pk}",
        title=metric.name,
        detail=detail,
        url=_metric_url(metric, team),
        metric=metric,
        value=fig.value,
        value_week_ago=fig.value_week_ago,
        value_4_weeks_ago=fig.value_4_weeks_ago,
        target_value=metric.target_value,
        display_value=format_value(fig.value, metric),
        display_week_change=display_change(fig.value, fig.value_week_ago, metric),
        display_4w_change=display_change(fig.value, fig.value_4_weeks_ago, metric),
        display_target=format_value(metric.target_value, metric) if metric.target_value is not None else "",
        direction=metric.direction,
        status=status,
        sparkline=[[p.isoformat(), v] for p, v in fig.points],
        annotations=list(fig.annotations),
    )


# Status changes from history


def _became(records: Iterable[tuple[int, str, datetime]], current: dict[int, str]) -> dict[int, tuple[str, datetime]]:
    """For each object: the status it had before its current one and when it took the current one.

    `records` are (id, status, history_date) ordered by id and date. An object created with its
    current status has "" as its previous status.
    """
    result: dict[int, tuple[str, datetime]] = {}
    previous: dict[int, str] = {}
    for pk, status, when in records:
        if pk not in current:
            continue
        last = previous.get(pk)
        if last != status:
            if status == current[pk]:
                result[pk] = (last or "", when)
            previous[pk] = status
    return result


def _status_at(records: Iterable[tuple[int, str, datetime]], moment: datetime) -> dict[int, str]:
    """Each object's status at `moment` (from records ordered by id and date)."""
    at: dict[int, str] = {}
    for pk, status, when in records:
        if when <= moment:
            at[pk] = status
    return at


# The agenda


@dataclass
class Agenda:
    team: Team
    since: datetime
    now: datetime
    items: list[AgendaItem]
    figures: dict[int, MetricFigures] = field(default_factory=dict)

    def section(self, section: str) -> list[AgendaItem]:
        return [item for item in self.items if item.section == section]


def _team_metrics(team: Team) -> QuerySet[Metric]:
    latest = RefreshRun.objects.filter(metric=OuterRef("pk")).order_by("-queued_at", "-pk")
    return (
        Metric.objects.filter(team=team)
        .annotate(
            latest_run_status=Subquery(latest.values("status")[:1]),
            latest_run_error=Subquery(latest.values("error")[:1]),
        )
        .order_by("-is_north_star", "key")
    )


def since_for(review: Review) -> datetime:
    """When the previous review of the team closed (or was prepared); a first review looks back a week."""
    previous = (
        Review.objects.filter(team_id=review.team_id, week__lt=review.week)
        .order_by("-week")
        .values_list("closed_at", "prepared_at", "week")
        .first()
    )
    if previous is not None:
        closed_at, prepared_at, week = previous
        moment = closed_at or prepared_at
        if moment is not None:
            return moment
        return datetime.combine(week, datetime.min.time(), tzinfo=timezone.get_current_timezone())
    start = datetime.combine(review.week, datetime.min.time(), tzinfo=timezone.get_current_timezone())
    return min(start, timezone.now()) - timedelta(days=7)


def generate(
    *, team: Team, since: datetime, now: datetime | None = None, threshold_pct: Decimal | float = 10
) -> Agenda:
    """The agenda of a team's review covering (since, now]. A fixed number of queries:
    metrics with their latest run, snapshots, annotations, experiments, their history, goals,
    their history, adoptions, their history, shipped solutions with their outcomes, and the
    impact readouts (two: now and at the last review, when any solution has shipped)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    threshold = float(threshold_pct)
    metrics = list(_team_metrics(team))
    figures = figures_for(metrics)
    items: list[AgendaItem] = []
    shown: set[int] = set()

    # The north star first.
    for metric in metrics:
        if metric.is_north_star:
            fig = figures[metric.pk]
            items.append(metric_item(Section.NORTH_STAR, fig, team, "The north star: the one number the team moves."))
            shown.add(metric.pk)

    # Off track or at risk against the target.
    for metric in metrics:
        fig = figures[metric.pk]
        if metric.pk in shown or fig.status not in (TargetStatus.OFF_TRACK, TargetStatus.AT_RISK):
            continue
        target = format_value(metric.target_value, metric) if metric.target_value is not None else "its thresholds"
        words = "off track" if fig.status == TargetStatus.OFF_TRACK else "at risk"
        detail = f"{format_value(fig.value, metric)} is {words} against {target}."
        items.append(metric_item(Section.OFF_TRACK, fig, team, detail))
        shown.add(metric.pk)

    # The biggest movers week over week.
    movers = []
    for metric in metrics:
        fig = figures[metric.pk]
        change = fig.week_change_pct
        if metric.pk in shown or change is None or abs(change) <= threshold:
            continue
        movers.append((abs(change), metric.key, fig, change))
    for _, _, fig, change in sorted(movers, key=lambda m: (-m[0], m[1])):
        better = (change > 0) == (fig.metric.direction == Direction.UP)
        detail = (
            f"{'Up' if change > 0 else 'Down'} {abs(change):.1f}% week over week, "
            f"{'for the better' if better else 'for the worse'} (beyond the team's {threshold:g}% threshold)."
        )
        items.append(metric_item(Section.MOVERS, fig, team, detail))

    # Data trust: stale data or a failed last refresh.
    for metric in metrics:
        fig = figures[metric.pk]
        reasons = []
        if fig.failed:
            reasons.append(f"The last refresh failed: {fig.last_run_error or 'no reason recorded'}")
        if fig.stale:
            if metric.last_refreshed_at is None:
                reasons.append("It has never been refreshed successfully.")
            else:
                hours = int((now - metric.last_refreshed_at).total_seconds() // 3600)
                ago = f"{hours} h" if hours < 48 else f"{hours // 24} days"
                reasons.append(
                    f"Stale: last refreshed {ago} ago, on a {metric.get_schedule_display().lower()} schedule."
                )
        if reasons:
            item = metric_item(Section.DATA_TRUST, fig, team, " ".join(reasons))
            if fig.stale:
                item.status = ItemStatus.STALE
            items.append(item)

    items.extend(_experiment_items(team, since, now))
    goal_items, achieved = _goal_items(team, since, now)
    items.extend(goal_items)
    items.extend(_impact_items(team, since, today, figures))
    items.extend(_wins(team, since, now, metrics, figures, achieved, items))
    return Agenda(team=team, since=since, now=now, items=items, figures=figures)


def _node_url(node: Node, team: Team) -> str:
    return reverse("opportunities:node", args=[team.slug, node.pk])


def _experiment_items(team: Team, since: datetime, now: datetime) -> list[AgendaItem]:
    """Experiments that reached passed, failed or inconclusive within (since, now]. Two queries."""
    experiments = {
        n.pk: n
        for n in Node.objects.filter(team=team, kind=Kind.EXPERIMENT, status__in=FINISHED_EXPERIMENT).order_by("path")
    }
    records = Node.history.filter(id__in=list(experiments)).order_by("id", "history_date", "history_id")
    became = _became(
        records.values_list("id", "status", "history_date"), {pk: n.status for pk, n in experiments.items()}
    )
    items = []
    for pk, node in experiments.items():
        if pk not in became or not (since < became[pk][1] <= now):
            continue
        detail = f"Finished as {node.status_label.lower()}"
        if node.success_criterion:
            detail += f" against “{node.success_criterion}”"
        detail += f". {node.result}" if node.result else "."
        items.append(
            AgendaItem(
                section=Section.EXPERIMENTS,
                key=f"node:{pk}",
                title=node.title,
                detail=detail,
                url=_node_url(node, team),
                node=node,
                display_value=node.status_label,
            )
        )
    return items


def _goal_items(team: Team, since: datetime, now: datetime) -> tuple[list[AgendaItem], list[Goal]]:
    """Goals whose status at `now` differs from their status at `since`. Two queries.
    Also returns the goals that became achieved in the window (wins)."""
    goals = {g.pk: g for g in Goal.objects.filter(team=team, archived_at__isnull=True).order_by("ends_on", "title")}
    records = list(
        Goal.history.filter(id__in=list(goals), history_date__lte=now)
        .order_by("id", "history_date", "history_id")
        .values_list("id", "status", "history_date")
    )
    before = _status_at(records, since)
    became = _became(records, {pk: g.status for pk, g in goals.items()})
    labels = dict(GoalStatus.choices)
    items, achieved = [], []
    for pk, goal in goals.items():
        if goal.status == GoalStatus.ACHIEVED and pk in became and since < became[pk][1] <= now:
            achieved.append(goal)
        old = before.get(pk)
        if old is None or old == goal.status:
            continue  # created since the last review, or back where it was
        items.append(
            AgendaItem(
                section=Section.GOALS,
                key=f"goal:{pk}",
                title=goal.title,
                detail=f"{labels.get(old, old)} → {goal.get_status_display()} ({goal.timeframe}).",
                url=reverse("portfolio:goal", args=[team.slug, pk]),
                goal=goal,
                display_value=goal.get_status_display(),
                status=goal.status if goal.status in ItemStatus.values else "",
            )
        )
    return items, achieved


def _impact_items(team: Team, since: datetime, today: date, figures: dict[int, MetricFigures]) -> list[AgendaItem]:
    """Readouts of shipped solutions that became available or changed since the last review,
    and solutions shipped since then (their readout says when it will be ready).
    One query for the solutions and their outcomes, plus the readouts now and at the last review."""
    try:
        from metrics.impact import readouts
    except ImportError:  # the impact module arrives with the impact loop
        return []
    nodes = list(
        Node.objects.filter(team=team)
        .filter(Q(kind=Kind.SOLUTION, status=SolutionStatus.SHIPPED, shipped_on__isnull=False) | Q(kind=Kind.OUTCOME))
        .order_by("path")
    )
    outcomes = {n.path: n for n in nodes if n.kind == Kind.OUTCOME}
    pairs = []
    for node in nodes:
        if node.kind != Kind.SOLUTION:
            continue
        outcome = outcomes.get(node.path[: Node.steplen])
        metric_id = node.metric_id or (outcome.metric_id if outcome else None)
        if metric_id in figures:
            pairs.append((node, figures[metric_id].metric))
    if not pairs:
        return []
    now_readouts = readouts([(m, n.shipped_on) for n, m in pairs], today=today)
    since_day = timezone.localdate(since)
    then_readouts = readouts([(m, n.shipped_on) for n, m in pairs], today=since_day)
    items = []
    for node, metric in pairs:
        current = now_readouts[(metric.pk, node.shipped_on)]
        earlier = then_readouts[(metric.pk, node.shipped_on)]
        shipped_since = node.shipped_on > since_day
        changed = current.enough_data and (
            not earlier.enough_data or earlier.verdict != current.verdict or earlier.difference != current.difference
        )
        if not (shipped_since or changed):
            continue
        fig = figures[metric.pk]
        item = metric_item(
            Section.IMPACT, fig, team, f"{metric.name}, shipped {node.shipped_on:%d %b %Y}: {current.message}"
        )
        item.key = f"node:{node.pk}"
        item.title = node.title
        item.url = _node_url(node, team)
        item.node = node
        item.status = ""  # a readout is not a target status
        if current.difference is not None:
            sign = "+" if current.difference > 0 else "−" if current.difference < 0 else "±"
            item.display_week_change = ""
            item.display_4w_change = ""
            item.display_value = f"{sign}{format_value(abs(current.difference), metric)}"
        else:
            item.display_value = "Waiting for data"
        items.append(item)
    return items


def _wins(
    team: Team,
    since: datetime,
    now: datetime,
    metrics: list[Metric],
    figures: dict[int, MetricFigures],
    achieved: list[Goal],
    items: list[AgendaItem],
) -> list[AgendaItem]:
    """Targets reached this week, goals achieved, experiments passed, data products adopted by
    another team since the last review. Two queries (adoptions and their history)."""
    wins: list[AgendaItem] = []
    for metric in metrics:
        fig = figures[metric.pk]
        target = metric.target_value
        if target is None or fig.value is None or fig.stale:
            continue
        up = metric.direction == Direction.UP
        reached = fig.value >= target if up else fig.value <= target
        before = fig.value_week_ago if fig.value_week_ago is not None else fig.value_4_weeks_ago
        was = before is not None and (before >= target if up else before <= target)
        if reached and before is not None and not was:
            item = metric_item(
                Section.WINS,
                fig,
                team,
                f"Target reached: {format_value(fig.value, metric)} against {format_value(target, metric)}.",
            )
            wins.append(item)
    for goal in achieved:
        wins.append(
            AgendaItem(
                section=Section.WINS,
                key=f"goal:{goal.pk}",
                title=goal.title,
                detail=f"Goal achieved ({goal.timeframe}).",
                url=reverse("portfolio:goal", args=[team.slug, goal.pk]),
                goal=goal,
                display_value=goal.get_status_display(),
            )
        )
    for item in items:
        if item.section == Section.EXPERIMENTS and item.node and item.node.status == ExperimentStatus.PASSED:
            wins.append(
                AgendaItem(
                    section=Section.WINS,
                    key=item.key,
                    title=item.title,
                    detail="Experiment passed" + (f": {item.node.result}" if item.node.result else "."),
                    url=item.url,
                    node=item.node,
                    display_value=item.display_value,
                )
            )
    adoptions = {
        a.pk: a
        for a in Adoption.objects.filter(data_product__team=team, stage=AdoptionStage.ACTIVE)
        .select_related("data_product")
        .order_by("data_product__name", "consuming_team")
    }
    records = (
        Adoption.history.filter(id__in=list(adoptions))
        .order_by("id", "history_date", "history_id")
        .values_list("id", "stage", "history_date")
    )
    became = _became(records, {pk: a.stage for pk, a in adoptions.items()})
    for pk, adoption in adoptions.items():
        if pk in became and since < became[pk][1] <= now:
            product = adoption.data_product
            wins.append(
                AgendaItem(
                    section=Section.WINS,
                    key=f"adoption:{pk}",
                    title=f"{adoption.consuming_team} adopted {product.name}",
                    detail=f"{adoption.consuming_team} now uses {product.name} (active since {adoption.since:%d %b %Y}).",
                    url=reverse("portfolio:data_product", args=[team.slug, product.pk]),
                    display_value=adoption.get_stage_display(),
                )
            )
    return wins


def wins_for(*, team: Team, since: datetime | None = None, now: datetime | None = None) -> list[AgendaItem]:
    """Wins to celebrate since `since` (default: the last two weeks), for the team home."""
    now = now or timezone.now()
    since = since or now - timedelta(days=14)
    return generate(team=team, since=since, now=now).section(Section.WINS)


def carried_over(review: Review) -> QuerySet[ActionItem]:
    """Action items raised in earlier reviews that were still open during this one.

    For a closed review, "open" is as of its closing time (an action done afterwards still shows
    on it), so a closed review reads the same forever. One query.
    """
    actions = ActionItem.objects.filter(team_id=review.team_id, review__week__lt=review.week).select_related(
        "owner", "node", "review"
    )
    if review.status == ReviewStatus.CLOSED and review.closed_at:
        actions = actions.filter(created_at__lte=review.closed_at).filter(
            Q(done=False) | Q(done_at__gt=review.closed_at)
        )
    else:
        actions = actions.filter(done=False)
    return actions.order_by("due_date", "pk")
