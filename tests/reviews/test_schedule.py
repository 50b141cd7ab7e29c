"""When a team's weekly review is due: far time zones around midnight, daylight-saving weeks, beat."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reviews import schedule, tasks
from reviews.models import Review
from reviews.schedule import Slot, due, due_week, local_week, slot_time
from tests.portfolio.factories import TeamFactory
from tests.reviews.factories import ReviewFactory, ReviewScheduleFactory


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Far time zones around local midnight


def test_kiritimati_utc_plus_14_starts_its_week_on_sunday_in_utc():
    """Monday 00:00 in Kiritimati is Sunday 10:00 UTC."""
    slot = Slot(weekday=0, hour=0, timezone="Pacific/Kiritimati")
    assert local_week(utc(2026, 11, 22, 9, 59), slot.timezone) == date(2026, 11, 16)  # Sunday 23:59 local
    assert local_week(utc(2026, 11, 22, 10, 0), slot.timezone) == date(2026, 11, 23)  # Monday 00:00 local
    assert slot_time(date(2026, 11, 23), slot) == utc(2026, 11, 22, 10, 0)
    last_week_done = {(1, date(2026, 11, 16))}
    assert due({1: slot}, last_week_done, utc(2026, 11, 22, 9, 59)) == []
    assert due({1: slot}, last_week_done, utc(2026, 11, 22, 10, 0)) == [(1, date(2026, 11, 23))]


def test_pago_pago_utc_minus_11_reviews_monday_morning_on_monday_evening_utc():
    slot = Slot(weekday=0, hour=9, timezone="Pacific/Pago_Pago")
    last_week_done = {(1, date(2026, 11, 16))}
    # Monday 23 Nov 19:59 UTC is Monday 08:59 in Pago Pago: not yet.
    assert due({1: slot}, last_week_done, utc(2026, 11, 23, 19, 59)) == []
    assert due({1: slot}, last_week_done, utc(2026, 11, 23, 20, 0)) == [(1, date(2026, 11, 23))]
    # Monday 23 Nov 05:00 UTC is still Sunday 22 Nov in Pago Pago: the week of 16 Nov.
    assert local_week(utc(2026, 11, 23, 5, 0), slot.timezone) == date(2026, 11, 16)


def test_the_same_instant_is_a_different_week_on_either_side_of_the_date_line():
    now = utc(2026, 11, 22, 12, 0)  # Sunday noon UTC
    slots = {
        1: Slot(weekday=0, hour=0, timezone="Pacific/Kiritimati"),
        2: Slot(weekday=6, hour=0, timezone="Pacific/Pago_Pago"),
    }
    assert due(slots, set(), now) == [(1, date(2026, 11, 23)), (2, date(2026, 11, 16))]


def test_a_slot_later_in_the_week_waits_for_it():
    slot = Slot(weekday=4, hour=16, timezone="Asia/Tokyo")  # Friday 16:00 JST = 07:00 UTC
    assert due_week(slot, utc(2026, 11, 27, 6, 59)) is None
    assert due_week(slot, utc(2026, 11, 27, 7, 0)) == date(2026, 11, 23)


def test_disabled_or_already_prepared_is_never_due():
    now = utc(2026, 11, 25, 12, 0)
    assert due_week(Slot(enabled=False), now) is None
    assert due({1: Slot()}, {(1, date(2026, 11, 23))}, now) == []
    with pytest.raises(ValueError, match="aware"):
        due_week(Slot(), datetime(2026, 11, 25, 12, 0))  # noqa: DTZ001 - the point of the test


# Daylight-saving weeks


def test_berlin_monday_slot_follows_the_clock_change_in_october():
    slot = Slot(weekday=0, hour=9, timezone="Europe/Berlin")
    assert slot_time(date(2026, 10, 19), slot) == utc(2026, 10, 19, 7, 0)  # CEST, UTC+2
    assert slot_time(date(2026, 10, 26), slot) == utc(2026, 10, 26, 8, 0)  # CET, UTC+1 after 25 Oct
    assert due_week(slot, utc(2026, 10, 26, 7, 30)) is None  # 08:30 local
    assert due_week(slot, utc(2026, 10, 26, 8, 0)) == date(2026, 10, 26)


def test_berlin_sunday_slot_in_the_hour_that_happens_twice_counts_once_at_its_first_occurrence():
    slot = Slot(weekday=6, hour=2, timezone="Europe/Berlin")  # 25 Oct 2026: 03:00 CEST -> 02:00 CET
    assert slot_time(date(2026, 10, 19), slot) == utc(2026, 10, 25, 0, 0)
    assert due_week(slot, utc(2026, 10, 24, 23, 59)) is None
    assert due_week(slot, utc(2026, 10, 25, 0, 0)) == date(2026, 10, 19)
    # An hour later it is 02:00 again locally; the week's review is already due, not due twice.
    assert due({1: slot}, {(1, date(2026, 10, 19))}, utc(2026, 10, 25, 1, 0)) == []


def test_berlin_sunday_slot_in_the_hour_that_does_not_exist_in_march_falls_at_the_jump():
    slot = Slot(weekday=6, hour=2, timezone="Europe/Berlin")  # 29 Mar 2026: 02:00 CET -> 03:00 CEST
    assert slot_time(date(2026, 3, 23), slot) == utc(2026, 3, 29, 1, 0)
    assert due_week(slot, utc(2026, 3, 29, 0, 59)) is None
    assert due_week(slot, utc(2026, 3, 29, 1, 0)) == date(2026, 3, 23)


def test_new_york_spring_forward_and_fall_back():
    slot = Slot(weekday=0, hour=9, timezone="America/New_York")
    assert slot_time(date(2026, 3, 2), slot) == utc(2026, 3, 2, 14, 0)  # EST
    assert slot_time(date(2026, 3, 9), slot) == utc(2026, 3, 9, 13, 0)  # EDT from 8 Mar
    assert slot_time(date(2026, 11, 2), slot) == utc(2026, 11, 2, 14, 0)  # EST from 1 Nov
    # Sunday 1 Nov 2026 23:30 local (04:30 UTC on Monday) is still the week of 26 Oct.
    assert local_week(utc(2026, 11, 2, 4, 30), slot.timezone) == date(2026, 10, 26)


# The beat entry and the dispatcher


def test_the_beat_schedule_prepares_due_reviews_every_15_minutes():
    from config.celery import app

    entry = app.conf.beat_schedule["reviews-prepare-due-weekly-reviews"]
    assert entry["task"] == "reviews.tasks.prepare_due_reviews"
    assert entry["task"] in app.tasks
    assert app.tasks[entry["task"]].name == tasks.prepare_due_reviews.name
    assert entry["schedule"] == 900.0


@pytest.mark.django_db
def test_the_dispatcher_prepares_each_due_team_once():
    kiritimati = ReviewScheduleFactory(team=TeamFactory(), timezone="Pacific/Kiritimati", weekday=0, hour=0).team
    pago = ReviewScheduleFactory(team=TeamFactory(), timezone="Pacific/Pago_Pago", weekday=0, hour=9).team
    off = ReviewScheduleFactory(team=TeamFactory(), enabled=False).team
    default = TeamFactory()  # no schedule row: Monday 09:00 UTC
    done = TeamFactory()
    ReviewFactory(team=done, week=date(2026, 11, 23))
    now = "2026-11-23T10:00:00+00:00"  # Monday: Kiritimati and UTC are past their slot, Pago Pago is not
    assert tasks.prepare_due_reviews(now) == 3  # Kiritimati and the default team this week, Pago Pago last week's
    weeks = dict(Review.objects.values_list("team_id", "week"))
    assert weeks[kiritimati.pk] == date(2026, 11, 23)
    assert weeks[default.pk] == date(2026, 11, 23)
    assert weeks[pago.pk] == date(2026, 11, 16)  # still Sunday there, and last week's review never happened
    assert off.pk not in weeks
    assert tasks.prepare_due_reviews(now) == 0
    assert Review.objects.count() == 4
    assert schedule.due({}, set(), datetime.now(UTC)) == []
