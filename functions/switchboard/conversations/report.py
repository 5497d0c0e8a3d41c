"""What a support team lives by, per channel and for the team: how fast we answer (against
the first-response target), how long conversations take to resolve, the follow-ups
promised, and how satisfied customers say they are. Pure: the conversations, the targets and the follow-ups are passed in.

These are the team's numbers: nothing here is per agent.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from switchboard.models import Conversation, ConversationStatus

_SPAN = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TEAM = "team"  # the row over every channel


@dataclass(frozen=True)
class FollowUp:
    """A follow-up an agent promised (`12 LATER`): its conversation's channel, and whether it
    came due and still waits for an answer (overdue) or is still ahead (due)."""

    channel: str
    overdue: bool


@dataclass(frozen=True)
class ChannelFigures:
    channel: str  # or TEAM
    conversations: int  # active in the period
    answered: int  # first answered in the period
    first_response_median_seconds: float | None
    first_response_p90_seconds: float | None
    resolved: int  # resolved in the period
    first_response_target_minutes: int | None  # the channel's target (None for the team row)
    within_target: int  # of `answered`, answered within their channel's target (in business hours)
    within_target_share: float | None  # within_target / answered
    resolution_median_seconds: float | None  # from the conversation's start to its resolution
    follow_ups_due: int  # promised and still ahead
    follow_ups_overdue: int  # came due and nobody answered yet
    satisfaction_asked: int  # customers asked "how did we do?" in the period
    satisfaction_responses: int  # ratings given in the period
    satisfaction_good_share: float | None  # of the ratings, the share of 4 and 5
    satisfaction_mean: float | None  # the mean score, 1 to 5


def parse_since(text: str, now: datetime) -> datetime:
    """ "7d", "24h", "90m", "2w", or an ISO 8601 date/time (UTC unless it says otherwise)."""
    match = _SPAN.fullmatch(text.strip().lower())
    if match:
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r}: use 7d, 24h, 90m, 2w or a date like 2026-11-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


def report(
    conversations: Iterable[Conversation],
    since: datetime,
    target_minutes: Callable[[str], int] = lambda channel: 10,
    follow_ups: Iterable[FollowUp] = (),
    waited_in_hours: Callable[[datetime, datetime], float] | None = None,
) -> list[ChannelFigures]:
    """Figures per channel (the channel of each conversation's latest customer message),
    then the team's row over all of them. `waited_in_hours(start, end)`: the seconds of a
    wait that fell in business hours (the on-call schedule's), which is what a target
    promises; without it the whole wait counts."""
    by_channel: dict[str, list[Conversation]] = {}
    for conversation in conversations:
        by_channel.setdefault(conversation.channel.value, []).append(conversation)
    promised: dict[str, list[FollowUp]] = {}
    for follow_up in follow_ups:
        promised.setdefault(follow_up.channel, []).append(follow_up)
    rows = [
        _figures(channel, by_channel.get(channel, []), since, target_minutes, promised.get(channel, []), True, waited_in_hours)
        for channel in sorted(set(by_channel) | set(promised))
    ]
    if rows:
        everything = [c for group in by_channel.values() for c in group]
        rows.append(_figures(TEAM, everything, since, target_minutes, [f for group in promised.values() for f in group], False, waited_in_hours))
    return rows


def _figures(
    channel: str, group: list[Conversation], since: datetime, target_minutes: Callable[[str], int],
    follow_ups: list[FollowUp], per_channel: bool, waited_in_hours: Callable[[datetime, datetime], float] | None,
) -> ChannelFigures:
    answered = [c for c in group if c.first_response_seconds is not None and c.first_response_at and c.first_response_at >= since]
    waits = sorted(c.first_response_seconds for c in answered)  # type: ignore[misc]
    within = sum(1 for c in answered if _counted_wait(c, waited_in_hours) <= target_minutes(c.channel.value) * 60)
    resolved = [c for c in group if c.status is ConversationStatus.RESOLVED and c.resolved_at and c.resolved_at >= since]
    resolutions = sorted((c.resolved_at - c.created_at).total_seconds() for c in resolved)  # type: ignore[operator]
    scores = [c.rating.score for c in group if c.rating and c.rating.at >= since]
    return ChannelFigures(
        channel=channel,
        conversations=len(group),
        answered=len(answered),
        first_response_median_seconds=statistics.median(waits) if waits else None,
        first_response_p90_seconds=_percentile(waits, 0.9) if waits else None,
        resolved=len(resolved),
        first_response_target_minutes=target_minutes(channel) if per_channel else None,
        within_target=within,
        within_target_share=within / len(answered) if answered else None,
        resolution_median_seconds=statistics.median(resolutions) if resolutions else None,
        follow_ups_due=sum(1 for f in follow_ups if not f.overdue),
        follow_ups_overdue=sum(1 for f in follow_ups if f.overdue),
        satisfaction_asked=sum(1 for c in group if c.surveyed_at and c.surveyed_at >= since),
        satisfaction_responses=len(scores),
        satisfaction_good_share=sum(1 for score in scores if score >= 4) / len(scores) if scores else None,
        satisfaction_mean=statistics.fmean(scores) if scores else None,
    )


def _counted_wait(conversation: Conversation, waited_in_hours: Callable[[datetime, datetime], float] | None) -> float:
    waited = float(conversation.first_response_seconds or 0)
    if waited_in_hours is None or conversation.first_response_at is None:
        return waited
    answered = conversation.first_response_at
    return waited_in_hours(answered - timedelta(seconds=waited), answered)


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that occurred, never an interpolation."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
