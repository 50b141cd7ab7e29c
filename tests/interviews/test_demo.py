"""The demo's discovery: the promised sizes, idempotent, and tagged with the demo tree's themes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from demo.discovery import THEMES, seed_discovery
from demo.tree import TREE
from interviews import queries
from interviews.models import Insight, Interview, Persona
from portfolio.models import Role
from tests.portfolio.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(team):
    found = {}
    for name in ("pm", "lead"):
        found[name] = UserFactory(username=name)
        MembershipFactory(team=team, user=found[name], role=Role.EDITOR)
    return found


def counts():
    return (Persona.objects.count(), Interview.objects.count(), Insight.objects.count())


def test_seed_discovery_creates_the_promised_sizes_once(team, users):
    created = seed_discovery(team, users)

    assert counts() == (4, 25, 80)
    assert created == 4 + 25 + 80
    assert seed_discovery(team, users) == 0
    assert counts() == (4, 25, 80)


def test_seed_discovery_completes_what_is_missing(team, users):
    seed_discovery(team, users)
    Interview.objects.filter(interviewee_name="Grace Liu").delete()
    assert counts() == (4, 24, 77)

    assert seed_discovery(team, users) == 1 + 3  # the interview and its insights
    assert counts() == (4, 25, 80)


def test_demo_interviews_spread_over_recent_months_up_to_a_few_days_ago(team, users):
    seed_discovery(team, users)
    today = timezone.localdate()
    days = sorted((today - d).days for d in Interview.objects.values_list("held_on", flat=True))
    assert days[0] == queries.last_interview_days(team) and 0 < days[0] <= 7
    assert days[-1] <= 160
    weeks = queries.interviews_per_week(team=team)
    assert sum(w.count for w in weeks) == 25
    assert Interview.objects.filter(held_on__gt=today - timedelta(days=30)).count() >= 4


def test_every_demo_insight_is_tagged_with_themes_of_the_demo_tree(team, users):
    seed_discovery(team, users)
    titles = set()

    def walk(items):
        for item in items:
            titles.add(item["title"])
            walk(item["children"])

    walk(TREE)
    assert set(THEMES.values()) <= titles
    for insight in Insight.objects.all():
        assert insight.tags and set(insight.tags) <= set(THEMES), insight.quote
    quotes_in_notes = [i for i in Insight.objects.select_related("interview") if i.interview_id]
    assert all(i.quote in i.interview.notes for i in quotes_in_notes), "quotes are passages of the notes"


def test_demo_insights_back_the_opportunities_their_tags_name_and_some_stay_assumptions(team, users):
    from demo.discovery import link_evidence
    from demo.tree import seed_tree
    from opportunities import queries as tree_queries
    from opportunities.models import Evidence, Kind, Node
    from tests.portfolio.factories import DataProductFactory, GoalFactory

    goals = {}
    products = {}

    def collect(items):
        for item in items:
            if "goal" in item and item["goal"] not in goals:
                goals[item["goal"]] = GoalFactory(team=team, title=item["goal"])
            if "data_product" in item and item["data_product"] not in products:
                products[item["data_product"]] = DataProductFactory(team=team, name=item["data_product"])
            collect(item["children"])

    collect(TREE)
    seed_tree(team, users, goals, products)
    seed_discovery(team, users)

    made = link_evidence(team, users)

    assert made == Evidence.objects.count() >= Insight.objects.count()  # every insight backs at least one
    assert link_evidence(team, users) == 0  # idempotent
    for link in Evidence.objects.select_related("node", "insight"):
        assert THEMES_BY_TITLE[link.node.title] & set(link.insight.tags)
        assert link.attached_by == users["pm"]
    rows = tree_queries.prioritise_rows(team=team, kind=Kind.OPPORTUNITY)
    assert sum(1 for r in rows if r.insight_count) == len(set(THEMES.values()))
    assert any(r.assumption for r in rows), "some opportunities rest on no evidence yet"
    assert Node.objects.filter(team=team, kind=Kind.OPPORTUNITY, insights__isnull=False).exists()


THEMES_BY_TITLE: dict[str, set[str]] = {}
for _tag, _title in THEMES.items():
    THEMES_BY_TITLE.setdefault(_title, set()).add(_tag)
