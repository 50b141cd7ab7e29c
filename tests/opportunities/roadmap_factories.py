"""Roadmaps for tests: a small tree with lanes, goals, a metric with its numbers, built through the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from metrics.models import Metric, Snapshot, Warehouse
from opportunities import services
from opportunities.models import Kind, Lane, Node
from portfolio.models import DataProduct, Goal, GoalStatus, Team
from tests.opportunities.factories import add, wide_tree
from tests.portfolio.factories import DataProductFactory, GoalFactory


def metric_with_points(team: Team, key: str, values: list[float], **fields) -> Metric:
    """A metric of the team with one snapshot a week, the last one this week."""
    warehouse = Warehouse.objects.filter(team=team).first() or Warehouse.objects.create(
        team=team, name="Analytics", url="duckdb:///:memory:"
    )
    metric = Metric.objects.create(
        team=team,
        key=key,
        name=fields.pop("name", key.replace("_", " ").capitalize()),
        definition="Counted in tests.",
        warehouse=warehouse,
        sql="SELECT 1",
        last_refreshed_at=timezone.now(),
        **fields,
    )
    today = timezone.localdate()
    Snapshot.objects.bulk_create(
        Snapshot(
            metric=metric, period=today - timedelta(weeks=len(values) - 1 - i), value=v, computed_at=timezone.now()
        )
        for i, v in enumerate(values)
    )
    return metric


@dataclass
class RoadmapWorld:
    team: Team
    goal: Goal
    product: DataProduct
    metric: Metric
    nodes: dict[str, Node]
    theirs: dict[str, object]  # another team's outcome, goal, product and a card of theirs

    def __getitem__(self, key: str) -> Node:
        return Node.objects.get(pk=self.nodes[key].pk)


def roadmap_world(team: Team, people: dict, other_team: Team) -> RoadmapWorld:
    """Two outcomes and their cards in every lane; another team with a roadmap of its own.

    O1 (goal "Answer in a day", metric hours_to_answer) ─ A (opportunity, now, pam, Orders)
                                                       ├ A ─ S1 (solution, next, target in 100 days)
                                                       ├ B (opportunity, later, no owner)
                                                       └ B ─ S2 (solution, done, shipped)
    O2 (no goal, no metric) ─ C (opportunity, now, vic) ─ S3 (solution, off the roadmap)
    """
    editor, viewer = people["editor"], people["viewer"]
    goal = GoalFactory(team=team, title="Answer in a day", status=GoalStatus.ON_TRACK)
    product = DataProductFactory(team=team, name="Orders")
    metric = metric_with_points(
        team, "requests_hours_to_answer", [30, 28, 26, 24], name="Hours to answer", is_north_star=True
    )
    today = timezone.localdate()
    nodes: dict[str, Node] = {}
    nodes["O1"] = add(team, editor, Kind.OUTCOME, "Analysts answer within a day", goal=goal, metric=metric)
    nodes["A"] = add(
        team,
        editor,
        Kind.OPPORTUNITY,
        "Can't find tables",
        nodes["O1"],
        lane=Lane.NOW,
        owner=editor,
        data_product=product,
    )
    nodes["S1"] = add(
        team, editor, Kind.SOLUTION, "A searchable catalogue", nodes["A"], target_date=today + timedelta(days=100)
    )
    nodes["B"] = add(team, editor, Kind.OPPORTUNITY, "Waiting for access", nodes["O1"], target_date=date(2020, 1, 15))
    nodes["S2"] = add(team, editor, Kind.SOLUTION, "Self-serve access", nodes["B"], status="shipped")
    nodes["O2"] = add(team, editor, Kind.OUTCOME, "Fewer broken pipelines")
    nodes["C"] = add(team, editor, Kind.OPPORTUNITY, "Loads fail at night", nodes["O2"], lane=Lane.NOW, owner=viewer)
    nodes["S3"] = add(team, editor, Kind.SOLUTION, "Retry loads", nodes["C"])
    for key, lane in (("S1", Lane.NEXT), ("B", Lane.LATER), ("S2", Lane.DONE)):
        services.node_set_lane(node=nodes[key], lane=lane, by=editor)

    outsider = people["outsider"]
    their_goal = GoalFactory(team=other_team, title="Their secret goal")
    their_product = DataProductFactory(team=other_team, name="Their product")
    their_outcome = add(other_team, outsider, Kind.OUTCOME, "Their secret outcome", goal=their_goal)
    their_card = add(
        other_team,
        outsider,
        Kind.OPPORTUNITY,
        "Their secret card",
        their_outcome,
        lane=Lane.NOW,
        data_product=their_product,
    )
    theirs = {"outcome": their_outcome, "goal": their_goal, "product": their_product, "card": their_card}
    return RoadmapWorld(team, goal, product, metric, {k: Node.objects.get(pk=v.pk) for k, v in nodes.items()}, theirs)


def big_roadmap(team: Team, people: dict, size: int) -> None:
    """About `size` nodes, every opportunity and solution on the roadmap with an owner, a product and a date."""
    wide_tree(team, people["editor"], size)
    outcome = Node.objects.get(team=team, depth=1)
    metric = metric_with_points(team, "orders_daily_count", [5, 6, 7, 8, 9, 10], is_north_star=True)
    Node.objects.filter(pk=outcome.pk).update(goal=GoalFactory(team=team), metric=metric)
    product = DataProductFactory(team=team)
    items = list(Node.objects.filter(team=team, kind__in=[Kind.OPPORTUNITY, Kind.SOLUTION]).order_by("path"))
    lanes = [Lane.NOW, Lane.NEXT, Lane.LATER, Lane.DONE]
    for i, node in enumerate(items):
        node.lane, node.lane_position = lanes[i % 4], i
        node.owner, node.data_product = people["editor"], product
        node.target_date = timezone.localdate() + timedelta(days=40 * (i % 6))
    Node.objects.bulk_update(items, ["lane", "lane_position", "owner", "data_product", "target_date"])
