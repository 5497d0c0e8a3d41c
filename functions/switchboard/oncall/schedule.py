"""The on-call schedule, pure: who is on call at an instant, and may we page now.

No AWS and no clock: the instant is always a parameter. Times are aware datetimes;
every instant this module returns is in UTC.

Who is on call at an instant: the newest override covering it (start inclusive, end
exclusive; LATER in `Schedule.overrides` wins), else the rotation's current turn (the
last handoff at or before the instant), else nobody (no rotation, or before it starts).

Daylight-saving rules
- A handoff happens at the rotation's `handoff_time`, local wall-clock time, on its local
  date. Turns are counted in local calendar days (handoff n is on starts_on + n *
  length_days), never in 24-hour or 168-hour blocks: a weekly turn that contains a
  spring-forward lasts 167 hours, one that contains a fall-back lasts 169.
- A wall-clock time that does not exist (the spring-forward gap: 02:30 on 2026-03-08 in
  America/New_York) is taken as the first instant after the gap (03:00 EDT).
- A wall-clock time that happens twice (the fall-back: 01:30 on 2026-11-01 in New York)
  is taken at its first occurrence (fold=0: 01:30 EDT).
- Business hours are `switchboard.hours`: open while the local wall clock is inside a
  window. `next_opening` agrees with `BusinessHours.is_open` instant for instant, so a
  window opening inside a gap opens when the gap ends, and a window the clock re-enters
  after a fall-back opens again.

Shifts
A `Shift` is a maximal period over which the answer does not change. The answer is the
source together with the override (for an override) or the turn (for the rotation): so
each handoff starts a new shift, even to the same agent, and two overrides for the same
agent are two shifts. `starts_at` is when that period began (a handoff, an override's
start, or the end of an override that had hidden the turn); None when it has always held
(nobody, and no override before). `ends_at` is the next change (a handoff, an override
ending, or an override starting), None if it never changes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from switchboard.hours import BusinessHours, parse_business_hours
from switchboard.oncall.agents import Agent  # noqa: F401 (the schedule's agents; named here by many)

UTC = timezone.utc
MAX_LENGTH_DAYS = 365  # a longer turn is a typo; it would also push handoffs past year 9999 sooner
_TICK = timedelta(microseconds=1)  # datetime's resolution: `x - _TICK` is the instant just before x
# Two weeks: a window swallowed by a DST gap (the only way a weekly window can fail to
# open) opens again a week later.
_OPENING_SEARCH_DAYS = 15
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HANDOFF = re.compile(r"(?P<day>[a-z]+)\s+(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})", re.ASCII)
_LENGTH = re.compile(r"(?P<count>[0-9]{1,4})\s*(?P<unit>[dw]?)", re.ASCII)


class AfterHoursMode(StrEnum):
    PAGE = "page"  # page as usual
    # after hours page only for a repeat customer message or an escalated page
    REPEAT_OR_ESCALATED = "repeat_or_escalated"
    QUEUE = "queue"  # after hours hold pages until the next opening


class PageDecision(StrEnum):
    PAGE = "page"
    HOLD = "hold"


class ScheduleError(ValueError):
    """A schedule, handoff or length that cannot be used; the message says why."""


@dataclass(frozen=True)
class Rotation:
    agent_ids: tuple[str, ...]  # in order; at least one
    handoff_time: time  # local wall-clock time of every handoff
    length_days: int  # 7 = weekly, 14 = two weeks, 1 = daily ...
    starts_on: date  # local date of the first handoff, to agent_ids[0]; nobody before it


@dataclass(frozen=True)
class Override:
    override_id: str
    agent_id: str
    starts_at: datetime  # aware
    ends_at: datetime  # aware, exclusive; must be after starts_at
    note: str | None = None


@dataclass(frozen=True)
class Schedule:
    time_zone: str  # IANA name
    rotation: Rotation | None = None
    overrides: tuple[Override, ...] = ()  # when overrides overlap, the LATER one wins (the newest)
    business_hours: str = "Mon-Fri 09:00-17:00"  # switchboard.hours.parse_business_hours
    after_hours: AfterHoursMode = AfterHoursMode.PAGE


@dataclass(frozen=True)
class Shift:
    agent_id: str | None  # None: nobody is on call
    source: str  # "override" | "rotation" | "nobody"
    starts_at: datetime | None  # aware UTC; when this answer began, None if always (module doc)
    ends_at: datetime | None  # aware UTC; when the answer next changes, None if never
    override_id: str | None = None


# ---- who is on call -------------------------------------------------------------------


def handoff_instant(rotation: Rotation, zone: ZoneInfo, index: int) -> datetime:
    """The index-th handoff (0 = starts_on at handoff_time) as an aware UTC datetime."""
    day = rotation.starts_on + timedelta(days=index * rotation.length_days)
    return local_instant(zone, day, rotation.handoff_time)


def on_call_at(schedule: Schedule, at: datetime) -> Shift:
    return _Timeline(schedule).shift_at(_utc(at, "the instant"))


def upcoming_shifts(schedule: Schedule, at: datetime, count: int = 5) -> list[Shift]:
    """The shift at `at`, then the next count-1 shifts (fewer if the answer stops changing)."""
    if count < 1:
        return []
    timeline = _Timeline(schedule)
    shifts = [timeline.shift_at(_utc(at, "the instant"))]
    while len(shifts) < count and shifts[-1].ends_at is not None:
        shifts.append(timeline.shift_at(shifts[-1].ends_at))
    return shifts


@dataclass(frozen=True)
class _Answer:
    """Who answers at an instant, with what identifies the shift (the override or the turn)."""

    source: str
    agent_id: str | None = None
    override_id: str | None = None
    turn: int | None = None


_NOBODY = _Answer("nobody")


class _Timeline:
    """A schedule made ready for questions about instants: zone resolved, overrides in UTC."""

    def __init__(self, schedule: Schedule) -> None:
        self.zone = _zone(schedule.time_zone)
        self.rotation = schedule.rotation
        if self.rotation is not None and (problems := _rotation_problems(self.rotation)):
            raise ScheduleError(problems[0])
        self.overrides = [
            (
                override,
                _utc(override.starts_at, f"override {override.override_id!r} start"),
                _utc(override.ends_at, f"override {override.override_id!r} end"),
            )
            for override in schedule.overrides
        ]
        # The only instants, besides handoffs, at which the answer can change.
        self.override_edges = sorted({edge for _, *edges in self.overrides for edge in edges})

    def answer_at(self, at: datetime) -> _Answer:
        for override, starts, ends in reversed(self.overrides):  # the newest wins
            if starts <= at < ends:
                return _Answer("override", override.agent_id, override.override_id)
        if self.rotation is None:
            return _NOBODY
        turn = _turn_at(self.rotation, self.zone, at)
        if turn < 0:
            return _NOBODY
        agent_ids = self.rotation.agent_ids
        return _Answer("rotation", agent_ids[turn % len(agent_ids)], turn=turn)

    def shift_at(self, at: datetime) -> Shift:
        answer = self.answer_at(at)
        return Shift(
            agent_id=answer.agent_id,
            source=answer.source,
            starts_at=self._began(at, answer),
            ends_at=self._changes(at, answer),
            override_id=answer.override_id,
        )

    def _changes(self, at: datetime, answer: _Answer) -> datetime | None:
        """The first instant after `at` at which the answer is no longer `answer`."""
        candidates = [edge for edge in self.override_edges if edge > at]
        if answer.source != "override" and self.rotation is not None:
            # While an override answers, handoffs change nothing. Otherwise the next
            # handoff is enough: by then either an override has started (an edge) or
            # the turn changes there.
            next_turn = 0 if answer.turn is None else answer.turn + 1
            candidates.append(handoff_instant(self.rotation, self.zone, next_turn))
        return next((edge for edge in sorted(candidates) if self.answer_at(edge) != answer), None)

    def _began(self, at: datetime, answer: _Answer) -> datetime | None:
        """The instant the period of `answer` containing `at` began, None if it always held."""
        candidates = [edge for edge in self.override_edges if edge <= at]
        if answer.turn is not None:
            candidates.append(handoff_instant(self.rotation, self.zone, answer.turn))
        latest_first = sorted(candidates, reverse=True)
        return next((edge for edge in latest_first if self.answer_at(edge - _TICK) != answer), None)


def _turn_at(rotation: Rotation, zone: ZoneInfo, at: datetime) -> int:
    """The index of the last handoff at or before `at`; -1 before the first handoff."""
    days = (at.astimezone(zone).date() - rotation.starts_on).days
    turn = max(days // rotation.length_days, 0)
    # The local date puts us on the right turn or one off (that day's handoff is still
    # to come, or a gap moved a handoff); step to the exact one.
    while turn > 0 and handoff_instant(rotation, zone, turn) > at:
        turn -= 1
    if handoff_instant(rotation, zone, turn) > at:
        return -1
    while handoff_instant(rotation, zone, turn + 1) <= at:
        turn += 1
    return turn


# ---- after hours ----------------------------------------------------------------------


def page_decision(
    schedule: Schedule, at: datetime, *, repeat: bool, escalated: bool
) -> tuple[PageDecision, datetime | None]:
    """PAGE now, or HOLD until the returned opening (None: the hours never open)."""
    at = _utc(at, "the instant")
    mode = _after_hours_mode(schedule.after_hours)
    if mode == AfterHoursMode.PAGE or _business_hours(schedule).is_open(at):
        return PageDecision.PAGE, None
    if mode == AfterHoursMode.REPEAT_OR_ESCALATED and (repeat or escalated):
        return PageDecision.PAGE, None
    return PageDecision.HOLD, next_opening(schedule, at)


def next_opening(schedule: Schedule, at: datetime) -> datetime | None:
    """The first instant at or after `at` at which business hours are open (`at` itself
    when open now), as aware UTC; None if they do not open within two weeks (never)."""
    at = _utc(at, "the instant")
    hours = _business_hours(schedule)
    candidates = [at, *_possible_openings(hours, at)]
    return min((when for when in candidates if when >= at and hours.is_open(when)), default=None)


def open_seconds(schedule: Schedule, start: datetime, end: datetime) -> float:
    """How many seconds between `start` and `end` fall in business hours: the time a
    customer waited that counts against a first-response target (a message at 23:00 that
    is answered at 09:03 waited 3 minutes of them). DST-correct: a window is its local
    wall times on that day."""
    start, end = _utc(start, "the start"), _utc(end, "the end")
    if end <= start:
        return 0.0
    hours = _business_hours(schedule)
    first_day, last_day = start.astimezone(hours.zone).date() - timedelta(days=1), end.astimezone(hours.zone).date()
    total = 0.0
    day = first_day
    while day <= last_day:
        for window_start, window_end in _windows_on(hours, day):
            total += max(0.0, (min(end, window_end) - max(start, window_start)).total_seconds())
        day += timedelta(days=1)
    return total


@lru_cache(maxsize=4096)
def _windows_on(hours: BusinessHours, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The day's opening windows as UTC instants (a report asks for the same days thousands of times)."""
    zone = hours.zone
    return tuple(
        (local_instant(zone, day, opens), local_instant(zone, day + timedelta(days=1), time(0)) if closes is None else local_instant(zone, day, closes))
        for weekday, opens, closes in hours.windows
        if weekday == day.weekday()
    )


def _possible_openings(hours: BusinessHours, at: datetime):
    """Every instant at which the hours may go from closed to open, from the day before
    `at` (a fall-back can take the clock back across midnight) for two weeks: each
    window's opening wall time (both occurrences when it happens twice) and each UTC
    offset change (the clock jumping into a window, or back into one). Extra candidates
    are harmless: the caller keeps the earliest one at which the hours are open."""
    zone = hours.zone
    first_day = at.astimezone(zone).date() - timedelta(days=1)
    for day in (first_day + timedelta(days=n) for n in range(_OPENING_SEARCH_DAYS + 1)):
        for weekday, opens, _closes in hours.windows:
            if weekday == day.weekday():
                wall = datetime.combine(day, opens, tzinfo=zone)
                yield wall.astimezone(UTC)
                yield wall.replace(fold=1).astimezone(UTC)
        day_starts = local_instant(zone, day, time(0))
        day_ends = local_instant(zone, day + timedelta(days=1), time(0))
        if _offset(zone, day_starts) != _offset(zone, day_ends):
            yield _offset_change_between(zone, day_starts, day_ends)


@lru_cache(maxsize=32)
def _parsed_hours(text: str, time_zone: str) -> BusinessHours:
    try:
        return parse_business_hours(text, time_zone)
    except ValueError as error:
        raise ScheduleError(str(error)) from None


def _business_hours(schedule: Schedule) -> BusinessHours:
    return _parsed_hours(schedule.business_hours, schedule.time_zone)


def _after_hours_mode(value: str) -> AfterHoursMode:
    try:
        return AfterHoursMode(value)
    except ValueError:
        modes = ", ".join(mode.value for mode in AfterHoursMode)
        raise ScheduleError(f"unknown after-hours mode {value!r} (use one of: {modes})") from None


# ---- checking and parsing what people type --------------------------------------------


def validate(schedule: Schedule, agents: dict[str, Agent]) -> list[str]:
    """Everything wrong with the schedule, one sentence each; empty when it is usable."""
    problems: list[str] = []
    try:
        _zone(schedule.time_zone)
    except ScheduleError as error:
        problems.append(str(error))
    else:  # the hours need a valid zone to parse; a bad zone is reported once, above
        problems += _hours_problems(schedule)
    if schedule.rotation is not None:
        problems += _rotation_problems(schedule.rotation)
        problems += [
            f"the rotation names {agent_id!r}, who is not an agent (add them first)"
            for agent_id in dict.fromkeys(schedule.rotation.agent_ids)
            if agent_id not in agents
        ]
    problems += _override_problems(schedule.overrides, agents)
    return problems


def _hours_problems(schedule: Schedule) -> list[str]:
    try:
        hours = _business_hours(schedule)
        mode = _after_hours_mode(schedule.after_hours)
    except ScheduleError as error:
        return [str(error)]
    if mode != AfterHoursMode.PAGE and not hours.windows:
        return [
            f"after-hours mode {mode.value!r} with business hours that never open"
            " would hold pages forever"
        ]
    return []


def _rotation_problems(rotation: Rotation) -> list[str]:
    problems = []
    if not rotation.agent_ids:
        problems.append("the rotation has no agents (name at least one)")
    if not 1 <= rotation.length_days <= MAX_LENGTH_DAYS:
        problems.append(
            f"a rotation turn lasts 1 to {MAX_LENGTH_DAYS} days, not {rotation.length_days}"
        )
    return problems


def _override_problems(overrides: tuple[Override, ...], agents: dict[str, Agent]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for override in overrides:
        name = f"override {override.override_id!r}"
        if override.override_id in seen:
            problems.append(f"{name} appears more than once")
        seen.add(override.override_id)
        if override.agent_id not in agents:
            problems.append(f"{name} names {override.agent_id!r}, who is not an agent")
        try:
            starts = _utc(override.starts_at, f"{name} start")
            ends = _utc(override.ends_at, f"{name} end")
        except ScheduleError as error:
            problems.append(str(error))
            continue
        if ends <= starts:
            problems.append(
                f"{name} must end after it starts"
                f" (starts {starts:%Y-%m-%d %H:%M} UTC, ends {ends:%Y-%m-%d %H:%M} UTC)"
            )
    return problems


def parse_handoff(text: str) -> tuple[int, time]:
    """"Mon 09:00" or "monday 9:00" → (weekday 0=Monday, local time of day)."""
    match = _HANDOFF.fullmatch(text.strip().lower())
    weekday = _weekday(match["day"]) if match else None
    hour, minute = (int(match["hour"]), int(match["minute"])) if match else (99, 99)
    if weekday is None or hour > 23 or minute > 59:
        raise ScheduleError(
            f"handoff {text!r} is not like 'Mon 09:00' (a weekday and a 24-hour time)"
        )
    return weekday, time(hour, minute)


def _weekday(name: str) -> int | None:
    return next((number for number, day in enumerate(_WEEKDAYS) if name in (day, day[:3])), None)


def parse_length(text: str) -> int:
    """A turn's length in days: "1w" → 7, "2w" → 14, "3d" → 3, "7" → 7."""
    match = _LENGTH.fullmatch(text.strip().lower())
    days = int(match["count"]) * (7 if match["unit"] == "w" else 1) if match else 0
    if not 1 <= days <= MAX_LENGTH_DAYS:
        raise ScheduleError(
            f"rotation length {text!r} is not like '1w', '2w' or '3d' (1 to {MAX_LENGTH_DAYS} days)"
        )
    return days


def first_handoff_on_or_after(day: date, weekday: int) -> date:
    """The first date on or after `day` that falls on `weekday` (0 = Monday)."""
    if not 0 <= weekday <= 6:
        raise ScheduleError(f"weekday {weekday} is not 0 (Monday) to 6 (Sunday)")
    return day + timedelta(days=(weekday - day.weekday()) % 7)


# ---- time zones -----------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def _utc(moment: datetime, what: str) -> datetime:
    if moment.utcoffset() is None:
        raise ScheduleError(
            f"{what} {moment.isoformat()} has no time zone (give an aware datetime)"
        )
    return moment.astimezone(UTC)


def local_instant(zone: ZoneInfo, day: date, clock: time) -> datetime:
    """The instant the local wall clock shows `clock` on `day`, as aware UTC: the first
    occurrence when it shows it twice, the end of the gap when it never does."""
    # fold=0: the first occurrence of a repeated wall time
    wall = datetime.combine(day, clock.replace(tzinfo=None), tzinfo=zone)
    instant = wall.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    # In a gap the two folds read the wall time with the offsets on either side of
    # the change; the change itself, where the gap ends, lies between them.
    other = wall.replace(fold=1).astimezone(UTC)
    return _offset_change_between(zone, min(instant, other), max(instant, other))


def _offset_change_between(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant the UTC offset changes, given an instant before and one after the change.

    Bisection on whole seconds: zoneinfo does not expose its transitions, and tzdata's
    transitions all fall on whole seconds.
    """
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    old = _offset(zone, datetime.fromtimestamp(low, UTC))
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, datetime.fromtimestamp(middle, UTC)) == old:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()
