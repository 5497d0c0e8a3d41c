"""A warm SMS webhook remembers its customers' routes and skips the read, yet every message
lands where a read would have sent it: the write checks the identity item itself.

The gateway runs the function in this process, so its memory (handlers/sms_webhook.py's
known_senders) lasts across these requests as a warm Lambda instance's does; what another
instance would do is done here directly on the table.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from conftest_helpers import run_cli, unique_number
from switchboard.channels.sms import normalize_sms
from switchboard.conversations.inbound import record_inbound
from switchboard.models import utc_now
from switchboard.oncall.config import add_agent, load_config
from switchboard.oncall.schedule import Agent
from switchboard.store import clients
from switchboard.store.oncall import OncallStore

pytestmark = pytest.mark.integration


def stored_in(local, form) -> str:
    found = local.conversations().find_claim("twilio", form["MessageSid"])
    assert found is not None, f"{form['MessageSid']} was not stored"
    return found[0].conversation_id


class DynamoDBCalls:
    """The operations the function's own DynamoDB client makes while counting."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def __enter__(self) -> "DynamoDBCalls":
        clients.dynamodb().meta.events.register("before-call.dynamodb", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        clients.dynamodb().meta.events.unregister("before-call.dynamodb", self._record)

    def _record(self, model, **_) -> None:
        self.operations.append(model.name)


def test_a_known_customers_next_message_is_one_transaction_and_no_read(local, sms_form):
    first = sms_form(body="my invoice is wrong")
    assert local.post_sms(first).status_code == 200
    again = sms_form(first["From"], "still wrong")
    with DynamoDBCalls() as calls:
        assert local.post_sms(again).status_code == 200
    assert calls.operations == ["TransactWriteItems"]
    assert stored_in(local, again) == stored_in(local, first)

    # Forgotten (a cold instance): a read first, and the same conversation.
    from switchboard.handlers import sms_webhook

    sms_webhook.known_senders.forget(normalize_sms(first, received_at=datetime.now(timezone.utc), default_region="US").sender)
    third = sms_form(first["From"], "hello?")
    with DynamoDBCalls() as calls:
        assert local.post_sms(third).status_code == 200
    assert calls.operations == ["GetItem", "TransactWriteItems"]
    assert stored_in(local, third) == stored_in(local, first)


def test_a_conversation_another_instance_started_is_never_missed(local, sms_form):
    first = sms_form(body="my invoice is wrong")
    assert local.post_sms(first).status_code == 200
    old = stored_in(local, first)
    now = datetime.now(timezone.utc)
    store = local.conversations()
    assert store.resolve_conversation(old, now)
    # Another instance, past the idle period, starts a new conversation for this number.
    idle = timedelta(days=7)
    later = sms_form(first["From"], "a new problem")
    elsewhere = record_inbound(normalize_sms(later, received_at=now + idle + timedelta(days=1), default_region="US"), store, idle)
    assert elsewhere.new_conversation and elsewhere.conversation_id != old

    # This instance still remembers `old`, which would reopen; the write refuses it.
    next_one = sms_form(first["From"], "any news?")
    with DynamoDBCalls() as calls:
        assert local.post_sms(next_one).status_code == 200
    assert stored_in(local, next_one) == elsewhere.conversation_id
    assert calls.operations == ["TransactWriteItems", "GetItem", "TransactWriteItems"]
    assert store.get_conversation(old).status.value == "resolved"


def test_a_link_since_sends_the_next_message_to_the_surviving_customer(local, sms_form):
    survivor_form, absorbed_form = sms_form(body="first number"), sms_form(body="second number")
    for form in (survivor_form, absorbed_form):
        assert local.post_sms(form).status_code == 200
    linked = run_cli(["customers", "link", survivor_form["From"], absorbed_form["From"], "--json"], local.cli_env())
    assert linked.returncode == 0, linked.stderr

    next_one = sms_form(absorbed_form["From"], "from the second number again")
    assert local.post_sms(next_one).status_code == 200
    assert stored_in(local, next_one) == stored_in(local, survivor_form)


def test_a_number_that_becomes_an_agents_phone_is_a_command_at_once(local, sms_form):
    first = sms_form(body="hello, I am a customer for now")
    assert local.post_sms(first).status_code == 200
    store = OncallStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    add_agent(store, load_config(store), Agent(f"agent-{unique_number()[-4:]}", "Bo Chen", first["From"]), utc_now())

    response = local.post_sms(sms_form(first["From"], "HELP"))
    assert response.status_code == 200
    answer = ElementTree.fromstring(response.text).find("Message").text
    assert answer.startswith("Switchboard:"), answer  # the agents' help, not a customer's keyword
