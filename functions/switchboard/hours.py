"""Weekly opening hours in an IANA time zone: when the team answers.

Shared by the voice greeting and the on-call schedule's after-hours rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_RANGE = re.compile(r"(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})")


@dataclass(frozen=True)
class BusinessHours:
    """Weekly opening hours in a time zone: e.g. "Mon-Fri 09:00-17:00; Sat 10:00-14:00"."""

    zone: ZoneInfo
    # (weekday 0=Monday, opens, closes) in local time; "always" is every day 00:00-24:00.
    windows: tuple[tuple[int, time, time | None], ...] = field(default_factory=tuple)

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        now = local.time()
        return any(
            day == local.weekday() and opens <= now and (closes is None or now < closes)
            for day, opens, closes in self.windows
        )


def parse_business_hours(text: str, time_zone: str) -> BusinessHours:
    """The BUSINESS_HOURS setting; ValueError saying what is wrong."""
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {time_zone!r} (use an IANA name such as Europe/Berlin)") from None
    spec = text.strip().lower()
    if spec == "always":
        return BusinessHours(zone, tuple((day, time(0), None) for day in range(7)))
    if spec == "never":
        return BusinessHours(zone, ())
    windows = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        match = _RANGE.fullmatch(part)
        if not match or match["first"] not in _DAYS or (match["last"] and match["last"] not in _DAYS):
            raise ValueError(f"business hours {part!r} are not like 'Mon-Fri 09:00-17:00'")
        first = _DAYS.index(match["first"])
        last = _DAYS.index(match["last"]) if match["last"] else first
        opens, closes = _clock(match["start"]), _clock(match["end"])
        if opens is None:
            raise ValueError(f"business hours {part!r} open at 24:00 (the day's last moment); open at 00:00 instead")
        if closes is not None and closes <= opens:
            raise ValueError(f"business hours {part!r} close before they open")
        days = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
        windows += [(day, opens, closes) for day in days]
    if not windows:  # "" or ";": closed for good only when it says "never"
        raise ValueError(f"business hours {text!r} name no opening hours (use 'never' to always be closed)")
    return BusinessHours(zone, tuple(windows))


def _clock(text: str) -> time | None:
    hours, minutes = map(int, text.split(":"))
    if hours == 24 and minutes == 0:
        return None  # until midnight
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text!r} is not a time of day")
    return time(hours, minutes)
