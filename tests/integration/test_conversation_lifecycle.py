"""A resolved conversation reopens; after the idle period a new one starts in the same customer's stream."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from itertools import count

import boto3
import pytest

from conftest_helpers import unique_number
from switchboard.conversations.customers import link_customers
from switchboard.conversations.inbound import record_inbound
from switchboard.models import Channel, Identity, IdentityKind, InboundMessage
from switchboard.store.customers import CustomerStore

pytestmark = pytest.mark.integration

IDLE = timedelta(days=7)
T0 = datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc)
_ids = count(1)


def sms(sender: Identity, body: str, at: datetime) -> InboundMessage:
    return InboundMessage(Channel.SMS, "test", f"life-{os.getpid()}-{next(_ids)}", sender, at, body=body)


def phone() -> Identity:
    return Identity(IdentityKind.PHONE, unique_number())


def test_a_resolved_conversation_reopens_within_the_idle_period(local):
    store, customer = local.conversations(), phone()
    first = record_inbound(sms(customer, "hello", T0), store, IDLE)
    store.resolve_conversation(first.conversation_id, T0 + timedelta(hours=1))
    again = record_inbound(sms(customer, "one more thing", T0 + timedelta(days=6)), store, IDLE)
    assert again.conversation_id == first.conversation_id and not again.new_conversation
    assert store.get_conversation(first.conversation_id).status.value == "waiting_on_us"


def test_after_the_idle_period_a_new_conversation_starts_in_the_same_stream(local):
    store, customer = local.conversations(), phone()
    first = record_inbound(sms(customer, "hello", T0), store, IDLE)
    store.resolve_conversation(first.conversation_id, T0 + timedelta(hours=1))
    later = record_inbound(sms(customer, "new problem", T0 + timedelta(days=9)), store, IDLE)
    assert later.new_conversation and later.customer_id == first.customer_id
    assert later.conversation_id != first.conversation_id
    followup = record_inbound(sms(customer, "details", T0 + timedelta(days=9, minutes=5)), store, IDLE)
    assert followup.conversation_id == later.conversation_id and not followup.new_conversation
    old, new = store.get_conversation(first.conversation_id), store.get_conversation(later.conversation_id)
    assert old.status.value == "resolved" and [m.body for m in old.messages] == ["hello"]
    assert [m.body for m in new.messages] == ["new problem", "details"] and new.status.value == "waiting_on_us"
    customer_item = CustomerStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).get_customer(first.customer_id)
    assert customer_item.current_conversation_id == later.conversation_id
    assert set(customer_item.conversation_ids) == {first.conversation_id, later.conversation_id}


def test_another_identity_of_the_customer_follows_to_the_new_conversation(local):
    store = local.conversations()
    customers = CustomerStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    mobile, desk = phone(), phone()
    a = record_inbound(sms(mobile, "from my mobile", T0), store, IDLE)
    record_inbound(sms(desk, "from my desk phone", T0 + timedelta(minutes=1)), store, IDLE)
    link_customers(customers, store, mobile, desk, T0)
    store.resolve_conversation(a.conversation_id, T0 + timedelta(hours=1))
    fresh = record_inbound(sms(mobile, "back again", T0 + timedelta(days=30)), store, IDLE)
    assert fresh.new_conversation
    # The desk identity still points at the old conversation; its message joins the new one.
    via_desk = record_inbound(sms(desk, "and from the desk", T0 + timedelta(days=30, minutes=2)), store, IDLE)
    assert via_desk.conversation_id == fresh.conversation_id and not via_desk.new_conversation
    assert store.find_identity(desk, consistent=True).conversation_id == fresh.conversation_id


def test_messages_racing_after_the_idle_period_start_one_conversation(local):
    store, customer = local.conversations(), phone()
    first = record_inbound(sms(customer, "hello", T0), store, IDLE)
    store.resolve_conversation(first.conversation_id, T0 + timedelta(hours=1))
    at = T0 + timedelta(days=20)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda n: record_inbound(sms(customer, f"burst {n}", at + timedelta(seconds=n)), store, IDLE), range(6)))
    assert len({r.conversation_id for r in results}) == 1 and sum(r.new_conversation for r in results) == 1
    assert store.get_conversation(results[0].conversation_id).message_count == 6
