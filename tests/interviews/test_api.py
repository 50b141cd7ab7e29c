"""Discovery's REST API: who may do what, rules, stale edits, filters, search, query counts, schema."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.db import models
from django.urls import reverse

from interviews import services
from interviews.models import Insight, InsightKind, Interview, Persona
from portfolio.models import Team
from tests.interviews.factories import InsightFactory, InterviewFactory, PersonaFactory
from tests.portfolio.factories import UserFactory
from tests.support import rows_and_history, send

pytestmark = pytest.mark.django_db

ROLES = ["admin", "editor", "viewer", "outsider"]
# Status codes per operation, in the order of ROLES.
STATUS = {
    "retrieve": (200, 200, 200, 404),
    "create": (201, 201, 403, 400),
    "update": (200, 200, 403, 404),
    "delete": (204, 204, 403, 404),
}


@dataclass(frozen=True)
class Resource:
    name: str
    model: type[models.Model]
    make: Callable[[Team], models.Model]
    body: Callable[[Team], dict[str, Any]]
    change: Callable[[Any], dict[str, Any]]

    def __str__(self) -> str:
        return self.name

    def list_url(self, query: str = "") -> str:
        return reverse(f"api:{self.name}-list") + query

    def detail_url(self, obj: models.Model) -> str:
        return reverse(f"api:{self.name}-detail", args=[obj.pk])


PERSONAS = Resource(
    name="persona",
    model=Persona,
    make=lambda team: PersonaFactory(team=team),
    body=lambda team: {"team": team.slug, "name": "Analyst Aiko", "colour": "rose", "pains": "Waiting."},
    change=lambda persona: {"role": "Finance analyst", "version": persona.version},
)
INTERVIEWS = Resource(
    name="interview",
    model=Interview,
    make=lambda team: InterviewFactory(team=team),
    body=lambda team: {
        "team": team.slug,
        "held_on": "2026-05-04",
        "interviewee_name": "Mia Jensen",
        "type": "usability",
        "interviewers": ["pam"],
        "tags": ["forecast", "trust"],
        "notes": "Orders on Monday.",
    },
    change=lambda interview: {"notes": "Changed notes.", "version": interview.version},
)
INSIGHTS = Resource(
    name="insight",
    model=Insight,
    make=lambda team: InsightFactory(team=team, interview=InterviewFactory(team=team)),
    body=lambda team: {"team": team.slug, "quote": "The forecast is late.", "kind": "pain", "tags": ["forecast"]},
    change=lambda insight: {"kind": "need", "version": insight.version},
)
RESOURCES = [PERSONAS, INTERVIEWS, INSIGHTS]


def by_role(operation: str) -> list:
    return [
        pytest.param(resource, role, STATUS[operation][index], id=f"{resource}-{role}")
        for resource in RESOURCES
        for index, role in enumerate(ROLES)
    ]


def db_state() -> dict[str, Any]:
    state: dict[str, Any] = rows_and_history(Persona, Interview, Insight)
    state["interviewers"] = list(Interview.interviewers.through.objects.order_by("pk").values())
    return state


@pytest.fixture
def world(people, team, other_team):
    return {
        "ours": {resource.name: resource.make(team) for resource in RESOURCES},
        "theirs": {resource.name: resource.make(other_team) for resource in RESOURCES},
    }


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
@pytest.mark.parametrize(
    ("method", "target"),
    [("get", "list"), ("get", "detail"), ("post", "list"), ("patch", "detail"), ("delete", "detail")],
)
def test_anonymous_request_answers_401_and_changes_nothing(api_for, world, team, resource, method, target):
    obj = world["ours"][resource.name]
    url = resource.list_url() if target == "list" else resource.detail_url(obj)
    before = db_state()

    response = send(api_for(None), method, url, resource.body(team) if method == "post" else resource.change(obj))

    assert response.status_code == 401
    assert db_state() == before


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_members_list_their_teams_objects_and_not_the_other_teams(api_for, people, world, resource, role):
    response = api_for(people[role]).get(resource.list_url())

    assert response.status_code == 200
    listed = {row["id"] for row in response.json()["results"]}
    assert world["ours"][resource.name].pk in listed
    assert world["theirs"][resource.name].pk not in listed


@pytest.mark.parametrize(("resource", "role", "expected"), by_role("retrieve"))
def test_retrieve_by_role(api_for, people, world, resource, role, expected):
    obj = world["ours"][resource.name]
    response = api_for(people[role]).get(resource.detail_url(obj))
    assert response.status_code == expected
    if expected == 200:
        assert response.json()["id"] == obj.pk


@pytest.mark.parametrize(("resource", "role", "expected"), by_role("create"))
def test_create_by_role(api_for, people, team, world, resource, role, expected):
    user = people[role]
    body = resource.body(team)
    before = db_state()

    response = send(api_for(user), "post", resource.list_url(), body)

    assert response.status_code == expected, response.content
    if expected != 201:
        assert db_state() == before
        return
    assert {name: response.json()[name] for name in body} == body
    created = resource.model.objects.get(pk=response.json()["id"])
    assert created.history.get().history_user == user


@pytest.mark.parametrize(("resource", "role", "expected"), by_role("update"))
def test_update_by_role(api_for, people, world, resource, role, expected):
    obj = world["ours"][resource.name]
    body = resource.change(obj)
    before = db_state()

    response = send(api_for(people[role]), "patch", resource.detail_url(obj), body)

    assert response.status_code == expected, response.content
    if expected != 200:
        assert db_state() == before
        return
    obj.refresh_from_db()
    assert obj.version == body["version"] + 1
    assert response.json()["version"] == obj.version
    assert all(getattr(obj, name) == value for name, value in body.items() if name != "version")


@pytest.mark.parametrize(("resource", "role", "expected"), by_role("delete"))
def test_delete_by_role(api_for, people, world, resource, role, expected):
    obj = world["ours"][resource.name]
    before = db_state()

    response = api_for(people[role]).delete(resource.detail_url(obj))

    assert response.status_code == expected
    if expected != 204:
        assert db_state() == before
    else:
        assert not resource.model.objects.filter(pk=obj.pk).exists()
        assert resource.model.history.filter(id=obj.pk, history_type="-").get().history_user == people[role]


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_stale_update_is_409_with_the_current_object(api_for, editor, team_admin, world, resource):
    obj = world["ours"][resource.name]
    first = resource.change(obj)
    assert send(api_for(team_admin), "patch", resource.detail_url(obj), first).status_code == 200
    before = db_state()

    response = send(api_for(editor), "patch", resource.detail_url(obj), {**first, "version": 1})

    assert response.status_code == 409
    body = response.json()
    assert "Someone else changed" in body["detail"] and body["current"]["version"] == 2 and body["changed"]
    assert db_state() == before


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_update_without_a_version_is_refused(api_for, editor, world, resource):
    obj = world["ours"][resource.name]
    body = {k: v for k, v in resource.change(obj).items() if k != "version"}
    before = db_state()
    response = send(api_for(editor), "patch", resource.detail_url(obj), body)
    assert response.status_code == 400 and "version" in response.json()
    assert db_state() == before


# Rules, seen through the API


def test_interview_with_an_outsider_as_interviewer_is_refused(api_for, editor, outsider, team):
    body = {**INTERVIEWS.body(team), "interviewers": ["pam", "olga"]}
    response = api_for(editor).post(INTERVIEWS.list_url(), body, format="json")
    assert response.status_code == 400 and "interviewers" in response.json()
    assert not Interview.objects.exists()


def test_interview_with_another_teams_persona_is_refused(api_for, editor, team, other_team):
    theirs = PersonaFactory(team=other_team)
    response = api_for(editor).post(
        INTERVIEWS.list_url(), {**INTERVIEWS.body(team), "persona": theirs.pk}, format="json"
    )
    assert response.status_code == 400 and "persona" in response.json()


def test_interview_tags_come_back_as_slugs(api_for, editor, team):
    body = {**INTERVIEWS.body(team), "tags": ["Self Serve", "self-serve", "Trust"]}
    response = api_for(editor).post(INTERVIEWS.list_url(), body, format="json")
    assert response.status_code == 201 and response.json()["tags"] == ["self-serve", "trust"]


def test_an_insight_from_an_interview_takes_its_team_and_persona(api_for, editor, team):
    persona = PersonaFactory(team=team)
    interview = InterviewFactory(team=team, persona=persona)
    response = api_for(editor).post(
        INSIGHTS.list_url(), {"interview": interview.pk, "quote": "Late.", "kind": "pain"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["team"], body["interview"], body["persona"], body["source_persona"]) == (
        "data",
        interview.pk,
        None,
        persona.pk,
    )


def test_a_viewer_cannot_make_an_insight_on_an_interview(api_for, viewer, team):
    interview = InterviewFactory(team=team)
    response = api_for(viewer).post(INSIGHTS.list_url(), {"interview": interview.pk, "quote": "x"}, format="json")
    assert response.status_code == 403
    assert not Insight.objects.exists()


def test_an_insight_on_another_teams_interview_is_refused(api_for, editor, other_team):
    theirs = InterviewFactory(team=other_team)
    response = api_for(editor).post(INSIGHTS.list_url(), {"interview": theirs.pk, "quote": "x"}, format="json")
    assert response.status_code == 400 and "interview" in response.json()
    assert not Insight.objects.exists()


def test_an_insight_needs_a_team_or_an_interview(api_for, editor):
    response = api_for(editor).post(INSIGHTS.list_url(), {"quote": "Orphan."}, format="json")
    assert response.status_code == 400 and "team" in response.json()


def test_an_insight_does_not_move_between_interviews(api_for, editor, team, world):
    insight = world["ours"]["insight"]
    other = InterviewFactory(team=team)
    response = api_for(editor).patch(
        INSIGHTS.detail_url(insight), {"interview": other.pk, "version": insight.version}, format="json"
    )
    assert response.status_code == 200
    insight.refresh_from_db()
    assert insight.interview_id != other.pk


def test_hostile_text_is_stored_and_returned_as_plain_text(api_for, editor, team):
    quote = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    response = api_for(editor).post(
        INSIGHTS.list_url(), {"team": "data", "quote": quote, "tags": [quote]}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["quote"] == quote
    assert response.json()["tags"] == ["scriptalert1scriptimg-srcx-onerroralert2"]
    assert response["Content-Type"] == "application/json"


def test_duplicate_persona_name_is_reported_on_the_name(api_for, editor, team):
    PersonaFactory(team=team, name="Mia")
    response = api_for(editor).post(PERSONAS.list_url(), {"team": "data", "name": "MIA"}, format="json")
    assert response.status_code == 400 and "name" in response.json()


def test_persona_counts_in_the_api(api_for, viewer, team):
    persona = PersonaFactory(team=team)
    interview = InterviewFactory(team=team, persona=persona)
    InsightFactory(team=team, interview=interview)
    InsightFactory(team=team, persona=persona)
    row = api_for(viewer).get(PERSONAS.detail_url(persona)).json()
    assert (row["interview_count"], row["insight_count"], row["initials"]) == (1, 2, persona.initials)


# Filters and search


@pytest.fixture
def filtered(team, editor, viewer):
    mia = PersonaFactory(team=team, name="Mia")
    raj = services.interview_create(
        team=team,
        by=editor,
        held_on=date(2026, 5, 4),
        interviewee_name="Raj",
        interviewee_team="Merchandising",
        persona=mia,
        interviewers=[editor],
        tags=["forecast"],
        notes="The forecast arrives too late.",
    )
    grace = services.interview_create(
        team=team,
        by=editor,
        held_on=date(2026, 6, 1),
        interviewee_name="Grace",
        interviewee_team="Stores",
        interviewers=[viewer],
        type="stakeholder",
        notes="Stock-outs.",
    )
    services.insight_create(team=team, by=editor, interview=grace, quote="One shop only.", tags=["store-level"])
    services.insight_create(team=team, by=editor, quote="Typed for Mia.", persona=mia, kind=InsightKind.NEED)
    return {"mia": mia, "raj": raj, "grace": grace}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Grace", "Raj"]),
        ("?team=data", ["Grace", "Raj"]),
        ("?team=growth", []),
        ("?tag=forecast", ["Raj"]),
        ("?tag=FORECAST", ["Raj"]),
        ("?tag=fore", []),
        ("?interviewer=vic", ["Grace"]),
        ("?interviewee_team=stores", ["Grace"]),
        ("?held_after=2026-05-10", ["Grace"]),
        ("?held_before=2026-05-10", ["Raj"]),
        ("?type=stakeholder", ["Grace"]),
        ("?search=late", ["Raj"]),
        ("?search=shop", ["Grace"]),  # a quote of its insights
        ("?search=late%20shop", []),
    ],
)
def test_interview_filters(api_for, viewer, filtered, query, expected):
    response = api_for(viewer).get(INTERVIEWS.list_url(query))
    assert response.status_code == 200
    assert sorted(row["interviewee_name"] for row in response.json()["results"]) == expected


def test_interview_persona_filter(api_for, viewer, filtered):
    rows = api_for(viewer).get(INTERVIEWS.list_url(f"?persona={filtered['mia'].pk}")).json()["results"]
    assert [row["interviewee_name"] for row in rows] == ["Raj"]
    assert rows[0]["interviewers"] == ["pam"] and rows[0]["insight_count"] == 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [("?kind=need", ["Typed for Mia."]), ("?tag=store-level", ["One shop only."]), ("?team=growth", [])],
)
def test_insight_filters(api_for, viewer, filtered, query, expected):
    rows = api_for(viewer).get(INSIGHTS.list_url(query)).json()["results"]
    assert [row["quote"] for row in rows] == expected


def test_insight_persona_filter_includes_typed_and_interview_insights(api_for, viewer, filtered, editor, team):
    services.insight_create(team=team, by=editor, interview=filtered["raj"], quote="Too late.")
    rows = api_for(viewer).get(INSIGHTS.list_url(f"?persona={filtered['mia'].pk}")).json()["results"]
    assert sorted(row["quote"] for row in rows) == ["Too late.", "Typed for Mia."]


def test_search_never_reaches_another_teams_interviews(api_for, outsider, filtered):
    assert api_for(outsider).get(INTERVIEWS.list_url("?search=late")).json()["count"] == 0


# Query counts: fixed whatever the number of rows


def _grow(team: Team, rows: int) -> None:
    members = [UserFactory() for _ in range(3)]
    for member in members:
        team.memberships.create(user=member, role="editor")
    personas = [PersonaFactory(team=team) for _ in range(3)]
    for i in range(rows):
        interview = InterviewFactory(team=team, persona=personas[i % 3], tags=["a"])
        interview.interviewers.set(members[: 1 + i % 3])
        InsightFactory(team=team, interview=interview)
        InsightFactory(team=team, persona=personas[i % 3])


@pytest.mark.parametrize("rows", [2, 25])
@pytest.mark.parametrize(
    ("resource", "queries"),
    [
        (PERSONAS, 2),  # count, personas with counts (subqueries)
        (INTERVIEWS, 3),  # count, interviews joined with team, persona and author (+ insight count), interviewers
        (INSIGHTS, 3),  # count, insights joined with team, author, interview's persona and persona; their nodes
    ],
    ids=str,
)
def test_list_query_count_is_fixed(api_for, team_admin, team, django_assert_num_queries, resource, queries, rows):
    _grow(team, rows)
    client = api_for(team_admin)  # force_authenticate: no session or user query

    with django_assert_num_queries(queries):
        response = client.get(resource.list_url("?tag=a" if resource is INTERVIEWS else ""))

    assert response.status_code == 200
    assert response.json()["count"] == {"persona": 3, "interview": rows, "insight": 2 * rows}[resource.name]


# The OpenAPI schema


@pytest.fixture
def schema(tmp_path) -> dict[str, Any]:
    path = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_covers_discovery_with_its_own_enum_names(schema):
    assert {
        "/api/personas/",
        "/api/personas/{id}/",
        "/api/interviews/",
        "/api/interviews/{id}/",
        "/api/insights/",
        "/api/insights/{id}/",
    } <= set(schema["paths"])
    enums = schema["components"]["schemas"]
    assert enums["InsightKindEnum"]["enum"] == ["pain", "need", "desire", "delight", "idea"]
    assert enums["InterviewTypeEnum"]["enum"] == ["user", "stakeholder", "usability", "exit"]
    assert "rose" in enums["AvatarColourEnum"]["enum"]
    search = next(p for p in schema["paths"]["/api/interviews/"]["get"]["parameters"] if p["name"] == "search")
    assert "full-text" in search["description"]
