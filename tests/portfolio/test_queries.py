"""The read functions behind the pages: grouping, filtering, counts and the adoption series."""

from datetime import UTC, date, datetime

import pytest

from portfolio import queries, services
from portfolio.models import (
    Adoption,
    AdoptionStage,
    DataProduct,
    Decision,
    GoalStatus,
    Membership,
    Role,
    Team,
    quarter_bounds,
)
from portfolio.queries import AdoptionPoint
from tests.portfolio.factories import (
    AdoptionFactory,
    DataProductFactory,
    DecisionFactory,
    GoalFactory,
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 15)


def goal_in(team, title, quarter="", *, starts_on=None, ends_on=None, **fields):
    """A goal for a quarter ("2026-Q4", dates derived as the model does) or for explicit dates."""
    if quarter:
        starts_on, ends_on = quarter_bounds(quarter)
    return GoalFactory(team=team, title=title, quarter=quarter, starts_on=starts_on, ends_on=ends_on, **fields)


def titles_by_group(groups):
    return [(group.timeframe, [goal.title for goal in group.goals]) for group in groups]


def at(year, month, day, hour=12):
    return datetime(year, month, day, hour, tzinfo=UTC)


# Goals


def test_goals_by_timeframe_groups_latest_timeframe_first_and_titles_alphabetically(team):
    goal_in(team, "Cut costs", "2026-Q3")
    goal_in(team, "Adopt dbt", "2026-Q3")
    goal_in(team, "Grow usage", "2026-Q4")
    goal_in(team, "Migrate", starts_on=date(2026, 11, 1), ends_on=date(2027, 1, 31))
    goal_in(team, "Plan 2027", "2027-Q1")

    groups = queries.goals_by_timeframe(team=team, today=TODAY)

    assert titles_by_group(groups) == [
        ("2027-Q1", ["Plan 2027"]),
        ("01 Nov 2026 – 31 Jan 2027", ["Migrate"]),
        ("2026-Q4", ["Grow usage"]),
        ("2026-Q3", ["Adopt dbt", "Cut costs"]),
    ]
    assert [group.is_current for group in groups] == [False, True, True, False]
    assert groups[3].starts_on == date(2026, 7, 1)


def test_goals_with_the_same_dates_by_quarter_and_by_dates_make_one_group_each(team):
    goal_in(team, "A by quarter", "2026-Q4")
    goal_in(team, "B by dates", starts_on=date(2026, 10, 1), ends_on=date(2026, 12, 31))
    goal_in(team, "C by quarter", "2026-Q4")

    groups = queries.goals_by_timeframe(team=team, today=TODAY)

    assert titles_by_group(groups) == [
        ("2026-Q4", ["A by quarter", "C by quarter"]),
        ("01 Oct 2026 – 31 Dec 2026", ["B by dates"]),
    ]


def test_goals_by_timeframe_shows_archived_goals_only_in_the_archived_view(team, other_team):
    goal_in(team, "Live", "2026-Q4")
    goal_in(team, "Shelved", "2026-Q4", archived_at=at(2026, 9, 1))
    goal_in(other_team, "Theirs", "2026-Q4")

    assert titles_by_group(queries.goals_by_timeframe(team=team, today=TODAY)) == [("2026-Q4", ["Live"])]
    assert titles_by_group(queries.goals_by_timeframe(team=team, archived=True, today=TODAY)) == [
        ("2026-Q4", ["Shelved"])
    ]


def test_goals_by_timeframe_counts_each_goals_decisions(team):
    busy, quiet = goal_in(team, "Busy", "2026-Q4"), goal_in(team, "Quiet", "2026-Q4")
    for _ in range(2):
        DecisionFactory(team=team).goals.add(busy)

    [group] = queries.goals_by_timeframe(team=team, today=TODAY)

    assert {g.title: g.decision_count for g in group.goals} == {busy.title: 2, quiet.title: 0}


def test_current_goals_are_those_whose_timeframe_includes_today_and_still_pursued(team, other_team):
    goal_in(team, "On track", "2026-Q4")
    goal_in(team, "At risk", "2026-Q4", status=GoalStatus.AT_RISK)
    goal_in(team, "Achieved", "2026-Q4", status=GoalStatus.ACHIEVED)
    goal_in(team, "Starts today", starts_on=TODAY, ends_on=date(2027, 2, 1))
    goal_in(team, "Ends today", starts_on=date(2026, 11, 1), ends_on=TODAY)
    goal_in(team, "Dropped", "2026-Q4", status=GoalStatus.DROPPED)
    goal_in(team, "Archived", "2026-Q4", archived_at=at(2026, 11, 1))
    goal_in(team, "Past", "2026-Q3")
    goal_in(team, "Future", "2027-Q1")
    goal_in(team, "Ended yesterday", starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 14))
    goal_in(other_team, "Theirs", "2026-Q4")

    current = queries.current_goals(team=team, today=TODAY)

    assert {g.title for g in current} == {"On track", "At risk", "Achieved", "Starts today", "Ends today"}


# Data products and adoption


def test_data_products_for_counts_active_and_trialling_teams(team, other_team):
    used = DataProductFactory(team=team, name="Orders")
    for consumer, stage in [
        ("Sales", AdoptionStage.ACTIVE),
        ("Ops", AdoptionStage.ACTIVE),
        ("Finance", AdoptionStage.TRIALLING),
        ("Legal", AdoptionStage.CHURNED),
    ]:
        AdoptionFactory(data_product=used, consuming_team=consumer, stage=stage)
    DataProductFactory(team=team, name="Churn model")
    AdoptionFactory(data_product=DataProductFactory(team=other_team, name="Theirs"))

    rows = [(p.name, p.active_teams, p.trialling_teams) for p in queries.data_products_for(team=team)]

    assert rows == [("Churn model", 0, 0), ("Orders", 2, 1)]


@pytest.fixture
def product(team):
    return DataProductFactory(team=team, name="Orders")


def test_adoption_series_counts_teams_per_month_from_the_adoption_history(product, editor):
    sales = services.adoption_create(
        product=product, by=editor, consuming_team="Sales", stage=AdoptionStage.TRIALLING, since=date(2026, 1, 10)
    )
    ops = services.adoption_create(
        product=product, by=editor, consuming_team="Ops", stage=AdoptionStage.ACTIVE, since=date(2026, 2, 1)
    )
    finance = services.adoption_create(
        product=product, by=editor, consuming_team="Finance", stage=AdoptionStage.ACTIVE, since=date(2026, 2, 15)
    )
    services.adoption_update(adoption=sales, by=editor, stage=AdoptionStage.ACTIVE, since=date(2026, 3, 5))
    services.adoption_update(adoption=ops, by=editor, stage=AdoptionStage.CHURNED, since=date(2026, 4, 20))
    services.adoption_delete(adoption=finance, by=editor)
    Adoption.history.filter(history_type="-").update(history_date=at(2026, 5, 10))
    AdoptionFactory(data_product=DataProductFactory(team=product.team), since=date(2025, 1, 1))  # another product

    series = queries.adoption_series(product=product, today=date(2026, 6, 15))

    assert series == [
        AdoptionPoint(date(2026, 1, 1), active=0, trialling=1),  # Sales trialling
        AdoptionPoint(date(2026, 2, 1), active=2, trialling=1),  # + Ops, Finance active
        AdoptionPoint(date(2026, 3, 1), active=3, trialling=0),  # Sales active
        AdoptionPoint(date(2026, 4, 1), active=2, trialling=0),  # Ops churned
        AdoptionPoint(date(2026, 5, 1), active=1, trialling=0),  # Finance's row deleted
        AdoptionPoint(date(2026, 6, 1), active=1, trialling=0),
    ]


def test_adoption_series_counts_a_renamed_consuming_team_once(product, editor):
    sales = services.adoption_create(
        product=product, by=editor, consuming_team="Sales", stage=AdoptionStage.ACTIVE, since=date(2026, 1, 10)
    )
    services.adoption_update(adoption=sales, by=editor, consuming_team="Sales EMEA")

    series = queries.adoption_series(product=product, today=date(2026, 3, 15))

    assert [(p.active, p.trialling) for p in series] == [(1, 0), (1, 0), (1, 0)]


def test_adoption_series_is_empty_without_adoption_and_keeps_the_last_24_months(product, editor):
    assert queries.adoption_series(product=product, today=date(2026, 6, 15)) == []

    services.adoption_create(
        product=product, by=editor, consuming_team="Sales", stage=AdoptionStage.ACTIVE, since=date(2020, 1, 1)
    )
    series = queries.adoption_series(product=product, today=date(2026, 6, 15))

    assert len(series) == 24
    assert (series[0].month, series[-1].month) == (date(2024, 7, 1), date(2026, 6, 1))
    assert all(p.active == 1 for p in series)


# Recent changes


def test_recent_changes_merges_every_kind_newest_first(team, other_team, editor):
    newcomer = UserFactory(username="nina")
    services.team_update(team=team, expected_version=team.version, by=editor, vision="Data people trust.")
    goal = services.goal_create(team=team, by=editor, title="Grow usage", quarter="2026-Q4")
    product = services.data_product_create(team=team, by=editor, name="Orders")
    decision = services.decision_create(
        team=team, by=editor, title="Use dbt", decided_on=date(2026, 9, 1), decision="dbt it is."
    )
    membership = services.membership_add(team=team, user=newcomer, role=Role.VIEWER, by=editor)
    services.goal_create(team=other_team, by=editor, title="Not ours", quarter="2026-Q4")
    # Everything else (fixtures) happened long ago; then one change a day, in this order.
    for model in (Team, Membership, DataProduct, Decision, goal._meta.model):
        model.history.update(history_date=at(2026, 1, 1))
    Membership.history.filter(id=membership.pk).update(history_date=at(2026, 11, 1))
    Team.history.filter(id=team.pk, history_type="~").update(history_date=at(2026, 11, 2))
    DataProduct.history.filter(id=product.pk).update(history_date=at(2026, 11, 3))
    goal._meta.model.history.filter(id=goal.pk).update(history_date=at(2026, 11, 4))
    Decision.history.filter(id=decision.pk).update(history_date=at(2026, 11, 5))

    changes = queries.recent_changes(team=team)

    assert [(c.kind, c.verb, c.subject, c.who) for c in changes[:5]] == [
        ("decision", "created", "Use dbt", "pam"),
        ("goal", "created", "Grow usage", "pam"),
        ("data product", "created", "Orders", "pam"),
        ("team", "changed", team.name, "pam"),
        ("membership", "created", "nina (viewer)", "pam"),
    ]
    assert [c.field for c in changes[3].changes] == ["vision"]
    assert "Not ours" not in {c.subject for c in changes}
    assert [c.when for c in changes] == sorted((c.when for c in changes), reverse=True)
    assert [c.subject for c in queries.recent_changes(team=team, limit=2)] == ["Use dbt", "Grow usage"]


# The team home's numbers


def test_team_stats_counts_products_decisions_and_members(team, other_team):
    DataProductFactory.create_batch(2, team=team)
    DecisionFactory.create_batch(3, team=team)
    MembershipFactory.create_batch(4, team=team)
    DataProductFactory(team=other_team)
    MembershipFactory(team=other_team)

    assert queries.team_stats(team=team) == {"products": 2, "decisions": 3, "members": 4}
