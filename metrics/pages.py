"""Small reads for the metrics pages, on top of queries.py: the catalogue as groups, tags, outcomes.

Each is one query at most, whatever the number of metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, QuerySet

from portfolio.models import Team

from .models import Metric, Warehouse
from .queries import MetricRow

MAX_DEPTH = 4  # deeper inputs are drawn at this indent


@dataclass
class IndentedRow:
    row: MetricRow
    depth: int  # 0 for the group's root


@dataclass
class CatalogueGroup:
    """A north star (or another root with inputs) and every metric under it, in tree order."""

    root: MetricRow | None  # None for the group of loose metrics
    rows: list[IndentedRow] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.root.metric.name if self.root else "Other metrics"


def catalogue_groups(roots: list[MetricRow]) -> list[CatalogueGroup]:
    """One group per north star or tree of inputs, then one group of the metrics that stand alone."""
    groups: list[CatalogueGroup] = []
    loose = CatalogueGroup(root=None)
    for root in roots:
        if not (root.metric.is_north_star or root.children):
            loose.rows.append(IndentedRow(root, 0))
            continue
        group = CatalogueGroup(root=root)
        stack = [(root, 0)]
        while stack:
            row, depth = stack.pop()
            group.rows.append(IndentedRow(row, min(depth, MAX_DEPTH)))
            stack.extend((child, depth + 1) for child in reversed(row.children))
        groups.append(group)
    if loose.rows:
        groups.append(loose)
    return groups


def tags_in_use(*, team: Team) -> list[str]:
    """Every tag on the team's metrics, for the catalogue's filter. One query."""
    tags: set[str] = set()
    for metric_tags in Metric.objects.filter(team=team).values_list("tags", flat=True):
        tags.update(t for t in metric_tags or [] if isinstance(t, str))
    return sorted(tags)


def outcomes_for(*, metric: Metric) -> list:
    """The tree's outcomes this metric measures. One query.

    Outcomes live in the opportunities app, which depends on metrics, so they are reached through
    the reverse relation and the kind's value rather than an import.
    """
    return list(metric.nodes.filter(kind="outcome").order_by("title"))


def warehouses_for(*, team: Team) -> QuerySet[Warehouse]:
    """The team's warehouses with how many metrics compute from each. One query."""
    return Warehouse.objects.filter(team=team).annotate(metric_count=Count("metrics")).order_by("name")
