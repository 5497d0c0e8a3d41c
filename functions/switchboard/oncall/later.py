"""When an agent says to be reminded: "3h", "90m", "2d", "tomorrow 09:00", "mon 9:30",
"17:00", "tomorrow", "2026-12-24 10:00". Pure: the clock and the business time zone are
parameters.

- A duration counts from now: m(in), h(our), d(ay), with or without a space ("3 hours").
- A time of day alone is today's if it is still ahead, else tomorrow's.
- "today", "tomorrow", a weekday ("mon", "monday") or a date (YYYY-MM-DD) with a time is
  that day's; a weekday is the next one after today. Without a time it is that day's business opening (the
  schedule's first window that day), or 09:00 on a day the hours do not open.
- Local times are the schedule's time zone. A wall time that does not exist (the spring
  forward gap) is taken as the first instant after the gap; one that happens twice (the
  fall back) at its first occurrence.
- It must be in the future and at most MAX_AHEAD away: a follow-up a year out is a typo.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from switchboard.oncall.schedule import Schedule, local_instant, next_opening

UTC = timezone.utc
MAX_AHEAD = timedelta(days=30)
DEFAULT_OPENING = time(9)
EXAMPLES = "'3h', '90m', '2d', 'tomorrow 09:00', 'mon 9:30' or '17:00'"

_DURATION = re.compile(r"(\d{1,4})\s*(m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_AT = re.compile(r"(?:(?P<day>[a-z]+|\d{4}-\d{2}-\d{2})\s*)?(?P<clock>(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<half>am|pm)?)?")
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class LaterError(ValueError):
    """The text is not a time to be reminded at; the message says why, with examples."""


def parse_later(text: str, now: datetime, schedule: Schedule) -> datetime:
    """The instant (aware, UTC) `text` names, seen from `now` in the schedule's time zone."""
    words = " ".join(text.strip().lower().split())
    if not words:
        raise LaterError(f"say when, like {EXAMPLES}")
    zone = ZoneInfo(schedule.time_zone)
    duration = _DURATION.fullmatch(words)
    if duration:
        when = now + timedelta(**{_UNITS[duration[2][0]]: int(duration[1])})
    else:
        when = _at(words, now, zone, schedule)
    when = when.astimezone(UTC)
    if when <= now:
        raise LaterError(f"{text.strip()!r} is not in the future; say when, like {EXAMPLES}")
    if when - now > MAX_AHEAD:
        raise LaterError(f"{text.strip()!r} is more than {MAX_AHEAD.days} days away")
    return when


def _at(words: str, now: datetime, zone: ZoneInfo, schedule: Schedule) -> datetime:
    match = _AT.fullmatch(words)
    if not match or not (match["day"] or match["clock"]):
        raise LaterError(f"{words!r} is not a time; say when, like {EXAMPLES}")
    today = now.astimezone(zone).date()
    day = _day(match["day"], today, words) if match["day"] else None
    if not match["clock"]:
        return _opening(day, zone, schedule)
    clock = _clock(int(match["hour"]), int(match["minute"] or 0), match["half"], words)
    if day is None:  # a time alone: today's if still ahead, else tomorrow's
        today_at = local_instant(zone, today, clock)
        return today_at if today_at > now else local_instant(zone, today + timedelta(days=1), clock)
    return local_instant(zone, day, clock)


def _day(word: str, today: date, words: str) -> date:
    if word[:1].isdigit():
        try:
            return date.fromisoformat(word)
        except ValueError:
            raise LaterError(f"{words!r}: {word!r} is not a date") from None
    if word == "today":
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    for number, name in enumerate(_DAYS):
        if len(word) >= 3 and name.startswith(word):
            return today + timedelta(days=(number - today.weekday() - 1) % 7 + 1)
    raise LaterError(f"{words!r}: {word!r} is not today, tomorrow or a weekday; say when, like {EXAMPLES}")


def _clock(hour: int, minute: int, half: str | None, words: str) -> time:
    if half:
        if not 1 <= hour <= 12:
            raise LaterError(f"{words!r}: {hour}{half} is not a time of day")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise LaterError(f"{words!r}: {hour}:{minute:02d} is not a time of day")
    return time(hour, minute)


def _opening(day: date | None, zone: ZoneInfo, schedule: Schedule) -> datetime:
    """The business hours' first opening on `day` (09:00 when they do not open that day)."""
    if day is None:
        raise LaterError(f"say when, like {EXAMPLES}")
    start = local_instant(zone, day, time(0))
    opening = next_opening(schedule, start)
    if opening is not None and opening.astimezone(zone).date() == day:
        return opening
    return local_instant(zone, day, DEFAULT_OPENING)
