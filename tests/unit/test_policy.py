"""Escalation policies: parsing and checking levels, walking the steps, who is paged.

Pure: no AWS, no clock. Recipients are computed against a real Schedule (a weekly
rotation in New York with an override), not a stub of `on_call_at`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.oncall.policy import (
    DEFAULT_POLICY,
    EscalationPolicy,
    Level,
    PolicyError,
    Step,
    Target,
    TargetKind,
    deadline,
    first_step,
    format_level,
    next_reachable,
    next_step,
    parse_level,
    recipients,
    validate_policy,
)
from switchboard.oncall.schedule import Agent, Override, Rotation, Schedule

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")

AGENTS = {
    agent_id: Agent(agent_id, agent_id.title(), f"+1415555010{n}")
    for n, agent_id in enumerate(("ana", "bo", "cy", "dee"))
}
# Weekly turns handed off Mondays 09:00 New York time, from Monday 2 March 2026: ana, then
# bo (from 9 March), then cy; dee covers an afternoon of bo's week.
ROTATION = Rotation(("ana", "bo", "cy"), time(9), 7, date(2026, 3, 2))
DEE_COVERS = Override(
    "01J0DEE", "dee", datetime(2026, 3, 10, 12, tzinfo=UTC), datetime(2026, 3, 10, 18, tzinfo=UTC)
)
SCHEDULE = Schedule("America/New_York", ROTATION, overrides=(DEE_COVERS,))

IN_ANAS_WEEK = datetime(2026, 3, 3, 15, tzinfo=UTC)
IN_DEES_OVERRIDE = datetime(2026, 3, 10, 13, tzinfo=UTC)
IN_BOS_WEEK = datetime(2026, 3, 10, 20, tzinfo=UTC)
BEFORE_THE_ROTATION = datetime(2026, 3, 1, 12, tzinfo=UTC)


def policy(*levels: str, repeat: int = 0) -> EscalationPolicy:
    return EscalationPolicy(tuple(parse_level(level) for level in levels), repeat=repeat)


def all_steps(p: EscalationPolicy) -> list[Step]:
    steps, step = [], first_step()
    while step is not None:
        steps.append(step)
        step = next_step(p, step)
    return steps


# ---- strategies -----------------------------------------------------------------------

agent_ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,31}", fullmatch=True)
waits = st.integers(1, 1440)
targets = st.one_of(
    st.just(Target(TargetKind.SCHEDULE)),
    st.just(Target(TargetKind.EVERYONE)),
    agent_ids.map(lambda agent_id: Target(TargetKind.AGENT, agent_id)),
)
levels = st.builds(Level, targets, waits)
policies = st.builds(
    EscalationPolicy,
    st.lists(levels, min_size=1, max_size=6).map(tuple),
    repeat=st.integers(0, 10),
    first_response_minutes=st.integers(1, 1440),
)


# ---- the default and the snapshot -----------------------------------------------------


def test_the_default_policy_pages_the_schedule_then_everyone_twice_over():
    assert DEFAULT_POLICY.levels == (
        Level(Target(TargetKind.SCHEDULE), 5),
        Level(Target(TargetKind.EVERYONE), 10),
    )
    assert DEFAULT_POLICY.repeat == 1
    assert DEFAULT_POLICY.first_response_minutes == 10
    assert validate_policy(DEFAULT_POLICY, set(AGENTS)) == []
    assert all_steps(DEFAULT_POLICY) == [Step(0, 0), Step(0, 1), Step(1, 0), Step(1, 1)]


def test_the_document_a_page_stores_is_plain_and_detached():
    document = policy("schedule:5", "agent:ana:10", "everyone:15", repeat=2).to_document()
    assert document == {
        "levels": [
            {"target": "schedule", "wait_minutes": 5},
            {"target": "agent", "agent_id": "ana", "wait_minutes": 10},
            {"target": "everyone", "wait_minutes": 15},
        ],
        "repeat": 2,
        "first_response_minutes": 10,
    }
    snapshot = EscalationPolicy.from_document(document)
    document["levels"].clear()  # the page's copy is its own: editing the dict changes nothing
    assert len(snapshot.levels) == 3


def assert_plain(value):
    """Only what a DynamoDB document holds: str, int, bool, list, dict (no None, no float)."""
    if isinstance(value, dict):
        assert all(isinstance(key, str) for key in value)
        for item in value.values():
            assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item)
    else:
        assert type(value) in (str, int, bool), value


@given(policies)
def test_policy_documents_round_trip_exactly(p):
    document = p.to_document()
    assert_plain(document)
    assert EscalationPolicy.from_document(document) == p
    assert EscalationPolicy.from_document(document).to_document() == document


@given(st.integers(0, 10), st.integers(0, 100))
def test_step_documents_round_trip_exactly(round_, level):
    step = Step(round_, level)
    assert_plain(step.to_document())
    assert Step.from_document(step.to_document()) == step


def test_documents_read_back_from_dynamodb_carry_decimals():
    document = {
        "levels": [{"target": "agent", "agent_id": "bo", "wait_minutes": Decimal("7")}],
        "repeat": Decimal("1"),
        "first_response_minutes": Decimal("30"),
    }
    assert EscalationPolicy.from_document(document) == EscalationPolicy(
        (Level(Target(TargetKind.AGENT, "bo"), 7),), repeat=1, first_response_minutes=30
    )
    assert Step.from_document({"round": Decimal("1"), "level": Decimal("0")}) == Step(1, 0)


def document_with(*levels, **changes):
    return {"levels": list(levels), "repeat": 0, "first_response_minutes": 10, **changes}


@pytest.mark.parametrize(
    "document, message",
    [
        ([], "not a map"),
        ({"repeat": 0, "first_response_minutes": 10}, "no 'levels'"),
        (document_with(levels="schedule:5"), "'levels' is str"),
        (document_with("schedule:5"), "level 1 is str, not a map"),
        (document_with({"target": "pager", "wait_minutes": 5}), "'pager'"),
        (document_with({"target": "schedule"}), "no 'wait_minutes'"),
        (document_with({"target": "schedule", "wait_minutes": Decimal("2.5")}), "whole number"),
        (document_with({"target": "schedule", "wait_minutes": True}), "whole number"),
        (document_with({"target": "agent", "agent_id": 7, "wait_minutes": 5}), "agent_id is int"),
        ({"levels": [], "first_response_minutes": 10}, "no 'repeat'"),
    ],
)
def test_a_broken_document_says_what_is_wrong(document, message):
    with pytest.raises(PolicyError, match=message):
        EscalationPolicy.from_document(document)


# ---- parsing and checking -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, level",
    [
        ("schedule:5", Level(Target(TargetKind.SCHEDULE), 5)),
        ("agent:ana:10", Level(Target(TargetKind.AGENT, "ana"), 10)),
        ("everyone:15", Level(Target(TargetKind.EVERYONE), 15)),
        (" Schedule : 1 ", Level(Target(TargetKind.SCHEDULE), 1)),
        ("AGENT:Ana-Maria:1440", Level(Target(TargetKind.AGENT, "ana-maria"), 1440)),
    ],
)
def test_parse_level(text, level):
    assert parse_level(text) == level


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is not like 'schedule:5', 'agent:ana:10' or 'everyone:15'"),
        ("schedule", "is not like"),
        ("schedule:5:7", "is not like"),
        ("agent:10", "is not like"),
        ("agent::10", "is not like"),
        ("everyone:ana:10", "is not like"),
        ("pager:5", "pages 'pager': use one of schedule, agent, everyone"),
        ("schedule:soon", "waits 'soon': give whole minutes, 1 to 1440"),
        ("schedule:-5", "waits '-5'"),
        ("schedule:2.5", "waits '2.5'"),
        ("schedule:٥", "waits '٥'"),  # an Arabic-Indic digit: isdigit() says yes, we say no
        ("schedule:0", "waits 0 minutes: wait 1 to 1440 minutes"),
        ("everyone:1441", "waits 1441 minutes"),
    ],
)
def test_parse_level_says_what_is_wrong(text, message):
    with pytest.raises(PolicyError, match=message):
        parse_level(text)


@given(levels)
def test_format_level_is_what_parse_level_reads(level):
    assert parse_level(format_level(level)) == level


@given(policies)
def test_generated_policies_over_their_own_agents_are_valid(p):
    named = {level.target.agent_id for level in p.levels if level.target.agent_id}
    assert validate_policy(p, named) == []


def test_validate_policy_names_every_problem():
    broken = EscalationPolicy(
        (
            Level(Target(TargetKind.AGENT, "zed"), 5),
            Level(Target(TargetKind.AGENT), 5),
            Level(Target(TargetKind.SCHEDULE, "ana"), 0),
            Level(Target(TargetKind.EVERYONE), 1441),
        ),
        repeat=11,
        first_response_minutes=0,
    )
    assert validate_policy(broken, set(AGENTS)) == [
        "level 1 names 'zed', who is not an agent (add them first)",
        "level 2 pages an agent but names none",
        "level 3 pages schedule but also names 'ana' (only an 'agent' level names one)",
        "level 3 waits 0 minutes: wait 1 to 1440 minutes",
        "level 4 waits 1441 minutes: wait 1 to 1440 minutes",
        "the policy repeats 0 to 10 times, not 11",
        "the first-response target is 1 to 1440 minutes, not 0",
    ]
    assert validate_policy(EscalationPolicy(()), set()) == [
        "the policy has no levels (give at least one, like 'schedule:5')"
    ]
    assert validate_policy(EscalationPolicy((Level(Target("pager"), 5),)), set()) == [
        "level 1 pages 'pager', which is not a kind of target"
    ]


# ---- walking the steps ----------------------------------------------------------------


def test_next_step_wraps_into_the_next_round_while_rounds_remain():
    p = policy("schedule:5", "everyone:10", repeat=2)
    assert next_step(p, Step(0, 0)) == Step(0, 1)
    assert next_step(p, Step(0, 1)) == Step(1, 0)
    assert next_step(p, Step(1, 1)) == Step(2, 0)
    assert next_step(p, Step(2, 1)) is None  # exhausted


def test_without_repeat_the_last_level_is_the_end():
    p = policy("schedule:5")
    assert first_step() == Step(0, 0)
    assert next_step(p, first_step()) is None


@pytest.mark.parametrize("step", [Step(0, 2), Step(3, 0), Step(-1, 0), Step(0, -1)])
def test_a_step_outside_the_policy_is_an_error(step):
    p = policy("schedule:5", "everyone:10", repeat=2)
    with pytest.raises(PolicyError, match="outside the policy"):
        next_step(p, step)
    with pytest.raises(PolicyError, match="outside the policy"):
        deadline(p, step, IN_ANAS_WEEK)


@given(policies)
def test_the_walk_visits_every_level_of_every_round_once_in_order(p):
    steps = all_steps(p)
    assert steps == [Step(r, l) for r in range(p.repeat + 1) for l in range(len(p.levels))]


def test_deadline_is_paged_at_plus_the_levels_wait_in_utc():
    p = policy("schedule:5", "everyone:90")
    paged_at = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)  # the first 01:30 of the fall-back
    # (Compared in UTC: Python never finds an ambiguous local time equal to another zone's.)
    assert deadline(p, Step(0, 0), paged_at) == datetime(2026, 11, 1, 5, 35, tzinfo=UTC)
    later = deadline(p, Step(0, 1), paged_at)
    assert later.tzinfo is UTC
    # 90 real minutes, across the repeated hour: the wall clock only moves 30 minutes.
    assert later == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
    with pytest.raises(PolicyError, match="no time zone"):
        deadline(p, Step(0, 0), datetime(2026, 3, 3, 12))


# ---- who is paged ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "at, on_call",
    [
        (IN_ANAS_WEEK, ("ana",)),
        (IN_DEES_OVERRIDE, ("dee",)),  # the override wins over bo's turn
        (IN_BOS_WEEK, ("bo",)),  # after the override ends
        (BEFORE_THE_ROTATION, ()),  # nobody is on call yet
    ],
)
def test_a_schedule_level_pages_whoever_is_on_call_then(at, on_call):
    assert recipients(policy("schedule:5"), Step(0, 0), SCHEDULE, AGENTS, at) == on_call


def test_a_schedule_level_does_not_page_an_agent_who_was_removed():
    without_bo = {k: v for k, v in AGENTS.items() if k != "bo"}
    assert recipients(policy("schedule:5"), Step(0, 0), SCHEDULE, without_bo, IN_BOS_WEEK) == ()


def test_an_agent_level_pages_that_agent_while_it_exists():
    p = policy("agent:cy:5")
    assert recipients(p, Step(0, 0), SCHEDULE, AGENTS, IN_ANAS_WEEK) == ("cy",)
    without_cy = {k: v for k, v in AGENTS.items() if k != "cy"}
    assert recipients(p, Step(0, 0), SCHEDULE, without_cy, IN_ANAS_WEEK) == ()


def test_an_everyone_level_pages_every_agent_sorted_by_id():
    shuffled = {agent_id: AGENTS[agent_id] for agent_id in ("dee", "ana", "cy", "bo")}
    p = policy("everyone:5")
    assert recipients(p, Step(0, 0), SCHEDULE, shuffled, IN_ANAS_WEEK) == ("ana", "bo", "cy", "dee")
    assert recipients(p, Step(0, 0), SCHEDULE, {}, IN_ANAS_WEEK) == ()


def test_recipients_use_the_step_of_the_right_level_in_a_later_round():
    p = policy("schedule:5", "agent:cy:5", repeat=1)
    assert recipients(p, Step(1, 0), SCHEDULE, AGENTS, IN_DEES_OVERRIDE) == ("dee",)
    assert recipients(p, Step(1, 1), SCHEDULE, AGENTS, IN_DEES_OVERRIDE) == ("cy",)


def test_next_reachable_returns_the_step_itself_when_it_reaches_somebody():
    p = policy("schedule:5", "everyone:10")
    assert next_reachable(p, Step(0, 0), SCHEDULE, AGENTS, IN_ANAS_WEEK) == (Step(0, 0), ("ana",))


def test_next_reachable_skips_nobody_on_call_and_a_removed_agent():
    p = policy("schedule:5", "agent:zed:5", "agent:cy:10", repeat=1)
    # Before the rotation starts nobody is on call; zed is not an agent (any more).
    assert next_reachable(p, Step(0, 0), SCHEDULE, AGENTS, BEFORE_THE_ROTATION) == (
        Step(0, 2),
        ("cy",),
    )
    # From the second round's start it skips the same way, within that round.
    assert next_reachable(p, Step(1, 0), SCHEDULE, AGENTS, BEFORE_THE_ROTATION) == (
        Step(1, 2),
        ("cy",),
    )


def test_next_reachable_wraps_into_the_next_round():
    p = policy("schedule:5", "agent:zed:5", repeat=1)
    # At level 1 of round 0 (zed), the next reachable is the schedule in round 1.
    assert next_reachable(p, Step(0, 1), SCHEDULE, AGENTS, IN_BOS_WEEK) == (Step(1, 0), ("bo",))


def test_next_reachable_ends_when_nobody_can_be_reached():
    p = policy("schedule:5", "agent:zed:5", "everyone:5", repeat=10)
    assert next_reachable(p, first_step(), SCHEDULE, {}, BEFORE_THE_ROTATION) is None
    assert next_reachable(p, Step(10, 2), SCHEDULE, {}, IN_ANAS_WEEK) is None


@given(policies, st.sets(st.sampled_from(sorted(AGENTS))), st.data())
def test_next_reachable_is_the_first_step_from_here_that_reaches_somebody(p, present, data):
    agents = {agent_id: AGENTS[agent_id] for agent_id in present}
    at = data.draw(st.sampled_from([IN_ANAS_WEEK, IN_DEES_OVERRIDE, BEFORE_THE_ROTATION]))
    steps = all_steps(p)
    start = data.draw(st.sampled_from(steps))
    later = steps[steps.index(start):]
    reached = [(step, recipients(p, step, SCHEDULE, agents, at)) for step in later]
    expected = next(((step, found) for step, found in reached if found), None)
    assert next_reachable(p, start, SCHEDULE, agents, at) == expected
