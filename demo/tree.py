"""The demo team's opportunity-solution tree: three outcomes, about forty opportunities."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from opportunities import services
from opportunities.models import Kind, Node

# One letter per kind keeps the tree below readable.
O, P, S, E = Kind.OUTCOME, Kind.OPPORTUNITY, Kind.SOLUTION, Kind.EXPERIMENT  # noqa: E741


def n(kind: str, title: str, status: str = "", children: list | None = None, **fields: Any) -> dict:
    return {"kind": kind, "title": title, "status": status, "children": children or [], **fields}


def rice(reach: int, impact: str, confidence: int, effort: float) -> dict:
    return {"reach": reach, "impact": impact, "confidence": confidence, "effort": effort}


TREE = [
    n(
        O,
        "Analysts answer their own questions within a day",
        "active",
        goal="Cut the time to answer an ad-hoc question to one day",
        owner="lead",
        children=[
            n(
                P,
                "Analysts can't find the right table",
                "prioritised",
                owner="pm",
                lane="now",
                **rice(120, "2", 80, 3),
                children=[
                    n(P, "Table names don't say what's inside", "exploring", **rice(90, "1", 80, 2)),
                    n(
                        P,
                        "Three tables claim to be 'orders'",
                        "prioritised",
                        **rice(120, "2", 100, 2),
                        children=[
                            n(
                                S,
                                "Certify one orders table and deprecate the rest",
                                "shipped",
                                owner="lead",
                                lane="done",
                                data_product="Orders",
                                **rice(120, "2", 100, 3),
                                shipped_days_ago=40,
                                children=[
                                    n(
                                        E,
                                        "Five analysts find the certified table unaided",
                                        "passed",
                                        assumption="Analysts look for a certified badge first",
                                        method="Moderated search task with five analysts",
                                        success_criterion="4 of 5 pick the certified table within 2 minutes",
                                        result="5 of 5, median 40 seconds",
                                    ),
                                ],
                            ),
                        ],
                    ),
                    n(P, "The wiki pages are out of date", "identified", **rice(60, "0.5", 50, 1)),
                    n(
                        S,
                        "A searchable data catalogue",
                        "building",
                        owner="pm",
                        lane="next",
                        **rice(120, "2", 50, 8),
                        children=[
                            n(
                                E,
                                "Analysts use search before asking in Slack",
                                "running",
                                assumption="Search answers most 'where is' questions",
                                method="Count Slack 'where is' questions for 4 weeks",
                                success_criterion="Questions drop by half",
                            ),
                        ],
                    ),
                ],
            ),
            n(
                P,
                "Waiting days for access to data",
                "prioritised",
                owner="lead",
                lane="now",
                **rice(80, "3", 80, 4),
                children=[
                    n(P, "Access requests need three approvals", "exploring", **rice(80, "2", 80, 2)),
                    n(
                        S,
                        "Role-based access by team, approved once",
                        "building",
                        owner="lead",
                        lane="now",
                        **rice(80, "3", 80, 5),
                    ),
                    n(
                        S,
                        "Self-service access form with auto-approval for non-PII",
                        "idea",
                        **rice(60, "2", 50, 3),
                        children=[
                            n(
                                E,
                                "Legal accepts auto-approval for non-PII tables",
                                "planned",
                                assumption="Legal will sign off on a PII tag as the gate",
                                method="Review with legal on two example tables",
                                success_criterion="Written approval",
                            ),
                        ],
                    ),
                ],
            ),
            n(
                P,
                "SQL skills vary widely across teams",
                "identified",
                **rice(150, "1", 50, 6),
                children=[
                    n(P, "Marketing analysts rely on exported CSVs", "identified", **rice(40, "1", 80, 2)),
                    n(
                        S,
                        "Weekly SQL office hours",
                        "shipped",
                        owner="pm",
                        lane="done",
                        **rice(40, "0.5", 80, 1),
                        shipped_days_ago=70,
                    ),
                    n(S, "Curated starter queries per domain", "idea", **rice(100, "1", 50, 3)),
                ],
            ),
            n(
                P,
                "Dashboards time out at month end",
                "parked",
                **rice(200, "1", 30, 10),
                children=[
                    n(P, "Finance runs the same heavy query twenty times", "identified", **rice(30, "1", 80, 2)),
                    n(P, "Extracts refresh during business hours", "identified", **rice(200, "0.5", 80, 1)),
                ],
            ),
            n(
                P,
                "Ad-hoc requests arrive through five channels",
                "exploring",
                **rice(90, "1", 80, 2),
                children=[
                    n(P, "Requests get lost in direct messages", "identified", **rice(90, "1", 50, 1)),
                    n(P, "Requesters can't see where their request is", "identified", **rice(90, "0.5", 80, 2)),
                ],
            ),
            n(
                P,
                "Nobody knows who owns a dataset",
                "exploring",
                owner="pm",
                **rice(120, "1", 80, 1),
                children=[
                    n(
                        S,
                        "Owner and SLA on every data product page",
                        "shipped",
                        owner="pm",
                        lane="done",
                        **rice(120, "1", 100, 1),
                        shipped_days_ago=20,
                    ),
                ],
            ),
        ],
    ),
    n(
        O,
        "Merchandisers order from the forecast, not from spreadsheets",
        "active",
        goal="Half of merchandisers use the demand forecast weekly",
        owner="pm",
        children=[
            n(
                P,
                "Merchandisers don't trust the forecast",
                "prioritised",
                owner="pm",
                lane="now",
                **rice(60, "3", 80, 4),
                children=[
                    n(P, "The forecast was wrong on last year's promotions", "exploring", **rice(60, "2", 80, 3)),
                    n(
                        P,
                        "They can't see why a number changed",
                        "prioritised",
                        **rice(60, "2", 50, 2),
                        children=[
                            n(
                                S,
                                "Explain each forecast: the three biggest drivers",
                                "building",
                                owner="lead",
                                lane="now",
                                data_product="Demand forecast",
                                **rice(60, "3", 50, 6),
                                children=[
                                    n(
                                        E,
                                        "Drivers shown change the order in 1 of 3 reviews",
                                        "running",
                                        assumption="Seeing drivers makes people adjust less blindly",
                                        method="A/B on two regions for six weeks",
                                        success_criterion="Fewer manual overrides in the test region",
                                    ),
                                ],
                            ),
                        ],
                    ),
                    n(
                        S,
                        "Show last season's forecast against actuals",
                        "shipped",
                        owner="lead",
                        lane="done",
                        data_product="Demand forecast",
                        **rice(60, "2", 80, 2),
                        shipped_days_ago=55,
                        children=[
                            n(
                                E,
                                "Backtest view increases weekly use",
                                "passed",
                                assumption="Seeing accuracy builds trust",
                                method="Compare weekly active merchandisers 4 weeks before and after",
                                success_criterion="+20% weekly users",
                                result="About a quarter more weekly users, far beyond the usual weekly movement",
                            ),
                        ],
                    ),
                ],
            ),
            n(
                P,
                "The forecast arrives after orders are placed",
                "prioritised",
                owner="lead",
                lane="next",
                **rice(45, "2", 100, 2),
                children=[
                    n(
                        S,
                        "Publish on Monday 06:00 instead of Tuesday",
                        "shipped",
                        owner="lead",
                        lane="done",
                        **rice(45, "2", 100, 1),
                        shipped_days_ago=90,
                    ),
                ],
            ),
            n(
                P,
                "Ordering lives in a spreadsheet that can't read our data",
                "exploring",
                **rice(70, "2", 50, 5),
                children=[
                    n(P, "Copy-pasting 200 SKUs a week", "identified", **rice(70, "1", 80, 2)),
                    n(
                        S,
                        "Forecast export straight into the ordering sheet",
                        "idea",
                        owner="pm",
                        lane="later",
                        **rice(70, "2", 50, 4),
                        children=[
                            n(
                                E,
                                "Two merchandisers use the export for a month",
                                "planned",
                                assumption="A sheet they already use beats a new tool",
                                method="Pilot with two merchandisers",
                                success_criterion="They stop their own sheet",
                            ),
                        ],
                    ),
                    n(S, "Ordering screen inside the merchandising app", "dropped", **rice(70, "3", 30, 20)),
                ],
            ),
            n(
                P,
                "Store managers want store-level numbers",
                "identified",
                **rice(300, "1", 50, 8),
                children=[
                    n(P, "Regional managers compare stores by hand", "identified", **rice(25, "1", 80, 3)),
                ],
            ),
            n(
                P,
                "Stock-outs are noticed a week late",
                "exploring",
                owner="pm",
                **rice(120, "2", 50, 5),
                children=[
                    n(P, "Stores report stock-outs by email", "identified", **rice(120, "1", 80, 2)),
                    n(P, "Online and store stock disagree", "identified", **rice(200, "1", 50, 6)),
                ],
            ),
            n(P, "New products have no history to forecast from", "parked", **rice(20, "2", 30, 6)),
        ],
    ),
    n(
        O,
        "Leaders trust the numbers they read",
        "active",
        goal="Certify the ten metrics the board reads",
        owner="lead",
        children=[
            n(
                P,
                "Different reports give different revenue",
                "prioritised",
                owner="lead",
                lane="now",
                **rice(40, "3", 100, 3),
                children=[
                    n(
                        P,
                        "Returns are counted in some reports, not in others",
                        "prioritised",
                        **rice(40, "2", 100, 1),
                        children=[
                            n(
                                S,
                                "One certified revenue metric, net of returns",
                                "shipped",
                                owner="lead",
                                lane="done",
                                data_product="Revenue dashboard",
                                **rice(40, "3", 100, 2),
                                shipped_days_ago=30,
                            ),
                        ],
                    ),
                    n(
                        P,
                        "The legacy cube uses last year's exchange rates",
                        "exploring",
                        **rice(25, "1", 80, 2),
                        children=[
                            n(
                                S,
                                "Retire the legacy sales cube",
                                "building",
                                owner="lead",
                                lane="next",
                                data_product="Legacy sales cube",
                                **rice(25, "2", 80, 4),
                            ),
                        ],
                    ),
                ],
            ),
            n(
                P,
                "Leaders can't tell whether a number is fresh",
                "exploring",
                owner="pm",
                lane="next",
                **rice(40, "1", 80, 1),
                children=[
                    n(S, "'Computed 2 h ago' on every metric", "idea", lane="next", **rice(40, "1", 80, 1)),
                ],
            ),
            n(
                P,
                "The board pack is assembled by hand",
                "identified",
                **rice(12, "2", 80, 5),
                children=[
                    n(P, "Finance re-keys numbers into slides", "identified", **rice(12, "1", 100, 2)),
                    n(
                        S,
                        "Board pack generated from certified metrics",
                        "idea",
                        lane="later",
                        **rice(12, "3", 50, 8),
                        children=[
                            n(
                                E,
                                "CFO accepts a generated draft",
                                "failed",
                                assumption="A generated draft saves Finance a day",
                                method="Generate last quarter's pack and compare",
                                success_criterion="CFO signs off with minor edits",
                                result="Layout rejected: needs the board's template first",
                            ),
                        ],
                    ),
                ],
            ),
            n(
                P,
                "Metric definitions live in people's heads",
                "prioritised",
                owner="pm",
                lane="next",
                **rice(80, "2", 80, 3),
                children=[
                    n(P, "'Active customer' means three things", "prioritised", **rice(80, "2", 100, 1)),
                    n(S, "A governed metric catalogue", "building", owner="pm", lane="now", **rice(80, "2", 80, 6)),
                ],
            ),
            n(P, "Alerts fire too often to be read", "parked", **rice(30, "0.5", 50, 2)),
            n(
                P,
                "Targets are set without a baseline",
                "identified",
                **rice(20, "2", 50, 2),
                children=[
                    n(P, "Last year's numbers are restated every quarter", "identified", **rice(20, "1", 80, 3)),
                    n(P, "Nobody knows the normal week-to-week variation", "identified", **rice(20, "1", 50, 2)),
                ],
            ),
            n(P, "Pipelines break silently overnight", "exploring", owner="lead", **rice(150, "2", 80, 4)),
        ],
    ),
]


def seed_tree(team, users: dict, goals: dict, products: dict) -> int:
    """Grow the demo tree unless the team already has one. Returns the number of nodes created."""
    if Node.objects.filter(team=team).exists():
        return 0
    today = timezone.localdate()
    created = 0

    def add(items: list[dict], parent: Node | None) -> None:
        nonlocal created
        for item in items:
            fields = {k: v for k, v in item.items() if k not in ("kind", "title", "children", "shipped_days_ago")}
            if "owner" in fields:
                fields["owner"] = users[fields["owner"]]
            if "goal" in fields:
                fields["goal"] = goals[fields["goal"]]
            if "data_product" in fields:
                fields["data_product"] = products[fields["data_product"]]
            if "shipped_days_ago" in item:
                fields["shipped_on"] = today - timedelta(days=item["shipped_days_ago"])
            node = services.node_create(
                team=team, parent=parent, kind=item["kind"], title=item["title"], by=users["pm"], **fields
            )
            created += 1
            add(item["children"], node)

    add(TREE, None)
    return created
