"""The portfolio REST API: who may do what, invalid input, stale edits, auth, filters, query counts, schema."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.db import models
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portfolio.models import Adoption, DataProduct, Decision, Goal, GoalStatus, LifecycleStage, Membership, Role, Team
from tests.portfolio.factories import (
    AdoptionFactory,
    DataProductFactory,
    DecisionFactory,
    GoalFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
)
from tests.support import rows_and_history, send

ARCHIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)

pytestmark = pytest.mark.django_db

ROLES = ["admin", "editor", "viewer", "outsider"]


# The resources, described once so each behaviour is one parametrised test.


@dataclass(frozen=True)
class Resource:
    name: str  # the router's basename
    model: type[models.Model]
    make: Callable[[Team], models.Model]  # an existing object of the team
    body: Callable[[Team], dict[str, Any]]  # a valid creation body for the team
    change: Callable[[Any], dict[str, Any]]  # a valid PATCH body for an object
    lookup: str = "pk"  # what the URL and the list name an object by
    team_field: str = "team"  # the body field that places a new object in a team
    versioned: bool = True
    status: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)  # per operation, for ROLES

    def __str__(self) -> str:
        return self.name

    def key(self, obj: models.Model) -> Any:
        return getattr(obj, self.lookup)

    def list_url(self) -> str:
        return reverse(f"api:{self.name}-list")

    def detail_url(self, obj: models.Model) -> str:
        return reverse(f"api:{self.name}-detail", args=[self.key(obj)])

    def listed_keys(self, response) -> set:
        return {row["slug" if self.lookup == "slug" else "id"] for row in response.json()["results"]}


def _membership(team: Team) -> Membership:
    return MembershipFactory(team=team, user=UserFactory(username=f"member-of-{team.slug}"), role=Role.VIEWER)


def _newcomer_body(team: Team) -> dict[str, Any]:
    UserFactory(username="newcomer")
    return {"team": team.slug, "user": "newcomer", "role": Role.EDITOR}


def _adoption_body(team: Team) -> dict[str, Any]:
    product = DataProductFactory(team=team, name="Orders")
    return {"data_product": product.pk, "consuming_team": "Finance", "stage": "active", "since": "2026-06-01"}


# Status codes per operation, in the order of ROLES: admin, editor, viewer, outsider.
CONTENT_STATUS = {
    "retrieve": (200, 200, 200, 404),
    "create": (201, 201, 403, 400),
    "update": (200, 200, 403, 404),
    "delete": (204, 204, 403, 404),
}

TEAMS = Resource(
    name="team",
    model=Team,
    make=lambda team: team,
    body=lambda team: {"slug": "new-team", "name": "New team"},
    change=lambda team: {"vision": "Changed vision.", "version": team.version},
    lookup="slug",
    status={
        "retrieve": (200, 200, 200, 404),
        "create": (201, 201, 201, 201),  # anyone signed in may start a team
        "update": (200, 200, 403, 404),
        "delete": (405, 405, 405, 405),  # teams are not deleted through the API
    },
)
MEMBERSHIPS = Resource(
    name="membership",
    model=Membership,
    make=_membership,
    body=_newcomer_body,
    change=lambda membership: {"role": Role.EDITOR},
    versioned=False,
    status={  # admin-only: other members cannot even see the memberships
        "retrieve": (200, 404, 404, 404),
        "create": (201, 403, 403, 400),
        "update": (200, 404, 404, 404),
        "delete": (204, 404, 404, 404),
    },
)
GOALS = Resource(
    name="goal",
    model=Goal,
    make=lambda team: GoalFactory(team=team),
    body=lambda team: {"team": team.slug, "title": "Grow adoption", "quarter": "2027-Q1"},
    change=lambda goal: {"title": "Changed title", "version": goal.version},
    status={**CONTENT_STATUS, "delete": (405, 405, 405, 405)},  # goals are archived, not deleted
)
DATA_PRODUCTS = Resource(
    name="data-product",
    model=DataProduct,
    make=lambda team: DataProductFactory(team=team),
    body=lambda team: {"team": team.slug, "name": "Orders", "kind": "dashboard"},
    change=lambda product: {"stage": LifecycleStage.BETA, "version": product.version},
    status=CONTENT_STATUS,
)
ADOPTIONS = Resource(
    name="adoption",
    model=Adoption,
    make=lambda team: AdoptionFactory(data_product=DataProductFactory(team=team)),
    body=_adoption_body,
    change=lambda adoption: {"stage": "churned"},
    team_field="data_product",
    versioned=False,
    status=CONTENT_STATUS,
)
DECISIONS = Resource(
    name="decision",
    model=Decision,
    make=lambda team: DecisionFactory(team=team),
    body=lambda team: {"team": team.slug, "title": "Pivot", "decision": "We stop X.", "decided_on": "2026-09-01"},
    change=lambda decision: {"title": "Changed title", "version": decision.version},
    status=CONTENT_STATUS,
)
RESOURCES = [TEAMS, MEMBERSHIPS, GOALS, DATA_PRODUCTS, ADOPTIONS, DECISIONS]
VERSIONED = [resource for resource in RESOURCES if resource.versioned]
CONTENT = [GOALS, DATA_PRODUCTS, ADOPTIONS, DECISIONS]


def by_role(operation: str) -> list:
    return [
        pytest.param(resource, role, resource.status[operation][index], id=f"{resource}-{role}")
        for resource in RESOURCES
        for index, role in enumerate(ROLES)
    ]


def db_state() -> dict[str, Any]:
    """Every portfolio row and history record, to prove a refused request changed nothing."""
    state: dict[str, Any] = {"tokens": list(Token.objects.values_list("key", flat=True))}
    state.update(rows_and_history(Team, Membership, Goal, DataProduct, Adoption, Decision))
    state["decision goals"] = list(Decision.goals.through.objects.order_by("pk").values())
    return state


@pytest.fixture
def world(people, team, other_team):
    """One object of each resource in the team and one in the other team."""
    return {
        "ours": {resource.name: resource.make(team) for resource in RESOURCES},
        "theirs": {resource.name: resource.make(other_team) for resource in RESOURCES},
    }


# Anonymous requests


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
@pytest.mark.parametrize(
    ("method", "target"),
    [("get", "list"), ("get", "detail"), ("post", "list"), ("patch", "detail"), ("delete", "detail")],
)
def test_anonymous_request_answers_401_and_changes_nothing(api_for, world, team, resource, method, target):
    obj = world["ours"][resource.name]
    url = resource.list_url() if target == "list" else resource.detail_url(obj)
    body = resource.body(team) if method == "post" else resource.change(obj)
    before = db_state()

    response = send(api_for(None), method, url, body)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert db_state() == before


def test_bad_token_answers_401(team):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(GOALS.list_url())
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


# Each role on each resource


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_members_list_their_teams_objects_and_not_the_other_teams(api_for, people, world, resource, role):
    response = api_for(people[role]).get(resource.list_url())

    assert response.status_code == 200
    listed = resource.listed_keys(response)
    if resource is MEMBERSHIPS and role != "admin":
        assert listed == set()  # only admins see who belongs to a team
        return
    assert resource.key(world["ours"][resource.name]) in listed
    assert resource.key(world["theirs"][resource.name]) not in listed


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_outsider_lists_never_include_the_teams_objects(api_for, outsider, team, world, resource):
    response = api_for(outsider).get(resource.list_url())

    assert response.status_code == 200
    listed = resource.listed_keys(response)
    assert resource.key(world["theirs"][resource.name]) in listed
    team_keys = {resource.key(obj) for obj in _objects_of(resource, team)}
    assert team_keys and not listed & team_keys


def _objects_of(resource: Resource, team: Team) -> list[models.Model]:
    if resource is TEAMS:
        return [team]
    path = "data_product__team" if resource is ADOPTIONS else "team"
    return list(resource.model.objects.filter(**{path: team}))


def test_memberships_list_of_an_admin_holds_every_member_of_the_team(api_for, people, team, world):
    response = api_for(people["admin"]).get(MEMBERSHIPS.list_url())
    rows = {(row["team"], row["user"], row["role"]) for row in response.json()["results"]}
    assert rows == {
        ("data", "ada", "admin"),
        ("data", "pam", "editor"),
        ("data", "vic", "viewer"),
        ("data", "member-of-data", "viewer"),
    }


@pytest.mark.parametrize(("resource", "role", "expected"), by_role("retrieve"))
def test_retrieve_by_role(api_for, people, world, resource, role, expected):
    obj = world["ours"][resource.name]

    response = api_for(people[role]).get(resource.detail_url(obj))

    assert response.status_code == expected
    if expected == 200:
        assert response.json()["slug" if resource is TEAMS else "id"] == resource.key(obj)
    else:
        assert set(response.json()) == {"detail"}


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
    created = resource.model.objects.get(**{resource.lookup: response.json()["slug" if resource is TEAMS else "id"]})
    assert resource.model.objects.count() == len(before[resource.model.__name__]) + 1
    assert created.history.first().history_user == user


@pytest.mark.parametrize("resource", CONTENT + [MEMBERSHIPS], ids=str)
def test_outsider_creating_into_the_team_gets_the_answer_for_a_team_that_does_not_exist(
    api_for, outsider, team, world, resource
):
    body = resource.body(team)
    unknown = {**body, resource.team_field: "no-such-team" if resource.team_field == "team" else 999_999}
    before = db_state()

    response = send(api_for(outsider), "post", resource.list_url(), body)
    answer_for_unknown = send(api_for(outsider), "post", resource.list_url(), unknown)

    assert response.status_code == answer_for_unknown.status_code == 400
    assert set(response.json()) == {resource.team_field}
    message = str(response.json()[resource.team_field]).replace(str(body[resource.team_field]), "VALUE")
    assert message == str(answer_for_unknown.json()[resource.team_field]).replace(
        str(unknown[resource.team_field]), "VALUE"
    )
    assert db_state() == before


@pytest.mark.parametrize(("resource", "role", "expected"), by_role("update"))
def test_update_by_role(api_for, people, world, resource, role, expected):
    user = people[role]
    obj = world["ours"][resource.name]
    body = resource.change(obj)
    before = db_state()

    response = send(api_for(user), "patch", resource.detail_url(obj), body)

    assert response.status_code == expected, response.content
    if expected != 200:
        assert db_state() == before
        return
    obj.refresh_from_db()
    for name, value in body.items():
        if name != "version":
            assert getattr(obj, name) == value
            assert response.json()[name] == value
    if resource.versioned:
        assert obj.version == body["version"] + 1 == response.json()["version"]
    assert obj.history.first().history_user == user


@pytest.mark.parametrize(("resource", "role", "expected"), by_role("delete"))
def test_delete_by_role(api_for, people, world, resource, role, expected):
    obj = world["ours"][resource.name]
    before = db_state()

    response = api_for(people[role]).delete(resource.detail_url(obj))

    assert response.status_code == expected
    if expected == 204:
        assert not resource.model.objects.filter(pk=obj.pk).exists()
        assert resource.model.history.filter(id=obj.pk, history_type="-").get().history_user == people[role]
    else:
        assert db_state() == before


@pytest.mark.parametrize("resource", [GOALS, DATA_PRODUCTS, DECISIONS], ids=str)
def test_viewer_cannot_create_by_sending_a_numeric_team_slug_as_a_number(api_for, resource):
    """The permission check and the serializer must agree on which team a body names."""
    numbered = TeamFactory(slug="2026")
    viewer = UserFactory(username="reader")
    MembershipFactory(team=numbered, user=viewer, role=Role.VIEWER)
    body = {**resource.body(numbered), "team": 2026}
    before = db_state()

    response = send(api_for(viewer), "post", resource.list_url(), body)

    assert response.status_code == 403
    assert db_state() == before


def test_viewer_cannot_create_an_adoption_by_sending_the_product_id_as_a_string(api_for, viewer, team):
    body = _adoption_body(team)
    before = db_state()

    response = send(api_for(viewer), "post", ADOPTIONS.list_url(), {**body, "data_product": str(body["data_product"])})

    assert response.status_code == 403
    assert db_state() == before


def test_creating_a_team_makes_you_its_admin(api_for, viewer):
    response = send(api_for(viewer), "post", TEAMS.list_url(), {"slug": "fresh", "name": "Fresh"})

    assert response.status_code == 201
    assert response.json()["my_role"] == "admin"
    assert Membership.objects.get(team__slug="fresh", user=viewer).role == Role.ADMIN


def test_team_list_tells_each_members_role(api_for, people, world):
    for role in ("admin", "editor", "viewer"):
        rows = api_for(people[role]).get(TEAMS.list_url()).json()["results"]
        assert [(row["slug"], row["my_role"]) for row in rows] == [("data", role)]


def test_team_slug_cannot_be_changed(api_for, team_admin, team):
    response = send(api_for(team_admin), "patch", TEAMS.detail_url(team), {"slug": "moved", "version": team.version})

    assert response.status_code == 200
    assert response.json()["slug"] == "data"
    assert Team.objects.filter(slug="data").exists() and not Team.objects.filter(slug="moved").exists()


@pytest.mark.parametrize("action", ["patch", "delete"])
def test_last_admin_cannot_leave_or_be_demoted(api_for, team_admin, team, action):
    membership = Membership.objects.get(team=team, user=team_admin)
    before = db_state()

    response = send(api_for(team_admin), action, MEMBERSHIPS.detail_url(membership), {"role": Role.VIEWER})

    assert response.status_code == 400
    assert "at least one admin" in response.json()["role"][0]
    assert db_state() == before


def test_membership_user_and_team_cannot_be_changed(api_for, people, team, other_team, world):
    membership = world["ours"]["membership"]
    MembershipFactory(team=other_team, user=people["admin"], role=Role.ADMIN)

    response = send(
        api_for(people["admin"]),
        "patch",
        MEMBERSHIPS.detail_url(membership),
        {"team": other_team.slug, "user": "pam", "role": Role.EDITOR},
    )

    assert response.status_code == 200
    membership.refresh_from_db()
    assert (membership.team, membership.user.username, membership.role) == (team, "member-of-data", Role.EDITOR)


def test_member_added_without_a_role_is_a_viewer(api_for, team_admin, team):
    UserFactory(username="newcomer")

    response = send(api_for(team_admin), "post", MEMBERSHIPS.list_url(), {"team": team.slug, "user": "newcomer"})

    assert response.status_code == 201
    assert response.json()["role"] == "viewer"
    assert Membership.objects.get(team=team, user__username="newcomer").role == Role.VIEWER


def test_adding_someone_who_is_already_a_member_is_refused(api_for, team_admin, viewer, team):
    before = db_state()

    response = send(api_for(team_admin), "post", MEMBERSHIPS.list_url(), {"team": team.slug, "user": "vic"})

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["This person is already a member of the team."]}
    assert db_state() == before


# Invalid input


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        pytest.param({"title": ""}, "title", "This field may not be blank.", id="empty-title"),
        pytest.param({"title": "x" * 201}, "title", "no more than 200 characters", id="title-too-long"),
        pytest.param({"quarter": "Q4 2026"}, "quarter", "YYYY-QN", id="quarter-wrong-format"),
        pytest.param({"quarter": "2026-Q5"}, "quarter", "YYYY-QN", id="quarter-out-of-range"),
        pytest.param(
            {"quarter": "", "starts_on": "2026-05-01", "ends_on": "2026-04-01"},
            "ends_on",
            "The timeframe ends before it starts.",
            id="ends-before-it-starts",
        ),
        pytest.param({"quarter": "", "starts_on": "2026-05-01"}, "quarter", "both a start and an end", id="no-end"),
        pytest.param({"status": "done"}, "status", "not a valid choice", id="unknown-status"),
        pytest.param({"owner": "nobody"}, "owner", "does not exist", id="unknown-owner"),
    ],
)
def test_invalid_goal_is_refused_with_a_field_error_and_nothing_saved(api_for, editor, team, overrides, field, message):
    before = db_state()

    response = send(api_for(editor), "post", GOALS.list_url(), {**GOALS.body(team), **overrides})

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert message in response.json()[field][0]
    assert db_state() == before


def test_invalid_goal_edit_is_refused_and_nothing_saved(api_for, editor, team):
    goal = GoalFactory(team=team, title="Grow")
    before = db_state()

    response = send(
        api_for(editor),
        "patch",
        GOALS.detail_url(goal),
        {"quarter": "", "starts_on": "2026-05-01", "ends_on": "2026-04-01", "version": goal.version},
    )

    assert response.status_code == 400
    assert response.json() == {"ends_on": ["The timeframe ends before it starts."]}
    assert db_state() == before


def test_unknown_role_in_a_membership_is_refused(api_for, team_admin, team):
    UserFactory(username="newcomer")
    before = db_state()

    response = send(
        api_for(team_admin), "post", MEMBERSHIPS.list_url(), {"team": team.slug, "user": "newcomer", "role": "owner"}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["role"]
    assert db_state() == before


@pytest.mark.parametrize("method", ["post", "patch"])
def test_goal_aligned_to_a_goal_of_another_team_you_belong_to_is_refused(api_for, editor, team, other_team, method):
    MembershipFactory(team=other_team, user=editor, role=Role.EDITOR)
    theirs = GoalFactory(team=other_team)
    ours = GoalFactory(team=team)
    before = db_state()

    if method == "post":
        response = send(api_for(editor), "post", GOALS.list_url(), {**GOALS.body(team), "aligned_to": theirs.pk})
    else:
        body = {"aligned_to": theirs.pk, "version": ours.version}
        response = send(api_for(editor), "patch", GOALS.detail_url(ours), body)

    assert response.status_code == 400
    assert response.json() == {
        "aligned_to": ["A goal can only be aligned to an organisation goal or a goal of its own team."]
    }
    assert db_state() == before


def test_goal_aligned_to_a_goal_of_a_team_you_do_not_belong_to_is_refused(api_for, editor, team, other_team):
    theirs = GoalFactory(team=other_team)
    before = db_state()

    response = send(api_for(editor), "post", GOALS.list_url(), {**GOALS.body(team), "aligned_to": theirs.pk})

    assert response.status_code == 400
    assert response.json() == {"aligned_to": [f'Invalid pk "{theirs.pk}" - object does not exist.']}
    assert db_state() == before


def test_goal_aligns_to_an_organisation_goal(api_for, editor, team):
    org_goal = GoalFactory(team=None, quarter="", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))

    response = send(api_for(editor), "post", GOALS.list_url(), {**GOALS.body(team), "aligned_to": org_goal.pk})

    assert response.status_code == 201
    assert Goal.objects.get(pk=response.json()["id"]).aligned_to == org_goal


def test_decision_linking_a_goal_of_another_team_you_belong_to_is_refused(api_for, editor, team, other_team):
    MembershipFactory(team=other_team, user=editor, role=Role.EDITOR)
    theirs = GoalFactory(team=other_team)
    before = db_state()

    response = send(api_for(editor), "post", DECISIONS.list_url(), {**DECISIONS.body(team), "goals": [theirs.pk]})

    assert response.status_code == 400
    assert response.json() == {"goals": ["A decision can only link goals of its own team."]}
    assert db_state() == before


def test_duplicate_team_slug_is_refused_and_nothing_saved(api_for, editor, team):
    before = db_state()

    response = send(api_for(editor), "post", TEAMS.list_url(), {"slug": team.slug, "name": "Copy"})

    assert response.status_code == 400
    assert response.json() == {"slug": ["A team with this slug already exists; pick another."]}
    assert db_state() == before


@pytest.mark.parametrize("method", ["post", "patch"])
def test_duplicate_data_product_name_ignoring_case_is_refused(api_for, editor, team, method):
    DataProductFactory(team=team, name="Orders")
    other = DataProductFactory(team=team, name="Customers")
    before = db_state()

    if method == "post":
        response = send(api_for(editor), "post", DATA_PRODUCTS.list_url(), {"team": team.slug, "name": "ORDERS"})
    else:
        body = {"name": "orders", "version": other.version}
        response = send(api_for(editor), "patch", DATA_PRODUCTS.detail_url(other), body)

    assert response.status_code == 400
    assert response.json() == {"name": ["The team already has a data product with this name."]}
    assert db_state() == before


def test_same_data_product_name_is_fine_in_another_team(api_for, editor, team, other_team):
    MembershipFactory(team=other_team, user=editor, role=Role.EDITOR)
    DataProductFactory(team=team, name="Orders")

    response = send(api_for(editor), "post", DATA_PRODUCTS.list_url(), {"team": other_team.slug, "name": "orders"})

    assert response.status_code == 201


@pytest.mark.parametrize("resource", VERSIONED, ids=str)
def test_edit_without_a_version_is_refused(api_for, team_admin, world, resource):
    obj = world["ours"][resource.name]
    body = {name: value for name, value in resource.change(obj).items() if name != "version"}
    before = db_state()

    response = send(api_for(team_admin), "patch", resource.detail_url(obj), body)

    assert response.status_code == 400
    assert response.json() == {"version": ["Send the version you started from."]}
    assert db_state() == before


# Stale edits


@pytest.mark.parametrize(
    ("resource", "changed_field"),
    [(TEAMS, "vision"), (GOALS, "title"), (DATA_PRODUCTS, "description"), (DECISIONS, "title")],
    ids=str,
)
def test_stale_edit_answers_409_with_what_changed_and_changes_nothing(
    api_for, team_admin, editor, world, resource, changed_field
):
    obj = world["ours"][resource.name]
    started_from = obj.version
    first = send(
        api_for(team_admin), "patch", resource.detail_url(obj), {changed_field: "Theirs", "version": started_from}
    )
    assert first.status_code == 200
    before = db_state()

    stale = send(api_for(editor), "patch", resource.detail_url(obj), {changed_field: "Mine", "version": started_from})

    assert stale.status_code == 409
    body = stale.json()
    assert set(body) == {"detail", "changed", "current"}
    assert "while you were editing" in body["detail"]
    assert body["changed"] == {changed_field: "Theirs"}
    assert body["current"] == api_for(editor).get(resource.detail_url(obj)).json()
    assert (body["current"][changed_field], body["current"]["version"]) == ("Theirs", started_from + 1)
    assert db_state() == before

    retried = send(
        api_for(editor), "patch", resource.detail_url(obj), {changed_field: "Mine", "version": started_from + 1}
    )

    assert retried.status_code == 200
    assert (retried.json()[changed_field], retried.json()["version"]) == ("Mine", started_from + 2)
    obj.refresh_from_db()
    assert (getattr(obj, changed_field), obj.version) == ("Mine", started_from + 2)


# Authentication and formats


def test_token_from_username_and_password_authenticates_requests(api_for, editor, team):
    goal = GoalFactory(team=team)

    response = send(api_for(None), "post", reverse("api_token"), {"username": "pam", "password": "pw-for-tests-1"})

    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=editor).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    listed = client.get(GOALS.list_url())
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [goal.pk]


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "pam", "password": "wrong"},
        {"username": "nobody", "password": "pw-for-tests-1"},
        {"username": "pam"},
    ],
)
def test_token_refused_for_wrong_credentials(api_for, editor, credentials):
    response = send(api_for(None), "post", reverse("api_token"), credentials)

    assert response.status_code == 400
    assert not Token.objects.exists()


def test_token_refused_once_axes_locks_the_account_out(api_for, editor):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        send(api_for(None), "post", reverse("api_token"), {"username": "pam", "password": "wrong"})

    response = send(api_for(None), "post", reverse("api_token"), {"username": "pam", "password": "pw-for-tests-1"})

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not Token.objects.exists()


FORM_BODIES = [
    pytest.param("multipart", id="multipart"),
    pytest.param("form", id="form-urlencoded"),
]


def _send_form(client: APIClient, url: str, data: dict[str, Any], kind: str):
    if kind == "multipart":
        return client.post(url, data, format="multipart")
    return client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("kind", FORM_BODIES)
def test_token_view_refuses_form_bodies(api_for, editor, kind):
    response = _send_form(api_for(None), reverse("api_token"), {"username": "pam", "password": "pw-for-tests-1"}, kind)

    assert response.status_code == 415
    assert not Token.objects.exists()


@pytest.mark.parametrize("kind", FORM_BODIES)
@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_api_refuses_form_bodies(api_for, people, team, resource, kind):
    body = resource.body(team)
    before = db_state()

    response = _send_form(api_for(people["admin"]), resource.list_url(), body, kind)

    assert response.status_code == 415
    assert db_state() == before


def test_session_authenticates_reads_but_writes_need_the_csrf_token(editor, team):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(editor)
    assert client.get(TEAMS.detail_url(team)).json()["my_role"] == "editor"
    before = db_state()

    response = send(client, "post", GOALS.list_url(), GOALS.body(team))

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert db_state() == before


# Filtering and pagination


@pytest.fixture
def goals_of_two_teams(editor, team, other_team):
    MembershipFactory(team=other_team, user=editor, role=Role.VIEWER)
    return {
        "on_track": GoalFactory(team=team, title="On track"),
        "at_risk": GoalFactory(team=team, title="At risk", status=GoalStatus.AT_RISK),
        "archived": GoalFactory(team=team, title="Archived", archived_at=ARCHIVED_AT),
        "theirs": GoalFactory(team=other_team, title="Theirs"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"on_track", "at_risk", "archived", "theirs"}),
        ("team=data", {"on_track", "at_risk", "archived"}),
        ("team=growth", {"theirs"}),
        ("team=no-such-team", set()),
        ("status=at_risk", {"at_risk"}),
        ("archived=true", {"archived"}),
        ("archived=false", {"on_track", "at_risk", "theirs"}),
        ("team=data&archived=false&status=on_track", {"on_track"}),
    ],
)
def test_goals_filter_by_team_status_and_archived(api_for, editor, goals_of_two_teams, query, expected):
    response = api_for(editor).get(f"{GOALS.list_url()}?{query}")

    assert response.status_code == 200
    ids = {goal.pk: name for name, goal in goals_of_two_teams.items()}
    assert {ids[row["id"]] for row in response.json()["results"]} == expected
    assert response.json()["count"] == len(expected)


def test_goals_filter_does_not_reveal_another_teams_goals(api_for, outsider, goals_of_two_teams):
    response = api_for(outsider).get(f"{GOALS.list_url()}?team=data")
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_unknown_status_filter_is_a_400(api_for, editor, goals_of_two_teams):
    response = api_for(editor).get(f"{GOALS.list_url()}?status=done")
    assert response.status_code == 400
    assert list(response.json()) == ["status"]


@pytest.mark.parametrize(("stage", "expected"), [("beta", {"Beta one", "Beta two"}), ("ga", {"Live"}), ("idea", set())])
def test_data_products_filter_by_stage(api_for, viewer, team, stage, expected):
    for name, product_stage in [("Beta one", "beta"), ("Beta two", "beta"), ("Live", "ga")]:
        DataProductFactory(team=team, name=name, stage=product_stage)

    response = api_for(viewer).get(f"{DATA_PRODUCTS.list_url()}?stage={stage}")

    assert {row["name"] for row in response.json()["results"]} == expected


def test_data_products_count_only_active_adoptions(api_for, viewer, team):
    product = DataProductFactory(team=team)
    AdoptionFactory(data_product=product, stage="active")
    AdoptionFactory(data_product=product, stage="active")
    AdoptionFactory(data_product=product, stage="churned")

    response = api_for(viewer).get(DATA_PRODUCTS.detail_url(product))

    assert response.json()["active_teams"] == 2


def test_lists_are_paginated_with_a_count(api_for, viewer, team):
    page_size = settings.REST_FRAMEWORK["PAGE_SIZE"]
    GoalFactory.create_batch(page_size + 3, team=team)

    first = api_for(viewer).get(GOALS.list_url()).json()
    second = api_for(viewer).get(first["next"]).json()

    assert first["count"] == second["count"] == page_size + 3
    assert (len(first["results"]), len(second["results"])) == (page_size, 3)
    assert first["previous"] is None and second["next"] is None
    all_ids = {row["id"] for row in first["results"] + second["results"]}
    assert all_ids == set(Goal.objects.values_list("pk", flat=True))


# Archive and restore


def test_editor_archives_and_restores_a_goal(api_for, editor, team):
    goal = GoalFactory(team=team)
    client = api_for(editor)

    archived = client.post(reverse("api:goal-archive", args=[goal.pk]))

    assert archived.status_code == 200
    assert (archived.json()["archived"], archived.json()["version"]) == (True, goal.version + 1)
    goal.refresh_from_db()
    assert goal.archived_at is not None
    assert client.get(f"{GOALS.list_url()}?archived=false").json()["count"] == 0

    restored = client.post(reverse("api:goal-restore", args=[goal.pk]))

    assert restored.status_code == 200
    assert (restored.json()["archived"], restored.json()["version"]) == (False, goal.version + 1)
    goal.refresh_from_db()
    assert goal.archived_at is None
    assert goal.history.first().history_user == editor


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("outsider", 404), (None, 401)])
@pytest.mark.parametrize("action", ["archive", "restore"])
def test_goal_archive_and_restore_are_refused_to_non_editors(api_for, people, team, role, expected, action):
    goal = GoalFactory(team=team, archived_at=ARCHIVED_AT if action == "restore" else None)
    before = db_state()

    response = api_for(people.get(role)).post(reverse(f"api:goal-{action}", args=[goal.pk]))

    assert response.status_code == expected
    assert db_state() == before


# Query counts: a list costs the same whatever the number of rows.


def _rows_for_teams(team: Team, admin, rows: int) -> None:
    for _ in range(rows - 1):  # the admin's own team is the first row
        MembershipFactory(team=TeamFactory(), user=admin, role=Role.EDITOR)


def _rows_for_memberships(team: Team, admin, rows: int) -> None:
    MembershipFactory.create_batch(rows - 1, team=team)  # the admin's own membership is the first row


def _rows_for_goals(team: Team, admin, rows: int) -> None:
    org_goal = GoalFactory(team=None)
    GoalFactory.create_batch(rows, team=team, owner=admin, aligned_to=org_goal)


def _rows_for_data_products(team: Team, admin, rows: int) -> None:
    for product in DataProductFactory.create_batch(rows, team=team, owner=admin):
        AdoptionFactory(data_product=product)


def _rows_for_adoptions(team: Team, admin, rows: int) -> None:
    AdoptionFactory.create_batch(rows, data_product=DataProductFactory(team=team))


def _rows_for_decisions(team: Team, admin, rows: int) -> None:
    goals = GoalFactory.create_batch(2, team=team)
    for decision in DecisionFactory.create_batch(rows, team=team, created_by=admin):
        decision.goals.set(goals)


# The user's teams are a subquery inside each query, never a query of their own.
LIST_QUERIES = [
    # count of your teams, teams page with your role (subquery)
    pytest.param(TEAMS, _rows_for_teams, 2, id="teams"),
    # count, memberships page joined with team and user (teams you administer: subquery)
    pytest.param(MEMBERSHIPS, _rows_for_memberships, 2, id="memberships"),
    # count, goals page joined with team and owner
    pytest.param(GOALS, _rows_for_goals, 2, id="goals"),
    # count (grouped), data products page joined with team and owner, active_teams counted in the same query
    pytest.param(DATA_PRODUCTS, _rows_for_data_products, 2, id="data-products"),
    # count, adoptions page joined with product and team
    pytest.param(ADOPTIONS, _rows_for_adoptions, 2, id="adoptions"),
    # count, decisions page joined with team and creator, linked goals (one prefetch)
    pytest.param(DECISIONS, _rows_for_decisions, 3, id="decisions"),
]


@pytest.mark.parametrize("rows", [1, 20])
@pytest.mark.parametrize(("resource", "populate", "queries"), LIST_QUERIES)
def test_list_query_count_is_fixed(
    api_for, team_admin, team, django_assert_num_queries, resource, populate, queries, rows
):
    populate(team, team_admin, rows)
    client = api_for(team_admin)  # force_authenticate: no session or user query

    with django_assert_num_queries(queries):
        response = client.get(resource.list_url())

    assert response.status_code == 200
    assert response.json()["count"] == rows


# The OpenAPI schema


@pytest.fixture
def schema(tmp_path) -> dict[str, Any]:
    path = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_is_valid_and_covers_every_endpoint(schema):
    assert set(schema["paths"]) >= {  # other apps add their own paths
        "/api/auth/token/",
        "/api/teams/",
        "/api/teams/{slug}/",
        "/api/memberships/",
        "/api/memberships/{id}/",
        "/api/goals/",
        "/api/goals/{id}/",
        "/api/goals/{id}/archive/",
        "/api/goals/{id}/restore/",
        "/api/data-products/",
        "/api/data-products/{id}/",
        "/api/adoptions/",
        "/api/adoptions/{id}/",
        "/api/decisions/",
        "/api/decisions/{id}/",
    }


def test_schema_advertises_only_json_request_bodies(schema):
    content_types = {
        content_type
        for path in schema["paths"].values()
        for operation in path.values()
        for content_type in operation.get("requestBody", {}).get("content", {})
    }
    assert content_types == {"application/json"}


def test_schema_is_served_to_anyone(api_for):
    response = api_for(None).get(reverse("api_schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Sextant API"
