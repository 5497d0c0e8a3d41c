"""Pages in DynamoDB Local: short codes, one live page per conversation, the due index, idempotent escalation."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from conftest_helpers import unique_number
from switchboard.conversations.inbound import record_inbound
from switchboard.models import Channel, Identity, IdentityKind, InboundMessage
from switchboard.store.pages import CODE_REST, DRAWS_PER_LENGTH, Page, PageStatus, PageStore

pytestmark = pytest.mark.integration

# Far in the past, so these pages are due before anything other tests open "now".
T0 = datetime(2001, 1, 1, 12, 0, tzinfo=timezone.utc)


def pages() -> PageStore:
    return PageStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])


@pytest.fixture(autouse=True)
def resolve_leftover_pages(local):
    """These pages are due since 2001: take them out of the due index for later tests."""
    yield
    store = pages()
    for leftover in list(store.due(T0 + timedelta(days=2))):
        store.settle(leftover.conversation_id, PageStatus.RESOLVED, None, T0)


def new_conversation(local) -> str:
    number = unique_number()
    message = InboundMessage(Channel.SMS, "test", f"page-{number}", Identity(IdentityKind.PHONE, number), datetime.now(timezone.utc), body="help")
    return record_inbound(message, local.conversations()).conversation_id


def page(conversation_id: str, code: str, due: datetime | None, status: str = PageStatus.OPEN) -> Page:
    return Page(conversation_id, code, status, T0, 0, 0, ("ana",), due, {"levels": []})


def test_short_codes_are_unique_and_stable_under_concurrency(local):
    store = pages()
    conversations = [new_conversation(local) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda conversation: store.code_for(conversation, T0), conversations))
        same = list(pool.map(lambda conversation: store.code_for(conversation, T0), [conversations[0]] * 6))
    assert len(set(codes)) == 8 and all(code.isdigit() and len(code) >= 4 for code in codes)
    assert set(same) == {codes[0]}
    assert store.code_for(conversations[3], T0) == codes[3]
    assert store.conversation_for_code(codes[5]) == conversations[5]
    assert store.conversation_for_code("999999999") is None


def test_short_codes_are_drawn_at_random_not_counted(local):
    """Knowing one code tells nothing of the next: 12 fresh codes are not a run."""
    store = pages()
    codes = sorted(int(store.code_for(new_conversation(local), T0)) for _ in range(12))
    assert all(1000 <= code <= 999_999 for code in codes)
    gaps = [later - earlier for earlier, later in zip(codes, codes[1:])]
    assert max(gaps) > 1, f"consecutive codes {codes}"  # chance of a random run: below 1e-40


class Draws:
    """Stands in for the `secrets` module in switchboard.store.pages: the draws we choose."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)

    def randbelow(self, bound: int) -> int:
        code = self.codes.pop(0)
        return code - 10 ** (len(str(code)) - 1)  # code_for adds the length's smallest code back


def free_codes(store: PageStore, count: int, digits: int = 4) -> list[str]:
    """Codes no conversation holds now (other tests lease random ones from the same table)."""
    import random

    found: list[str] = []
    while len(found) < count:
        code = str(random.randrange(10 ** (digits - 1), 10**digits))
        if code not in found and store.conversation_for_code(code) is None:
            found.append(code)
    return found


def test_a_code_is_never_reused_while_its_conversation_holds_it_and_rests_after_it_is_resolved(local, monkeypatch):
    import switchboard.store.pages as pages_module

    store = pages()
    first, second, third, fourth, fifth = free_codes(store, 5)
    holder, rival, later_rival, newcomer = (new_conversation(local) for _ in range(4))
    monkeypatch.setattr(pages_module, "secrets", Draws(int(first)))
    assert store.code_for(holder, T0) == first
    # Drawn again while held: the rival gets the next draw.
    monkeypatch.setattr(pages_module, "secrets", Draws(int(first), int(second)))
    assert store.code_for(rival, T0) == second
    # Resolved: the code still names the holder while it rests.
    assert store.release_code(holder, T0)
    monkeypatch.setattr(pages_module, "secrets", Draws(int(first), int(third)))
    assert store.code_for(later_rival, T0 + CODE_REST - timedelta(minutes=1)) == third
    assert store.conversation_for_code(first) == holder
    # Rested: a new conversation may have it, and the holder no longer shows it.
    monkeypatch.setattr(pages_module, "secrets", Draws(int(first)))
    assert store.code_for(newcomer, T0 + CODE_REST) == first
    assert store.conversation_for_code(first) == newcomer
    assert local.conversations().get_summary(holder).short_code is None
    # The holder writes again: it gets a code of its own, never the newcomer's.
    monkeypatch.setattr(pages_module, "secrets", Draws(int(first), int(fourth)))
    assert store.code_for(holder, T0 + CODE_REST + timedelta(days=1)) == fourth
    # A conversation reopened before its code is re-leased keeps it, and holds it again.
    assert store.release_code(rival, T0)
    assert store.code_for(rival, T0 + timedelta(days=1)) == second
    monkeypatch.setattr(pages_module, "secrets", Draws(int(second), int(fifth)))
    assert store.code_for(new_conversation(local), T0 + timedelta(days=30)) == fifth


def test_a_crowded_length_moves_on_to_longer_codes(local, monkeypatch):
    import switchboard.store.pages as pages_module

    store = pages()
    (taken,) = free_codes(store, 1)
    monkeypatch.setattr(pages_module, "secrets", Draws(int(taken)))
    store.code_for(new_conversation(local), T0)
    (longer,) = map(int, free_codes(store, 1, digits=5))
    monkeypatch.setattr(pages_module, "secrets", Draws(*[int(taken)] * DRAWS_PER_LENGTH, longer))
    assert store.code_for(new_conversation(local), T0) == str(longer)


def test_one_live_page_per_conversation_until_it_is_answered(local):
    store = pages()
    conversation = new_conversation(local)
    assert store.open_page(page(conversation, "7", T0 + timedelta(minutes=5)))
    assert not store.open_page(page(conversation, "7", T0 + timedelta(minutes=6))), "a second message must not page again"
    assert store.settle(conversation, PageStatus.ACKED, "ana", T0)
    assert not store.open_page(page(conversation, "7", T0)), "an acked page is still live"
    assert store.settle(conversation, PageStatus.ANSWERED, "ana", T0)
    assert not store.settle(conversation, PageStatus.ACKED, "ben", T0), "an answered page cannot be acked"
    assert store.open_page(page(conversation, "7", T0 + timedelta(minutes=9))), "a customer message after our answer pages again"
    assert store.get_page(conversation).next_escalation_at == T0 + timedelta(minutes=9)


def test_a_conversation_is_covered_while_a_delivered_page_is_live(local):
    """What lets the router answer most messages with one read (oncall/router.py)."""
    store = pages()
    conversation = new_conversation(local)
    assert not store.covered(conversation), "no page yet"
    assert store.open_page(page(conversation, "8", T0 + timedelta(minutes=5)))
    assert not store.covered(conversation), "opened but never handed to its agents: deliver it"
    store.mark_delivered(conversation, T0)
    assert store.covered(conversation)
    assert store.settle(conversation, PageStatus.ACKED, "ana", T0)
    assert store.covered(conversation), "an acked page is still live"
    assert store.settle(conversation, PageStatus.ANSWERED, "ana", T0)
    assert not store.covered(conversation), "after our answer a message pages again"


def test_the_due_index_lists_open_pages_whose_time_has_come_oldest_first(local):
    store = pages()
    late, early, future, acked = (new_conversation(local) for _ in range(4))
    store.open_page(page(late, "1", T0 + timedelta(minutes=3)))
    store.open_page(page(early, "2", T0 + timedelta(minutes=1)))
    store.open_page(page(future, "3", T0 + timedelta(days=1)))
    store.open_page(page(acked, "4", T0 + timedelta(minutes=2)))
    store.settle(acked, PageStatus.ACKED, "ana", T0)
    due = [p.conversation_id for p in store.due(T0 + timedelta(minutes=5))]
    assert due[:2] == [early, late] and future not in due and acked not in due


def test_two_ticks_at_once_move_a_page_one_step_exactly_once(local):
    store = pages()
    conversation = new_conversation(local)
    store.open_page(page(conversation, "9", T0))
    read = store.get_page(conversation)

    def tick(_):
        return store.escalate(read, 0, 1, ("ben",), T0 + timedelta(minutes=10))

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(tick, range(4)))
    assert results.count(True) == 1
    moved = store.get_page(conversation)
    assert (moved.level, moved.recipients, moved.next_escalation_at) == (1, ("ben",), T0 + timedelta(minutes=10))
    # Exhausted: the page fails and leaves the due index.
    assert store.escalate(moved, 0, 2, (), None)
    assert store.get_page(conversation).status == PageStatus.FAILED
    assert conversation not in [p.conversation_id for p in store.due(T0 + timedelta(days=365))]


def test_a_conversation_that_does_not_exist_gets_no_code(local):
    with pytest.raises(LookupError, match="no conversation"):
        pages().code_for("01NOSUCHCONVERSATION000000", T0)
