"""Reads shaped for pages and the API. Each costs a fixed number of queries, whatever the data size."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from .models import (
    Adoption,
    AdoptionStage,
    DataProduct,
    Decision,
    Goal,
    GoalStatus,
    Membership,
    Team,
)

HIDDEN_HISTORY_FIELDS = {"version", "updated_at", "created_at", "singleton"}


@dataclass
class Change:
    field: str
    old: Any
    new: Any


@dataclass
class HistoryEntry:
    when: datetime
    who: str
    verb: str  # created, changed, deleted
    subject: str
    kind: str
    changes: list[Change] = field(default_factory=list)


_VERBS = {"+": "created", "~": "changed", "-": "deleted"}


def _subject(record: Any) -> str:
    for name in ("title", "name", "consuming_team"):
        if getattr(record, name, None):
            return getattr(record, name)
    if hasattr(record, "user_id"):  # a membership: the caller joined the user
        return f"{record.user.username} ({record.get_role_display().lower()})"
    return ""


def _entries(records: list, kind: str) -> list[HistoryEntry]:
    """History entries from records of one object or many, newest first, with field changes."""
    records = sorted(records, key=lambda r: (r.id_for_diff, r.history_date))
    entries = []
    for _, group in groupby(records, key=lambda r: r.id_for_diff):
        previous = None
        for record in group:
            changes: list[Change] = []
            if previous is not None and record.history_type == "~":
                delta = record.diff_against(previous, excluded_fields=list(HIDDEN_HISTORY_FIELDS))
                changes = [Change(c.field, c.old, c.new) for c in delta.changes]
            if record.history_type != "~" or changes or previous is None:
                entries.append(
                    HistoryEntry(
                        when=record.history_date,
                        who=record.history_user.username if record.history_user else "system",
                        verb=_VERBS[record.history_type],
                        subject=_subject(record),
                        kind=kind,
                        changes=changes,
                    )
                )
            previous = record
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries


def _history(model_history: QuerySet, kind: str) -> list[HistoryEntry]:
    records = list(model_history)
    for record in records:
        record.id_for_diff = record.id
    return _entries(records, kind)


def history_of(obj: Any, extra: list[HistoryEntry] | None = None) -> list[HistoryEntry]:
    """Who changed what on one object (plus `extra` entries of its parts), newest first. One query."""
    entries = _history(obj.history.select_related("history_user"), obj._meta.verbose_name) + (extra or [])
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries


def adoption_history(*, product: DataProduct) -> list[HistoryEntry]:
    """Changes to the product's adoption rows. One query."""
    return _history(Adoption.history.filter(data_product_id=product.pk).select_related("history_user"), "adoption")


def recent_changes(*, team: Team, limit: int = 12) -> list[HistoryEntry]:
    """The latest changes across the team's direction and portfolio. One query per kind (5)."""
    sources = [
        (Team.history.filter(id=team.pk), "team"),
        (Goal.history.filter(team_id=team.pk), "goal"),
        (DataProduct.history.filter(team_id=team.pk), "data product"),
        (Decision.history.filter(team_id=team.pk), "decision"),
        (Membership.history.filter(team_id=team.pk).select_related("user"), "membership"),
    ]
    entries: list[HistoryEntry] = []
    for qs, kind in sources:
        # Recent records only; the oldest of an object may show without its diff.
        qs = qs.select_related("history_user").order_by("-history_date")
        entries.extend(_history(qs[: limit * 3], kind))
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]


def current_goals(*, team: Team, today: date | None = None) -> list[Goal]:
    """Goals whose timeframe includes today, not archived or dropped. One query."""
    today = today or timezone.localdate()
    return list(
        Goal.objects.filter(team=team, archived_at__isnull=True, starts_on__lte=today, ends_on__gte=today)
        .exclude(status=GoalStatus.DROPPED)
        .select_related("owner", "aligned_to")
        .order_by("status", "title")
    )


@dataclass
class GoalGroup:
    timeframe: str
    starts_on: date | None
    goals: list[Goal]
    is_current: bool


def goals_by_timeframe(*, team: Team, archived: bool = False, today: date | None = None) -> list[GoalGroup]:
    """The team's goals grouped by timeframe, latest first. One query."""
    today = today or timezone.localdate()
    goals = (
        Goal.objects.filter(team=team, archived_at__isnull=not archived)
        .select_related("owner", "aligned_to")
        .annotate(decision_count=Count("decisions"))
        # A quarter and the same dates typed by hand have different labels: keep each together.
        .order_by("-starts_on", "-ends_on", "-quarter", "title")
    )
    groups = []
    for label, items in groupby(goals, key=lambda g: g.timeframe):
        items = list(items)
        first = items[0]
        groups.append(
            GoalGroup(
                timeframe=label,
                starts_on=first.starts_on,
                goals=items,
                is_current=bool(first.starts_on and first.ends_on and first.starts_on <= today <= first.ends_on),
            )
        )
    return groups


def goal_detail(*, team: Team, pk: int) -> Goal:
    return (
        Goal.objects.select_related("owner", "aligned_to", "team")
        .prefetch_related(
            Prefetch("decisions", queryset=Decision.objects.order_by("-decided_on")),
            Prefetch("aligned_goals", queryset=Goal.objects.filter(archived_at__isnull=True)),
        )
        .get(team=team, pk=pk)
    )


def organization_goals() -> list[Goal]:
    return list(Goal.objects.filter(team__isnull=True, archived_at__isnull=True).order_by("-starts_on", "title"))


def alignable_goals(*, team: Team) -> QuerySet[Goal]:
    """Goals a team goal may align to: organisation goals and the team's own."""
    return (
        Goal.objects.filter(Q(team__isnull=True) | Q(team=team), archived_at__isnull=True)
        .select_related("team")
        .order_by("team_id", "-starts_on", "title")
    )


def data_products_for(*, team: Team) -> QuerySet[DataProduct]:
    """The portfolio with adoption counts. One query."""
    return (
        DataProduct.objects.filter(team=team)
        .select_related("owner")
        .annotate(
            active_teams=Count("adoptions", filter=Q(adoptions__stage=AdoptionStage.ACTIVE)),
            trialling_teams=Count("adoptions", filter=Q(adoptions__stage=AdoptionStage.TRIALLING)),
        )
        .order_by("name")
    )


@dataclass
class AdoptionPoint:
    month: date
    active: int
    trialling: int


def _month(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return d.replace(year=d.year + 1, month=1) if d.month == 12 else d.replace(month=d.month + 1)


def adoption_series(*, product: DataProduct, today: date | None = None) -> list[AdoptionPoint]:
    """Teams trialling and actively using the product at the end of each month. One query.

    Built from the adoption rows' history: each record says a team entered a stage on its
    `since` date (deleted rows leave the count from the day they were removed). Rows are
    followed by id, so renaming a consuming team does not count it twice.
    """
    today = today or timezone.localdate()
    records = Adoption.history.filter(data_product_id=product.pk).order_by("history_date", "history_id")
    events: list[tuple[date, int, str | None]] = []
    for record in records:
        if record.history_type == "-":
            events.append((record.history_date.date(), record.id, None))
        else:
            events.append((record.since, record.id, record.stage))
    if not events:
        return []
    events.sort(key=lambda e: e[0])
    month, end = _month(events[0][0]), _month(today)
    state: dict[int, str | None] = {}
    points, i = [], 0
    while month <= end:
        boundary = _next_month(month)
        while i < len(events) and events[i][0] < boundary:
            state[events[i][1]] = events[i][2]
            i += 1
        stages = list(state.values())
        points.append(AdoptionPoint(month, stages.count(AdoptionStage.ACTIVE), stages.count(AdoptionStage.TRIALLING)))
        month = boundary
    return points[-24:]


def data_product_detail(*, team: Team, pk: int) -> DataProduct:
    return (
        DataProduct.objects.select_related("owner")
        .prefetch_related(Prefetch("adoptions", queryset=Adoption.objects.order_by("stage", "consuming_team")))
        .get(team=team, pk=pk)
    )


def decisions_for(*, team: Team) -> QuerySet[Decision]:
    """The decision log, newest first, with the goals each links. Two queries."""
    return (
        Decision.objects.filter(team=team)
        .select_related("created_by")
        .prefetch_related(Prefetch("goals", queryset=Goal.objects.only("id", "title", "team_id")))
    )


def members_of(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("role", "user__username")


def team_stats(*, team: Team) -> dict[str, int]:
    """Counts for the team home. One query."""
    return Team.objects.filter(pk=team.pk).aggregate(
        products=Count("data_products", distinct=True),
        decisions=Count("decisions", distinct=True),
        members=Count("memberships", distinct=True),
    )
