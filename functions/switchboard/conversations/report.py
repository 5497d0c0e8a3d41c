"""The two numbers a support team lives by, per channel: first-response time and conversations resolved."""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from switchboard.models import Conversation

_SPAN = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    conversations: int  # active in the period
    answered: int  # first answered in the period
    first_response_median_seconds: float | None
    first_response_p90_seconds: float | None
    resolved: int  # resolved in the period


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


def report(conversations: Iterable[Conversation], since: datetime) -> list[ChannelFigures]:
    """Figures per channel (the channel of each conversation's latest customer message)."""
    by_channel: dict[str, list[Conversation]] = {}
    for conversation in conversations:
        by_channel.setdefault(conversation.channel.value, []).append(conversation)
    figures = []
    for channel, group in sorted(by_channel.items()):
        waits = sorted(
            c.first_response_seconds
            for c in group
            if c.first_response_seconds is not None and c.first_response_at and c.first_response_at >= since
        )
        resolved = sum(1 for c in group if c.status.value == "resolved" and c.resolved_at and c.resolved_at >= since)
        figures.append(
            ChannelFigures(
                channel=channel,
                conversations=len(group),
                answered=len(waits),
                first_response_median_seconds=statistics.median(waits) if waits else None,
                first_response_p90_seconds=_percentile(waits, 0.9) if waits else None,
                resolved=resolved,
            )
        )
    return figures


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that occurred, never an interpolation."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
