"""Schedule expressions as EventBridge writes them: rate(...), cron(...) and at(...).

parse_schedule_expression turns one into a timing (RateTiming, CronTiming, AtTiming)
that says, each time the clock is read, whether the schedule is due. An expression
EventBridge would refuse raises ScheduleExpressionError; a valid one the local
scheduler does not run (cron's L, W and #) raises UnsupportedLocally.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from local_stack.drivers.runner import DriverError


class ScheduleExpressionError(DriverError):
    """An expression EventBridge would refuse."""


class RateTiming:
    """rate(value unit): the first run one period after start, then every period."""

    def __init__(self, period: timedelta) -> None:
        self.period = period
        self.next_at: datetime | None = None

    def start(self, now: datetime) -> None:
        self.next_at = now + self.period

    def due(self, now: datetime) -> datetime | None:
        if self.next_at is None or now < self.next_at:
            return None
        scheduled = self.next_at
        while self.next_at <= now:  # runs missed while away are not made up, as EventBridge does
            self.next_at += self.period
        return scheduled


_CRON_FIELDS = (  # name, lowest, highest, names for values
    ("minutes", 0, 59, None),
    ("hours", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC"),
    ("day-of-week", 1, 7, "SUN MON TUE WED THU FRI SAT"),
    ("year", 1970, 2199, None),
)


class CronTiming:
    """cron(minutes hours day-of-month month day-of-week year), checked minute by minute."""

    def __init__(self, text: str, zone: ZoneInfo) -> None:
        fields = text.split()
        if len(fields) != 6:
            raise ScheduleExpressionError(f"cron({text}): EventBridge cron takes 6 fields, not {len(fields)}")
        if "?" not in (fields[2], fields[4]) or fields[2] == fields[4]:
            raise ScheduleExpressionError(f"cron({text}): exactly one of day-of-month and day-of-week must be ?")
        self.zone = zone
        self.any_day_of_month, self.any_day_of_week = fields[2] == "?", fields[4] == "?"
        self.allowed = [_cron_values(value, spec) for value, spec in zip(fields, _CRON_FIELDS)]
        self.last_minute: datetime | None = None

    def start(self, now: datetime) -> None:
        self.last_minute = _floor_minute(now)  # the minute we start in has begun already

    def due(self, now: datetime) -> datetime | None:
        minute = _floor_minute(now)
        if self.last_minute is not None and minute <= self.last_minute:
            return None
        self.last_minute = minute
        return minute if self.matches(minute) else None

    def matches(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        minutes, hours, days, months, weekdays, years = self.allowed
        weekday = (local.weekday() + 1) % 7 + 1  # EventBridge counts SUN=1 .. SAT=7
        day_ok = (weekday in weekdays) if self.any_day_of_month else (local.day in days)
        return local.minute in minutes and local.hour in hours and day_ok and local.month in months and local.year in years


class AtTiming:
    """at(yyyy-mm-ddThh:mm:ss): once."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment
        self.done = False

    def start(self, now: datetime) -> None:
        self.done = self.moment < now  # a one-time schedule in the past never runs

    def due(self, now: datetime) -> datetime | None:
        if self.done or now < self.moment:
            return None
        self.done = True
        return self.moment


class UnsupportedLocally(DriverError):
    """A valid expression the local scheduler does not run (tick() still invokes it)."""


def parse_schedule_expression(expression: str, zone: ZoneInfo = ZoneInfo("UTC")) -> RateTiming | CronTiming | AtTiming:
    found = re.fullmatch(r"\s*(rate|cron|at)\((.*)\)\s*", expression or "")
    if not found:
        raise ScheduleExpressionError(f"{expression!r}: a schedule is rate(...), cron(...) or at(...)")
    kind, body = found.groups()
    if kind == "rate":
        return RateTiming(_rate_period(body))
    if kind == "cron":
        return CronTiming(body, zone)
    try:
        return AtTiming(datetime.fromisoformat(body).replace(tzinfo=zone))
    except ValueError:
        raise ScheduleExpressionError(f"at({body}): expected at(yyyy-mm-ddThh:mm:ss)") from None


def _rate_period(body: str) -> timedelta:
    found = re.fullmatch(r"\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*", body)
    if not found or int(found[1]) < 1:
        raise ScheduleExpressionError(f"rate({body}): expected rate(<positive number> minute(s)|hour(s)|day(s))")
    unit = found[2].rstrip("s") + "s"
    return timedelta(**{unit: int(found[1])})


def _cron_values(text: str, spec: tuple[str, int, int, str | None]) -> set[int]:
    name, lowest, highest, names = spec
    bare = text.upper()
    for value_name in (names or "").split():  # WED and JUL hold a W and an L
        bare = bare.replace(value_name, "")
    if re.search(r"[LW#]", bare):
        raise UnsupportedLocally(f"the {name} field {text!r} uses L, W or #, which the local scheduler does not support")
    if text in ("*", "?"):
        return set(range(lowest, highest + 1))
    values: set[int] = set()
    for part in text.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = lowest, highest
        else:
            first_text, _, last_text = span.partition("-")
            first = _cron_number(first_text, spec)
            last = _cron_number(last_text, spec) if last_text else (highest if step else first)
        if not (lowest <= first <= last <= highest) or (step and int(step) < 1):
            raise ScheduleExpressionError(f"the {name} field {text!r} is out of range {lowest}-{highest}")
        values.update(range(first, last + 1, int(step or 1)))
    return values


def _cron_number(text: str, spec: tuple[str, int, int, str | None]) -> int:
    name, lowest, _, names = spec
    if names and text.upper() in names.split():
        return names.split().index(text.upper()) + lowest
    if not text.isdigit():
        raise ScheduleExpressionError(f"the {name} field has {text!r}, not a number")
    return int(text)


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)
