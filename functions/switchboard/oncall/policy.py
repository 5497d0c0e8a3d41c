"""Escalation policies, pure: who is paged at each level, and how long we wait for an
ACK or a reply before the next level.

- A policy is frozen onto a page when the page opens. The page stores
  `policy.to_document()` and every later step of that page reads its own copy back with
  `EscalationPolicy.from_document`, never the current configuration: editing the policy
  changes the pages opened after the edit, never an open one (Grafana OnCall's
  escalation snapshot). So the document format is a promise: it must keep reading pages
  written by older code.
- A page walks the steps in order: every level of round 0, then, `repeat` times, the
  whole list again. `next_step` returns None when the last level of the last round has
  been tried.
- A step that reaches nobody (nobody on call, an agent since removed) is skipped at
  once, at the same instant: `next_reachable` walks on to the first step that reaches
  somebody. It visits each step at most once, so it always ends.
- Only agents that still exist are paged: the schedule's on-call agent and a named agent
  must be in `agents`, whose phone numbers the caller needs anyway.
- `first_response_minutes` (in business hours) is the first-response target, and
  `first_response_by_channel` overrides it per channel (SMS and X answered faster than
  email); the report measures against it and the acknowledgement promises it. Nothing
  here enforces it.

No AWS and no clock: instants are parameters, aware datetimes; every instant this module
returns is in UTC. Documents hold str, int, list and dict only (DynamoDB documents);
numbers read back from DynamoDB arrive as Decimal and are accepted when whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any

from switchboard.oncall.schedule import Agent, Schedule, on_call_at

UTC = timezone.utc
MIN_WAIT_MINUTES, MAX_WAIT_MINUTES = 1, 1440  # a minute to a day
MAX_REPEAT = 10
MAX_FIRST_RESPONSE_MINUTES = 1440
LEVEL_EXAMPLES = "'schedule:5', 'agent:ana:10' or 'everyone:15'"
CHANNELS = ("sms", "email", "voice", "x")  # models.Channel's values: a target may name each


class PolicyError(ValueError):
    """A level, policy, step or document that cannot be used; the message says why."""


class TargetKind(StrEnum):
    SCHEDULE = "schedule"  # whoever is on call in the schedule at that moment
    AGENT = "agent"  # a named agent
    EVERYONE = "everyone"  # every agent


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    agent_id: str | None = None  # only for AGENT


@dataclass(frozen=True)
class Level:
    target: Target
    wait_minutes: int  # 1..1440: how long we wait for an ACK or a reply before the next step


@dataclass(frozen=True)
class EscalationPolicy:
    levels: tuple[Level, ...]  # at least one
    repeat: int = 0  # run the whole list this many more times (0..10)
    first_response_minutes: int = 10  # the first-response target, in business hours: reported
    # Channel ("sms", "email", "voice", "x") → its own target, where it differs.
    first_response_by_channel: tuple[tuple[str, int], ...] = ()

    def first_response_target(self, channel: str) -> int:
        """The first-response target of a channel, in minutes."""
        return dict(self.first_response_by_channel).get(channel, self.first_response_minutes)

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "levels": [_level_document(level) for level in self.levels],
            "repeat": self.repeat,
            "first_response_minutes": self.first_response_minutes,
        }
        if self.first_response_by_channel:
            document["first_response_by_channel"] = dict(self.first_response_by_channel)
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> EscalationPolicy:
        levels = _field(document, "levels", list, "policy")
        by_channel = document.get("first_response_by_channel") or {}  # absent in documents before issue 15
        if not isinstance(by_channel, dict):
            raise PolicyError(f"policy 'first_response_by_channel' is {type(by_channel).__name__}, not a map")
        return cls(
            levels=tuple(_level_from_document(item, n) for n, item in enumerate(levels, 1)),
            repeat=_number_field(document, "repeat", "policy"),
            first_response_minutes=_number_field(document, "first_response_minutes", "policy"),
            first_response_by_channel=tuple(sorted(
                (str(channel), _number_field(by_channel, channel, "policy first-response target")) for channel in by_channel
            )),
        )


@dataclass(frozen=True)
class Step:
    round: int  # 0 is the first pass through the levels
    level: int  # index into the policy's levels

    def to_document(self) -> dict[str, Any]:
        return {"round": self.round, "level": self.level}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Step:
        return cls(
            round=_number_field(document, "round", "step"),
            level=_number_field(document, "level", "step"),
        )


DEFAULT_POLICY = EscalationPolicy(
    (Level(Target(TargetKind.SCHEDULE), 5), Level(Target(TargetKind.EVERYONE), 10)),
    repeat=1,
)


# ---- what people type -----------------------------------------------------------------


def parse_level(text: str) -> Level:
    """"schedule:5", "agent:ana:10", "everyone:15" → a Level (who, then minutes to wait)."""
    parts = [part.strip() for part in text.strip().lower().split(":")]
    kind = _target_kind(parts[0], text) if parts[0] else None
    expected_parts = 3 if kind == TargetKind.AGENT else 2
    if kind is None or len(parts) != expected_parts or not all(parts):
        raise PolicyError(
            f"level {text!r} is not like {LEVEL_EXAMPLES} (who to page, then minutes to wait)"
        )
    agent_id = parts[1] if kind == TargetKind.AGENT else None
    return Level(Target(kind, agent_id), _wait_minutes(parts[-1], text))


def format_level(level: Level) -> str:
    """The text `parse_level` reads back: "schedule:5", "agent:ana:10"."""
    who = [level.target.kind.value]
    if level.target.agent_id is not None:
        who.append(level.target.agent_id)
    return ":".join([*who, str(level.wait_minutes)])


def _target_kind(word: str, text: str) -> TargetKind:
    try:
        return TargetKind(word)
    except ValueError:
        kinds = ", ".join(kind.value for kind in TargetKind)
        raise PolicyError(
            f"level {text!r} pages {word!r}: use one of {kinds} (like {LEVEL_EXAMPLES})"
        ) from None


def _wait_minutes(word: str, text: str) -> int:
    if not word.isascii() or not word.isdigit():
        raise PolicyError(
            f"level {text!r} waits {word!r}: give whole minutes,"
            f" {MIN_WAIT_MINUTES} to {MAX_WAIT_MINUTES}"
        )
    minutes = int(word)
    if not MIN_WAIT_MINUTES <= minutes <= MAX_WAIT_MINUTES:
        raise PolicyError(
            f"level {text!r} waits {minutes} minutes: wait {MIN_WAIT_MINUTES} to"
            f" {MAX_WAIT_MINUTES} minutes"
        )
    return minutes


def validate_policy(policy: EscalationPolicy, agent_ids: set[str]) -> list[str]:
    """Everything wrong with the policy, one sentence each; empty when it is usable."""
    problems: list[str] = []
    if not policy.levels:
        problems.append("the policy has no levels (give at least one, like 'schedule:5')")
    for number, level in enumerate(policy.levels, 1):
        problems += _level_problems(number, level, agent_ids)
    if not _is_int(policy.repeat) or not 0 <= policy.repeat <= MAX_REPEAT:
        problems.append(f"the policy repeats 0 to {MAX_REPEAT} times, not {policy.repeat!r}")
    if not _is_int(policy.first_response_minutes) or not (
        1 <= policy.first_response_minutes <= MAX_FIRST_RESPONSE_MINUTES
    ):
        problems.append(
            f"the first-response target is 1 to {MAX_FIRST_RESPONSE_MINUTES} minutes,"
            f" not {policy.first_response_minutes!r}"
        )
    for channel, minutes in policy.first_response_by_channel:
        if channel not in CHANNELS:
            problems.append(f"a first-response target names {channel!r}, which is not a channel (use {', '.join(CHANNELS)})")
        elif not _is_int(minutes) or not 1 <= minutes <= MAX_FIRST_RESPONSE_MINUTES:
            problems.append(f"the first-response target on {channel} is 1 to {MAX_FIRST_RESPONSE_MINUTES} minutes, not {minutes!r}")
    return problems


def parse_first_response(texts: list[str]) -> tuple[int | None, tuple[tuple[str, int], ...]]:
    """["10", "sms=5", "email=60"] → (10, (("email", 60), ("sms", 5))): the default target
    (None: not given) and the channels' own targets. PolicyError saying what is wrong."""
    default, by_channel = None, {}
    for text in texts:
        channel, equals, minutes = text.strip().lower().rpartition("=")
        if not minutes.isdigit() or (equals and not channel):
            raise PolicyError(f"first-response target {text!r} is not like '10' or 'sms=5' (minutes, or a channel and its minutes)")
        if equals:
            by_channel[channel] = int(minutes)
        else:
            default = int(minutes)
    return default, tuple(sorted(by_channel.items()))


def _level_problems(number: int, level: Level, agent_ids: set[str]) -> list[str]:
    name = f"level {number}"
    problems = []
    if level.target.kind not in set(TargetKind):
        problems.append(f"{name} pages {level.target.kind!r}, which is not a kind of target")
    elif level.target.kind == TargetKind.AGENT:
        if not level.target.agent_id:
            problems.append(f"{name} pages an agent but names none")
        elif level.target.agent_id not in agent_ids:
            problems.append(
                f"{name} names {level.target.agent_id!r}, who is not an agent (add them first)"
            )
    elif level.target.agent_id is not None:
        problems.append(
            f"{name} pages {level.target.kind.value} but also names {level.target.agent_id!r}"
            " (only an 'agent' level names one)"
        )
    if not _is_int(level.wait_minutes) or not (
        MIN_WAIT_MINUTES <= level.wait_minutes <= MAX_WAIT_MINUTES
    ):
        problems.append(
            f"{name} waits {level.wait_minutes!r} minutes: wait {MIN_WAIT_MINUTES} to"
            f" {MAX_WAIT_MINUTES} minutes"
        )
    return problems


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---- walking the steps ----------------------------------------------------------------


def first_step() -> Step:
    return Step(round=0, level=0)


def next_step(policy: EscalationPolicy, step: Step) -> Step | None:
    """The following level, wrapping into the next round while round < repeat; None when
    the policy is exhausted."""
    _check_step(policy, step)
    if step.level + 1 < len(policy.levels):
        return Step(step.round, step.level + 1)
    if step.round < policy.repeat:
        return Step(step.round + 1, 0)
    return None


def deadline(policy: EscalationPolicy, step: Step, paged_at: datetime) -> datetime:
    """When the step's wait runs out (paged_at + that level's wait), in UTC."""
    level = _level_at(policy, step)
    return _utc(paged_at, "paged_at") + timedelta(minutes=level.wait_minutes)


def recipients(
    policy: EscalationPolicy,
    step: Step,
    schedule: Schedule,
    agents: dict[str, Agent],
    at: datetime,
) -> tuple[str, ...]:
    """The agent ids to page at this step, in a stable order; empty when it reaches nobody."""
    target = _level_at(policy, step).target
    if target.kind == TargetKind.SCHEDULE:
        candidates: tuple[str | None, ...] = (on_call_at(schedule, at).agent_id,)
    elif target.kind == TargetKind.AGENT:
        candidates = (target.agent_id,)
    else:
        candidates = tuple(sorted(agents))
    # An agent removed since (from the policy, or the schedule's shift) has no phone to page.
    return tuple(agent_id for agent_id in candidates if agent_id is not None and agent_id in agents)


def next_reachable(
    policy: EscalationPolicy,
    step: Step,
    schedule: Schedule,
    agents: dict[str, Agent],
    at: datetime,
) -> tuple[Step, tuple[str, ...]] | None:
    """`step` and its recipients if it reaches somebody, else the first later step that
    does; None when no step from here on reaches anybody. Ends: each step is visited once."""
    current: Step | None = step
    while current is not None:
        if found := recipients(policy, current, schedule, agents, at):
            return current, found
        current = next_step(policy, current)
    return None


def _level_at(policy: EscalationPolicy, step: Step) -> Level:
    _check_step(policy, step)
    return policy.levels[step.level]


def _check_step(policy: EscalationPolicy, step: Step) -> None:
    if not (0 <= step.level < len(policy.levels) and 0 <= step.round <= policy.repeat):
        raise PolicyError(
            f"step (round {step.round}, level {step.level}) is outside the policy"
            f" ({len(policy.levels)} levels, repeated {policy.repeat} times)"
        )


def _utc(moment: datetime, what: str) -> datetime:
    if moment.utcoffset() is None:
        raise PolicyError(f"{what} {moment.isoformat()} has no time zone (give an aware datetime)")
    return moment.astimezone(UTC)


# ---- documents ------------------------------------------------------------------------


def _level_document(level: Level) -> dict[str, Any]:
    document: dict[str, Any] = {
        "target": level.target.kind.value,
        "wait_minutes": level.wait_minutes,
    }
    if level.target.agent_id is not None:  # DynamoDB documents: no nulls
        document["agent_id"] = level.target.agent_id
    return document


def _level_from_document(document: Any, number: int) -> Level:
    what = f"policy level {number}"
    if not isinstance(document, dict):
        raise PolicyError(f"{what} is {type(document).__name__}, not a map")
    kind = _field(document, "target", str, what)
    if kind not in set(TargetKind):
        raise PolicyError(f"{what} pages {kind!r}, which is not a kind of target")
    agent_id = document.get("agent_id")
    if agent_id is not None and not isinstance(agent_id, str):
        raise PolicyError(f"{what} agent_id is {type(agent_id).__name__}, not text")
    return Level(Target(TargetKind(kind), agent_id), _number_field(document, "wait_minutes", what))


def _field(document: Any, key: str, kind: type, what: str) -> Any:
    if not isinstance(document, dict):
        raise PolicyError(f"{what} document is {type(document).__name__}, not a map")
    if key not in document:
        raise PolicyError(f"{what} document has no {key!r}")
    value = document[key]
    if not isinstance(value, kind):
        raise PolicyError(f"{what} {key!r} is {type(value).__name__}, not {kind.__name__}")
    return value


def _number_field(document: Any, key: str, what: str) -> int:
    """A whole number: an int, or a whole Decimal (as DynamoDB returns numbers)."""
    value = _field(document, key, object, what)
    if _is_int(value):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise PolicyError(f"{what} {key!r} is {value!r}, not a whole number")
