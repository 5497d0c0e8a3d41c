"""The outbox's sender on the local stack: each message once, per-record failures, the local outbox."""

from __future__ import annotations

import json
import os
import uuid

import boto3
import pytest

from conftest_helpers import unique_number
from local_stack.invoke import invoke
from local_stack.template import Template
from switchboard.models import Channel, OutboundMessage, OutboundPurpose
from switchboard.store.outbox import OutboxStore

pytestmark = pytest.mark.integration


def sqs_event(*bodies: str) -> dict:
    """What Lambda's SQS event source hands the function."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795417200000", "SenderId": "AIDA", "ApproximateFirstReceiveTimestamp": "1795417200000"},
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:OutboxQueue",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


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
    message = page("someone@customer.example", channel=Channel.EMAIL)
    assert send(message.to_json()) == {"batchItemFailures": []}
    assert outbox("someone@customer.example") == []


def test_the_sample_event_sends_from_local_invoke(local):
    sample = json.loads((Template().path.parent / "events" / "sender.json").read_text())
    assert invoke(Template().functions()["SenderFunction"], sample) == {"batchItemFailures": []}
    to = json.loads(sample["Records"][0]["body"])["to"]
    assert outbox(to)[0]["body"].startswith("[12] SMS Jane D")
