"""Storm control for one agent's pager: a page now, or a line in the next digest.

Pure: no AWS, no clock. `run` below plays the part of the router and the scheduler:
it feeds pages to `on_page` in time order and calls `flush` at every `flush_at` it is
given, the way an SQS delay would, and records every SMS that would go out.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.oncall.bundling import (
    FLUSH_PRESUMED_LOST_AFTER,
    Action,
    BundlingError,
    BundlingSettings,
    PagerState,
    flush,
    on_page,
)

UTC = timezone.utc
T0 = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
DEFAULTS = BundlingSettings()
MINUTE = timedelta(minutes=1)


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


# ---- the scheduler and the router, played by the test --------------------------------


@dataclass
class Run:
    sms: list[tuple[datetime, tuple[str, ...]]] = field(default_factory=list)  # (when, listed)
    state: PagerState = PagerState()
    most_flushes_waiting: int = 0

    @property
    def delivered(self) -> Counter:
        return Counter(cid for _, listed in self.sms for cid in listed)

    def most_sms_in_any(self, period: timedelta) -> int:
        """The most SMS in a half-open period [t, t + period): it is enough to start t at a send."""
        times = [when for when, _ in self.sms]
        return max((sum(start <= t < start + period for t in times) for start in times), default=0)


def run(
    arrivals: list[tuple[datetime, str]],
    bundling: BundlingSettings = DEFAULTS,
    flush_first_on_ties: bool = True,
) -> Run:
    """Pages in time order; a flush at every flush_at, in time order, until quiet."""
    result = Run()
    flushes: list[datetime] = []  # a heap of scheduled flush times
    pages = sorted(arrivals)
    next_page = 0

    def schedule(when: datetime | None, now: datetime) -> None:
        if when is not None:
            assert when >= now, "a flush is never scheduled in the past"
            heapq.heappush(flushes, when)

    for _ in range(100_000):  # a generous bound: the test fails rather than hang
        if next_page == len(pages) and not flushes:
            return result
        page_due = pages[next_page][0] if next_page < len(pages) else None
        flush_due = flushes[0] if flushes else None
        if flush_due is not None and (
            page_due is None
            or flush_due < page_due
            or (flush_due == page_due and flush_first_on_ties)
        ):
            now = heapq.heappop(flushes)
            outcome = flush(result.state, now, bundling)
            result.state = outcome.state
            if outcome.send_digest:
                result.sms.append((now, outcome.send_digest))
            schedule(outcome.flush_at, now)
        else:
            now, conversation_id = pages[next_page]
            next_page += 1
            decision = on_page(result.state, conversation_id, now, bundling)
            result.state = decision.state
            if decision.action == Action.SEND_PAGE:
                result.sms.append((now, (conversation_id,)))
            schedule(decision.flush_at, now)
        result.most_flushes_waiting = max(result.most_flushes_waiting, len(flushes))
    raise AssertionError("the flush chain never ended")


# ---- settings -------------------------------------------------------------------------


def test_the_defaults():
    assert DEFAULTS == BundlingSettings(timedelta(minutes=2), 5, timedelta(minutes=15))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"window": -MINUTE}, "cannot be negative"),
        ({"cap": 0}, "at least 1 SMS"),
        ({"cap_period": timedelta(0)}, "must be positive"),
    ],
)
def test_settings_that_cannot_work_are_refused(changes, message):
    with pytest.raises(BundlingError, match=message):
        BundlingSettings(**changes)


# ---- on_page --------------------------------------------------------------------------


def test_the_first_page_goes_out_and_opens_a_window():
    decision = on_page(PagerState(), "c1", at(0), DEFAULTS)
    assert decision.action == Action.SEND_PAGE
    assert decision.state == PagerState(window_ends_at=at(2), pending=(), sent_at=(at(0),))
    assert decision.flush_at == at(2)  # a flush closes the window, or sends what came in it


def test_pages_during_the_window_wait_in_arrival_order():
    state = on_page(PagerState(), "c1", at(0), DEFAULTS).state
    second = on_page(state, "c2", at(0, 30), DEFAULTS)
    third = on_page(second.state, "c3", at(1), DEFAULTS)
    assert (second.action, third.action) == (Action.BUNDLE, Action.BUNDLE)
    assert third.state.pending == ("c2", "c3")
    assert third.state.window_ends_at == at(2)  # bundling does not move the window
    assert second.flush_at is None and third.flush_at is None  # the window's flush is on its way


def test_a_conversation_already_pending_is_not_added_twice():
    state = on_page(PagerState(), "c1", at(0), DEFAULTS).state
    state = on_page(state, "c2", at(0, 10), DEFAULTS).state
    again = on_page(state, "c2", at(0, 20), DEFAULTS)
    assert again.action == Action.BUNDLE
    assert again.state.pending == ("c2",)
    assert again.flush_at is None


def test_at_the_cap_a_page_waits_until_the_cap_frees_up_when_that_is_later():
    two = BundlingSettings(cap=2)
    sent = PagerState(window_ends_at=at(3), sent_at=(at(0), at(1)))
    decision = on_page(sent, "c3", at(2), two)
    assert decision.action == Action.BUNDLE
    assert decision.state.pending == ("c3",)
    assert decision.state.window_ends_at == at(15)  # the send at 0 stops counting at 15
    # The window's flush (due at 3) is on its way: arriving early, it re-arms for 15.
    assert decision.flush_at is None
    early = flush(decision.state, at(3), two)
    assert (early.send_digest, early.flush_at) == (None, at(15))


def test_at_the_cap_a_page_waits_for_the_window_when_that_is_later():
    two = BundlingSettings(cap=2)
    # Sent at 0 and at 14 (a digest, which opened a window until 16).
    sent = PagerState(window_ends_at=at(16), sent_at=(at(0), at(14)))
    decision = on_page(sent, "c3", at(14, 30), two)
    assert decision.action == Action.BUNDLE
    assert decision.state.window_ends_at == at(16)  # the cap frees at 15, the window ends later


def test_at_the_cap_with_no_window_a_page_opens_one_until_the_cap_frees():
    two = BundlingSettings(cap=2)
    decision = on_page(PagerState(sent_at=(at(0), at(5))), "c3", at(8), two)
    assert decision.action == Action.BUNDLE
    assert decision.state == PagerState(
        window_ends_at=at(15), pending=("c3",), sent_at=(at(0), at(5))
    )
    assert decision.flush_at == at(15)  # no flush was on its way: this starts one


def test_sends_older_than_the_cap_period_stop_counting():
    two = BundlingSettings(cap=2)
    state = PagerState(sent_at=(at(0), at(5)))
    exactly_a_period_later = on_page(state, "c3", at(15), two)
    assert exactly_a_period_later.action == Action.SEND_PAGE
    assert exactly_a_period_later.state.sent_at == (at(5), at(15))
    just_before = on_page(state, "c3", at(15) - timedelta(microseconds=1), two)
    assert just_before.action == Action.BUNDLE


def test_a_page_after_the_window_ends_but_before_its_flush_goes_out_without_a_second_flush():
    state = on_page(PagerState(), "c1", at(0), DEFAULTS).state  # flush due at 2
    late = on_page(state, "c2", at(2, 5), DEFAULTS)  # the flush is a few seconds late
    assert late.action == Action.SEND_PAGE
    assert late.state.window_ends_at == at(4, 5)
    assert late.flush_at is None  # the late flush arrives early for this window and re-arms
    arrives = flush(late.state, at(2, 6), DEFAULTS)
    assert (arrives.send_digest, arrives.flush_at) == (None, at(4, 5))


def test_a_page_after_the_window_ends_joins_what_is_pending_for_the_late_flush():
    state = on_page(PagerState(), "c1", at(0), DEFAULTS).state
    state = on_page(state, "c2", at(1), DEFAULTS).state
    late = on_page(state, "c3", at(2, 5), DEFAULTS)
    assert late.action == Action.BUNDLE
    assert late.state.pending == ("c2", "c3")
    assert late.flush_at is None
    assert flush(late.state, at(2, 6), DEFAULTS).send_digest == ("c2", "c3")


def test_a_flush_presumed_lost_is_replaced_by_the_next_page():
    state = PagerState(window_ends_at=at(2), pending=("c2",), sent_at=(at(0),))
    still_coming = at(2) + FLUSH_PRESUMED_LOST_AFTER - timedelta(seconds=1)
    assert on_page(state, "c3", still_coming, DEFAULTS).flush_at is None
    lost = at(2) + FLUSH_PRESUMED_LOST_AFTER
    decision = on_page(state, "c3", lost, DEFAULTS)
    assert decision.action == Action.BUNDLE
    assert decision.flush_at == lost
    assert flush(decision.state, lost, DEFAULTS).send_digest == ("c2", "c3")


def test_a_quiet_pager_whose_window_was_never_closed_pages_and_starts_a_new_chain():
    stale = PagerState(window_ends_at=at(2), sent_at=(at(0),))
    decision = on_page(stale, "c9", at(60), DEFAULTS)
    assert decision.action == Action.SEND_PAGE
    assert decision.flush_at == at(62)
    assert decision.state.sent_at == (at(60),)


def test_instants_must_be_aware_and_come_back_in_utc():
    with pytest.raises(BundlingError, match="no time zone"):
        on_page(PagerState(), "c1", datetime(2026, 3, 3, 14), DEFAULTS)
    berlin = datetime(2026, 3, 3, 15, tzinfo=ZoneInfo("Europe/Berlin"))
    decision = on_page(PagerState(), "c1", berlin, DEFAULTS)
    assert decision.state.sent_at[0].tzinfo is UTC
    assert decision.flush_at == at(2) and decision.flush_at.tzinfo is UTC


# ---- flush ----------------------------------------------------------------------------


def test_flush_sends_everything_pending_as_one_digest_and_opens_a_new_window():
    state = PagerState(window_ends_at=at(2), pending=("c2", "c3", "c4"), sent_at=(at(0),))
    outcome = flush(state, at(2), DEFAULTS)
    assert outcome.send_digest == ("c2", "c3", "c4")
    assert outcome.state == PagerState(window_ends_at=at(4), pending=(), sent_at=(at(0), at(2)))
    assert outcome.flush_at == at(4)


def test_flush_with_nothing_pending_closes_the_window_and_ends_the_chain():
    outcome = flush(PagerState(window_ends_at=at(2), sent_at=(at(0),)), at(2), DEFAULTS)
    assert outcome.send_digest is None
    assert outcome.state == PagerState(window_ends_at=None, sent_at=(at(0),))
    assert outcome.flush_at is None


def test_flush_at_the_cap_sends_nothing_and_comes_back_when_the_cap_frees():
    two = BundlingSettings(cap=2)
    state = PagerState(window_ends_at=at(6), pending=("c3",), sent_at=(at(0), at(4)))
    outcome = flush(state, at(6), two)
    assert outcome.send_digest is None
    assert outcome.state.pending == ("c3",)
    assert outcome.state.window_ends_at == outcome.flush_at == at(15)
    assert flush(outcome.state, at(15), two).send_digest == ("c3",)


def test_flush_called_early_does_nothing_and_asks_again_for_the_windows_end():
    state = PagerState(window_ends_at=at(2), pending=("c2",), sent_at=(at(0),))
    outcome = flush(state, at(1), DEFAULTS)
    assert outcome.send_digest is None
    assert outcome.state == state
    assert outcome.flush_at == at(2)


@pytest.mark.parametrize("window", [timedelta(0), timedelta(minutes=2)])
def test_flush_twice_at_the_same_instant_sends_one_digest(window):
    bundling = BundlingSettings(window=window)
    state = PagerState(window_ends_at=at(2), pending=("c2", "c3"), sent_at=(at(0),))
    first = flush(state, at(2), bundling)
    second = flush(first.state, at(2), bundling)
    assert first.send_digest == ("c2", "c3")
    assert second.send_digest is None
    assert second.state.pending == ()


def test_a_state_with_pending_but_no_window_is_flushed_at_once():
    assert flush(PagerState(pending=("c1",)), at(0), DEFAULTS).send_digest == ("c1",)


# ---- documents ------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
states = st.builds(
    PagerState,
    window_ends_at=st.none() | instants,
    pending=st.lists(st.text(min_size=1, max_size=30), unique=True, max_size=20).map(tuple),
    sent_at=st.lists(instants, max_size=10).map(tuple),
)


@given(states)
def test_pager_state_documents_round_trip_exactly(state):
    document = state.to_document()
    assert set(document) <= {"window_ends_at", "pending", "sent_at"}
    assert all(isinstance(value, (str, list)) for value in document.values())
    assert all(isinstance(text, str) for key in ("pending", "sent_at") for text in document[key])
    assert PagerState.from_document(document) == state
    assert PagerState.from_document(document).to_document() == document


def test_a_pager_state_document_keeps_the_offset():
    state = PagerState(
        window_ends_at=datetime(2026, 3, 3, 15, 2, 0, 123456, tzinfo=ZoneInfo("Europe/Berlin")),
        pending=("c1",),
        sent_at=(at(0),),
    )
    assert state.to_document() == {
        "window_ends_at": "2026-03-03T14:02:00.123456+00:00",
        "pending": ["c1"],
        "sent_at": ["2026-03-03T14:00:00+00:00"],
    }
    assert PagerState.from_document(state.to_document()) == state
    assert PagerState.from_document({}) == PagerState()


@pytest.mark.parametrize(
    "document, message",
    [
        ([], "is a map"),
        ({"pending": "c1"}, "'pending' must be a list of text"),
        ({"sent_at": [1]}, "'sent_at' must be a list of text"),
        ({"sent_at": ["yesterday"]}, "not an ISO 8601 instant"),
        ({"window_ends_at": "2026-03-03T14:00:00"}, "no time zone"),
    ],
)
def test_a_broken_pager_state_document_says_what_is_wrong(document, message):
    with pytest.raises(BundlingError, match=message):
        PagerState.from_document(document)


# ---- storms ---------------------------------------------------------------------------


def test_a_thousand_messages_in_a_minute_make_a_handful_of_sms():
    arrivals = [(at(0, seconds=60 * n / 1000), f"c{n}") for n in range(1000)]
    result = run(arrivals)
    print(f"\n1,000 conversations in 60 s: {len(result.sms)} SMS")
    assert len(result.sms) <= 10
    assert result.delivered == Counter(cid for _, cid in arrivals)  # each exactly once
    assert result.state.pending == () and result.state.window_ends_at is None
    assert result.most_flushes_waiting == 1


def test_a_page_a_minute_for_twenty_minutes_never_breaks_the_cap():
    arrivals = [(at(n), f"c{n}") for n in range(20)]
    result = run(arrivals)
    print(f"\n20 conversations at 1/min: {len(result.sms)} SMS at minutes "
          f"{[(when - T0) / MINUTE for when, _ in result.sms]}")
    assert result.most_sms_in_any(DEFAULTS.cap_period) <= DEFAULTS.cap
    assert result.delivered == Counter(cid for _, cid in arrivals)
    assert result.state.pending == ()
    assert result.most_flushes_waiting == 1


def test_a_quiet_pager_pages_each_conversation_on_its_own():
    arrivals = [(at(10 * n), f"c{n}") for n in range(5)]  # further apart than the window
    result = run(arrivals)
    assert [listed for _, listed in result.sms] == [(cid,) for _, cid in arrivals]


@settings(max_examples=300, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 300_000), max_size=200),  # milliseconds between pages
    window_seconds=st.sampled_from([0, 1, 30, 120, 300]),
    cap=st.integers(1, 6),
    cap_period_minutes=st.sampled_from([1, 5, 15, 30]),
    flush_first_on_ties=st.booleans(),
)
def test_every_storm_is_delivered_once_within_the_cap_and_ends_quiet(
    gaps, window_seconds, cap, cap_period_minutes, flush_first_on_ties
):
    bundling = BundlingSettings(
        timedelta(seconds=window_seconds), cap, timedelta(minutes=cap_period_minutes)
    )
    arrivals, now = [], T0
    for n, gap in enumerate(gaps):
        now += timedelta(milliseconds=gap)
        arrivals.append((now, f"c{n}"))
    result = run(arrivals, bundling, flush_first_on_ties)
    assert result.delivered == Counter(cid for _, cid in arrivals)  # every one, exactly once
    assert result.most_sms_in_any(bundling.cap_period) <= cap
    # After the last arrival the flush chain ran out with nothing left waiting.
    assert result.state.pending == () and result.state.window_ends_at is None
    assert result.most_flushes_waiting <= 1  # one flush chain per agent, never a pile


# ---- notes: "12 answered by Ana Lima" ----------------------------------------------------


def test_a_note_with_no_window_open_goes_at_the_next_flush_alone():
    from switchboard.oncall.bundling import on_note

    decision = on_note(PagerState(), "12 answered by Ana Lima", at(0))
    assert decision.action is Action.BUNDLE and decision.flush_at == at(0), "never an SMS of its own right now"
    sent = flush(decision.state, at(0), DEFAULTS)
    assert (sent.send_digest, sent.send_notes) == (None, ("12 answered by Ana Lima",))
    assert sent.state.notes == () and sent.state.sent_at == (at(0),), "it counts against the cap"


def test_a_note_during_a_window_waits_for_its_digest_and_is_kept_once():
    from switchboard.oncall.bundling import on_note

    paged = on_page(PagerState(), "c1", at(0), DEFAULTS)  # a page opens a 2-minute window
    bundled = on_page(paged.state, "c2", at(0, 30), DEFAULTS)
    noted = on_note(bundled.state, "12 answered by Ana Lima", at(1))
    again = on_note(noted.state, "12 answered by Ana Lima", at(1, 10))  # a retried answer
    assert (noted.flush_at, again.flush_at) == (None, None), "the window's flush is on its way"
    assert again.state.notes == ("12 answered by Ana Lima",)
    assert flush(again.state, at(1, 30), DEFAULTS).send_digest is None, "early: the window is open"
    sent = flush(again.state, at(2), DEFAULTS)
    assert (sent.send_digest, sent.send_notes) == (("c2",), ("12 answered by Ana Lima",))


def test_notes_survive_the_stored_document_and_old_documents_have_none():
    from switchboard.oncall.bundling import on_note

    state = on_note(PagerState(), "12 resolved by Ben Okafor", at(0)).state
    assert PagerState.from_document(state.to_document()) == state
    assert PagerState.from_document({"pending": [], "sent_at": []}).notes == ()


def test_who_hears_that_a_conversation_was_answered():
    from switchboard.oncall.answered import agents_to_tell
    from switchboard.store.pages import Page

    page = Page("c", "12", "answered", at(0), 0, 1, ("ben",), None, {},
                paged_at={"ana": at(0), "ben": at(10), "cho": at(-61)})
    assert agents_to_tell(page, "ben", at(60)) == ["ana"], "not the one who answered, nor one paged over an hour ago"
    assert agents_to_tell(page, "ana", at(60, 1)) == ["ben"]


def test_a_digest_with_notes_puts_them_first_within_its_segments():
    from switchboard.oncall.pages import PageItem, digest_text, segments

    notes = ("12 answered by Ana Lima", "14 resolved by Ben Okafor")
    assert digest_text([], notes=notes) == "Switchboard: 12 answered by Ana Lima. 14 resolved by Ben Okafor."
    both = digest_text([PageItem("33", "sms", "Jane Doe", "my invoice is wrong")], notes=notes[:1])
    assert both.startswith("Switchboard: 12 answered by Ana Lima. 1 needs an answer. [33] SMS Jane Doe")
    many = digest_text([], notes=tuple(f"{n} answered by Ana Lima" for n in range(100)))
    assert segments(many) <= 3 and many.endswith(" more.")
