"""When each team's weekly review is due: pure functions of `now`, so time zones can be tested.

A team's slot is a weekday and an hour in its own time zone. The review of a week is due once
that week's slot has passed, locally; the week is named by its Monday in the team's time zone.

Daylight-saving changes: a slot at an hour that does not exist that day (clocks jump forward)
falls at the same wall-clock time after the jump's offset (02:30 on the last Sunday of March in
Berlin is 01:30 UTC, i.e. 03:30 local); an hour that happens twice (clocks go back) counts at its
first occurrence. Either way the slot passes exactly once a week.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class Slot:
    weekday: int = 0  # Monday
    hour: int = 9
    timezone: str = "UTC"
    enabled: bool = True


def local_week(now: datetime, tz: str) -> date:
    """The Monday of `now`'s week in the time zone."""
    local = now.astimezone(zoneinfo.ZoneInfo(tz)).date()
    return local - timedelta(days=local.weekday())


def slot_time(week: date, slot: Slot) -> datetime:
    """The slot of the week starting on `week`, as an aware UTC datetime."""
    day = week + timedelta(days=slot.weekday)
    local = datetime.combine(day, time(slot.hour), tzinfo=zoneinfo.ZoneInfo(slot.timezone))  # fold=0: first one
    return local.astimezone(UTC)


def due_week(slot: Slot, now: datetime) -> date | None:
    """The week whose review is due at `now` (its slot has passed this local week), or None."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if not slot.enabled:
        return None
    week = local_week(now, slot.timezone)
    return week if now >= slot_time(week, slot) else None


def due(slots: dict[int, Slot], existing: set[tuple[int, date]], now: datetime) -> list[tuple[int, date]]:
    """(team id, week) for every enabled team whose slot has passed and has no review that week."""
    result = []
    for team_id, slot in sorted(slots.items()):
        week = due_week(slot, now)
        if week is not None and (team_id, week) not in existing:
            result.append((team_id, week))
    return result
