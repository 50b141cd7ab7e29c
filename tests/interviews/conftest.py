"""Discovery's shared test world: a persona, an interview with an insight, and a typed-in insight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from interviews import services
from interviews.models import Insight, Interview, Persona
from portfolio.models import Team


def url(name: str, team: Team, *args: object, query: str = "") -> str:
    return reverse(f"interviews:{name}", args=[team.slug, *args]) + query


@dataclass
class World:
    team: Team
    persona: Persona
    interview: Interview
    insight: Insight
    typed: Insight


@pytest.fixture
def world(team, people) -> World:
    editor = people["editor"]
    persona = services.persona_create(team=team, by=editor, name="Merchandiser Mia", pains="- Late forecasts")
    interview = services.interview_create(
        team=team,
        by=editor,
        held_on=timezone.localdate() - timedelta(days=3),
        interviewee_name="Raj Patel",
        interviewee_team="Merchandising",
        persona=persona,
        interviewers=[editor],
        tags=["forecast"],
        notes="The forecast lands on **Tuesday**. I order on Monday.",
    )
    insight = services.insight_create(
        team=team, by=editor, interview=interview, quote="I order on Monday.", tags=["forecast-timing"]
    )
    typed = services.insight_create(team=team, by=editor, quote="Ticket: refunds?", persona=persona, tags=["access"])
    return World(team, persona, interview, insight, typed)


def db_state() -> dict[str, list[dict]]:
    """Every row of discovery (and its history), to tell whether a request changed anything."""
    models = (Persona, Interview, Insight, Interview.interviewers.through)
    state = {model.__name__: list(model.objects.order_by("pk").values()) for model in models}
    state["history"] = [Persona.history.count(), Interview.history.count(), Insight.history.count()]
    return state
