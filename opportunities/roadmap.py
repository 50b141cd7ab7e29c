"""Reads of the roadmap shaped for its pages, the share page, the CSV and the team home.

The roadmap is the opportunities and solutions placed in a lane (now, next, later, done). Each
card carries its outcome (the root of its branch, found from the path prefix), the goal that
outcome serves, and the metric it aims to move with its latest value and a short trend. A board
costs three queries whatever its size: the cards, the team's outcomes (with goal and metric),
and the metrics' recent snapshots. Filters are applied in Python on those rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from metrics.impact import Readout, readouts
from metrics.models import Metric, Snapshot, TargetStatus
from metrics.queries import format_value
from portfolio.models import Team

from .models import ALL_STATUS_LABELS, SCORED_KINDS, Kind, Lane, Node

STEPLEN = Node.steplen
TREND_POINTS = 12
ROADMAP_LANES = [Lane.NOW, Lane.NEXT, Lane.LATER, Lane.DONE]
UNSCHEDULED = "unscheduled"


@cache
def evidence_relation() -> str | None:
    """The name of the node's relation to its evidence (insights), once discovery provides one.

    Looked up once, after the apps are loaded; until the relation exists, cards show no count.
    """
    try:
        Node._meta.get_field("insights")
    except FieldDoesNotExist:
        return None
    return "insights"


@dataclass
class Trend:
    metric: Metric
    points: list[tuple[date, float]]  # oldest first

    @property
    def current(self) -> float | None:
        return self.points[-1][1] if self.points else None

    @property
    def value(self) -> str:
        return format_value(self.current, self.metric)

    @property
    def target(self) -> str:
        return format_value(self.metric.target_value, self.metric)

    @property
    def status(self) -> TargetStatus:
        return self.metric.status_for(self.current)


@dataclass
class OutcomeInfo:
    id: int
    title: str
    path: str
    goal_id: int | None
    goal_title: str
    goal_status: str
    goal_status_label: str
    trend: Trend | None


@dataclass
class Card:
    id: int
    kind: str
    title: str
    status: str
    lane: str
    target_date: date | None
    version: int
    owner: str | None
    data_product_id: int | None
    data_product: str | None
    path: str
    evidence: int | None
    outcome: OutcomeInfo | None = None
    index: int = 0  # its place in the whole lane (filters may hide the cards around it)
    shipped_on: date | None = None
    impact_metric: Metric | None = None  # a shipped solution answers to its own metric, or else its outcome's
    impact: Readout | None = None  # Done lane: did shipping it move that metric?

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label

    @property
    def status_label(self) -> str:
        return ALL_STATUS_LABELS.get(self.status, self.status)

    @property
    def lane_label(self) -> str:
        return Lane(self.lane).label

    @property
    def quarter(self) -> str:
        return quarter_of(self.target_date) if self.target_date else ""

    @property
    def quarter_label(self) -> str:
        return quarter_label(self.quarter) if self.target_date else ""

    @property
    def overdue(self) -> bool:
        return self.target_date is not None and self.lane != Lane.DONE and self.target_date < timezone.localdate()


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_label(quarter: str) -> str:
    year, q = quarter.split("-")
    return f"{q} {year}"


@dataclass
class RoadmapFilter:
    goal: int | None = None
    outcome: int | None = None
    data_product: int | None = None
    owner: str = ""
    lane: str = ""

    @property
    def active(self) -> bool:
        return any((self.goal, self.outcome, self.data_product, self.owner, self.lane))

    def matches(self, card: Card) -> bool:
        outcome = card.outcome
        return (
            (not self.goal or (outcome is not None and outcome.goal_id == self.goal))
            and (not self.outcome or (outcome is not None and outcome.id == self.outcome))
            and (not self.data_product or card.data_product_id == self.data_product)
            and (not self.owner or card.owner == self.owner)
        )


@dataclass
class LaneColumn:
    value: str
    label: str
    cards: list[Card]
    total: int  # in the whole lane, before filters


@dataclass
class Roadmap:
    lanes: list[LaneColumn]
    outcomes: list[OutcomeInfo]  # every outcome of the team (or the shared one): the outcome filter's choices
    size: int  # cards on the roadmap, before filters
    evidence: bool = False  # whether cards count their evidence
    filtering: bool = False

    @property
    def cards(self) -> list[Card]:
        return [card for lane in self.lanes for card in lane.cards]

    @property
    def shown(self) -> int:
        return sum(len(lane.cards) for lane in self.lanes)

    def filtered(self, wanted: RoadmapFilter) -> Roadmap:
        """The same roadmap with only the lanes and cards the filter wants. No query."""
        if not wanted.active:
            return self
        lanes = [
            LaneColumn(lane.value, lane.label, [card for card in lane.cards if wanted.matches(card)], lane.total)
            for lane in self.lanes
            if not wanted.lane or lane.value == wanted.lane
        ]
        return Roadmap(lanes, self.outcomes, self.size, self.evidence, filtering=True)


def _trend_points(metric_ids: Iterable[int], limit: int = TREND_POINTS) -> dict[int, list[tuple[date, float]]]:
    """The last `limit` snapshots of each metric, oldest first. One query (a window function)."""
    ids = sorted(set(metric_ids))
    points: dict[int, list[tuple[date, float]]] = {pk: [] for pk in ids}
    if not ids:
        return points
    ranked = (
        Snapshot.objects.filter(metric_id__in=ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("metric_id")], order_by=F("period").desc()))
        .filter(rank__lte=limit)
        .values_list("metric_id", "period", "value")
    )
    for metric_id, period, value in ranked:
        points[metric_id].append((period, value))
    for series in points.values():
        series.sort()
    return points


def _outcomes(team: Team, scope: Node | None) -> list[OutcomeInfo]:
    """The team's outcomes (or the one in scope) with their goal and their metric's trend. Two queries."""
    queryset = Node.objects.filter(team=team, depth=1, kind=Kind.OUTCOME)
    if scope is not None:
        queryset = queryset.filter(pk=scope.pk)
    outcomes = list(
        queryset.select_related("goal", "metric")
        .only("id", "title", "path", "goal__id", "goal__title", "goal__status", "metric")
        .order_by("path")
    )
    points = _trend_points(o.metric_id for o in outcomes if o.metric_id)
    return [
        OutcomeInfo(
            id=o.pk,
            title=o.title,
            path=o.path,
            goal_id=o.goal_id,
            goal_title=o.goal.title if o.goal else "",
            goal_status=o.goal.status if o.goal else "",
            goal_status_label=o.goal.get_status_display() if o.goal else "",
            trend=Trend(metric=o.metric, points=points[o.metric_id]) if o.metric else None,
        )
        for o in outcomes
    ]


def _card_rows(team: Team, scope: Node | None) -> QuerySet:
    queryset = Node.objects.filter(team=team, kind__in=SCORED_KINDS).exclude(lane=Lane.NONE)
    if scope is not None:
        queryset = queryset.filter(path__startswith=scope.path)
    relation = evidence_relation()
    if relation:
        queryset = queryset.annotate(evidence=Count(relation, distinct=True))
    return queryset.order_by("lane_position", "path").values(
        "id",
        "kind",
        "title",
        "status",
        "lane",
        "target_date",
        "version",
        "data_product_id",
        "path",
        *(["evidence"] if relation else []),
        "shipped_on",
        "metric_id",
        owner_name=F("owner__username"),
        product_name=F("data_product__name"),
        **{f"metric_{name}": F(f"metric__{name}") for name in IMPACT_METRIC_FIELDS},
    )


IMPACT_METRIC_FIELDS = ("key", "name", "grain", "direction", "unit", "decimals", "currency")


def _impact_metric(row: dict, outcome: OutcomeInfo | None) -> Metric | None:
    """The metric a card's readout uses: the node's own (read along with the card), or its outcome's."""
    if row["metric_id"] is not None:
        fields = {name: row[f"metric_{name}"] for name in IMPACT_METRIC_FIELDS}
        return Metric(pk=row["metric_id"], **fields)
    return outcome.trend.metric if outcome is not None and outcome.trend is not None else None


def _add_readouts(cards: list[Card]) -> None:
    """The impact readout of each shipped solution among `cards`. One query (none without any)."""
    shipped = [
        (card, card.impact_metric, card.shipped_on)
        for card in cards
        if card.kind == Kind.SOLUTION and card.impact_metric is not None and card.shipped_on is not None
    ]
    results = readouts((metric, day) for _, metric, day in shipped)
    for card, metric, day in shipped:
        card.impact = results[(metric.pk, day)]


def team_roadmap(*, team: Team, scope: Node | None = None) -> Roadmap:
    """The roadmap's lanes with all their cards. Three queries (two when no outcome has a metric), plus
    one for the impact readouts of the shipped solutions in the Done lane when there are any.

    `scope` (an outcome) limits everything to that outcome's branch, as a share link may.
    """
    outcomes = _outcomes(team, scope)
    by_path = {o.path: o for o in outcomes}
    lanes = {lane: LaneColumn(lane.value, lane.label, [], 0) for lane in ROADMAP_LANES}
    size = 0
    for row in _card_rows(team, scope):
        card = Card(
            id=row["id"],
            kind=row["kind"],
            title=row["title"],
            status=row["status"],
            lane=row["lane"],
            target_date=row["target_date"],
            version=row["version"],
            owner=row["owner_name"],
            data_product_id=row["data_product_id"],
            data_product=row["product_name"],
            path=row["path"],
            evidence=row.get("evidence"),
            outcome=by_path.get(row["path"][:STEPLEN]),
            shipped_on=row["shipped_on"],
        )
        card.impact_metric = _impact_metric(row, card.outcome)
        column = lanes[Lane(card.lane)]
        card.index = column.total
        column.total += 1
        column.cards.append(card)
        size += 1
    _add_readouts(lanes[Lane.DONE].cards)
    return Roadmap(list(lanes.values()), outcomes, size, evidence=evidence_relation() is not None)


@dataclass
class QuarterColumn:
    key: str  # "2026-Q3", or UNSCHEDULED
    label: str
    cards: list[Card]
    is_current: bool = False
    is_past: bool = False


def timeline(roadmap: Roadmap, *, today: date | None = None) -> list[QuarterColumn]:
    """The roadmap's cards by the quarter of their target date; those without one come last.

    Quarters between the first and the last are shown even when empty, up to three years of them.
    """
    today = today or timezone.localdate()
    current = quarter_of(today)
    by_quarter: dict[str, list[Card]] = {}
    unscheduled: list[Card] = []
    for card in roadmap.cards:
        if card.target_date is None:
            unscheduled.append(card)
        else:
            by_quarter.setdefault(card.quarter, []).append(card)
    keys = sorted(by_quarter)
    if keys:
        span = _quarters_between(keys[0], keys[-1])
        if len(span) <= 12:
            keys = span
    columns = []
    for key in keys:
        cards = sorted(by_quarter.get(key, []), key=lambda c: (c.target_date, c.title.casefold()))
        columns.append(QuarterColumn(key, quarter_label(key), cards, key == current, key < current))
    columns.append(QuarterColumn(UNSCHEDULED, "Unscheduled", unscheduled))
    return columns


def _quarters_between(first: str, last: str) -> list[str]:
    year, q = int(first[:4]), int(first[-1])
    quarters = []
    while True:
        key = f"{year}-Q{q}"
        quarters.append(key)
        if key >= last:
            return quarters
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)


CSV_COLUMNS = [
    "lane", "position", "kind", "title", "status", "owner", "outcome", "goal", "goal_status",
    "metric", "metric_value", "data_product", "target_date", "target_quarter", "id",
]  # fmt: skip


def roadmap_csv(roadmap: Roadmap) -> str:
    """The cards shown, lane by lane, in their order. No further queries."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = [*CSV_COLUMNS, "evidence"] if roadmap.evidence else CSV_COLUMNS
    writer.writerow(columns)
    for lane in roadmap.lanes:
        for card in lane.cards:
            outcome = card.outcome
            trend = outcome.trend if outcome else None
            row = [
                lane.label,
                card.index + 1,
                card.kind_label,
                card.title,
                card.status_label,
                card.owner or "",
                outcome.title if outcome else "",
                outcome.goal_title if outcome else "",
                outcome.goal_status_label if outcome else "",
                trend.metric.name if trend else "",
                trend.value if trend and trend.current is not None else "",
                card.data_product or "",
                card.target_date.isoformat() if card.target_date else "",
                card.quarter,
                card.id,
            ]
            if roadmap.evidence:
                row.append(card.evidence or 0)
            writer.writerow([_safe_cell(value) for value in row])
    return out.getvalue()


def _safe_cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula starts with a quote instead."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# The team home's summary


@dataclass
class LaneSummary:
    value: str
    label: str
    titles: list[tuple[str, str]]  # (kind, title), the first few
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.titles)


def north_stars(*, team: Team) -> list[Trend]:
    """The team's north-star metrics with their recent values. Two queries (one when there is none)."""
    metrics = list(Metric.objects.filter(team=team, is_north_star=True).order_by("key"))
    points = _trend_points(m.pk for m in metrics)
    return [Trend(metric=m, points=points[m.pk]) for m in metrics]


def lanes_summary(*, team: Team, per_lane: int = 4) -> list[LaneSummary]:
    """Each lane's count and first few titles. One query."""
    summary = {lane: LaneSummary(lane.value, lane.label, [], 0) for lane in ROADMAP_LANES}
    rows = (
        Node.objects.filter(team=team, kind__in=SCORED_KINDS, lane__in=ROADMAP_LANES)
        .order_by("lane_position", "path")
        .values_list("lane", "kind", "title")
    )
    for lane, kind, title in rows:
        entry = summary[Lane(lane)]
        entry.total += 1
        if len(entry.titles) < per_lane:
            entry.titles.append((kind, title))
    return list(summary.values())
