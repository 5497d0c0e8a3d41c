"""The on-call schedule: handoffs across daylight-saving changes, overrides, after hours.

Pure: no AWS, no clock. The properties compare the schedule with brute-force oracles
that enumerate every handoff from the first one, or step through time a quarter hour
at a time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.hours import parse_business_hours
from switchboard.oncall.schedule import (
    AfterHoursMode,
    Agent,
    Override,
    PageDecision,
    Rotation,
    Schedule,
    ScheduleError,
    Shift,
    first_handoff_on_or_after,
    handoff_instant,
    next_opening,
    on_call_at,
    page_decision,
    parse_handoff,
    parse_length,
    upcoming_shifts,
    validate,
)

UTC = timezone.utc
TICK = timedelta(microseconds=1)
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")

# 2026's offset changes: northern and southern hemisphere, a 45-minute offset (Chatham),
# and a zone without daylight saving (Kolkata: the dates are just dates there).
CHANGES = {
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
    "Europe/Berlin": (date(2026, 3, 29), date(2026, 10, 25)),
    "Australia/Sydney": (date(2026, 4, 5), date(2026, 10, 4)),
    "Pacific/Chatham": (date(2026, 4, 5), date(2026, 9, 27)),
    "Asia/Kolkata": (date(2026, 3, 29), date(2026, 10, 25)),
}
AGENT_IDS = ("ana", "bo", "cy", "dee", "eli")
AGENTS = {agent_id: Agent(agent_id, agent_id.title(), f"+1415555010{n}") for n, agent_id in enumerate(AGENT_IDS)}


def at_local(zone: ZoneInfo, *args: int) -> datetime:
    """A local wall-clock time (first occurrence) as aware UTC."""
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def weekly(zone: str, *agent_ids: str, starts_on: date, handoff: time = time(9), **schedule) -> Schedule:
    return Schedule(zone, Rotation(agent_ids, handoff, 7, starts_on), **schedule)


def answer(shift: Shift) -> tuple:
    return shift.source, shift.agent_id, shift.override_id


# ---- oracles --------------------------------------------------------------------------


def oracle_turn(rotation: Rotation, zone: ZoneInfo, at: datetime) -> int:
    """The last handoff at or before `at`, counted from the first; -1 before it."""
    turn = -1
    while handoff_instant(rotation, zone, turn + 1) <= at:
        turn += 1
    return turn


def oracle_answer(schedule: Schedule, at: datetime) -> tuple:
    for override in reversed(schedule.overrides):
        if override.starts_at <= at < override.ends_at:
            return "override", override.agent_id, override.override_id
    if schedule.rotation is None:
        return "nobody", None, None
    turn = oracle_turn(schedule.rotation, ZoneInfo(schedule.time_zone), at)
    if turn < 0:
        return "nobody", None, None
    agent_ids = schedule.rotation.agent_ids
    return "rotation", agent_ids[turn % len(agent_ids)], None


def wall_exists(zone: ZoneInfo, wall: datetime) -> bool:
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


# ---- strategies -----------------------------------------------------------------------


@st.composite
def rotations(draw) -> tuple[ZoneInfo, Rotation, date]:
    """A rotation that starts near one of 2026's offset changes, with its zone and that change."""
    zone_name = draw(st.sampled_from(sorted(CHANGES)))
    change = draw(st.sampled_from(CHANGES[zone_name]))
    length = draw(st.integers(1, 21))
    if draw(st.booleans()):  # a handoff on the day of the change itself
        starts_on = change - timedelta(days=length * draw(st.integers(0, 3)))
    else:
        starts_on = change + timedelta(days=draw(st.integers(-30, 10)))
    # Hours around 02:00-03:45 fall in the gaps of these zones: draw them often.
    hour = draw(st.one_of(st.integers(0, 23), st.sampled_from([1, 2, 3])))
    handoff = time(hour, draw(st.integers(0, 59)))
    agent_ids = tuple(draw(st.lists(st.sampled_from(AGENT_IDS), min_size=1, max_size=5)))
    return ZoneInfo(zone_name), Rotation(agent_ids, handoff, length, starts_on), change


@st.composite
def instants_near(draw, rotation: Rotation, zone: ZoneInfo, change: date) -> datetime:
    """Any instant within 60 days of the change, or one on a handoff's edge."""
    if draw(st.booleans()):
        index = draw(st.integers(0, 60 // rotation.length_days + 1))
        return handoff_instant(rotation, zone, index) + draw(st.sampled_from([-TICK, timedelta(0), TICK]))
    midnight = datetime.combine(change, time(0), tzinfo=UTC)
    return midnight + timedelta(seconds=draw(st.integers(-60 * 86400, 60 * 86400)))


@st.composite
def overrides(draw, near: datetime) -> tuple[Override, ...]:
    found = []
    for number in range(draw(st.integers(0, 3))):
        starts = near + timedelta(minutes=draw(st.integers(-20 * 1440, 20 * 1440)))
        ends = starts + timedelta(minutes=draw(st.integers(1, 10 * 1440)))
        found.append(Override(f"o{number}", draw(st.sampled_from(AGENT_IDS)), starts, ends))
    return tuple(found)


# ---- the rotation against the oracle --------------------------------------------------


def test_the_changes_drawn_from_are_real_changes():
    for zone_name, changes in CHANGES.items():
        zone = ZoneInfo(zone_name)
        for day in changes:
            before = datetime.combine(day, time(0), tzinfo=zone).utcoffset()
            after = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).utcoffset()
            assert (before != after) == (zone_name != "Asia/Kolkata"), (zone_name, day)


@settings(max_examples=250, deadline=None)
@given(st.data())
def test_on_call_at_matches_the_brute_force_oracle(data):
    zone, rotation, change = data.draw(rotations())
    at = data.draw(instants_near(rotation, zone, change))
    shift = on_call_at(Schedule(zone.key, rotation), at)
    turn = oracle_turn(rotation, zone, at)
    if turn < 0:
        assert shift == Shift(None, "nobody", None, handoff_instant(rotation, zone, 0))
    else:
        agent = rotation.agent_ids[turn % len(rotation.agent_ids)]
        assert shift == Shift(
            agent, "rotation", handoff_instant(rotation, zone, turn), handoff_instant(rotation, zone, turn + 1)
        )


@settings(max_examples=150, deadline=None)
@given(rotations())
def test_handoffs_keep_the_wall_clock_and_strictly_increase(drawn):
    zone, rotation, _change = drawn
    count = 90 // rotation.length_days + 2
    handoffs = [handoff_instant(rotation, zone, index) for index in range(count)]
    assert all(a < b for a, b in zip(handoffs, handoffs[1:]))
    for index, handoff in enumerate(handoffs):
        assert handoff.tzinfo is UTC
        local = handoff.astimezone(zone)
        wall = datetime.combine(rotation.starts_on + timedelta(days=index * rotation.length_days), rotation.handoff_time)
        if wall_exists(zone, wall):
            assert local.replace(tzinfo=None) == wall
            assert local.fold == 0  # the first occurrence of a repeated wall time
        else:
            # The first instant after the gap: the offset changes right there, and the
            # clock jumps from before the handoff time to after it.
            just_before = (handoff - timedelta(seconds=1)).astimezone(zone)
            assert just_before.utcoffset() != local.utcoffset()
            assert just_before.replace(tzinfo=None) < wall < local.replace(tzinfo=None)
    # Turns are counted in local days: a turn lasts its days, give or take the offset change.
    for first, second in zip(handoffs, handoffs[1:]):
        offset_change = second.astimezone(zone).utcoffset() - first.astimezone(zone).utcoffset()
        if first.astimezone(zone).time() == second.astimezone(zone).time() == rotation.handoff_time:
            assert second - first == timedelta(days=rotation.length_days) - offset_change


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_overrides_win_and_upcoming_shifts_are_contiguous_and_maximal(data):
    zone, rotation, change = data.draw(rotations())
    at = data.draw(instants_near(rotation, zone, change))
    schedule = Schedule(zone.key, rotation, data.draw(overrides(at)))

    assert answer(on_call_at(schedule, at)) == oracle_answer(schedule, at)

    shifts = upcoming_shifts(schedule, at, count=8)
    assert len(shifts) == 8  # a rotation always changes again
    first = shifts[0]
    assert (first.starts_at is None or first.starts_at <= at) and at < first.ends_at
    for shift, following in zip(shifts, shifts[1:]):
        assert shift.ends_at == following.starts_at
        assert following.starts_at < following.ends_at
    for shift in shifts:
        # The same answer from its first instant to its last.
        if shift.starts_at is not None:
            assert oracle_answer(schedule, shift.starts_at) == answer(shift)
        assert oracle_answer(schedule, shift.ends_at - TICK) == answer(shift)
    handoffs = {handoff_instant(rotation, zone, index) for index in range(400 // rotation.length_days + 3)}
    for shift, following in zip(shifts, shifts[1:]):
        # Maximal: a boundary changes the answer, or is a handoff (a new turn, maybe to the same agent).
        assert answer(shift) != answer(following) or (shift.source == "rotation" and shift.ends_at in handoffs)


# ---- fixed examples: daylight saving --------------------------------------------------


def test_a_weekly_turn_containing_the_spring_change_lasts_167_hours():
    schedule = weekly("Europe/Berlin", "ana", "bo", starts_on=date(2026, 3, 23))  # a Monday
    shift = on_call_at(schedule, at_local(BERLIN, 2026, 3, 26, 12))
    assert shift.agent_id == "ana"
    assert shift.starts_at == datetime(2026, 3, 23, 8, tzinfo=UTC)  # 09:00 CET
    assert shift.ends_at == datetime(2026, 3, 30, 7, tzinfo=UTC)  # 09:00 CEST
    assert shift.ends_at - shift.starts_at == timedelta(hours=167)
    following = on_call_at(schedule, shift.ends_at)
    assert following.agent_id == "bo" and following.ends_at - following.starts_at == timedelta(hours=168)


def test_a_weekly_turn_containing_the_autumn_change_lasts_169_hours():
    schedule = weekly("Europe/Berlin", "ana", "bo", starts_on=date(2026, 10, 19))
    shift = on_call_at(schedule, at_local(BERLIN, 2026, 10, 25, 12))
    assert shift.starts_at == datetime(2026, 10, 19, 7, tzinfo=UTC)  # 09:00 CEST
    assert shift.ends_at == datetime(2026, 10, 26, 8, tzinfo=UTC)  # 09:00 CET
    assert shift.ends_at - shift.starts_at == timedelta(hours=169)


def test_a_handoff_in_the_spring_gap_happens_when_the_gap_ends():
    rotation = Rotation(("ana", "bo"), time(2, 30), 1, date(2026, 3, 7))
    handoff = handoff_instant(rotation, NEW_YORK, 1)  # 2026-03-08 02:30 does not exist
    assert handoff == datetime(2026, 3, 8, 7, tzinfo=UTC)
    assert handoff.astimezone(NEW_YORK).isoformat() == "2026-03-08T03:00:00-04:00"
    # The day after, 02:30 exists again.
    assert handoff_instant(rotation, NEW_YORK, 2).astimezone(NEW_YORK).isoformat() == "2026-03-09T02:30:00-04:00"
    shift = on_call_at(Schedule("America/New_York", rotation), datetime(2026, 3, 8, 6, 59, tzinfo=UTC))
    assert shift.agent_id == "ana" and shift.ends_at - shift.starts_at == timedelta(hours=23, minutes=30)


def test_a_handoff_at_a_repeated_time_happens_at_its_first_occurrence():
    rotation = Rotation(("ana", "bo"), time(1, 30), 1, date(2026, 10, 31))
    handoff = handoff_instant(rotation, NEW_YORK, 1)  # 2026-11-01 01:30 happens twice
    assert handoff.astimezone(NEW_YORK).isoformat() == "2026-11-01T01:30:00-04:00"
    assert handoff == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    shift = on_call_at(Schedule("America/New_York", rotation), handoff + timedelta(hours=1))  # 01:30 EST
    assert shift.agent_id == "bo"
    assert shift.ends_at - shift.starts_at == timedelta(hours=25)


def test_a_45_minute_offset_zone_without_a_gap_keeps_the_handoff_time():
    rotation = Rotation(("ana",), time(12, 15), 7, date(2026, 9, 21))
    chatham = ZoneInfo("Pacific/Chatham")
    assert [handoff_instant(rotation, chatham, n).astimezone(chatham).isoformat() for n in range(2)] == [
        "2026-09-21T12:15:00+12:45",
        "2026-09-28T12:15:00+13:45",
    ]


# ---- fixed examples: overrides and the start of the rotation -------------------------


JUNE = date(2026, 6, 1)  # a Monday
ROTA = weekly("America/New_York", "bo", "cy", starts_on=JUNE)
WEEKEND = Override("o-weekend", "ana", at_local(NEW_YORK, 2026, 6, 5, 18), at_local(NEW_YORK, 2026, 6, 8, 9), "Ana covers")


def shifts_as_text(shifts: list[Shift]) -> list[str]:
    def local(moment):
        return "..." if moment is None else moment.astimezone(NEW_YORK).strftime("%a %d %H:%M")

    return [f"{s.agent_id or '-'} {s.source} {local(s.starts_at)} -> {local(s.ends_at)}" for s in shifts]


def test_an_override_wins_inside_its_hours_and_not_outside():
    schedule = Schedule(ROTA.time_zone, ROTA.rotation, (WEEKEND,))
    assert on_call_at(schedule, WEEKEND.starts_at - TICK).agent_id == "bo"
    inside = on_call_at(schedule, WEEKEND.starts_at)
    assert inside == Shift("ana", "override", WEEKEND.starts_at, WEEKEND.ends_at, "o-weekend")
    assert on_call_at(schedule, WEEKEND.ends_at - TICK).agent_id == "ana"
    after = on_call_at(schedule, WEEKEND.ends_at)  # the end is exclusive; also cy's handoff
    assert (after.agent_id, after.source, after.starts_at) == ("cy", "rotation", WEEKEND.ends_at)


def test_upcoming_shifts_are_cut_around_an_override():
    lunch = Override("o-lunch", "ana", at_local(NEW_YORK, 2026, 6, 3, 12), at_local(NEW_YORK, 2026, 6, 3, 14))
    schedule = Schedule(ROTA.time_zone, ROTA.rotation, (lunch,))
    assert shifts_as_text(upcoming_shifts(schedule, at_local(NEW_YORK, 2026, 6, 2, 10), count=5)) == [
        "bo rotation Mon 01 09:00 -> Wed 03 12:00",
        "ana override Wed 03 12:00 -> Wed 03 14:00",
        "bo rotation Wed 03 14:00 -> Mon 08 09:00",
        "cy rotation Mon 08 09:00 -> Mon 15 09:00",
        "bo rotation Mon 15 09:00 -> Mon 22 09:00",
    ]


def test_the_later_of_overlapping_overrides_wins():
    saturday = Override("o-sat", "dee", at_local(NEW_YORK, 2026, 6, 6, 10), at_local(NEW_YORK, 2026, 6, 6, 20))
    schedule = Schedule(ROTA.time_zone, ROTA.rotation, (WEEKEND, saturday))
    assert shifts_as_text(upcoming_shifts(schedule, at_local(NEW_YORK, 2026, 6, 5, 19), count=4)) == [
        "ana override Fri 05 18:00 -> Sat 06 10:00",
        "dee override Sat 06 10:00 -> Sat 06 20:00",
        "ana override Sat 06 20:00 -> Mon 08 09:00",
        "cy rotation Mon 08 09:00 -> Mon 15 09:00",
    ]
    # The other way round the weekend override hides Saturday's entirely: one shift.
    hidden = Schedule(ROTA.time_zone, ROTA.rotation, (saturday, WEEKEND))
    assert shifts_as_text(upcoming_shifts(hidden, at_local(NEW_YORK, 2026, 6, 6, 12), count=2)) == [
        "ana override Fri 05 18:00 -> Mon 08 09:00",
        "cy rotation Mon 08 09:00 -> Mon 15 09:00",
    ]


def test_before_the_rotation_starts_nobody_is_on_call_unless_overridden():
    early = Override("o-early", "ana", at_local(NEW_YORK, 2026, 5, 29, 9), at_local(NEW_YORK, 2026, 5, 30, 9))
    schedule = Schedule(ROTA.time_zone, ROTA.rotation, (early,))
    assert shifts_as_text(upcoming_shifts(schedule, at_local(NEW_YORK, 2026, 5, 1, 0), count=5)) == [
        "- nobody ... -> Fri 29 09:00",
        "ana override Fri 29 09:00 -> Sat 30 09:00",
        "- nobody Sat 30 09:00 -> Mon 01 09:00",
        "bo rotation Mon 01 09:00 -> Mon 08 09:00",
        "cy rotation Mon 08 09:00 -> Mon 15 09:00",
    ]


def test_without_a_rotation_only_overrides_answer():
    assert upcoming_shifts(Schedule("UTC"), datetime(2026, 1, 1, tzinfo=UTC)) == [Shift(None, "nobody", None, None)]
    schedule = Schedule("America/New_York", None, (WEEKEND,))
    assert shifts_as_text(upcoming_shifts(schedule, WEEKEND.starts_at)) == [
        "ana override Fri 05 18:00 -> Mon 08 09:00",
        "- nobody Mon 08 09:00 -> ...",
    ]


def test_each_handoff_starts_a_new_shift_even_to_the_same_agent():
    schedule = weekly("UTC", "ana", starts_on=date(2026, 1, 5))
    first, second = upcoming_shifts(schedule, datetime(2026, 1, 6, tzinfo=UTC), count=2)
    assert first.agent_id == second.agent_id == "ana"
    assert first.ends_at == second.starts_at == datetime(2026, 1, 12, 9, tzinfo=UTC)


def test_instants_are_any_aware_datetime_and_shifts_come_back_in_utc():
    schedule = weekly("Europe/Berlin", "ana", "bo", starts_on=date(2026, 3, 23))
    shift = on_call_at(schedule, datetime(2026, 3, 26, 12, tzinfo=NEW_YORK))
    assert shift.starts_at.tzinfo is UTC and shift.ends_at.tzinfo is UTC
    assert upcoming_shifts(schedule, datetime(2026, 3, 26, tzinfo=UTC), count=0) == []


@pytest.mark.parametrize(
    "schedule, at, message",
    [
        (Schedule("UTC"), datetime(2026, 1, 1), "has no time zone"),
        (Schedule("Mars/Olympus"), datetime(2026, 1, 1, tzinfo=UTC), "unknown time zone 'Mars/Olympus'"),
        (Schedule("UTC", Rotation((), time(9), 7, JUNE)), datetime(2026, 1, 1, tzinfo=UTC), "no agents"),
        (Schedule("UTC", Rotation(("ana",), time(9), 0, JUNE)), datetime(2026, 1, 1, tzinfo=UTC), "not 0"),
    ],
)
def test_an_unusable_schedule_or_instant_is_a_schedule_error(schedule, at, message):
    with pytest.raises(ScheduleError, match=message):
        on_call_at(schedule, at)


# ---- after hours ----------------------------------------------------------------------


def office(mode: AfterHoursMode, hours: str = "Mon-Fri 09:00-17:00", zone: str = "America/New_York") -> Schedule:
    return Schedule(zone, business_hours=hours, after_hours=mode)


WEDNESDAY_10 = at_local(NEW_YORK, 2026, 6, 3, 10)
SATURDAY_10 = at_local(NEW_YORK, 2026, 6, 6, 10)
MONDAY_9 = at_local(NEW_YORK, 2026, 6, 8, 9)
PAGE_NOW = (PageDecision.PAGE, None)
HOLD_TO_MONDAY = (PageDecision.HOLD, MONDAY_9)


@pytest.mark.parametrize("mode", list(AfterHoursMode))
@pytest.mark.parametrize("repeat, escalated", [(False, False), (True, False), (False, True), (True, True)])
def test_in_business_hours_every_mode_pages(mode, repeat, escalated):
    assert page_decision(office(mode), WEDNESDAY_10, repeat=repeat, escalated=escalated) == PAGE_NOW


@pytest.mark.parametrize(
    "mode, repeat, escalated, expected",
    [
        (AfterHoursMode.PAGE, False, False, PAGE_NOW),
        (AfterHoursMode.REPEAT_OR_ESCALATED, False, False, HOLD_TO_MONDAY),
        (AfterHoursMode.REPEAT_OR_ESCALATED, True, False, PAGE_NOW),
        (AfterHoursMode.REPEAT_OR_ESCALATED, False, True, PAGE_NOW),
        (AfterHoursMode.QUEUE, False, False, HOLD_TO_MONDAY),
        (AfterHoursMode.QUEUE, True, False, HOLD_TO_MONDAY),
        (AfterHoursMode.QUEUE, False, True, HOLD_TO_MONDAY),
    ],
)
def test_after_hours_each_mode_decides(mode, repeat, escalated, expected):
    assert page_decision(office(mode), SATURDAY_10, repeat=repeat, escalated=escalated) == expected


def test_next_opening_across_a_weekend():
    schedule = office(AfterHoursMode.QUEUE)
    friday_close = at_local(NEW_YORK, 2026, 6, 5, 17)
    assert next_opening(schedule, friday_close) == MONDAY_9  # closing time is exclusive
    assert next_opening(schedule, friday_close - TICK) == friday_close - TICK  # open now
    assert next_opening(schedule, at_local(NEW_YORK, 2026, 6, 8, 8, 59)) == MONDAY_9


def test_next_opening_across_a_daylight_saving_change():
    berlin = office(AfterHoursMode.QUEUE, zone="Europe/Berlin")
    assert next_opening(berlin, at_local(BERLIN, 2026, 3, 28, 12)) == datetime(2026, 3, 30, 7, tzinfo=UTC)
    new_york = office(AfterHoursMode.QUEUE)
    assert next_opening(new_york, at_local(NEW_YORK, 2026, 10, 30, 18)) == datetime(2026, 11, 2, 14, tzinfo=UTC)


def test_next_opening_inside_a_gap_and_after_a_fall_back():
    gap = office(AfterHoursMode.QUEUE, hours="Sun 02:30-05:00")
    assert next_opening(gap, at_local(NEW_YORK, 2026, 3, 7, 12)).astimezone(NEW_YORK).isoformat() == (
        "2026-03-08T03:00:00-04:00"
    )
    # Closed at 01:45 EDT; the clock goes back to 01:00 EST, inside the window again.
    repeated = office(AfterHoursMode.QUEUE, hours="Sun 01:00-01:30")
    assert next_opening(repeated, datetime(2026, 11, 1, 5, 45, tzinfo=UTC)) == datetime(2026, 11, 1, 6, tzinfo=UTC)
    # Closed at 01:25 EDT; back at 01:00 EST still closed; it opens at the second 01:15.
    second = office(AfterHoursMode.QUEUE, hours="Sun 01:15-01:20")
    assert next_opening(second, datetime(2026, 11, 1, 5, 25, tzinfo=UTC)) == datetime(2026, 11, 1, 6, 15, tzinfo=UTC)


def test_next_opening_never_and_always():
    assert next_opening(office(AfterHoursMode.QUEUE, hours="never"), SATURDAY_10) is None
    assert page_decision(office(AfterHoursMode.QUEUE, hours="never"), SATURDAY_10, repeat=False, escalated=True) == (
        PageDecision.HOLD,
        None,
    )
    assert next_opening(office(AfterHoursMode.QUEUE, hours="always"), SATURDAY_10) == SATURDAY_10


QUARTER = timedelta(minutes=15)


@st.composite
def weekly_hours(draw) -> str:
    """Windows on quarter hours: with these zones' quarter-hour offsets and changes, the
    hours are then constant over every UTC quarter hour, so a quarter-hour walk is exact."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        day = draw(st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]))
        opens = draw(st.integers(0, 95))
        closes = draw(st.integers(opens + 1, 96))
        clock = [f"{q // 4:02d}:{q % 4 * 15:02d}" for q in (opens, closes)]
        parts.append(f"{day} {clock[0]}-{clock[1]}")
    return "; ".join(parts)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(CHANGES)), weekly_hours(), st.integers(-10 * 86400, 10 * 86400), st.data())
def test_next_opening_matches_a_quarter_hour_walk(zone_name, hours_text, seconds, data):
    change = data.draw(st.sampled_from(CHANGES[zone_name]))
    at = datetime.combine(change, time(0), tzinfo=UTC) + timedelta(seconds=seconds)
    hours = parse_business_hours(hours_text, zone_name)
    expected = None
    if hours.is_open(at):
        expected = at
    else:
        moment = datetime.fromtimestamp((int(at.timestamp()) // 900 + 1) * 900, UTC)
        for _ in range(16 * 96):
            if hours.is_open(moment):
                expected = moment
                break
            moment += QUARTER
    assert next_opening(office(AfterHoursMode.QUEUE, hours_text, zone_name), at) == expected


# ---- validate -------------------------------------------------------------------------


def test_a_good_schedule_has_no_problems():
    schedule = Schedule(ROTA.time_zone, ROTA.rotation, (WEEKEND,), after_hours=AfterHoursMode.QUEUE)
    assert validate(schedule, AGENTS) == []
    assert validate(Schedule("UTC"), {}) == []


def test_validate_says_what_is_wrong():
    backwards = Override("o-back", "zed", WEEKEND.ends_at, WEEKEND.starts_at)
    empty = Override("o-empty", "ana", WEEKEND.starts_at, WEEKEND.starts_at)
    naive = Override("o-naive", "ana", datetime(2026, 6, 5, 18), WEEKEND.ends_at)
    schedule = Schedule(
        "America/New_York",
        Rotation(("ana", "nobody-here", "nobody-here"), time(9), 0, JUNE),
        (backwards, empty, naive, WEEKEND, WEEKEND),
        business_hours="Mon-Fri 17:00-09:00",
    )
    assert validate(schedule, AGENTS) == [
        "business hours 'mon-fri 17:00-09:00' close before they open",
        "a rotation turn lasts 1 to 365 days, not 0",
        "the rotation names 'nobody-here', who is not an agent (add them first)",
        "override 'o-back' names 'zed', who is not an agent",
        "override 'o-back' must end after it starts (starts 2026-06-08 13:00 UTC, ends 2026-06-05 22:00 UTC)",
        "override 'o-empty' must end after it starts (starts 2026-06-05 22:00 UTC, ends 2026-06-05 22:00 UTC)",
        "override 'o-naive' start 2026-06-05T18:00:00 has no time zone (give an aware datetime)",
        "override 'o-weekend' appears more than once",
    ]


def test_validate_an_unknown_zone_an_empty_rotation_and_hours_that_never_open():
    assert validate(Schedule("Mars/Olympus", Rotation((), time(9), 7, JUNE)), AGENTS) == [
        "unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Berlin)",
        "the rotation has no agents (name at least one)",
    ]
    assert validate(office(AfterHoursMode.QUEUE, hours="never"), AGENTS) == [
        "after-hours mode 'queue' with business hours that never open would hold pages forever"
    ]
    assert validate(office(AfterHoursMode.PAGE, hours="never"), AGENTS) == []


# ---- parsing what people type ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Mon 09:00", (0, time(9))),
        ("monday 9:00", (0, time(9))),
        ("  SUN   23:59 ", (6, time(23, 59))),
        ("Thursday 00:00", (3, time(0))),
        ("fri 18:30", (4, time(18, 30))),
    ],
)
def test_parse_handoff(text, expected):
    assert parse_handoff(text) == expected


@pytest.mark.parametrize(
    "text", ["", "Mon", "09:00", "Mo 09:00", "Mon 24:00", "Mon 9:60", "Mon 9", "Funday 10:00", "Mon 09:00 x", "Mon 0９:00"]
)
def test_parse_handoff_refuses(text):
    with pytest.raises(ScheduleError, match="is not like 'Mon 09:00'"):
        parse_handoff(text)


@given(st.integers(0, 6), st.integers(0, 23), st.integers(0, 59), st.booleans(), st.randoms())
def test_parse_handoff_reads_any_weekday_and_time(weekday, hour, minute, full, random):
    name = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"][weekday]
    name = "".join(c.upper() if random.random() < 0.5 else c for c in (name if full else name[:3]))
    assert parse_handoff(f"{name} {hour:02d}:{minute:02d}") == (weekday, time(hour, minute))


@pytest.mark.parametrize(
    "text, days", [("1w", 7), ("2w", 14), ("3d", 3), ("1d", 1), ("7", 7), (" 2W ", 14), ("52w", 364), ("365d", 365)]
)
def test_parse_length(text, days):
    assert parse_length(text) == days


@pytest.mark.parametrize("text", ["", "0", "0w", "w", "1x", "-1d", "1.5w", "1 week", "53w", "366", "99999999w"])
def test_parse_length_refuses(text):
    with pytest.raises(ScheduleError, match="is not like '1w'"):
        parse_length(text)


def test_first_handoff_on_or_after():
    wednesday = date(2026, 3, 4)
    assert first_handoff_on_or_after(wednesday, 0) == date(2026, 3, 9)
    assert first_handoff_on_or_after(wednesday, 2) == wednesday
    assert first_handoff_on_or_after(wednesday, 1) == date(2026, 3, 10)
    with pytest.raises(ScheduleError):
        first_handoff_on_or_after(wednesday, 7)


@given(st.dates(date(2000, 1, 1), date(2100, 1, 1)), st.integers(0, 6))
def test_first_handoff_on_or_after_is_the_first_such_day(day, weekday):
    found = first_handoff_on_or_after(day, weekday)
    assert found.weekday() == weekday and day <= found < day + timedelta(days=7)
