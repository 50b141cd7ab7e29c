from datetime import date

import pytest
from django.core.exceptions import ValidationError

from portfolio import services
from portfolio.models import Goal, GoalStatus, Membership, Role, Team
from tests.portfolio.factories import DataProductFactory, GoalFactory

pytestmark = pytest.mark.django_db


def test_team_create_makes_its_creator_admin(editor):
    team = services.team_create(slug="new-team", name="New", by=editor)
    assert Membership.objects.get(team=team, user=editor).role == Role.ADMIN
    assert team.history.first().history_user == editor


def test_team_create_refuses_a_duplicate_slug(team, editor):
    with pytest.raises(ValidationError) as error:
        services.team_create(slug=team.slug, name="Copy", by=editor)
    assert "already exists" in str(error.value.message_dict["slug"])
    assert Team.objects.filter(slug=team.slug).count() == 1


def test_goal_with_quarter_gets_the_quarters_dates(team, editor):
    goal = services.goal_create(team=team, by=editor, title="Grow", quarter="2026-Q4")
    assert (goal.starts_on, goal.ends_on) == (date(2026, 10, 1), date(2026, 12, 31))
    q1 = services.goal_create(team=team, by=editor, title="Start", quarter="2027-Q1")
    assert (q1.starts_on, q1.ends_on) == (date(2027, 1, 1), date(2027, 3, 31))


def test_goal_timeframe_that_ends_before_it_starts_is_refused_and_nothing_saved(team, editor):
    with pytest.raises(ValidationError) as error:
        services.goal_create(
            team=team, by=editor, title="Backwards", starts_on=date(2026, 5, 1), ends_on=date(2026, 4, 1)
        )
    assert error.value.message_dict["ends_on"] == ["The timeframe ends before it starts."]
    assert not Goal.objects.exists()


def test_goal_needs_a_quarter_or_both_dates(team, editor):
    with pytest.raises(ValidationError) as error:
        services.goal_create(team=team, by=editor, title="Someday", starts_on=date(2026, 5, 1))
    assert "quarter" in error.value.message_dict


@pytest.mark.parametrize("title", ["", "x" * 201])
def test_goal_title_empty_or_too_long_is_refused(team, editor, title):
    with pytest.raises(ValidationError) as error:
        services.goal_create(team=team, by=editor, title=title, quarter="2026-Q4")
    assert "title" in error.value.message_dict
    assert not Goal.objects.exists()


def test_goal_cannot_align_to_another_teams_goal(team, other_team, editor):
    theirs = GoalFactory(team=other_team)
    with pytest.raises(ValidationError) as error:
        services.goal_create(team=team, by=editor, title="Ours", quarter="2026-Q4", aligned_to=theirs)
    assert "aligned_to" in error.value.message_dict
    assert not Goal.objects.filter(team=team).exists()


def test_goal_aligns_to_an_organisation_goal(team, editor):
    org_goal = GoalFactory(team=None, quarter="", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
    goal = services.goal_create(team=team, by=editor, title="Ours", quarter="2026-Q4", aligned_to=org_goal)
    assert goal.aligned_to == org_goal


def test_stale_goal_edit_is_refused_with_what_changed(team, editor, team_admin):
    goal = services.goal_create(team=team, by=editor, title="Grow", quarter="2026-Q4")
    started_from = goal.version
    services.goal_update(goal=goal, expected_version=started_from, by=team_admin, status=GoalStatus.AT_RISK)
    with pytest.raises(services.EditConflict) as conflict:
        services.goal_update(goal=goal, expected_version=started_from, by=editor, title="Grow faster")
    assert conflict.value.changed == {"status": GoalStatus.AT_RISK}
    goal.refresh_from_db()
    assert (goal.title, goal.status, goal.version) == ("Grow", GoalStatus.AT_RISK, started_from + 1)


def test_goal_edit_records_who_changed_what(team, editor):
    goal = services.goal_create(team=team, by=editor, title="Grow", quarter="2026-Q4")
    services.goal_update(goal=goal, expected_version=goal.version, by=editor, title="Grow more")
    latest = goal.history.first()
    assert latest.history_user == editor
    assert [c.field for c in latest.diff_against(latest.prev_record).changes if c.field != "version"] == ["title"]


def test_archive_and_restore_keep_the_goal(team, editor):
    goal = services.goal_create(team=team, by=editor, title="Grow", quarter="2026-Q4")
    archived = services.goal_archive(goal=goal, by=editor)
    assert archived.is_archived
    restored = services.goal_restore(goal=archived, by=editor)
    assert not restored.is_archived


def test_last_admin_cannot_leave_or_be_demoted(team, team_admin):
    membership = Membership.objects.get(team=team, user=team_admin)
    with pytest.raises(ValidationError):
        services.membership_change_role(membership=membership, role=Role.VIEWER, by=team_admin)
    with pytest.raises(ValidationError):
        services.membership_remove(membership=membership, by=team_admin)
    assert Membership.objects.get(pk=membership.pk).role == Role.ADMIN


def test_unknown_role_is_refused(team, team_admin, outsider):
    with pytest.raises(ValidationError) as error:
        services.membership_add(team=team, user=outsider, role="owner", by=team_admin)
    assert "role" in error.value.message_dict
    assert not Membership.objects.filter(team=team, user=outsider).exists()


def test_data_product_names_are_unique_per_team_ignoring_case(team, other_team, editor):
    DataProductFactory(team=team, name="Orders")
    with pytest.raises(ValidationError) as error:
        services.data_product_create(team=team, by=editor, name="orders")
    assert "already has a data product" in str(error.value)
    assert services.data_product_create(team=other_team, by=editor, name="Orders").pk


def test_decision_cannot_link_another_teams_goal(team, other_team, editor):
    theirs = GoalFactory(team=other_team)
    with pytest.raises(ValidationError):
        services.decision_create(
            team=team, by=editor, title="Pivot", decided_on=date(2026, 9, 1), decision="Y", goals=[theirs]
        )
    assert not team.decisions.exists()


def test_owner_must_be_a_member_of_the_team(team, editor, outsider):
    with pytest.raises(ValidationError) as error:
        services.goal_create(team=team, by=editor, title="Grow", quarter="2026-Q4", owner=outsider)
    assert error.value.message_dict["owner"] == ["The owner must be a member of the team."]
    with pytest.raises(ValidationError) as error:
        services.data_product_create(team=team, by=editor, name="Orders", owner=outsider)
    assert "owner" in error.value.message_dict
    assert services.goal_create(team=team, by=editor, title="Grow", quarter="2026-Q4", owner=editor).owner == editor


def test_duplicate_product_name_is_reported_on_the_name_field(team, editor):
    DataProductFactory(team=team, name="Orders")
    with pytest.raises(ValidationError) as error:
        services.data_product_create(team=team, by=editor, name="ORDERS")
    assert error.value.message_dict == {"name": ["The team already has a data product with this name."]}
