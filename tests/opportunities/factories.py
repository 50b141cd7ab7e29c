"""Trees for tests, built through the services so paths, parents and history are real."""

from __future__ import annotations

from opportunities import services
from opportunities.models import Kind, Node


def add(team, by, kind: str, title: str, parent: Node | None = None, **fields) -> Node:
    return services.node_create(team=team, by=by, kind=kind, title=title, parent=parent, **fields)


def small_tree(team, by) -> dict[str, Node]:
    """outcome ─ opp A ─ opp A1 ─ solution S ─ experiment E; outcome ─ opp B; a second outcome O2."""
    nodes: dict[str, Node] = {}
    nodes["outcome"] = add(team, by, Kind.OUTCOME, "More self-serve answers")
    nodes["A"] = add(team, by, Kind.OPPORTUNITY, "Analysts wait for data", nodes["outcome"])
    nodes["A1"] = add(team, by, Kind.OPPORTUNITY, "Nobody trusts the orders table", nodes["A"])
    nodes["S"] = add(team, by, Kind.SOLUTION, "Certify the orders table", nodes["A1"])
    nodes["E"] = add(team, by, Kind.EXPERIMENT, "Ask five analysts", nodes["S"])
    nodes["B"] = add(team, by, Kind.OPPORTUNITY, "Dashboards are slow", nodes["outcome"])
    nodes["O2"] = add(team, by, Kind.OUTCOME, "Fewer broken pipelines")
    return {k: Node.objects.get(pk=v.pk) for k, v in nodes.items()}


def wide_tree(team, by, size: int) -> None:
    """About `size` nodes: outcomes, two levels of opportunities, solutions, experiments (bulk, fast)."""
    outcome = add(team, by, Kind.OUTCOME, "Outcome")
    made = 1
    while made < size:
        opp = add(team, by, Kind.OPPORTUNITY, f"Opportunity {made}", outcome)
        made += 1
        for j in range(3):
            if made >= size:
                break
            sol = add(
                team,
                by,
                Kind.SOLUTION,
                f"Solution {made}",
                opp,
                reach=100 * j + 10,
                impact="1",
                confidence=50,
                effort=2,
            )
            made += 1
            if made < size:
                add(team, by, Kind.EXPERIMENT, f"Experiment {made}", sol)
                made += 1
