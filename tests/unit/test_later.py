"""When "12 LATER ..." means (oncall/later.py), seen from a clock the tests inject (a week
from today) in the schedule's time zone, across a daylight-saving change."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from switchboard.oncall.later import LaterError, parse_later
from switchboard.oncall.schedule import Schedule

NEW_YORK = ZoneInfo("America/New_York")
OFFICE = Schedule(time_zone="America/New_York", business_hours="Mon-Fri 09:00-17:00; Sat 10:00-14:00")
# A Wednesday at least a week ahead of today: every weekday rule below holds in any week.
WEDNESDAY = date.today() + timedelta(days=7 + (2 - date.today().weekday()) % 7)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NEW_YORK).astimezone(timezone.utc)


NOW = local(WEDNESDAY, 15, 20)


@pytest.mark.parametrize("text, expected", [
    ("3h", NOW + timedelta(hours=3)),
    ("90m", NOW + timedelta(minutes=90)),
    ("90 min", NOW + timedelta(minutes=90)),
    ("2 days", NOW + timedelta(days=2)),
    ("17:00", local(WEDNESDAY, 17)),
    ("9:30", local(WEDNESDAY + timedelta(days=1), 9, 30)),  # past today: tomorrow's
    ("5pm", local(WEDNESDAY, 17)),
    ("12am", local(WEDNESDAY + timedelta(days=1), 0)),
    ("tomorrow 09:00", local(WEDNESDAY + timedelta(days=1), 9)),
    ("Tomorrow", local(WEDNESDAY + timedelta(days=1), 9)),  # the business opening
    ("sat", local(WEDNESDAY + timedelta(days=3), 10)),  # Saturday opens at 10
    ("sunday", local(WEDNESDAY + timedelta(days=4), 9)),  # closed on Sunday: 09:00
    ("wed 08:15", local(WEDNESDAY + timedelta(days=7), 8, 15)),  # a weekday is never today
    ("monday 9:30", local(WEDNESDAY + timedelta(days=5), 9, 30)),
    (f"{WEDNESDAY + timedelta(days=2)} 10:45", local(WEDNESDAY + timedelta(days=2), 10, 45)),
])
def test_durations_times_days_and_dates(text, expected):
    assert parse_later(text, NOW, OFFICE) == expected


@pytest.mark.parametrize("text, problem", [
    ("", "say when"),
    ("soon", "is not today, tomorrow or a weekday"),
    ("in a bit", "is not a time"),
    ("someday 10:00", "is not today, tomorrow or a weekday"),
    ("25:00", "is not a time of day"),
    ("13pm", "is not a time of day"),
    ("today 08:00", "is not in the future"),
    ("45d", "more than 30 days away"),
    (f"{WEDNESDAY}x", "is not a time"),
    ("2026-02-30 10:00", "is not a date"),
])
def test_what_is_not_a_time_ahead_is_refused_saying_why(text, problem):
    with pytest.raises(LaterError, match=problem):
        parse_later(text, NOW, OFFICE)


def test_a_wall_time_in_the_spring_forward_gap_is_the_first_instant_after_it():
    # The first day after today whose 02:30 does not exist in New York.
    day = WEDNESDAY
    while local(day, 2, 30).astimezone(NEW_YORK).hour == 2:
        day += timedelta(days=1)
    now = local(day - timedelta(days=1), 12)
    gap_end = parse_later(f"{day} 02:30", now, OFFICE)
    assert gap_end.astimezone(NEW_YORK).strftime("%H:%M") == "03:00"
    assert (gap_end - timedelta(seconds=1)).astimezone(NEW_YORK).strftime("%H:%M") == "01:59"
