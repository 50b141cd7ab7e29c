"""The synthesis page: the discovery habit, interviews per week, and the affinity board."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portfolio.access import team_view
from portfolio.models import Team

from .. import queries
from ..charts import interviews_per_week_chart
from ..models import InsightKind


@team_view()
def synthesis(request: HttpRequest, team: Team) -> HttpResponse:
    by = request.GET.get("by", "tag")
    kind = request.GET.get("kind", "")
    kind = kind if kind in InsightKind.values else ""
    board = queries.affinity_board(team=team, by=by, kind=kind)
    context = {"team": team, "board": board, "kind": kind, "kinds": InsightKind.choices, "section": "synthesis"}
    if request.htmx and request.htmx.target == "affinity-board":
        return render(request, "interviews/synthesis.html#board", context)
    weeks = queries.interviews_per_week(team=team)
    return render(
        request,
        "interviews/synthesis.html",
        {
            **context,
            "stats": queries.discovery_stats(team=team),
            "chart": interviews_per_week_chart(weeks),
            "weeks_with_interviews": sum(1 for w in weeks if w.count),
            "weeks": len(weeks),
        },
    )
