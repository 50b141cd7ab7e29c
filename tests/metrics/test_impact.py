"""Impact readouts on crafted series: a known step is found, no step is noise, too soon says so."""

import random
import statistics
from datetime import date, timedelta

import pytest
from django.utils import timezone

from metrics.impact import CLEAR_EFFECT, readout, readouts
from metrics.models import Direction, Grain, Metric, Snapshot, Unit, Warehouse
from tests.metrics.factories import MetricFactory

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 22)  # a Sunday
SHIPPED = date(2026, 9, 16)  # a Wednesday, 67 days earlier: 9 full weeks after it


@pytest.fixture
def warehouse(team):
    return Warehouse.objects.create(team=team, name="Analytics", url="duckdb:////tmp/impact-unused.duckdb")


def metric(warehouse, grain=Grain.DAY, direction=Direction.UP, **fields) -> Metric:
    return MetricFactory(warehouse=warehouse, grain=grain, direction=direction, **fields)


def store(metric: Metric, values: dict[date, float]) -> None:
    now = timezone.now()
    Snapshot.objects.bulk_create(Snapshot(metric=metric, period=p, value=v, computed_at=now) for p, v in values.items())


def daily(*, start: date, end: date, step_on: date | None = None, step: float = 0.0, seed: int = 1, noise=2.0):
    """A flat noisy daily series around 100, plus `step` on the days after `step_on`."""
    rng = random.Random(seed)
    values = {}
    day = start
    while day <= end:
        values[day] = 100 + rng.uniform(-noise, noise) + (step if step_on and day > step_on else 0)
        day += timedelta(days=1)
    return values


def mondays(first: date, count: int) -> list[date]:
    return [first + timedelta(weeks=i) for i in range(count)]


def test_a_step_on_a_noisy_daily_series_is_found_with_its_size(warehouse):
    m = metric(warehouse)
    store(m, daily(start=SHIPPED - timedelta(days=120), end=TODAY, step_on=SHIPPED, step=10))

    r = readout(m, SHIPPED, today=TODAY)

    assert r.enough_data and r.periods == 4
    assert r.difference == pytest.approx(10, abs=1.0)
    assert r.relative_change == pytest.approx(r.difference / r.before)
    assert r.effect_size >= 5  # far beyond the usual weekly movement of a ±2 noise
    assert r.improved is True
    assert r.message == (
        f"Up {r.relative_change * 100:.1f}% (+{r.difference:.0f}), about {r.effect_size:.1f}× its usual weekly "
        "variation: a clear improvement."
    )


def test_no_step_is_within_the_usual_variation(warehouse):
    for seed in range(1, 6):
        m = metric(warehouse)
        store(m, daily(start=SHIPPED - timedelta(days=120), end=TODAY, seed=seed))

        r = readout(m, SHIPPED, today=TODAY)

        assert r.enough_data
        assert abs(r.difference) < 1
        assert abs(r.effect_size) < CLEAR_EFFECT
        assert r.improved is None
        assert "within its usual weekly variation" in r.message and "no clear effect yet" in r.message


def test_daily_means_are_of_the_four_weeks_each_side_without_the_ship_day(warehouse):
    m = metric(warehouse)
    values = daily(start=SHIPPED - timedelta(days=120), end=TODAY, step_on=SHIPPED, step=10)
    values[SHIPPED] = 10_000  # the ship day itself is neither before nor after
    store(m, values)

    r = readout(m, SHIPPED, today=TODAY)

    before = [values[SHIPPED - timedelta(days=d)] for d in range(1, 29)]
    after = [values[SHIPPED + timedelta(days=d)] for d in range(1, 29)]
    assert r.before == pytest.approx(statistics.fmean(before))
    assert r.after == pytest.approx(statistics.fmean(after))
    weekly = [statistics.fmean(values[SHIPPED - timedelta(days=7 * w + d)] for d in range(1, 8)) for w in range(12)]
    differences = [a - b for a, b in zip(weekly, weekly[1:], strict=False)]
    assert r.noise == pytest.approx(statistics.stdev(differences))  # weekly means, not days


def test_too_recent_a_ship_says_there_is_not_enough_data_yet(warehouse):
    m = metric(warehouse)
    shipped = TODAY - timedelta(days=10)
    store(m, daily(start=shipped - timedelta(days=120), end=TODAY))

    r = readout(m, shipped, today=TODAY)

    assert not r.enough_data
    assert r.improved is None and r.difference is None and r.effect_size is None
    assert (
        r.message
        == f"Not enough data yet: 1 of 4 weeks after shipping. Full readout from {shipped + timedelta(days=29):%-d %b %Y}."
    )


@pytest.mark.parametrize(("days_ago", "enough"), [(28, False), (29, True)])
def test_the_last_week_counts_only_once_it_is_over(warehouse, days_ago, enough):
    m = metric(warehouse)
    shipped = TODAY - timedelta(days=days_ago)
    store(m, daily(start=shipped - timedelta(days=60), end=TODAY))  # today's partial value is there too

    assert readout(m, shipped, today=TODAY).enough_data is enough


def test_a_week_with_three_days_missing_does_not_count(warehouse):
    m = metric(warehouse)
    values = daily(start=SHIPPED - timedelta(days=120), end=TODAY)
    for d in (15, 16, 17):  # the third week after shipping keeps 4 of its 7 days
        del values[SHIPPED + timedelta(days=d)]
    store(m, values)

    r = readout(m, SHIPPED, today=TODAY)

    assert not r.enough_data
    assert r.message == "Not enough data yet: 3 of 4 weeks after shipping."  # time is not what is missing


def test_missing_history_before_the_ship_date_is_named(warehouse):
    m = metric(warehouse)
    store(m, daily(start=SHIPPED - timedelta(days=10), end=TODAY))

    r = readout(m, SHIPPED, today=TODAY)

    assert not r.enough_data
    assert r.message == "Not enough data yet: 1 of 4 weeks before it."


@pytest.mark.parametrize(
    ("step", "improved", "words"), [(10, False, "clearly worse"), (-10, True, "a clear improvement")]
)
def test_lower_is_better_flips_what_counts_as_improved(warehouse, step, improved, words):
    m = metric(warehouse, direction=Direction.DOWN)
    store(m, daily(start=SHIPPED - timedelta(days=120), end=TODAY, step_on=SHIPPED, step=step))

    r = readout(m, SHIPPED, today=TODAY)

    assert r.improved is improved
    assert words in r.message
    assert r.message.startswith("Up" if step > 0 else "Down")


def test_weekly_metric_compares_four_whole_weeks_and_leaves_the_ship_week_out(warehouse):
    m = metric(warehouse, grain=Grain.WEEK, unit=Unit.PERCENT, decimals=1)
    rng = random.Random(7)
    ship_week = SHIPPED - timedelta(days=SHIPPED.weekday())
    weeks = mondays(ship_week - timedelta(weeks=20), 30)
    values = {
        w: 5 + rng.uniform(-0.2, 0.2) + (1.5 if w > ship_week else 0) for w in weeks if w + timedelta(days=7) <= TODAY
    }
    values[ship_week] = 99  # half before, half after: not counted
    store(m, values)

    r = readout(m, SHIPPED, today=TODAY)

    before = [values[ship_week - timedelta(weeks=i)] for i in range(1, 5)]
    after = [values[ship_week + timedelta(weeks=i)] for i in range(1, 5)]
    assert r.enough_data
    assert r.before == pytest.approx(statistics.fmean(before))
    assert r.after == pytest.approx(statistics.fmean(after))
    history = [values[ship_week - timedelta(weeks=i)] for i in range(1, 13)]
    assert r.noise == pytest.approx(statistics.stdev(a - b for a, b in zip(history, history[1:], strict=False)))
    assert r.effect_size == pytest.approx(r.difference / r.noise)
    assert r.improved is True
    assert f"(+{r.difference:.1f} pts)" in r.message and "its usual weekly variation" in r.message


def test_weekly_periods_may_start_on_any_weekday(warehouse):
    m = metric(warehouse, grain=Grain.WEEK)
    shipped = date(2026, 9, 13)  # a Sunday, and here weeks start on Sunday: the ship week starts that day
    weeks = [shipped + timedelta(weeks=i) for i in range(-12, 9)]
    values = {week: 50.0 + i % 3 + (10 if week > shipped else 0) for i, week in enumerate(weeks)}
    values[shipped] = 999  # the ship week is left out
    store(m, values)

    r = readout(m, shipped, today=TODAY)

    assert r.enough_data
    assert r.before == pytest.approx(statistics.fmean(values[shipped - timedelta(weeks=i)] for i in range(1, 5)))
    assert r.after == pytest.approx(statistics.fmean(values[shipped + timedelta(weeks=i)] for i in range(1, 5)))


def test_weekly_metric_waits_for_the_current_week_to_end(warehouse):
    m = metric(warehouse, grain=Grain.WEEK)
    this_week = TODAY - timedelta(days=TODAY.weekday())
    shipped = this_week - timedelta(weeks=4, days=-2)  # a Wednesday: 3 full weeks since, and this one
    store(m, {w: 10.0 + (w.toordinal() % 3) for w in mondays(this_week - timedelta(weeks=20), 21)})

    r = readout(m, shipped, today=TODAY)

    assert not r.enough_data
    assert (
        r.message
        == f"Not enough data yet: 3 of 4 weeks after shipping. Full readout from {this_week + timedelta(weeks=1):%-d %b %Y}."
    )


def test_monthly_metric_compares_three_months_each_side(warehouse):
    m = metric(warehouse, grain=Grain.MONTH)
    months = [date(2025, month, 1) for month in range(1, 13)] + [date(2026, month, 1) for month in range(1, 12)]
    values = {month: 200 + (month.month % 4) * 3 + (40 if month > date(2026, 5, 1) else 0) for month in months}
    values[date(2026, 5, 1)] = -500  # the ship month is left out
    store(m, values)

    r = readout(m, date(2026, 5, 20), today=TODAY)

    assert r.periods == 3 and r.enough_data
    assert r.before == pytest.approx(statistics.fmean(values[date(2026, month, 1)] for month in (2, 3, 4)))
    assert r.after == pytest.approx(statistics.fmean(values[date(2026, month, 1)] for month in (6, 7, 8)))
    assert r.improved is True and "its usual monthly variation" in r.message


def test_monthly_metric_counts_only_finished_months(warehouse):
    m = metric(warehouse, grain=Grain.MONTH)
    store(m, {date(2026, month, 1): 100.0 + month % 2 for month in range(1, 12)})  # November is not over

    r = readout(m, date(2026, 8, 10), today=TODAY)

    assert r.message == "Not enough data yet: 2 of 3 months after shipping. Full readout from 1 Dec 2026."


def test_a_metric_that_never_moved_before_makes_any_change_clear(warehouse):
    m = metric(warehouse)
    store(m, {SHIPPED + timedelta(days=d): (100.0 if d < 0 else 101.0) for d in range(-90, 40)})

    r = readout(m, SHIPPED, today=TODAY)

    assert r.noise == 0 and r.effect_size is None
    assert r.improved is True
    assert r.message == "Up 1.0% (+1), on a metric that did not move at all before: a clear improvement."


def test_relative_change_is_none_from_zero(warehouse):
    m = metric(warehouse)
    store(m, {SHIPPED + timedelta(days=d): (0.0 if d < 0 else 3.0) for d in range(-90, 40)})

    r = readout(m, SHIPPED, today=TODAY)

    assert r.before == 0 and r.difference == 3
    assert r.relative_change is None
    assert r.message.startswith("Up +3, ")


def test_readouts_cost_one_query_whatever_the_number_of_pairs(warehouse, django_assert_num_queries):
    pairs = []
    for i, grain in enumerate([Grain.DAY, Grain.WEEK, Grain.MONTH, Grain.DAY, Grain.DAY]):
        m = metric(warehouse, grain=grain)
        store(m, daily(start=SHIPPED - timedelta(days=120), end=TODAY, step_on=SHIPPED, step=10, seed=i))
        pairs += [(m, SHIPPED), (m, SHIPPED + timedelta(days=3))]

    with django_assert_num_queries(0):
        assert readouts([], today=TODAY) == {}
    with django_assert_num_queries(1):  # the snapshots of every pair's windows
        one = readouts(pairs[:1], today=TODAY)
    with django_assert_num_queries(1):
        many = readouts(pairs, today=TODAY)

    assert set(many) == {(m.pk, shipped) for m, shipped in pairs}
    assert many[(pairs[0][0].pk, SHIPPED)] == one[(pairs[0][0].pk, SHIPPED)]
    assert many[(pairs[0][0].pk, SHIPPED)] == readout(pairs[0][0], SHIPPED, today=TODAY)
