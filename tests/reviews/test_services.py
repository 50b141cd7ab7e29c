"""Writes of the weekly review: preparing, regenerating, freezing, actions, conflicts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from metrics.models import Metric, RunStatus, Snapshot
from opportunities.models import Kind
from portfolio.services import EditConflict
from reviews import agenda, schedule, services
from reviews.models import ActionItem, Delivery, ItemStatus, Review, ReviewItem, ReviewStatus, Section
from tests.metrics.factories import MetricFactory, duckdb_path, duckdb_warehouse  # noqa: F401 - fixtures
from tests.opportunities.factories import add
from tests.reviews.factories import ReviewFactory, ReviewScheduleFactory, metric_with_series, monday

pytestmark = pytest.mark.django_db

FLAT = [100.0] * 29


def prepare(team, by=None, **kwargs):
    kwargs.setdefault("refresh", False)
    return services.review_prepare(team=team, by=by, **kwargs)


def items(review):
    return {(i.section, i.key): i for i in review.items.all()}


# Preparing


def test_prepare_creates_this_weeks_review_in_the_teams_time_zone(team, team_admin):
    ReviewScheduleFactory(team=team, timezone="Pacific/Kiritimati")
    metric_with_series(team, FLAT, is_north_star=True)
    review = prepare(team, team_admin)
    assert review.week == schedule.local_week(timezone.now(), "Pacific/Kiritimati")
    assert review.week.weekday() == 0
    assert review.status == ReviewStatus.DRAFT and review.prepared_at is not None
    assert [i.section for i in review.items.all()] == [Section.NORTH_STAR]
    assert prepare(team, team_admin).pk == review.pk  # the same week's review, not a second one


def test_prepare_uses_the_teams_mover_threshold(team, team_admin):
    metric = metric_with_series(team, [100.0] * 28 + [112.0])
    ReviewScheduleFactory(team=team, mover_threshold_pct=15)
    assert (Section.MOVERS, f"metric:{metric.pk}") not in items(prepare(team, team_admin))
    services.schedule_update(team=team, by=team_admin, mover_threshold_pct=10)
    assert (Section.MOVERS, f"metric:{metric.pk}") in items(prepare(team, team_admin))


def test_prepare_refuses_a_week_that_does_not_start_on_monday(team):
    with pytest.raises(ValidationError, match="starts on a Monday"):
        prepare(team, week=monday() + timedelta(days=2))


def test_regenerating_keeps_comments_and_overrides_and_drops_what_left_the_agenda(team, team_admin):
    commented = metric_with_series(team, FLAT[:-1] + [40.0], critical_threshold=50, name="Commented")
    overridden = metric_with_series(team, FLAT[:-1] + [40.0], critical_threshold=50, name="Overridden")
    recovered = metric_with_series(team, FLAT[:-1] + [40.0], critical_threshold=50, name="Recovered")
    review = prepare(team, team_admin)
    rows = items(review)
    note = rows[(Section.OFF_TRACK, f"metric:{commented.pk}")]
    services.item_comment(item=note, comment="Tracking bug; fixed Tuesday.", by=team_admin, expected_version=1)
    over = rows[(Section.OFF_TRACK, f"metric:{overridden.pk}")]
    services.item_override(item=over, status="at_risk", reason="One-off outage", by=team_admin, expected_version=1)
    # All three recover: none is off track any more.
    for metric in (commented, overridden, recovered):
        Snapshot.objects.filter(metric=metric, period=timezone.localdate()).update(value=100.0)
    review = prepare(team, team_admin)
    rows = items(review)
    assert (Section.OFF_TRACK, f"metric:{recovered.pk}") not in rows
    kept = rows[(Section.OFF_TRACK, f"metric:{commented.pk}")]
    assert kept.pk == note.pk and kept.comment == "Tracking bug; fixed Tuesday."
    assert kept.value == 100.0  # its numbers are today's, its words are kept
    kept_override = rows[(Section.OFF_TRACK, f"metric:{overridden.pk}")]
    assert (kept_override.status_override, kept_override.override_reason) == ("at_risk", "One-off outage")
    assert kept_override.effective_status == "at_risk"


def test_prepare_refreshes_the_metrics_and_a_failed_refresh_lands_in_data_trust(
    team,
    team_admin,
    duckdb_warehouse,  # noqa: F811 - the fixture imported above
):
    good = MetricFactory(warehouse=duckdb_warehouse, key="orders_daily_count", name="Orders")
    broken = MetricFactory(
        warehouse=duckdb_warehouse, key="orders_broken_count", name="Broken", sql="SELECT day, n FROM missing_table"
    )
    review = services.review_prepare(team=team, by=team_admin, refresh=True)
    assert Snapshot.objects.filter(metric=good).count() == 60
    assert broken.runs.get().status == RunStatus.FAILED
    trust = {i.key: i for i in review.items.filter(section=Section.DATA_TRUST)}
    assert set(trust) == {f"metric:{broken.pk}"}
    assert "The last refresh failed" in trust[f"metric:{broken.pk}"].detail
    assert "missing_table" in trust[f"metric:{broken.pk}"].detail
    # Prepared again at once: the fresh metric is not queried again.
    services.review_prepare(team=team, by=team_admin, refresh=True)
    assert good.runs.count() == 1


# Running


def test_start_opens_the_review_with_its_facilitator(team, editor):
    review = services.review_start(review=prepare(team), by=editor)
    assert (review.status, review.facilitator) == (ReviewStatus.OPEN, editor)
    assert review.opened_at is not None
    assert review.history.first().history_user == editor


def test_comment_with_a_stale_version_is_a_conflict(team, editor, team_admin):
    metric_with_series(team, FLAT, is_north_star=True)
    item = prepare(team).items.get()
    services.item_comment(item=item, comment="Mine", by=editor, expected_version=1)
    with pytest.raises(EditConflict) as conflict:
        services.item_comment(item=item, comment="Theirs", by=team_admin, expected_version=1)
    assert "comment" in conflict.value.changed
    assert ReviewItem.objects.get(pk=item.pk).comment == "Mine"


def test_override_needs_a_reason_and_stale_data_cannot_be_on_track(team, editor):
    stale = metric_with_series(team, FLAT, is_north_star=True, fresh=False, target_value=10)
    Metric.objects.filter(pk=stale.pk).update(last_refreshed_at=timezone.now() - timedelta(days=5))
    item = prepare(team).items.filter(section=Section.NORTH_STAR).get()
    assert item.status == ItemStatus.STALE
    with pytest.raises(ValidationError) as error:
        services.item_override(item=item, status="at_risk", reason="  ", by=editor, expected_version=1)
    assert error.value.message_dict == {"reason": ["Say why the status differs from what the numbers say."]}
    with pytest.raises(ValidationError, match="Stale data cannot be on track"):
        services.item_override(item=item, status="on_track", reason="Looks fine", by=editor, expected_version=1)
    item = services.item_override(item=item, status="off_track", reason="Known outage", by=editor, expected_version=1)
    item = services.item_override(item=item, status="", reason="", by=editor, expected_version=item.version)
    assert (item.status_override, item.override_reason, item.effective_status) == ("", "", ItemStatus.STALE)


def test_action_items_and_creating_an_opportunity_from_one(team, editor):
    review = prepare(team)
    outcome = add(team, editor, Kind.OUTCOME, "Faster answers")
    action = services.action_add(review=review, title="  Ask finance why  ", by=editor, owner=editor)
    assert (action.title, action.team, action.created_by) == ("Ask finance why", team, editor)
    with pytest.raises(ValidationError) as error:
        services.action_add(review=review, title=" ", by=editor)
    assert "title" in error.value.message_dict
    node = services.action_create_opportunity(
        action=action, parent=outcome, title="Finance distrusts revenue", by=editor
    )
    assert (node.kind, node.parent, node.team) == (Kind.OPPORTUNITY, outcome, team)
    assert ActionItem.objects.get(pk=action.pk).node == node
    with pytest.raises(ValidationError, match="outcome or another opportunity"):
        services.action_create_opportunity(
            action=action, parent=add(team, editor, Kind.SOLUTION, "S", node), title="x", by=editor
        )


def test_action_update_with_a_stale_version_is_a_conflict(team, editor):
    action = services.action_add(review=prepare(team), title="Fix the pipeline", by=editor)
    services.action_update(action=action, by=editor, expected_version=1, title="Fix the orders pipeline")
    with pytest.raises(EditConflict):
        services.action_update(action=action, by=editor, expected_version=1, due_date=timezone.localdate())


def test_open_actions_carry_over_until_done(team, editor):
    first = ReviewFactory(team=team, week=monday() - timedelta(weeks=2))
    second = ReviewFactory(team=team, week=monday() - timedelta(weeks=1))
    current = ReviewFactory(team=team, week=monday())
    open_one = services.action_add(review=first, title="Still open", by=editor)
    done_one = services.action_add(review=first, title="Done soon", by=editor)
    services.review_close(review=first, by=editor)
    services.action_set_done(action=done_one, done=True, by=editor)
    later = services.action_add(review=second, title="Raised in week two", by=editor)
    assert list(agenda.carried_over(second)) == [open_one]
    assert set(agenda.carried_over(current)) == {open_one, later}
    services.action_set_done(action=open_one, done=True, by=editor)
    assert list(agenda.carried_over(current)) == [later]
    assert list(agenda.carried_over(first)) == []  # nothing was raised before the first review


def test_a_closed_review_keeps_showing_the_actions_open_when_it_closed(team, editor):
    first = ReviewFactory(team=team, week=monday() - timedelta(weeks=1))
    action = services.action_add(review=first, title="Open at close", by=editor)
    second = ReviewFactory(team=team, week=monday())
    services.review_close(review=second, by=editor)
    services.action_set_done(action=action, done=True, by=editor)
    second.refresh_from_db()
    assert list(agenda.carried_over(second)) == [action]


# Closing and freezing


def test_closing_freezes_the_numbers_later_data_never_changes_them(
    team, team_admin, django_capture_on_commit_callbacks
):
    metric = metric_with_series(team, FLAT, is_north_star=True, target_value=90)
    review = services.review_start(review=prepare(team, team_admin), by=team_admin)
    item = review.items.get()
    services.item_comment(item=item, comment="Good week.", by=team_admin, expected_version=1)
    with django_capture_on_commit_callbacks(execute=False):
        closed = services.review_close(review=review, by=team_admin, summary="  Steady.  ")
    assert (closed.status, closed.closed_by, closed.summary) == (ReviewStatus.CLOSED, team_admin, "Steady.")
    assert closed.closed_at is not None
    frozen = {f: getattr(item, f) for f in ("value", "display_value", "status", "sparkline")}
    # Later refreshes: a big change of today's value and a new annotation.
    Snapshot.objects.filter(metric=metric, period=timezone.localdate()).update(value=10.0)
    metric.annotations.create(date=timezone.localdate(), text="Later note")
    with pytest.raises(ValidationError, match="closed"):
        services.review_prepare(team=team, by=team_admin, week=closed.week, refresh=False)
    with pytest.raises(ValidationError, match="closed"):
        services.regenerate(review=closed)
    item = ReviewItem.objects.get(pk=item.pk)
    assert {f: getattr(item, f) for f in frozen} == frozen
    assert item.annotations == []


def test_a_closed_review_refuses_every_write(team, editor):
    metric_with_series(team, FLAT, is_north_star=True)
    review = prepare(team)
    item = review.items.get()
    action = services.action_add(review=review, title="Raised before closing", by=editor)
    services.review_close(review=review, by=editor)
    attempts = [
        lambda: services.review_start(review=review, by=editor),
        lambda: services.review_close(review=review, by=editor),
        lambda: services.item_comment(item=item, comment="late", by=editor, expected_version=1),
        lambda: services.item_override(item=item, status="at_risk", reason="late", by=editor, expected_version=1),
        lambda: services.action_add(review=review, title="late", by=editor),
        lambda: services.action_update(action=action, by=editor, expected_version=1, title="changed"),
        lambda: services.action_delete(action=action, by=editor),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError, match="closed"):
            attempt()
    assert ReviewItem.objects.get(pk=item.pk).comment == ""
    # Finishing a carried-over action stays possible.
    assert services.action_set_done(action=action, done=True, by=editor).done


def test_close_records_deliveries_and_sends_them_after_commit(
    team, team_admin, editor, viewer, django_capture_on_commit_callbacks, mailoutbox
):
    ReviewScheduleFactory(team=team, email_recipients="cfo@example.com\n\nPam@example.com")
    review = prepare(team)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.review_close(review=review, by=team_admin)
    email = Delivery.objects.get(review=review)
    assert email.channel == "email" and email.status == "pending"
    # Editors and admins with an email plus the extra addresses (once each); never viewers.
    assert email.target == "ada@example.com, pam@example.com, cfo@example.com"
    assert len(callbacks) == 1 and mailoutbox == []
    callbacks[0]()
    assert Delivery.objects.get(pk=email.pk).status == "sent"
    assert mailoutbox[0].to == ["ada@example.com", "pam@example.com", "cfo@example.com"]


def test_schedule_update_validates_time_zone_and_addresses(team, team_admin):
    with pytest.raises(ValidationError) as error:
        services.schedule_update(team=team, by=team_admin, timezone="Mars/Olympus", email_recipients="not an address")
    assert set(error.value.message_dict) == {"timezone", "email_recipients"}
    saved = services.schedule_update(team=team, by=team_admin, timezone="Europe/Berlin", hour=8)
    assert (saved.version, saved.hour) == (1, 8)
    with pytest.raises(EditConflict):
        services.schedule_update(team=team, by=team_admin, expected_version=0, hour=9)
    assert services.schedule_update(team=team, by=team_admin, expected_version=1, hour=10).version == 2
    assert Review.objects.count() == 0


def test_regenerating_unchanged_data_writes_no_item_history(team, team_admin):
    metric_with_series(team, FLAT, is_north_star=True)
    metric_with_series(team, FLAT[:-1] + [40.0], critical_threshold=50)
    prepare(team, team_admin)
    assert ReviewItem.history.count() == 2
    prepare(team, team_admin)
    assert ReviewItem.history.count() == 2
