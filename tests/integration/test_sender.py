"""The outbox's sender on the local stack: each message once, per-record failures, the local outbox."""

from __future__ import annotations

import json
import os
import uuid

import boto3
import pytest

from conftest_helpers import sqs_event, unique_number
from local_stack.invoke import invoke
from local_stack.template import Template
from switchboard.models import Channel, OutboundMessage, OutboundPurpose, utc_now
from switchboard.store.outbox import OutboxStore

pytestmark = pytest.mark.integration


def page(to: str, key: str | None = None, channel: Channel = Channel.SMS) -> OutboundMessage:
    return OutboundMessage(channel, to, f"[7] SMS Jane D: hi {to}", OutboundPurpose.PAGE, key or f"page#{uuid.uuid4()}", page_code="7")


def send(*bodies: str) -> dict:
    return invoke(Template().functions()["SenderFunction"], sqs_event(*bodies))


def outbox(to: str) -> list[dict]:
    return OutboxStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).list_sms(to)


def test_messages_go_to_the_local_outbox_once_even_when_sqs_delivers_them_twice(local):
    agent = unique_number()
    message = page(agent)
    assert send(message.to_json()) == {"batchItemFailures": []}
    assert send(message.to_json(), message.to_json()) == {"batchItemFailures": []}
    (sent,) = outbox(agent)
    assert sent["body"] == message.body


def test_a_bad_record_fails_alone_and_the_rest_of_the_batch_is_sent(local):
    first, second = unique_number(), unique_number()
    event = sqs_event(page(first).to_json(), "{not json", page(second).to_json())
    result = invoke(Template().functions()["SenderFunction"], event)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert len(outbox(first)) == 1 and len(outbox(second)) == 1


def test_an_unsupported_channel_is_recorded_as_failed_not_retried(local):
    message = page("+14155550123", channel=Channel.VOICE)  # we never call customers
    assert send(message.to_json()) == {"batchItemFailures": []}
    assert outbox("+14155550123") == []


def test_the_sample_event_sends_from_local_invoke(local):
    sample = json.loads((Template().path.parent / "events" / "sender.json").read_text())
    assert invoke(Template().functions()["SenderFunction"], sample) == {"batchItemFailures": []}
    to = json.loads(sample["Records"][0]["body"])["to"]
    assert outbox(to)[0]["body"].startswith("[12] SMS Jane D")


TWILIO_ACCOUNT = "AC" + "3" * 32
TWILIO_MESSAGES = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Messages.json"


@pytest.fixture
def twilio_sender(local, monkeypatch):
    """The sender module with SMS_DELIVERY=twilio (its HTTP answered by `responses`),
    reloaded as a cold start would read it; the local stack's own delivery after."""
    import importlib

    from switchboard.settings import get_settings
    import switchboard.handlers.sender as sender_module

    monkeypatch.setenv("SMS_DELIVERY", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", TWILIO_ACCOUNT)
    monkeypatch.setenv("TWILIO_SENDER", "+15005550006")
    get_settings.cache_clear()
    importlib.reload(sender_module)
    try:
        yield sender_module
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        importlib.reload(sender_module)


def refusing_21610():
    import responses

    twilio = responses.RequestsMock()
    twilio.add("POST", TWILIO_MESSAGES, status=400, json={"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400})
    return twilio


def test_through_twilio_an_opted_out_agent_makes_the_page_due_now(local, twilio_sender):
    """A permanent failure is not retried and the page escalates at the next tick; error
    21610 also marks the number opted out."""
    from datetime import datetime, timedelta, timezone

    from conftest_helpers import unique_number as number
    from switchboard.conversations.inbound import record_inbound
    from switchboard.models import Identity, IdentityKind, InboundMessage
    from switchboard.store.pages import Page, PageStatus, PageStore
    from switchboard.store.subscribers import SubscriberStore

    customer = number()
    stored = record_inbound(InboundMessage(Channel.SMS, "test", f"optout-{customer}", Identity(IdentityKind.PHONE, customer), datetime.now(timezone.utc), body="hi"), local.conversations())
    pages = PageStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    pages.open_page(Page(stored.conversation_id, "77", PageStatus.OPEN, datetime.now(timezone.utc), 0, 0, ("ana",), later, {"levels": []}))
    try:
        message = OutboundMessage(Channel.SMS, number(), "[77] SMS x", OutboundPurpose.PAGE, f"page#{uuid.uuid4()}", stored.conversation_id, "ana", "77")
        with refusing_21610():
            assert send(message.to_json()) == {"batchItemFailures": []}  # the reloaded module, as Lambda invokes it
        page = pages.get_page(stored.conversation_id)
        assert page.next_escalation_at < later, "the page must be due now"
        assert SubscriberStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).is_opted_out("sms", message.to)
        assert stored.conversation_id in [p.conversation_id for p in pages.due(datetime.now(timezone.utc) + timedelta(seconds=1))]
    finally:
        pages.settle(stored.conversation_id, PageStatus.RESOLVED, None, datetime.now(timezone.utc))


def test_an_answer_refused_for_good_is_marked_and_its_agent_told_not_sent(local, twilio_sender):
    """The customer texted STOP to our number: Twilio refuses the agent's answer (21610)."""
    from datetime import datetime, timezone

    from conftest_helpers import drain_outbox, run_cli
    from switchboard.conversations.inbound import record_inbound
    from switchboard.models import Identity, IdentityKind, InboundMessage
    from switchboard.oncall.config import add_agent, load_config
    from switchboard.oncall.schedule import Agent
    from switchboard.store.conversations import Route
    from switchboard.store.oncall import OncallStore

    store = OncallStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    agent = Agent(f"dee-{unique_number()[-4:]}", "Dee Moss", unique_number())
    add_agent(store, load_config(store), agent, utc_now())
    customer, now = unique_number(), datetime.now(timezone.utc)
    stored = record_inbound(InboundMessage(Channel.SMS, "test", f"stop-{customer}", Identity(IdentityKind.PHONE, customer), now, body="refund?"), local.conversations())
    answer_id = "01" + uuid.uuid4().hex[:24].upper()
    said = InboundMessage(Channel.SMS, "agent-reply", f"req-{customer}", Identity(IdentityKind.AGENT, agent.agent_id, display_name=agent.name), now, recipient=customer, body="Refunded.")
    local.conversations().append_outbound(said, Route(stored.customer_id, stored.conversation_id), answer_id)
    answer = OutboundMessage(Channel.SMS, customer, "Refunded.", OutboundPurpose.CUSTOMER_REPLY, f"reply#req-{customer}", stored.conversation_id, agent.agent_id, stream_message_id=answer_id)
    drain_outbox()

    with refusing_21610():
        assert send(answer.to_json()) == {"batchItemFailures": []}
    (warning,) = drain_outbox()
    assert (warning["to"], warning["purpose"]) == (agent.phone, "agent_reply")
    assert "Not delivered to" in warning["body"] and "opted out (replied STOP)" in warning["body"]
    (kept,) = [m for m in local.conversations().get_conversation(stored.conversation_id).messages if m.message_id == answer_id]
    assert (kept.delivery_status, kept.delivery_error) == ("failed", "the recipient has opted out (replied STOP)")
    shown = run_cli(["conversations", "show", stored.conversation_id], local.cli_env())
    assert "NOT DELIVERED: the recipient has opted out (replied STOP)" in shown.stdout


def test_a_failed_message_comes_back_later_each_time(local):
    """Retries back off: 30 s after the first failure, doubling, instead of the queue's fixed timeout."""
    sqs, url = boto3.client("sqs"), os.environ["OUTBOX_QUEUE_URL"]
    from conftest_helpers import drain_outbox

    drain_outbox()
    sqs.send_message(QueueUrl=url, MessageBody="{not json")
    (received,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    event = sqs_event(received["Body"])
    record = event["Records"][0]
    record.update({"messageId": received["MessageId"], "receiptHandle": received["ReceiptHandle"]})
    record["attributes"]["ApproximateReceiveCount"] = received["Attributes"]["ApproximateReceiveCount"]
    record["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:OutboxQueue"
    assert send_event(event) == {"batchItemFailures": [{"itemIdentifier": received["MessageId"]}]}
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0).get("Messages", []) == []
    from switchboard.handlers.sender import retry_delay

    assert [retry_delay(n) for n in (1, 2, 3, 6, 20)] == [30, 60, 120, 900, 900]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])  # not back for later tests


def send_event(event: dict) -> dict:
    return invoke(Template().functions()["SenderFunction"], event)


def test_an_sms_twilio_took_is_not_sent_again_when_its_delivery_record_fails(local, twilio_sender):
    import botocore.exceptions
    import responses

    from switchboard.store import clients

    def throttled(params, **_):
        if params.get("Item", {}).get("type", {}).get("S") == "delivery":
            raise botocore.exceptions.ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutItem")

    message = page(unique_number())
    twilio = responses.RequestsMock()
    twilio.add("POST", TWILIO_MESSAGES, status=201, json={"sid": "SM" + "7" * 32, "status": "queued"})
    clients.dynamodb().meta.events.register("provide-client-params.dynamodb.PutItem", throttled)
    try:
        with twilio:
            assert send(message.to_json()) == {"batchItemFailures": []}
            assert send(message.to_json()) == {"batchItemFailures": []}, "SQS delivers it again"
            assert len(twilio.calls) == 1, "Twilio was asked once"
    finally:
        clients.dynamodb().meta.events.unregister("provide-client-params.dynamodb.PutItem", throttled)


def test_a_rotated_twilio_token_is_fetched_afresh_and_the_sms_sent_once(local, twilio_sender):
    """Twilio answers 401 to the token cached before the rotation; the sender reads the
    parameter again and the second try goes through."""
    import base64

    import responses

    from switchboard import settings as settings_module
    from switchboard.settings import get_secret, get_settings

    name = get_settings().twilio_auth_token_parameter
    old = get_secret(name, 300)  # what the warm function has cached
    new = "rotated-" + uuid.uuid4().hex
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=name, Value=new, Type="SecureString", Overwrite=True)
    settings_module._fresh_fetched_at.clear()

    def twilio_answer(request):
        token = base64.b64decode(request.headers["Authorization"].split()[1]).decode().split(":", 1)[1]
        if token != new:
            return 401, {}, '{"code": 20003, "message": "Authenticate", "status": 401}'
        return 201, {}, '{"sid": "SM' + "8" * 32 + '", "status": "queued"}'

    twilio = responses.RequestsMock()
    twilio.add_callback("POST", TWILIO_MESSAGES, callback=twilio_answer, content_type="application/json")
    try:
        with twilio:
            assert send(page(unique_number()).to_json()) == {"batchItemFailures": []}
            assert len(twilio.calls) == 2, "the refused try, then the one with the fresh token"
    finally:
        ssm.put_parameter(Name=name, Value=old, Type="SecureString", Overwrite=True)
        settings_module._fresh_fetched_at.clear()
        get_secret(name, 300, fresh=True)
