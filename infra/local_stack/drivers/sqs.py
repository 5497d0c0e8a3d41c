"""SQS queues (`Type: SQS`) → the function, as Lambda polls them.

BatchSize (10); FilterCriteria (messages no filter matches are deleted, as Lambda
does); ReportBatchItemFailures (only the listed messages fail); a function error fails
the whole batch. Messages that succeed are deleted; failed ones reappear after the
queue's visibility timeout and the queue's RedrivePolicy moves them to its DLQ (moto
implements redrive). Like AWS, a queue whose VisibilityTimeout is below the function's
Timeout is refused. Locally one poller per queue (ScalingConfig's concurrency is 1);
MaximumBatchingWindowInSeconds is not waited for: a batch is what one receive (or, for
BatchSize > 10, successive receives) returns.
"""

from __future__ import annotations

from typing import Any

from local_stack.drivers.lambda_json import base64_text
from local_stack.drivers.properties import resolved, response_types, truthy
from local_stack.drivers.runner import Call, ClientFactory, DriverError, FunctionRunner, reported_failures
from local_stack.event_filter import compile_filter_criteria, sqs_filter_view
from local_stack.template import REGION, FunctionSpec, Resolver, queue_name_from_arn

SQS_WAIT_SECONDS = 1  # long poll per receive; also how long stop() may wait for a poller


# The message system attributes Lambda passes on in a record's "attributes".
_SQS_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
    "SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader", "DeadLetterQueueSourceArn",
)


class QueueSource:
    """One `Type: SQS` event: receive, invoke, delete what succeeded."""

    kind = "sqs"

    def __init__(self, spec: FunctionSpec, event_name: str, properties: dict[str, Any], resolver: Resolver, runner: FunctionRunner) -> None:
        self.function = spec
        self.event_name = event_name
        self.runner = runner
        self.queue_arn = resolved(resolver, properties, "Queue")
        self.queue_name = queue_name_from_arn(self.queue_arn)
        self.label = f"sqs {self.queue_name}"
        self.batch_size = int(resolved(resolver, properties, "BatchSize", 10))
        self.filter = compile_filter_criteria(resolved(resolver, properties, "FilterCriteria"))
        self.report_item_failures = "ReportBatchItemFailures" in response_types(resolver, properties)
        self.enabled = truthy(resolved(resolver, properties, "Enabled", True))
        self.queue_url = ""

    def describe(self) -> str:
        details = [f"batch {self.batch_size}"]
        if len(self.filter):
            details.append(f"{len(self.filter)} filter{'s' if len(self.filter) > 1 else ''}")
        if self.report_item_failures:
            details.append("ReportBatchItemFailures")
        return f"{self.label} → {self.function.logical_id} ({', '.join(details)}){'' if self.enabled else ' DISABLED'}"

    def connect(self, client: ClientFactory) -> None:
        self._sqs = client("sqs")
        self.queue_url = self._sqs.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
        attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]
        visibility = int(attributes["VisibilityTimeout"])
        if visibility < self.function.timeout:
            # Lambda refuses this mapping: a slow invocation would see its messages delivered twice.
            raise DriverError(
                f"{self.describe()}: the queue's VisibilityTimeout ({visibility} s) is less than "
                f"the function's Timeout ({self.function.timeout} s); AWS refuses this event source"
            )

    def poll(self, wait_seconds: int) -> bool:
        """Receive one batch and deliver it. True when there were messages."""
        messages = self._receive(wait_seconds)
        if not messages:
            return False
        records = [self._lambda_record(message) for message in messages]
        matched = [self.filter.matches(sqs_filter_view(record)) for record in records]
        self._delete([record for record, match in zip(records, matched) if not match])  # as Lambda does
        matching = [record for record, match in zip(records, matched) if match]
        if matching:
            self._deliver(matching)
        return True

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        # One receive returns at most 10; only a larger BatchSize gathers more. (A second
        # receive would also count again against messages a 0 s visibility left visible.)
        batch: dict[str, dict[str, Any]] = {}
        while len(batch) < self.batch_size:
            received = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(batch)),
                WaitTimeSeconds=wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [message for message in received if message["MessageId"] not in batch]
            batch.update((message["MessageId"], message) for message in fresh)
            if not fresh or self.batch_size <= 10:
                break
            wait_seconds = 0
        return list(batch.values())

    def _lambda_record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {name: attributes[name] for name in _SQS_RECORD_ATTRIBUTES if name in attributes},
            "messageAttributes": {name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        call = self.runner.call(self.function, {"Records": records})
        ids = [record["messageId"] for record in records]
        failed = self._failed_ids(ids, call)
        self.runner.report(self.label, self.function, call, len(records), "message", len(failed))
        # Failed messages stay: they reappear after the visibility timeout, and the
        # queue's RedrivePolicy moves them to its dead-letter queue in the end.
        self._delete([record for record in records if record["messageId"] not in failed])

    def _failed_ids(self, ids: list[str], call: Call) -> set[str]:
        if call.error:
            return set(ids)
        if not self.report_item_failures:
            return set()
        failures = reported_failures(call.result, ids)
        return set(ids) if failures is None else set(failures)

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            entries = [{"Id": str(i), "ReceiptHandle": record["receiptHandle"]} for i, record in enumerate(records[start:start + 10])]
            failed = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries).get("Failed", [])
            if failed:
                self.runner.note(f"{self.label}: {len(failed)} deletes failed ({failed[0].get('Message')}): those messages will come again")


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """boto3's MessageAttributes entry → Lambda's camelCase shape (binaries base64)."""
    attribute: dict[str, Any] = {
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [base64_text(item) for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64_text(value["BinaryValue"])
    return attribute
