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
from switchboard.store.pages import Page, PageStatus, PageStore

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
        codes = list(pool.map(store.code_for, conversations))
        same = list(pool.map(store.code_for, [conversations[0]] * 6))
    assert len(set(codes)) == 8 and all(code.isdigit() for code in codes)
    assert set(same) == {codes[0]}
    assert store.code_for(conversations[3]) == codes[3]
    assert store.conversation_for_code(codes[5]) == conversations[5]
    assert store.conversation_for_code("999999999") is None


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
