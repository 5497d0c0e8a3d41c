"""Storm control for one agent's pager, pure: a page now, or a place in the next digest.

The rules
- When several conversations need an answer within a bundling window (default 2
  minutes), the agent gets one digest SMS listing them, not one SMS each: the first page
  goes out at once and opens a window; pages during the window wait in `pending`; when
  the window ends, `flush` sends them as one digest and opens a new window, so a storm
  yields at most one digest per window.
- A per-agent cap (default 5 SMS, pages and digests alike, per 15 minutes) turns further
  pages into a digest sent when the cap frees up (or when the window ends, if later).
  "Per 15 minutes" means any 15 minutes: no half-open period [t, t + cap_period) ever
  holds more than `cap` SMS.
- Every conversation is delivered exactly once, by a page or in a digest; a conversation
  already pending is not added twice (a retried delivery).
- A note for the agent ("12 answered by Ana Lima", `on_note`) never goes alone at once:
  it waits in `notes` for the window's end (now, when no window is open) and goes with
  the digest, or alone in its place; the same note is kept once.

One flush chain per agent
The caller schedules a call to `flush` (an SQS delay, say) whenever a Decision or a Flush
returns `flush_at`, and saves the state. Exactly one flush is on its way while a window
is set (`window_ends_at` is not None), and none while it is None:
- `on_page` returns `flush_at` only when it opens a window where none was set. When it
  moves the end of a set window (a new window over an expired one, or later for the cap),
  the flush already on its way arrives early and re-arms itself for the new end: so no
  second flush is scheduled, and none piles up during a storm.
- `flush` returns the next `flush_at` while a window stays set, and None when it closes
  the window (nothing pending at its end): the chain ends.
- A flush far overdue (more than FLUSH_PRESUMED_LOST_AFTER past the window's end) is
  presumed lost (the caller saved the state but never scheduled it): the next page starts
  a new chain, so nothing waits forever. A duplicate flush is harmless: `flush` is
  idempotent (twice at the same instant sends at most one digest).
Schedule the flush before saving the state when you can: a flush whose state was never
saved finds nothing to do; a saved state whose flush was never scheduled waits for the
next page to notice.

No AWS and no clock: instants are parameters, aware datetimes; every instant this module
returns is in UTC. `PagerState` is stored as a document of str and list only (no nulls,
datetimes as ISO 8601 with their offset), and `from_document(to_document())` gives back
an equal state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

UTC = timezone.utc
# A flush due this long ago and still not run was never scheduled (or its message died):
# SQS delivers delayed messages within seconds of their time even under load.
FLUSH_PRESUMED_LOST_AFTER = timedelta(minutes=5)


class BundlingError(ValueError):
    """Settings, an instant or a stored document that cannot be used; the message says why."""


@dataclass(frozen=True)
class BundlingSettings:
    window: timedelta = timedelta(minutes=2)
    cap: int = 5  # SMS per agent per cap_period
    cap_period: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.window < timedelta(0):
            raise BundlingError(f"the bundling window cannot be negative ({self.window})")
        if self.cap < 1:
            raise BundlingError(f"the SMS cap must allow at least 1 SMS, not {self.cap}")
        if self.cap_period <= timedelta(0):
            raise BundlingError(f"the cap's period must be positive, not {self.cap_period}")


@dataclass(frozen=True)
class PagerState:
    """One per agent."""

    window_ends_at: datetime | None = None  # a bundling window is open until then
    pending: tuple[str, ...] = ()  # conversation ids for the digest: arrival order, no duplicates
    sent_at: tuple[datetime, ...] = ()  # SMS to this agent within the last cap_period
    notes: tuple[str, ...] = ()  # for the next digest: "12 answered by Ana Lima"; no duplicates

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "pending": list(self.pending),
            "sent_at": [_text(moment) for moment in self.sent_at],
        }
        if self.notes:  # absent in documents written before notes existed
            document["notes"] = list(self.notes)
        if self.window_ends_at is not None:  # DynamoDB documents: no nulls
            document["window_ends_at"] = _text(self.window_ends_at)
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> PagerState:
        if not isinstance(document, dict):
            raise BundlingError(f"a pager state is a map, not {type(document).__name__}")
        window_ends_at = document.get("window_ends_at")
        return cls(
            window_ends_at=None if window_ends_at is None else _instant(window_ends_at),
            pending=tuple(_text_list(document, "pending")),
            sent_at=tuple(_instant(text) for text in _text_list(document, "sent_at")),
            notes=tuple(_text_list(document, "notes")),
        )


class Action(StrEnum):
    SEND_PAGE = "send_page"  # page this conversation now
    BUNDLE = "bundle"  # it waits for the digest


@dataclass(frozen=True)
class Decision:
    action: Action
    state: PagerState
    # Schedule a call to flush() then; None: one is on its way already, or none is needed.
    flush_at: datetime | None


@dataclass(frozen=True)
class Flush:
    send_digest: tuple[str, ...] | None  # the conversations one digest SMS lists; None: send none
    state: PagerState
    flush_at: datetime | None  # schedule the next call to flush() then; None: the chain ends
    send_notes: tuple[str, ...] = ()  # notes the same SMS carries (with the digest, or alone)


# ---- a conversation needs an answer ---------------------------------------------------


def on_page(
    state: PagerState, conversation_id: str, now: datetime, settings: BundlingSettings
) -> Decision:
    now = _utc(now)
    state = _recent_sends_only(state, now, settings)
    if conversation_id in state.pending:
        return Decision(Action.BUNDLE, state, None)  # a retried delivery: it already waits
    if _at_cap(state, settings):
        return _hold_for_cap(state, conversation_id, now, settings)
    if state.pending or _window_open(state, now):
        # An expired window with conversations pending: its flush is due and takes this one too.
        return _bundle(state, conversation_id, now)
    return _send_page(state, now, settings)


def _send_page(state: PagerState, now: datetime, settings: BundlingSettings) -> Decision:
    ends = now + settings.window  # pages right after this one are bundled
    paged = replace(state, window_ends_at=ends, sent_at=(*state.sent_at, now))
    return Decision(Action.SEND_PAGE, paged, _new_chain_at(state, now, ends))


def _bundle(state: PagerState, conversation_id: str, now: datetime) -> Decision:
    pending = (*state.pending, conversation_id)
    if _flush_on_its_way(state, now):
        return Decision(Action.BUNDLE, replace(state, pending=pending), None)
    # No flush is coming (its message was lost): one is due now.
    return Decision(Action.BUNDLE, replace(state, pending=pending, window_ends_at=now), now)


def _hold_for_cap(
    state: PagerState, conversation_id: str, now: datetime, settings: BundlingSettings
) -> Decision:
    frees_at = _cap_frees_at(state, settings)
    ends = frees_at if state.window_ends_at is None else max(state.window_ends_at, frees_at)
    held = replace(state, window_ends_at=ends, pending=(*state.pending, conversation_id))
    return Decision(Action.BUNDLE, held, _new_chain_at(state, now, ends))


def _new_chain_at(state: PagerState, now: datetime, due: datetime) -> datetime | None:
    """`due` when a flush must be scheduled for it; None when one is on its way already
    (arriving early, it re-arms itself for the window's new end)."""
    return None if _flush_on_its_way(state, now) else due


def on_note(state: PagerState, note: str, now: datetime) -> Decision:
    """Keep a note for the agent's next digest: at the open window's end, or at once (the
    next flush) when none is open. Never an SMS of its own right now: notes bundle."""
    now = _utc(now)
    if note in state.notes:
        return Decision(Action.BUNDLE, state, None)  # a retried answer: it waits already
    noted = replace(state, notes=(*state.notes, note))
    if _flush_on_its_way(state, now):
        return Decision(Action.BUNDLE, noted, None)
    return Decision(Action.BUNDLE, replace(noted, window_ends_at=now), now)


# ---- the scheduled flush --------------------------------------------------------------


def flush(state: PagerState, now: datetime, settings: BundlingSettings) -> Flush:
    """Called at or after a `flush_at`: the digest to send, if any, and the next flush."""
    now = _utc(now)
    state = _recent_sends_only(state, now, settings)
    if _window_open(state, now):
        return Flush(None, state, state.window_ends_at)  # early: the window was moved on
    if not state.pending and not state.notes:
        return Flush(None, replace(state, window_ends_at=None), None)  # quiet: the chain ends
    if _at_cap(state, settings):
        frees_at = _cap_frees_at(state, settings)
        return Flush(None, replace(state, window_ends_at=frees_at), frees_at)
    ends = now + settings.window  # a storm keeps producing at most one digest per window
    sent = PagerState(window_ends_at=ends, pending=(), sent_at=(*state.sent_at, now))
    return Flush(state.pending or None, sent, ends, state.notes)


# ---- the window and the cap -----------------------------------------------------------


def _window_open(state: PagerState, now: datetime) -> bool:
    return state.window_ends_at is not None and now < state.window_ends_at


def _flush_on_its_way(state: PagerState, now: datetime) -> bool:
    return (
        state.window_ends_at is not None
        and now < state.window_ends_at + FLUSH_PRESUMED_LOST_AFTER
    )


def _recent_sends_only(state: PagerState, now: datetime, settings: BundlingSettings) -> PagerState:
    """Forget the sends that no longer count against the cap: those a full period ago."""
    recent = tuple(moment for moment in state.sent_at if moment > now - settings.cap_period)
    return state if recent == state.sent_at else replace(state, sent_at=recent)


def _at_cap(state: PagerState, settings: BundlingSettings) -> bool:
    return len(state.sent_at) >= settings.cap


def _cap_frees_at(state: PagerState, settings: BundlingSettings) -> datetime:
    """When the oldest send that counts leaves the period, and one more SMS may go."""
    return min(state.sent_at) + settings.cap_period


# ---- instants and documents -----------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise BundlingError(f"instant {moment!r} has no time zone (give an aware datetime)")
    return moment.astimezone(UTC)


def _text(moment: datetime) -> str:
    return _utc(moment).isoformat()  # full precision, so the round trip is exact


def _instant(text: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise BundlingError(f"{text!r} is not an ISO 8601 instant") from None
    return _utc(moment)


def _text_list(document: dict[str, Any], key: str) -> list[str]:
    values = document.get(key, [])
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise BundlingError(f"pager state {key!r} must be a list of text, not {values!r}")
    return values
