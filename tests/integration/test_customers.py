"""One customer across channels: identities resolve to customers, and `customers link` merges them."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from itertools import count

import boto3
import pytest

from conftest_helpers import run_cli, unique_number
from switchboard.conversations.customers import LinkError, link_customers
from switchboard.conversations.inbound import record_inbound
from switchboard.models import Channel, Identity, IdentityKind, InboundMessage
from switchboard.store.customers import CustomerStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
_ids = count(1)


def message(sender: Identity, body: str, minutes: int, channel: Channel | None = None) -> InboundMessage:
    channel = channel or {IdentityKind.PHONE: Channel.SMS, IdentityKind.X: Channel.X, IdentityKind.EMAIL: Channel.EMAIL}[sender.kind]
    return InboundMessage(
        channel=channel,
        provider="test",
        provider_id=f"merge-{os.getpid()}-{next(_ids)}",
        sender=sender,
        received_at=T0 + timedelta(minutes=minutes),
        body=body,
    )


def unique_x() -> Identity:
    return Identity(IdentityKind.X, str(10**15 + next(_ids) + os.getpid() * 1000), display_name="Jane Doe", handle=f"jane{next(_ids)}")


def stores(local):
    return CustomerStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]), local.conversations()


def test_link_merges_two_customers_into_one_time_ordered_stream_and_routes_later_messages(local):
    customers, conversations = stores(local)
    phone = Identity(IdentityKind.PHONE, unique_number())
    x_user = unique_x()
    a = record_inbound(message(phone, "sms one", 0), conversations)
    b = record_inbound(message(x_user, "mention two", 5), conversations)
    record_inbound(message(phone, "sms three", 10), conversations)
    record_inbound(message(x_user, "mention four", 15), conversations)
    assert a.new_customer and b.new_customer and a.customer_id != b.customer_id

    env = local.cli_env()
    linked = run_cli(["customers", "link", phone.value, f"x:{x_user.value}", "--json"], env)
    assert linked.returncode == 0, linked.stderr
    result = json.loads(linked.stdout)
    assert result == {"survivor_id": a.customer_id, "absorbed_id": b.customer_id, "messages_moved": 2, "already_linked": False}

    merged = conversations.get_conversation(a.conversation_id)
    assert [m.body for m in merged.messages] == ["sms one", "mention two", "sms three", "mention four"]
    assert {m.customer_id for m in merged.messages} == {a.customer_id}
    assert merged.message_count == 4
    assert merged.last_activity_at == T0 + timedelta(minutes=15)
    assert merged.waiting_since == T0
    # The absorbed conversation forwards and leaves the listing; nothing is left in it.
    old = conversations.get_conversation(b.conversation_id)
    assert old.merged_into == a.conversation_id and old.messages == ()
    listed = {c.conversation_id for c in conversations.list_conversations(limit=1000)}
    assert a.conversation_id in listed and b.conversation_id not in listed

    # Later messages on either identity land in the one stream.
    later = record_inbound(message(x_user, "mention five", 20), conversations)
    assert (later.customer_id, later.conversation_id, later.new_customer) == (a.customer_id, a.conversation_id, False)

    shown = run_cli(["customers", "show", b.customer_id, "--json"], env)  # the absorbed id leads to the survivor
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["customer_id"] == a.customer_id
    assert {(i["kind"], i["value"]) for i in document["identities"]} == {("phone", phone.value), ("x", x_user.value)}
    assert next(i for i in document["identities"] if i["kind"] == "x")["handle"] == x_user.handle
    assert [c["conversation_id"] for c in document["conversations"]] == [a.conversation_id]
    assert document["conversations"][0]["message_count"] == 5

    # Linking again changes nothing.
    again = run_cli(["customers", "link", b.customer_id, a.customer_id, "--json"], env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_linked"] is True
    assert len(conversations.get_conversation(a.conversation_id).messages) == 5

    table = run_cli(["customers", "show", phone.value], env)
    assert table.returncode == 0 and a.conversation_id in table.stdout and x_user.value in table.stdout


def test_an_interrupted_merge_is_finished_by_running_the_link_again(local):
    customers, conversations = stores(local)
    phone, x_user = Identity(IdentityKind.PHONE, unique_number()), unique_x()
    a = record_inbound(message(phone, "first", 0), conversations)
    b = record_inbound(message(x_user, "second", 1), conversations)
    record_inbound(message(x_user, "third", 2), conversations)
    survivor, absorbed = customers.get_customer(a.customer_id), customers.get_customer(b.customer_id)

    # The first run stops after re-pointing the identities and moving one message.
    from switchboard.store.conversations import Route
    from switchboard.store import keys

    target = Route(a.customer_id, a.conversation_id)
    assert customers.mark_merging(b.customer_id, a.customer_id, T0)
    customers.adopt(a.customer_id, absorbed.identities, absorbed.conversation_ids)
    for identity in absorbed.identities:
        customers.point_identity(identity, target)
    customers.close_conversation_into(b.conversation_id, target)
    first = next(conversations.query_partition(keys.conversation_pk(b.conversation_id), keys.MESSAGE_PREFIX))
    assert customers.move_message(first, target)
    assert not customers.move_message(first, target), "a moved message must not move twice"

    # A message arriving meanwhile on the absorbed identity is not lost.
    meanwhile = record_inbound(message(x_user, "meanwhile", 3), conversations)
    assert meanwhile.conversation_id == a.conversation_id

    # The x identity already leads to A; linking by it still finishes the merge.
    result = link_customers(customers, conversations, survivor.customer_id, x_user, T0)
    assert result.already_linked
    merged = conversations.get_conversation(a.conversation_id)
    assert [m.body for m in merged.messages] == ["first", "second", "third", "meanwhile"]
    assert merged.message_count == 4
    assert customers.get_customer(b.customer_id).merge_completed_at is not None
    assert customers.get_customer(a.customer_id).merges_pending == ()


def test_a_message_racing_a_merge_follows_the_closed_conversation(local):
    customers, conversations = stores(local)
    phone, x_user = Identity(IdentityKind.PHONE, unique_number()), unique_x()
    a = record_inbound(message(phone, "a", 0), conversations)
    b = record_inbound(message(x_user, "b", 1), conversations)
    from switchboard.store.conversations import Route

    # Closed but the identity not re-pointed yet: the append fails there and follows merged_into.
    customers.close_conversation_into(b.conversation_id, Route(a.customer_id, a.conversation_id))
    raced = record_inbound(message(x_user, "raced", 2), conversations)
    assert raced.conversation_id == a.conversation_id
    assert [m.body for m in conversations.get_conversation(a.conversation_id).messages] == ["a", "raced"]


def test_concurrent_links_and_messages_lose_nothing(local):
    customers, conversations = stores(local)
    phone, x_user = Identity(IdentityKind.PHONE, unique_number()), unique_x()
    a = record_inbound(message(phone, "m0", 0), conversations)
    record_inbound(message(x_user, "m1", 1), conversations)
    bodies = [f"m{i}" for i in range(2, 12)]

    def send(i_body):
        i, body = i_body
        return record_inbound(message(x_user if i % 2 else phone, body, 2 + i), conversations)

    def link(_):
        try:
            return link_customers(customers, conversations, phone, x_user, T0)
        except LinkError as error:
            return error

    with ThreadPoolExecutor(6) as pool:
        sends = pool.map(send, enumerate(bodies))
        links = [pool.submit(link, n) for n in range(2)]
        results = list(sends)
    for future in links:
        future.result()
    link_customers(customers, conversations, phone, x_user, T0)  # settles anything still pending
    assert all(not r.duplicate for r in results)
    stream = conversations.get_conversation(a.conversation_id)
    assert sorted(m.body for m in stream.messages) == sorted(["m0", "m1", *bodies])
    assert stream.message_count == len(stream.messages)


def test_unknown_references_are_clear_errors(local):
    env = local.cli_env()
    missing = run_cli(["customers", "show", "+14155550199"], env)
    assert missing.returncode == 3 and "no customer has the phone identity +14155550199" in missing.stderr
    handle = run_cli(["customers", "link", "@jane", "+14155550199"], env)
    assert handle.returncode == 2 and "x:<numeric user id>" in handle.stderr
    nonsense = run_cli(["customers", "show", "not a thing"], env)
    assert nonsense.returncode == 2 and "is not a customer id" in nonsense.stderr


def test_a_merge_never_pages_about_the_messages_it_moves(local):
    """Each moved message is a new item on the table's stream; the router's own
    FilterCriteria (template.yaml) must let none of them through, and a new one through."""
    import boto3

    from local_stack.event_filter import compile_filter_criteria
    from local_stack.template import Template
    from switchboard.store import keys

    customers, conversations = stores(local)
    phone, x_user = Identity(IdentityKind.PHONE, unique_number()), unique_x()
    a = record_inbound(message(phone, "sms one", 0), conversations)
    b = record_inbound(message(x_user, "mention two", 5), conversations)
    assert run_cli(["customers", "link", phone.value, f"x:{x_user.value}"], local.cli_env()).returncode == 0

    (router_source,) = Template().functions()["RouterFunction"].events_of_type("DynamoDB").values()
    router_filter = compile_filter_criteria(router_source["FilterCriteria"])
    items = boto3.client("dynamodb").query(
        TableName=os.environ["TABLE_NAME"], KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
        ExpressionAttributeValues={":pk": {"S": keys.conversation_pk(a.conversation_id)}, ":m": {"S": keys.MESSAGE_PREFIX}},
    )["Items"]
    record = lambda item: {"eventName": "INSERT", "dynamodb": {"NewImage": item}}  # noqa: E731
    moved = [item for item in items if item["body"]["S"] == "mention two"]
    assert moved and moved[0]["moved_from"]["S"] == b.conversation_id
    assert not router_filter.matches(record(moved[0])), "a moved message must not page"
    original = next(item for item in items if item["body"]["S"] == "sms one")
    assert router_filter.matches(record(original)), "the filter still lets a customer's own message through"
