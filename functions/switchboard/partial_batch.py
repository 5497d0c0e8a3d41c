"""SQS and DynamoDB-stream batches where each record succeeds or fails on its own.

The functions' event source mappings set ReportBatchItemFailures: the handler answers
`{"batchItemFailures": [{"itemIdentifier": ...}]}` and Lambda retries only those records
(an SQS message id; for a stream, from the lowest failed sequence number on).

This is the contract powertools' BatchProcessor implements; it is written out here
because importing that processor pulls in asyncio and every event data class, ~20 ms of
each cold start of the router, the senders and the fan-out, for a loop of a few lines.
"""

from __future__ import annotations

from typing import Any, Callable

from switchboard.observability import logger

Record = dict[str, Any]


class EntireBatchFailed(Exception):
    """Every record of the batch failed: raised, so the invocation counts as an error."""


def sqs_message_id(record: Record) -> str:
    return record["messageId"]


def stream_sequence_number(record: Record) -> str:
    return record["dynamodb"]["SequenceNumber"]


def sqs_queue_url(record: Record) -> str:
    """The URL of the queue an SQS record came from, from its eventSourceARN."""
    _, _, _, region, account_id, queue_name = record["eventSourceARN"].split(":", 5)
    return f"https://sqs.{region}.amazonaws.com/{account_id}/{queue_name}"


def process_each(
    event: dict[str, Any],
    handle: Callable[[Record], Any],
    identifier: Callable[[Record], str],
    *,
    raise_when_all_fail: bool = True,
) -> dict[str, list[dict[str, str]]]:
    """Call `handle` on every record in order; the ones that raised are reported failed.

    raise_when_all_fail: a batch whose every record failed raises EntireBatchFailed (the
    function's error metric and alarm see it); without it, each failure is reported as
    usual, which retries exactly the same records.
    """
    records = event.get("Records") or []
    failures = []
    for record in records:
        try:
            handle(record)
        except Exception:
            logger.exception("record failed; it will be retried", extra={"record": identifier(record)})
            failures.append({"itemIdentifier": identifier(record)})
    if raise_when_all_fail and records and len(failures) == len(records):
        raise EntireBatchFailed(f"all {len(records)} records of the batch failed")
    return {"batchItemFailures": failures}
