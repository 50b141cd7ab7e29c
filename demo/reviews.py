"""The demo team's weekly reviews: eight closed ones over the past eight weeks, and this week's draft.

Each past review is prepared and closed through the services, with comments, a few status
overrides and action items (some done by their due date, some late, some still open and carried
over). The agenda is generated from today's data, so the numbers of a past review are then
replayed as they were that week (from the same snapshots) and its dates moved back to the day it
was held: the history a team would have after two months of reviews.

Idempotent: a week that already has a closed review is left alone.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from metrics.models import Metric, Snapshot
from metrics.queries import format_value
from reviews import agenda, services
from reviews.agenda import SPARK_WINDOW, TOLERANCE, display_change
from reviews.models import ActionItem, ItemStatus, Review, ReviewItem, ReviewStatus, Section

WEEKS = 8

# Per week (8 = eight weeks ago): what the lead wrote, and the actions agreed.
# An action is (title, owner, due in days after the review, done: "on time" / "late" / None for open).
STORY = {
    8: ("A quiet start: the dashboards are read, the forecast is not yet.", [
        ("Interview three merchandisers about the forecast", "pm", 7, "on time"),
        ("Alert on orders load failures in the team channel", "lead", 5, "on time"),
    ]),
    7: ("Pipeline failures crept up after the warehouse upgrade.", [
        ("Pin the dbt version on the orders pipeline", "lead", 4, "late"),
    ]),
    6: ("Revenue dipped mid-week; it was the payment provider, not us.", [
        ("Add the payment provider's status to the revenue annotations", "pm", 10, "on time"),
        ("Write the runbook for a late orders load", "lead", 14, "late"),
    ]),
    5: ("Forecast adoption is moving: two stores ordered from it.", [
        ("Show the forecast in the merchandising weekly meeting", "pm", 7, "on time"),
    ]),
    4: ("Black Friday prep: the numbers must be fresh every morning.", [
        ("Run the orders load twice a day during the campaign", "lead", 3, "on time"),
        ("Pre-compute the campaign dashboard", "admin", 6, None),
    ]),
    3: ("Campaign week: revenue well above target; load times held.", [
        ("Share the campaign numbers with the board", "pm", 4, "on time"),
    ]),
    2: ("Data requests take too long again; the queue doubled.", [
        ("Triage the request queue with the analysts", "lead", 7, "late"),
        ("Publish the self-serve guide for the orders dataset", "pm", 21, None),
    ]),
    1: ("Steady week. The request queue is back to normal.", [
        ("Retire the last two reports on the legacy cube", "lead", 14, None),
        ("Ask Stores why dashboard reading dropped", "pm", 7, None),
    ]),
}  # fmt: skip

COMMENTS = [
    "In line with the season; nothing to act on.",
    "The drop is the bank holiday, not a trend.",
    "Two failed loads on Tuesday, both re-run by 9:00.",
    "Better than planned: the new dashboard is being read by the stores.",
]
OVERRIDES = {7: ("at_risk", "The failures are fixed upstream; the number lags a week."), 3: ("on_track", "Campaign traffic, expected and planned for.")}  # fmt: skip


def seed_reviews(team, users: dict) -> int:  # type: ignore[no-untyped-def]
    """Create the missing closed reviews of the past eight weeks and this week's draft. Returns reviews created."""
    lead = users["lead"]
    this_week = services.current_week(team)
    existing = dict(Review.objects.filter(team=team).values_list("week", "status"))
    created = 0
    history = _history(team, since=this_week - timedelta(weeks=WEEKS, days=400))
    # The demo's history is all written today, so the agenda sees every win as today's: share them
    # out over the past weeks instead, two a week, as a team would have celebrated them.
    wins = [] if existing else agenda.wins_for(team=team, since=timezone.now() - timedelta(weeks=WEEKS + 1))
    for weeks_ago in range(WEEKS, 0, -1):
        week = this_week - timedelta(weeks=weeks_ago)
        if existing.get(week) == ReviewStatus.CLOSED:
            continue
        created += week not in existing
        _past_review(team, users, week, weeks_ago, history, wins[2 * (weeks_ago - 1) : 2 * weeks_ago])
    if this_week not in existing:
        services.review_prepare(team=team, by=lead, refresh=False)
        created += 1
    return created


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _past_review(team, users: dict, week: date, weeks_ago: int, history: dict, wins: list) -> None:  # type: ignore[no-untyped-def]
    lead = users["lead"]
    held = _at(week, 9)
    review = services.review_prepare(team=team, by=lead, week=week, refresh=False)
    # Again as of the morning it was held: experiments, goals and wins of that week, not of today.
    review = services.regenerate(review=review, by=lead, now=held)
    _replay_numbers(review, as_of=week - timedelta(days=1), history=history)
    for position, win in enumerate(wins, start=review.items.count()):
        ReviewItem.objects.get_or_create(
            review=review, section=win.section, key=win.key, defaults={"position": position, **win.values()}
        )
    summary, actions = STORY[weeks_ago]
    items = list(review.items.order_by("position", "pk"))
    for i, item in enumerate(items[:3]):
        item = services.item_comment(
            item=item, comment=COMMENTS[(weeks_ago + i) % len(COMMENTS)], by=lead, expected_version=item.version
        )
    if weeks_ago in OVERRIDES:
        # The week's off-track KPI; the numbers follow today's date, so some weeks have none: then a
        # mover, or the north star (never a stale one: stale data cannot be declared on track).
        sections = (Section.OFF_TRACK, Section.MOVERS, Section.NORTH_STAR)
        target = next((i for s in sections for i in items if i.section == s and i.status != ItemStatus.STALE), None)
        if target is not None:
            target.refresh_from_db()
            status, reason = OVERRIDES[weeks_ago]
            services.item_override(item=target, status=status, reason=reason, by=lead, expected_version=target.version)
    raised = []
    for title, owner, due_in, done in actions:
        action = services.action_add(
            review=review, title=title, by=lead, owner=users[owner], due_date=week + timedelta(days=due_in)
        )
        raised.append((action, done))
    review = services.review_close(review=review, by=lead, summary=summary)
    Review.objects.filter(pk=review.pk).update(
        created_at=held - timedelta(hours=3), prepared_at=held - timedelta(hours=3), opened_at=held, closed_at=held + timedelta(minutes=40)
    )  # fmt: skip
    ActionItem.objects.filter(review=review).update(created_at=held + timedelta(minutes=30))
    now = timezone.now()
    for action, done in raised:
        if done is None:
            continue
        action = services.action_set_done(action=action, done=True, by=action.owner)
        offset = -1 if done == "on time" else 3
        when = min(_at(action.due_date + timedelta(days=offset), 16), now - timedelta(hours=1))
        ActionItem.objects.filter(pk=action.pk).update(done_at=when)


def _history(team, *, since: date) -> dict[int, list[tuple[date, float]]]:  # type: ignore[no-untyped-def]
    """Every snapshot of the team's metrics since `since`, oldest first. One query."""
    series: dict[int, list[tuple[date, float]]] = defaultdict(list)
    rows = Snapshot.objects.filter(metric__team=team, period__gte=since).order_by("period")
    for metric_id, period, value in rows.values_list("metric_id", "period", "value"):
        series[metric_id].append((period, value))
    return series


def _value_at(points: list[tuple[date, float]], day: date, tolerance: timedelta) -> float | None:
    for period, value in reversed(points):
        if period <= day:
            return value if day - period <= tolerance else None
    return None


def _replay_numbers(review: Review, *, as_of: date, history: dict) -> None:
    """Put the numbers of the week the review was held on its metric items (agenda rules, older data)."""
    items = ReviewItem.objects.filter(review=review, metric__isnull=False).select_related("metric")
    metrics: dict[int, Metric] = {}
    for item in items:
        metric = metrics.setdefault(item.metric_id, item.metric)
        points = [(p, v) for p, v in history.get(metric.pk, []) if p <= as_of]
        if not points:
            continue
        latest, value = points[-1]
        tolerance = TOLERANCE[metric.grain]
        week_ago = _value_at(points, latest - timedelta(days=7), tolerance)
        four_weeks_ago = _value_at(points, latest - timedelta(days=28), tolerance)
        ReviewItem.objects.filter(pk=item.pk).update(
            value=value,
            value_week_ago=week_ago,
            value_4_weeks_ago=four_weeks_ago,
            display_value=format_value(value, metric),
            display_week_change=display_change(value, week_ago, metric),
            display_4w_change=display_change(value, four_weeks_ago, metric),
            sparkline=[[p.isoformat(), v] for p, v in points if p > latest - SPARK_WINDOW[metric.grain]],
            annotations=[a for a in item.annotations if a.get("day", "") <= as_of.isoformat()],
        )
