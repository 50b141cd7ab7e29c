"""The generated agenda, section by section, on crafted snapshot series and real history.

Each section has a case where something must appear and one where it must not.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from metrics.models import Annotation, Grain, RefreshRun, Snapshot
from opportunities.models import Kind
from opportunities.services import node_update
from portfolio.models import AdoptionStage, GoalStatus
from reviews import agenda
from reviews.models import ItemStatus, Section
from tests.opportunities.factories import add
from tests.portfolio.factories import AdoptionFactory, DataProductFactory, GoalFactory
from tests.reviews.factories import failed_run, metric_with_series

pytestmark = pytest.mark.django_db


def week_ago():
    return timezone.now() - timedelta(days=7)


def generate(team, since=None, **kwargs):
    return agenda.generate(team=team, since=since or week_ago(), **kwargs)


def keys(result, section):
    return [item.key for item in result.section(section)]


FLAT = [100.0] * 29  # 29 daily values: today, a week ago and four weeks ago all exist


# North star


def test_north_star_comes_first_with_its_numbers(team):
    plain = metric_with_series(team, FLAT, name="Orders")
    star = metric_with_series(
        team, [80.0] * 21 + [90.0] * 7 + [99.0], name="Weekly active analysts", is_north_star=True, target_value=120
    )
    result = generate(team)
    assert result.items[0].key == f"metric:{star.pk}"
    assert keys(result, Section.NORTH_STAR) == [f"metric:{star.pk}"]
    assert f"metric:{plain.pk}" not in keys(result, Section.NORTH_STAR)
    item = result.items[0]
    assert (item.value, item.value_week_ago, item.value_4_weeks_ago) == (99.0, 90.0, 80.0)
    assert item.display_value == "99"
    assert item.display_week_change == "+10.0% (+9)"
    assert item.display_4w_change == "+23.8% (+19)"
    assert item.display_target == "120"
    assert item.status == ItemStatus.AT_RISK
    assert len(item.sparkline) == 29 and item.sparkline[-1] == [timezone.localdate().isoformat(), 99.0]


# Off track or at risk


def test_metrics_off_track_or_at_risk_are_on_the_agenda_and_healthy_ones_are_not(team):
    off = metric_with_series(team, FLAT[:-1] + [40.0], warning_threshold=90, critical_threshold=50)
    at_risk = metric_with_series(team, FLAT[:-1] + [70.0], warning_threshold=90, critical_threshold=50)
    healthy = metric_with_series(team, FLAT, warning_threshold=90, critical_threshold=50)
    lower_is_better = metric_with_series(team, FLAT, direction="down", target_value=120)
    result = generate(team, threshold_pct=1000)  # no movers: only the target status counts here
    section = {item.key: item for item in result.section(Section.OFF_TRACK)}
    assert section[f"metric:{off.pk}"].status == ItemStatus.OFF_TRACK
    assert "off track" in section[f"metric:{off.pk}"].detail
    assert section[f"metric:{at_risk.pk}"].status == ItemStatus.AT_RISK
    assert f"metric:{healthy.pk}" not in section
    assert f"metric:{lower_is_better.pk}" not in section


# Biggest movers


def test_biggest_movers_beyond_the_threshold_appear_biggest_first(team):
    jump = metric_with_series(team, [100.0] * 22 + [100.0] * 6 + [130.0], name="Jump")  # +30%
    drop = metric_with_series(team, [100.0] * 28 + [85.0], name="Drop")  # -15%
    calm = metric_with_series(team, [100.0] * 28 + [105.0], name="Calm")  # +5%
    result = generate(team, threshold_pct=10)
    assert keys(result, Section.MOVERS) == [f"metric:{jump.pk}", f"metric:{drop.pk}"]
    assert f"metric:{calm.pk}" not in keys(result, Section.MOVERS)
    assert "Up 30.0% week over week, for the better" in result.section(Section.MOVERS)[0].detail
    assert "Down 15.0%" in result.section(Section.MOVERS)[1].detail


def test_movers_compare_weekly_metrics_with_the_previous_week(team):
    weekly = metric_with_series(team, [50.0, 50.0, 50.0, 50.0, 50.0, 60.0], grain=Grain.WEEK)
    result = generate(team, threshold_pct=10)
    (item,) = result.section(Section.MOVERS)
    assert item.key == f"metric:{weekly.pk}"
    assert (item.value, item.value_week_ago, item.value_4_weeks_ago) == (60.0, 50.0, 50.0)


def test_a_gap_in_the_data_is_not_a_week_ago(team):
    """Daily values ending today but missing the whole of last week: no week-over-week change."""
    metric = metric_with_series(team, [100.0] * 3, last_day=timezone.localdate() - timedelta(days=11))
    Snapshot.objects.create(metric=metric, period=timezone.localdate(), value=200.0, computed_at=timezone.now())
    result = generate(team, threshold_pct=10)
    assert f"metric:{metric.pk}" not in keys(result, Section.MOVERS)


def test_the_threshold_comes_from_the_call(team):
    metric = metric_with_series(team, [100.0] * 28 + [112.0])
    assert f"metric:{metric.pk}" in keys(generate(team, threshold_pct=10), Section.MOVERS)
    assert f"metric:{metric.pk}" not in keys(generate(team, threshold_pct=15), Section.MOVERS)


# Data trust


def test_stale_metric_is_in_data_trust_and_never_on_track(team):
    stale = metric_with_series(team, FLAT, target_value=50, fresh=False, is_north_star=True)
    stale.last_refreshed_at = timezone.now() - timedelta(days=3)  # a daily schedule: stale after 36 h
    stale.save(update_fields=["last_refreshed_at"])
    fresh = metric_with_series(team, FLAT, target_value=50)
    result = generate(team)
    (trust,) = result.section(Section.DATA_TRUST)
    assert trust.key == f"metric:{stale.pk}"
    assert trust.status == ItemStatus.STALE
    assert "Stale: last refreshed 3 days" in trust.detail
    # The north star item shows it stale too, although 100 meets the target of 50.
    assert result.section(Section.NORTH_STAR)[0].status == ItemStatus.STALE
    assert f"metric:{fresh.pk}" not in keys(result, Section.DATA_TRUST)


def test_failed_last_refresh_is_in_data_trust_with_its_reason(team):
    broken = metric_with_series(team, FLAT)
    failed_run(broken, "Catalog Error: Table with name daily_orders does not exist!")
    recovered = metric_with_series(team, FLAT)
    failed_run(recovered)
    RefreshRun.objects.create(metric=recovered, status="succeeded", finished_at=timezone.now())
    result = generate(team)
    (item,) = result.section(Section.DATA_TRUST)
    assert item.key == f"metric:{broken.pk}"
    assert "The last refresh failed: Catalog Error: Table with name daily_orders does not exist!" in item.detail


# Experiments


def _experiment(team, by, title="Ask five analysts"):
    outcome = add(team, by, Kind.OUTCOME, "More self-serve answers")
    opportunity = add(team, by, Kind.OPPORTUNITY, "Analysts wait", outcome)
    solution = add(team, by, Kind.SOLUTION, "Certify orders", opportunity)
    return add(team, by, Kind.EXPERIMENT, title, solution, status="running", success_criterion="4 of 5 say yes")


def test_experiments_finished_since_the_last_review_appear(team, team_admin):
    passed = _experiment(team, team_admin, "Passed one")
    failed = _experiment(team, team_admin, "Failed one")
    running = _experiment(team, team_admin, "Still running")
    since = timezone.now()
    node_update(node=passed, expected_version=passed.version, by=team_admin, status="passed", result="5 of 5.")
    node_update(node=failed, expected_version=failed.version, by=team_admin, status="failed")
    result = generate(team, since=since)
    section = {item.key: item for item in result.section(Section.EXPERIMENTS)}
    assert set(section) == {f"node:{passed.pk}", f"node:{failed.pk}"}
    assert f"node:{running.pk}" not in section
    assert section[f"node:{passed.pk}"].detail == "Finished as passed against “4 of 5 say yes”. 5 of 5."


def test_experiment_finished_before_the_last_review_is_not_repeated(team, team_admin):
    experiment = _experiment(team, team_admin)
    experiment = node_update(node=experiment, expected_version=experiment.version, by=team_admin, status="passed")
    since = timezone.now()
    # Edited after the last review, but its status did not change then.
    node_update(node=experiment, expected_version=experiment.version, by=team_admin, title="Asked five analysts")
    result = generate(team, since=since)
    assert result.section(Section.EXPERIMENTS) == []
    assert result.section(Section.WINS) == []


# Goals


def test_goals_whose_status_changed_appear_with_old_and_new_status(team):
    changed = GoalFactory(team=team, title="Cut time to answer")
    steady = GoalFactory(team=team, title="Steady goal")
    since = timezone.now()
    changed.status = GoalStatus.AT_RISK
    changed.save()
    steady.description = "Edited, same status."
    steady.save()
    result = generate(team, since=since)
    (item,) = result.section(Section.GOALS)
    assert item.key == f"goal:{changed.pk}"
    assert item.detail == "On track → At risk (2026-Q4)."
    assert item.status == ItemStatus.AT_RISK


def test_goal_changed_and_changed_back_or_changed_before_is_not_on_the_agenda(team):
    before = GoalFactory(team=team)
    before.status = GoalStatus.OFF_TRACK
    before.save()
    since = timezone.now()
    back = GoalFactory(team=team)  # created after the last review: new, not changed
    back.status = GoalStatus.AT_RISK
    back.save()
    result = generate(team, since=since)
    assert result.section(Section.GOALS) == []


# Impact of shipped solutions


def _shipped(team, by, metric, shipped_on):
    outcome = add(team, by, Kind.OUTCOME, "Faster answers", metric=metric)
    opportunity = add(team, by, Kind.OPPORTUNITY, "Analysts wait", outcome)
    solution = add(team, by, Kind.SOLUTION, f"Shipped {shipped_on}", opportunity)
    return node_update(node=solution, expected_version=solution.version, by=by, status="shipped", shipped_on=shipped_on)


def test_impact_readout_that_became_available_is_on_the_agenda(team, team_admin):
    today = timezone.localdate()
    # A step from 100 to 130 thirty days ago, with a little weekly noise.
    values = [100.0 + (i % 7) for i in range(90)] + [130.0 + (i % 7) for i in range(30)]
    metric = metric_with_series(team, values)
    solution = _shipped(team, team_admin, metric, today - timedelta(days=30))
    result = generate(team, since=timezone.now() - timedelta(days=3))
    (item,) = result.section(Section.IMPACT)
    assert item.key == f"node:{solution.pk}" and item.node == solution and item.metric == metric
    assert item.display_value.startswith("+")
    assert item.status == ""


def test_impact_of_a_solution_shipped_since_the_last_review_says_it_waits_for_data(team, team_admin):
    metric = metric_with_series(team, FLAT)
    solution = _shipped(team, team_admin, metric, timezone.localdate())
    (item,) = generate(team).section(Section.IMPACT)
    assert item.key == f"node:{solution.pk}"
    assert item.display_value == "Waiting for data"


def test_impact_readout_unchanged_since_the_last_review_is_not_repeated(team, team_admin):
    values = [100.0 + (i % 7) for i in range(120)]
    metric = metric_with_series(team, values)
    _shipped(team, team_admin, metric, timezone.localdate() - timedelta(days=70))
    assert generate(team, since=timezone.now() - timedelta(days=3)).section(Section.IMPACT) == []


# Wins


def test_wins_target_reached_goal_achieved_experiment_passed_and_adoption(team, team_admin):
    reached = metric_with_series(team, [80.0] * 28 + [101.0], target_value=100)
    always = metric_with_series(team, [120.0] * 29, target_value=100)
    goal = GoalFactory(team=team)
    experiment = _experiment(team, team_admin)
    failed = _experiment(team, team_admin, "Failed")
    product = DataProductFactory(team=team, name="Orders mart")
    old_adoption = AdoptionFactory(data_product=product, consuming_team="Finance")
    since = timezone.now()
    goal.status = GoalStatus.ACHIEVED
    goal.save()
    node_update(node=experiment, expected_version=experiment.version, by=team_admin, status="passed")
    node_update(node=failed, expected_version=failed.version, by=team_admin, status="failed")
    new_adoption = AdoptionFactory(data_product=product, consuming_team="Marketing")
    trialling = AdoptionFactory(data_product=product, consuming_team="Sales", stage=AdoptionStage.TRIALLING)
    result = generate(team, since=since)
    wins = keys(result, Section.WINS)
    assert f"metric:{reached.pk}" in wins
    assert f"goal:{goal.pk}" in wins
    assert f"node:{experiment.pk}" in wins
    assert f"adoption:{new_adoption.pk}" in wins
    assert f"metric:{always.pk}" not in wins
    assert f"node:{failed.pk}" not in wins
    assert f"adoption:{old_adoption.pk}" not in wins
    assert f"adoption:{trialling.pk}" not in wins
    adoption = next(i for i in result.section(Section.WINS) if i.key == f"adoption:{new_adoption.pk}")
    assert adoption.title == "Marketing adopted Orders mart"


def test_wins_for_the_team_home(team, team_admin):
    goal = GoalFactory(team=team)
    goal.status = GoalStatus.ACHIEVED
    goal.save()
    assert [w.key for w in agenda.wins_for(team=team)] == [f"goal:{goal.pk}"]
    assert agenda.wins_for(team=team, since=timezone.now()) == []


# Sparklines and annotations


def test_items_carry_their_window_of_points_and_annotations(team):
    metric = metric_with_series(team, [100.0] * 60 + [40.0], critical_threshold=50)
    today = timezone.localdate()
    Annotation.objects.create(metric=metric, date=today - timedelta(days=3), text="Pipeline fixed")
    Annotation.objects.create(metric=metric, date=today - timedelta(days=50), text="Too old for the window")
    (item,) = generate(team).section(Section.OFF_TRACK)
    assert len(item.sparkline) == 35  # five weeks of a daily metric
    assert item.sparkline[0][0] == (today - timedelta(days=34)).isoformat()
    assert item.annotations == [{"day": (today - timedelta(days=3)).isoformat(), "text": "Pipeline fixed"}]


# Cost


def _everything(team, by, metrics: int):
    for i in range(metrics):
        metric = metric_with_series(team, [100.0] * 28 + [100.0 + 20 * (i % 2)], critical_threshold=90 + 20 * (i % 3))
        Annotation.objects.create(metric=metric, date=timezone.localdate(), text="note")
        failed_run(metric)
        goal = GoalFactory(team=team)
        goal.history.update(history_date=timezone.now() - timedelta(days=30))  # set before the last review
        goal.status = GoalStatus.AT_RISK
        goal.save()
        _shipped(team, by, metric, timezone.localdate() - timedelta(days=i))
        experiment = _experiment(team, by)
        node_update(node=experiment, expected_version=experiment.version, by=by, status="passed")
        AdoptionFactory(data_product=DataProductFactory(team=team))


def test_generation_costs_a_fixed_number_of_queries(team, team_admin, django_assert_num_queries):
    since = timezone.now() - timedelta(days=7)
    _everything(team, team_admin, 2)
    with CaptureQueriesContext(connection) as small:
        few = generate(team, since=since)
    _everything(team, team_admin, 6)
    # metrics with their latest run, snapshots, annotations, experiments, their history, goals,
    # their history, solutions and outcomes, impact readouts now and at the last review,
    # adoptions, their history
    with django_assert_num_queries(12):
        many = generate(team, since=since)
    assert len(small.captured_queries) == 12
    assert len(many.items) > len(few.items) > 0
    assert {item.section for item in many.items} >= {
        Section.OFF_TRACK,
        Section.DATA_TRUST,
        Section.EXPERIMENTS,
        Section.GOALS,
        Section.IMPACT,
        Section.WINS,
    }
