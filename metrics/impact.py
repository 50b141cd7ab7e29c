"""Impact readouts: did the metric move after a solution shipped, beyond its usual variation?

A readout compares the same number of periods on each side of the ship date. The rules, chosen so
a team lead can trust the answer without a statistics lesson:

- **Windows by grain.** Daily metrics: 4 weeks on each side, as 7-day blocks counted from the ship
  day (each block holds every weekday, so weekday seasonality cancels out); a block counts when at
  least 5 of its 7 days have a value, and its value is the mean of those days. Weekly metrics: the
  4 weeks before and the 4 weeks after. Monthly metrics: 3 calendar months on each side.
- **The ship day is left out**, and so is the whole week (or month) that contains it: it is half
  before, half after.
- **Only finished periods count** on the after side: a day, week or month counts once it is over
  (it ended before `today`), so a partial current week never passes for a full one.
- **Before and after** are the means of the periods on each side; the difference is after - before.
- **Noise** is the metric's usual period-to-period movement: the standard deviation of the
  differences between consecutive periods (weekly means, for daily metrics) over up to 12 periods
  before the ship date, so one quiet month does not make every change look large.
- **Effect size** = difference / noise: how many "usual weeks" of movement the change is. A change
  is **clear** when |effect size| >= 2; smaller changes are "within its usual variation". Whether a
  clear change is an improvement follows the metric's direction (higher or lower is better).
- **Enough data** when both sides have the full number of periods; otherwise the readout says how
  many are there and, when only time is missing, from when the full readout will be available.

This is a before/after comparison, not a controlled experiment: anything else that changed at the
same time (a season, a campaign, a trend already under way) shows up in the difference too.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q
from django.utils import timezone

from .models import Direction, Grain, Metric, Snapshot, Unit
from .queries import format_value

CLEAR_EFFECT = 2.0  # |effect size| from which a change is clear, in "usual weeks" of movement
PERIODS = {Grain.DAY: 4, Grain.WEEK: 4, Grain.MONTH: 3}  # compared on each side (weeks for daily metrics)
NOISE_PERIODS = 12  # periods before the ship date used to measure the usual variation
MIN_DAYS_IN_WEEK = 5  # a 7-day block of a daily metric counts with at least this many values


@dataclass(frozen=True)
class Readout:
    metric_id: int
    shipped_on: date
    periods: int  # periods compared on EACH side (same number both sides)
    before: float | None  # mean over the periods before the ship date
    after: float | None  # mean over the periods after it
    difference: float | None  # after - before
    relative_change: float | None  # difference / |before|, None if before is 0/None
    noise: float | None  # stdev of consecutive period-to-period differences before the ship date
    effect_size: float | None  # difference / noise (how many "usual weeks" of movement)
    enough_data: bool
    improved: bool | None  # direction-aware; None when not enough data or within noise
    message: str

    @property
    def clear(self) -> bool:
        """Enough data and a change beyond the usual variation (better or worse)."""
        return self.improved is not None

    @property
    def verdict(self) -> str:
        """One word for a badge: improved, worse, unclear or waiting."""
        if not self.enough_data:
            return "waiting"
        if self.improved is None:
            return "unclear"
        return "improved" if self.improved else "worse"


def readout(metric: Metric, shipped_on: date, *, today: date | None = None) -> Readout:
    """The impact readout of one shipped change on one metric. One query."""
    return readouts([(metric, shipped_on)], today=today)[(metric.pk, shipped_on)]


def readouts(pairs: Iterable[tuple[Metric, date]], *, today: date | None = None) -> dict[tuple[int, date], Readout]:
    """Many readouts in ONE query (fixed count whatever the number of pairs); none for no pairs."""
    today = today or timezone.localdate()
    pairs = list({(metric.pk, shipped_on): (metric, shipped_on) for metric, shipped_on in pairs}.values())
    if not pairs:
        return {}
    condition = Q()
    for metric, shipped_on in pairs:
        first, last = _span(metric.grain, shipped_on)
        condition |= Q(metric_id=metric.pk, period__range=(first, min(last, today)))
    series: dict[int, list[tuple[date, float]]] = {}
    for metric_id, period, value in (
        Snapshot.objects.filter(condition).order_by("metric_id", "period").values_list("metric_id", "period", "value")
    ):
        series.setdefault(metric_id, []).append((period, value))
    return {
        (metric.pk, shipped_on): _readout(metric, shipped_on, series.get(metric.pk, []), today)
        for metric, shipped_on in pairs
    }


# Periods: each side is a list of (index, value) with index 1 nearest the ship date, so that
# consecutive periods have consecutive indexes and gaps are visible.


def _span(grain: str, shipped_on: date) -> tuple[date, date]:
    """The first and last snapshot period a readout of this grain may read."""
    periods = PERIODS.get(grain, 4)
    if grain == Grain.MONTH:
        return _month_start(shipped_on, -NOISE_PERIODS), _month_start(shipped_on, periods + 1) - timedelta(days=1)
    if grain == Grain.WEEK:
        # Any 7-day lattice has exactly n periods starting in (ship - 7(n+1), ship - 7] and in (ship, ship + 7n].
        return shipped_on - timedelta(days=7 * (NOISE_PERIODS + 1) - 1), shipped_on + timedelta(days=7 * periods)
    return shipped_on - timedelta(days=7 * NOISE_PERIODS), shipped_on + timedelta(days=7 * periods)


def _sides(
    grain: str, shipped_on: date, points: list[tuple[date, float]], today: date
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(before, after) as (index, value): before up to NOISE_PERIODS back, after only finished periods.

    One value per period: should a warehouse return two snapshots in one week or month, the later counts.
    """
    before: dict[int, float] = {}
    after: dict[int, float] = {}
    if grain == Grain.MONTH:
        ship = shipped_on.year * 12 + shipped_on.month
        for period, value in points:
            offset = period.year * 12 + period.month - ship
            if offset < 0:
                before[-offset] = value
            elif offset > 0 and _month_start(period, 1) <= today:
                after[offset] = value
    elif grain == Grain.WEEK:
        for period, value in points:
            if period + timedelta(days=7) <= shipped_on:  # ends before the ship day
                before[(shipped_on - period).days // 7] = value
            elif period > shipped_on and period + timedelta(days=7) <= today:
                after[((period - shipped_on).days + 6) // 7] = value
    else:  # daily values in 7-day blocks counted from the ship day
        blocks: dict[int, list[float]] = {}
        for period, value in points:
            distance = (period - shipped_on).days
            if distance < 0:
                blocks.setdefault(-((-distance - 1) // 7 + 1), []).append(value)
            elif distance > 0 and period < today:
                blocks.setdefault((distance - 1) // 7 + 1, []).append(value)
        for index, values in blocks.items():
            block_end = shipped_on + timedelta(days=7 * index)
            if len(values) < MIN_DAYS_IN_WEEK or (index > 0 and block_end >= today):
                continue
            (after if index > 0 else before)[abs(index)] = statistics.fmean(values)
    return sorted(before.items()), sorted(after.items())


def _readout(metric: Metric, shipped_on: date, points: list[tuple[date, float]], today: date) -> Readout:
    grain = metric.grain
    periods = PERIODS.get(grain, 4)
    before_all, after_all = _sides(grain, shipped_on, points, today)
    before_side = [value for index, value in before_all if index <= periods]
    after_side = [value for index, value in after_all if index <= periods]
    before = statistics.fmean(before_side) if before_side else None
    after = statistics.fmean(after_side) if after_side else None
    noise = _noise(before_all)
    enough = len(before_side) == periods and len(after_side) == periods
    unit = "month" if grain == Grain.MONTH else "week"
    if not enough:
        return Readout(
            metric_id=metric.pk,
            shipped_on=shipped_on,
            periods=periods,
            before=before,
            after=after,
            difference=None,
            relative_change=None,
            noise=noise,
            effect_size=None,
            enough_data=False,
            improved=None,
            message=_waiting(grain, shipped_on, periods, len(before_side), len(after_side), unit, today),
        )
    assert before is not None and after is not None
    difference = after - before
    relative = difference / abs(before) if before else None
    effect = difference / noise if noise else None
    if noise == 0:
        clear = difference != 0  # a metric that never moved before: any change stands out
    else:
        clear = effect is not None and abs(effect) >= CLEAR_EFFECT
    improved = ((difference > 0) == (metric.direction != Direction.DOWN)) if clear else None
    return Readout(
        metric_id=metric.pk,
        shipped_on=shipped_on,
        periods=periods,
        before=before,
        after=after,
        difference=difference,
        relative_change=relative,
        noise=noise,
        effect_size=effect,
        enough_data=True,
        improved=improved,
        message=_verdict(metric, difference, relative, effect, improved, unit),
    )


def _noise(side: list[tuple[int, float]]) -> float | None:
    """Stdev of the differences between consecutive periods (adjacent indexes only); None below two."""
    window = [(index, value) for index, value in side if index <= NOISE_PERIODS]
    differences = [
        later - earlier
        for (index, later), (next_index, earlier) in zip(window, window[1:], strict=False)
        if next_index == index + 1
    ]
    return statistics.stdev(differences) if len(differences) >= 2 else None


def _waiting(grain: str, shipped_on: date, periods: int, before: int, after: int, unit: str, today: date) -> str:
    parts = []
    if after < periods:
        parts.append(f"{after} of {periods} {unit}s after shipping")
    if before < periods:
        parts.append(f"{before} of {periods} {unit}s before it")
    message = "Not enough data yet: " + " and ".join(parts) + "."
    ready = _ready_on(grain, shipped_on, periods)
    if after < periods and ready > today:
        message += f" Full readout from {ready:%-d %b %Y}."
    return message


def _ready_on(grain: str, shipped_on: date, periods: int) -> date:
    """The first day on which every after-period is over (weeks start on Monday, as Sextant's own do)."""
    if grain == Grain.MONTH:
        return _month_start(shipped_on, periods + 1)
    if grain == Grain.WEEK:
        next_monday = shipped_on + timedelta(days=7 - shipped_on.weekday())
        return next_monday + timedelta(days=7 * periods)
    return shipped_on + timedelta(days=7 * periods + 1)


def _verdict(
    metric: Metric,
    difference: float,
    relative: float | None,
    effect: float | None,
    improved: bool | None,
    unit: str,
) -> str:
    if difference == 0:
        return "Unchanged: no effect."
    word = "Up" if difference > 0 else "Down"
    size = (
        f"{word} {abs(relative) * 100:.1f}% ({signed(difference, metric)})"
        if relative is not None
        else (f"{word} {signed(difference, metric)}")
    )
    if improved is not None:
        how = (
            "on a metric that did not move at all before"
            if not effect
            else (f"about {abs(effect):.1f}× its usual {unit}ly variation")
        )
        return f"{size}, {how}: {'a clear improvement' if improved else 'clearly worse'}."
    if effect is not None:
        return f"{size}: within its usual {unit}ly variation ({abs(effect):.1f}×), no clear effect yet."
    return f"{size}: no usual variation to compare with yet."


def signed(difference: float, metric: Metric) -> str:
    """A difference with its sign, in the metric's unit (percent metrics move in points)."""
    sign = "+" if difference >= 0 else "−"
    if metric.unit == Unit.PERCENT:
        return f"{sign}{abs(difference):.{max(metric.decimals, 1)}f} pts"
    formatted = format_value(abs(difference), metric)
    if metric.unit == Unit.COUNT and 0 < abs(difference) < 1:  # "+0" would hide a small change
        formatted = f"{abs(difference):.2g}"
    return f"{sign}{formatted}"


def _month_start(day: date, months: int) -> date:
    """The first day of the month `months` after (or before) the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
