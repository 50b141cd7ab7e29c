"""The impact loop on the tree's side: which metric a shipped solution answers to, and its readout.

A shipped solution is judged by its own metric when it has one, otherwise by the metric of the
outcome it serves (the same rule that puts the "Shipped" annotation on a chart). The readout
itself (before and after, against the metric's usual variation) is `metrics.impact`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Q

from metrics.impact import Readout, readout
from metrics.models import Metric

from .models import Kind, Node, SolutionStatus

STEPLEN = Node.steplen


@dataclass(frozen=True)
class ShippedImpact:
    metric: Metric | None  # None: neither the solution nor its outcome has a metric to judge it by
    readout: Readout | None


def has_impact(node: Node) -> bool:
    """A shipped solution with a ship date: the only nodes with a readout. No query."""
    return node.kind == Kind.SOLUTION and node.status == SolutionStatus.SHIPPED and node.shipped_on is not None


def node_impact(node: Node, *, today: date | None = None) -> ShippedImpact | None:
    """The readout of a shipped solution on its metric; None for any other node.

    Two queries (the metric, its snapshots) for a shipped solution, none for other nodes.
    """
    if not has_impact(node):
        return None
    assert node.shipped_on is not None
    candidates = list(
        Metric.objects.filter(
            Q(pk=node.metric_id)
            | Q(nodes__team_id=node.team_id, nodes__path=node.path[:STEPLEN], nodes__kind=Kind.OUTCOME)
        ).distinct()
    )
    metric = next((m for m in candidates if m.pk == node.metric_id), candidates[0] if candidates else None)
    if metric is None:
        return ShippedImpact(metric=None, readout=None)
    return ShippedImpact(metric=metric, readout=readout(metric, node.shipped_on, today=today))
