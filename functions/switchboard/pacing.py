"""Sending at a configured rate: at most N messages in any one-second window, per channel.

Every sender of a channel takes the next free send time from one shared cursor (a
DynamoDB item, store/pacer.py), waits until then, and sends. Send times are spaced a
little more than 1/N apart, and a send that starts more than `LATE_TOLERANCE` after its
time gives its turn up and takes a new one: so however the senders are scheduled, the
sends of any one-second window (sliding, not only clock-aligned) number at most N.

Why the margin: send k starts in [t_k, t_k + late] and send k+N at t_k + N·gap or
later. They are at least N·gap - late apart, which is a full second when
N·gap - late ≥ 1, that is gap ≥ (1 + late) / N. The gap is (1 + 50 ms) / N (an
effective rate of N / 1.05) and a send may be at most 40 ms late: the 10 ms between
keep the bound strict through the clocks' rounding (a property test found the equality).
"""

from __future__ import annotations

from dataclasses import dataclass

# The slack in each gap (seconds), and how late after its slot a send may still start
# (later ones take a new slot): less than the slack, so the bound above holds strictly.
MARGIN = 0.05
LATE_TOLERANCE = 0.04


def gap(rate_per_second: float) -> float:
    """Seconds between two sends of a channel sending at `rate_per_second`."""
    if rate_per_second <= 0:
        raise ValueError("a send rate must be above zero")
    return (1 + MARGIN) / rate_per_second


@dataclass(frozen=True)
class Slot:
    send_at: float  # epoch seconds: start the send at or after this
    next_free: float  # the cursor's new value


def next_slot(next_free: float | None, now: float, rate_per_second: float) -> Slot:
    """The earliest send time at or after `now` that keeps the rate."""
    send_at = max(now, next_free or 0.0)
    return Slot(send_at, send_at + gap(rate_per_second))


def still_on_time(slot: Slot, now: float) -> bool:
    """Whether a send starting `now` keeps its slot's promise."""
    return now <= slot.send_at + LATE_TOLERANCE


def schedule(count: int, rate_per_second: float, start: float = 0.0) -> list[float]:
    """The send times of `count` messages queued at once: what the rate implies."""
    step = gap(rate_per_second)
    return [start + index * step for index in range(count)]


def busiest_window(send_times: list[float], window: float = 1.0) -> int:
    """The most sends in any `window`-second interval [t, t + window)."""
    ordered = sorted(send_times)
    most = 0
    first = 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most
