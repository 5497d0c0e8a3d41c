"""Each record of an SQS or stream batch succeeds or fails on its own (switchboard/partial_batch.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from switchboard.partial_batch import EntireBatchFailed, process_each, sqs_message_id, sqs_queue_url, stream_sequence_number

EVENTS = Path(__file__).resolve().parents[2] / "events"


def stream_event(*sequence_numbers: str) -> dict:
    return {"Records": [{"eventName": "INSERT", "dynamodb": {"SequenceNumber": n, "NewImage": {"n": {"S": n}}}} for n in sequence_numbers]}


def test_only_the_records_that_raised_are_reported_in_order_and_every_record_is_tried():
    seen = []

    def handle(record):
        seen.append(record["dynamodb"]["SequenceNumber"])
        if record["dynamodb"]["SequenceNumber"] in ("200", "400"):
            raise RuntimeError("store down")

    result = process_each(stream_event("100", "200", "300", "400"), handle, stream_sequence_number)

    assert result == {"batchItemFailures": [{"itemIdentifier": "200"}, {"itemIdentifier": "400"}]}
    assert seen == ["100", "200", "300", "400"]


def test_a_batch_that_all_failed_raises_unless_asked_to_report_each():
    def fail(record):
        raise RuntimeError("nope")

    with pytest.raises(EntireBatchFailed, match="all 2 records"):
        process_each(stream_event("1", "2"), fail, stream_sequence_number)
    reported = process_each(stream_event("1", "2"), fail, stream_sequence_number, raise_when_all_fail=False)
    assert reported == {"batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]}


def test_an_empty_batch_succeeds():
    assert process_each({"Records": []}, lambda record: None, sqs_message_id) == {"batchItemFailures": []}


def test_the_sample_sqs_event_names_its_message_and_queue():
    event = json.loads((EVENTS / "sender.json").read_text())
    record = event["Records"][0]  # arn:aws:sqs:us-east-1:123456789012:OutboxQueue
    assert sqs_message_id(record) == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert sqs_queue_url(record) == "https://sqs.us-east-1.amazonaws.com/123456789012/OutboxQueue"
