"""`seed_demo` builds the demo team, and running it twice neither fails nor duplicates anything."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from demo.warehouse import EFFECTS
from opportunities.impact import node_impact
from opportunities.models import Evidence, Kind, Node
from opportunities.roadmap import team_roadmap
from portfolio.access import role_in
from portfolio.models import Adoption, DataProduct, Decision, Goal, Membership, Role, Team
from reviews.models import ActionItem, Review, ReviewItem

pytestmark = pytest.mark.django_db

MODELS = (Team, Membership, Goal, DataProduct, Adoption, Decision, Node, Evidence, Review, ReviewItem, ActionItem)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (*MODELS, get_user_model())}


def test_seed_demo_is_idempotent_and_prints_the_logins():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    call_command("seed_demo", stdout=StringIO())
    assert counts() == first
    for username in ("admin", "pm", "lead", "stakeholder", "outsider"):
        assert username in out.getvalue()
    assert "sextant-demo" in out.getvalue()


def test_demo_users_have_the_promised_roles():
    call_command("seed_demo", stdout=StringIO())
    users = {u.username: u for u in get_user_model().objects.all()}
    team = Team.objects.get(slug="data-analytics")
    assert {name: role_in(users[name], team) for name in users} == {
        "admin": Role.ADMIN,
        "pm": Role.EDITOR,
        "lead": Role.EDITOR,
        "stakeholder": Role.VIEWER,
        "outsider": None,
    }
    assert Membership.objects.filter(user=users["outsider"]).count() == 1
    assert all(u.check_password("sextant-demo") for u in users.values())


def test_demo_tree_is_realistic():
    call_command("seed_demo", stdout=StringIO())
    team = Team.objects.get(slug="data-analytics")
    kinds = {kind: Node.objects.filter(team=team, kind=kind).count() for kind in Kind.values}
    assert 2 <= kinds[Kind.OUTCOME] <= 3
    assert 35 <= kinds[Kind.OPPORTUNITY] <= 45
    assert kinds[Kind.SOLUTION] >= 10 and kinds[Kind.EXPERIMENT] >= 5
    statuses = set(Node.objects.filter(team=team, kind=Kind.SOLUTION).values_list("status", flat=True))
    assert {"idea", "building", "shipped"} <= statuses
    assert not any(Node.objects.find_problems())
    opportunities = Node.objects.filter(team=team, kind=Kind.OPPORTUNITY)
    backed = opportunities.filter(insights__isnull=False).distinct().count()
    assert backed >= 20, "the demo's insights back the opportunities their tags name"
    assert opportunities.filter(insights__isnull=True).exists(), "and some opportunities are still assumptions"


def test_two_demo_solutions_are_shipped_with_honest_impact_readouts():
    call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    team = Team.objects.get(slug="data-analytics")
    shipped = {n.title: n for n in Node.objects.filter(team=team, kind=Kind.SOLUTION, status="shipped")}

    moved = node_impact(shipped["Show last season's forecast against actuals"])  # the warehouse moves its metric
    assert set(EFFECTS) == {"Show last season's forecast against actuals"}
    assert moved.metric.key == "forecast_weekly_active_merchandisers"
    assert moved.readout.enough_data and moved.readout.improved is True
    assert moved.readout.effect_size >= 2 and "a clear improvement" in moved.readout.message
    unmoved = node_impact(shipped["Certify one orders table and deprecate the rest"])  # nothing in the data moves
    assert unmoved.metric.key == "requests_median_hours_to_answer"
    assert unmoved.readout.enough_data and unmoved.readout.improved is None
    assert "within its usual weekly variation" in unmoved.readout.message
    done = [card for card in team_roadmap(team=team).cards if card.impact is not None]
    assert sum(card.impact.enough_data for card in done) >= 2
    assert any(not card.impact.enough_data for card in done)  # a recent ship says it is waiting for data
