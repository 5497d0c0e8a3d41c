"""DynamoDB streams (`Type: DynamoDB`) → the function, shard by shard, as Lambda reads them.

StartingPosition LATEST (from connect()/start()) or TRIM_HORIZON; BatchSize (100);
FilterCriteria, applied per record before batching (a record no filter matches never
reaches the function); FunctionResponseTypes [ReportBatchItemFailures] (the retry
starts at the lowest failed SequenceNumber; the records before it are done);
MaximumRetryAttempts, then DestinationConfig.OnFailure (an SQS queue) gets Lambda's
invocation record; Enabled; MaximumBatchingWindowInSeconds in the background only.
AWS retries a failing batch until its records expire (24 h) when MaximumRetryAttempts
is not set; locally such a batch gets LOCAL_MAX_STREAM_RETRIES retries, made at once
(no backoff). Not supported: BisectBatchOnFunctionError, MaximumRecordAgeInSeconds,
ParallelizationFactor, TumblingWindowInSeconds, SNS/S3 destinations, the 6 MB batch limit.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from local_stack.drivers.lambda_json import epoch_seconds, iso, iso_from_epoch, jsonable
from local_stack.drivers.properties import resolved, response_types, truthy
from local_stack.drivers.runner import Call, ClientFactory, DriverError, FunctionRunner, reported_failures, utc_now
from local_stack.event_filter import compile_filter_criteria
from local_stack.template import ACCOUNT_ID, REGION, FunctionSpec, Resolver, queue_name_from_arn, table_name_from_arn

# AWS retries a failing stream batch until its records expire, blocking the shard for
# up to a day; locally that default is capped so a broken function shows up at once.
LOCAL_MAX_STREAM_RETRIES = 3
# Lambda polls each shard about four times a second, and again at once only while a read
# came back full (a backlog); between polls it delivers what it already read.
STREAM_IDLE_SECONDS = 0.25
GET_RECORDS_LIMIT = 1000


def _function_arn(spec: FunctionSpec) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{spec.logical_id}"


@dataclass
class ShardReader:
    shard_id: str
    iterator: str | None
    last_sequence: str | None = None  # the last record fetched (filtered or not)
    closed: bool = False
    pending: deque[dict[str, Any]] = field(default_factory=deque)  # matched, not yet delivered
    retry: list[dict[str, Any]] | None = None  # the failed batch, retried before anything newer
    attempts: int = 0  # retries made of `retry`
    waiting_since: float | None = None  # when the oldest pending record arrived (batching window)
    fetched_at: float = float("-inf")  # the last GetRecords (monotonic)
    backlogged: bool = False  # the last GetRecords came back full: read on at once


class StreamSource:
    """One `Type: DynamoDB` event: the table's stream, shard by shard, in order."""

    kind = "stream"

    def __init__(self, spec: FunctionSpec, event_name: str, properties: dict[str, Any], resolver: Resolver, runner: FunctionRunner) -> None:
        self.function = spec
        self.event_name = event_name
        self.runner = runner
        self.table = table_name_from_arn(resolved(resolver, properties, "Stream"))
        self.label = f"stream {self.table}"
        self.starting_position = str(resolved(resolver, properties, "StartingPosition", "LATEST")).upper()
        if self.starting_position not in ("LATEST", "TRIM_HORIZON"):
            raise DriverError(f"{spec.logical_id}.{event_name}: DynamoDB streams start at LATEST or TRIM_HORIZON, not {self.starting_position}")
        self.batch_size = int(resolved(resolver, properties, "BatchSize", 100))
        self.window = float(resolved(resolver, properties, "MaximumBatchingWindowInSeconds", 0))
        self.filter = compile_filter_criteria(resolved(resolver, properties, "FilterCriteria"))
        self.report_item_failures = "ReportBatchItemFailures" in response_types(resolver, properties)
        retries = int(resolved(resolver, properties, "MaximumRetryAttempts", -1))
        self.max_retries = LOCAL_MAX_STREAM_RETRIES if retries < 0 else retries
        on_failure = (resolved(resolver, properties, "DestinationConfig", {}) or {}).get("OnFailure") or {}
        self.on_failure_arn: str | None = on_failure.get("Destination")
        if self.on_failure_arn and not self.on_failure_arn.startswith("arn:aws:sqs:"):
            raise DriverError(f"{spec.logical_id}.{event_name}: only SQS OnFailure destinations are supported locally")
        self.enabled = truthy(resolved(resolver, properties, "Enabled", True))
        self.readers: dict[str, ShardReader] = {}
        self.finished: set[str] = set()
        self.stream_arn = ""

    def describe(self) -> str:
        details = [self.starting_position, f"batch {self.batch_size}"]
        if len(self.filter):
            details.append(f"{len(self.filter)} filter{'s' if len(self.filter) > 1 else ''}")
        if self.report_item_failures:
            details.append("ReportBatchItemFailures")
        if self.on_failure_arn:
            details.append(f"on failure → {queue_name_from_arn(self.on_failure_arn)}")
        return f"{self.label} → {self.function.logical_id} ({', '.join(details)}){'' if self.enabled else ' DISABLED'}"

    def connect(self, client: ClientFactory) -> None:
        """Find the table's stream and take the starting positions (LATEST means: from now)."""
        self._dynamodb = client("dynamodb")
        self._streams = client("dynamodbstreams")
        self._sqs = client("sqs")
        table = self._dynamodb.describe_table(TableName=self.table)["Table"]
        if not table.get("StreamSpecification", {}).get("StreamEnabled"):
            raise DriverError(f"{self.describe()}: table {self.table} has no stream (StreamSpecification)")
        self.stream_arn = table["LatestStreamArn"]
        # Lambda's records name the stream in the function's region and account; DynamoDB
        # Local's own ARN says "ddblocal" and 000000000000.
        label = self.stream_arn.rsplit("/stream/", 1)[1]
        self.event_source_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{self.table}/stream/{label}"
        self.readers.clear()
        self.finished.clear()
        self._open_shards(starting=True)

    def poll(self, flush: bool) -> bool:
        """Fetch what is new and deliver at most one batch per shard. True when anything happened.

        flush: deliver a partial batch now instead of waiting out the batching window, and
        read every shard now (the callers' thread: tests). In the background a shard is read
        at Lambda's rate (four times a second, at once while a backlog lasts), so a trickle of
        writes does not turn into a GetRecords per record against the one DynamoDB Local.
        """
        busy = False
        if not self.readers:  # every shard read to its end: look for the ones that follow
            self._open_shards(starting=False)
        for reader in list(self.readers.values()):
            if flush or reader.backlogged or time.monotonic() - reader.fetched_at >= STREAM_IDLE_SECONDS:
                busy |= self._fetch(reader)
            busy |= self._deliver(reader, flush)
            if reader.closed and not reader.pending and reader.retry is None:
                # Read a child shard only once its parent is done, so a key's changes stay in order.
                del self.readers[reader.shard_id]
                self.finished.add(reader.shard_id)
                self._open_shards(starting=False)
                busy = True
        return busy

    # -- shards

    def _open_shards(self, starting: bool) -> None:
        shards = self._list_shards()
        known = {shard["ShardId"] for shard in shards}
        for shard in shards:
            shard_id = shard["ShardId"]
            closed = "EndingSequenceNumber" in shard["SequenceNumberRange"]
            if starting and self.starting_position == "LATEST" and closed:
                self.finished.add(shard_id)  # nothing new will ever arrive there
        for shard in shards:
            shard_id, parent = shard["ShardId"], shard.get("ParentShardId")
            if shard_id in self.readers or shard_id in self.finished:
                continue
            if parent in known and parent not in self.finished:
                continue
            position = self.starting_position if starting else "TRIM_HORIZON"
            self.readers[shard_id] = ShardReader(shard_id, self._iterator(shard_id, position))

    def _list_shards(self) -> list[dict[str, Any]]:
        shards, start = [], None
        while True:
            arguments = {"StreamArn": self.stream_arn, **({"ExclusiveStartShardId": start} if start else {})}
            description = self._streams.describe_stream(**arguments)["StreamDescription"]
            shards += description["Shards"]
            start = description.get("LastEvaluatedShardId")
            if not start:
                return shards

    def _iterator(self, shard_id: str, position: str, after: str | None = None) -> str:
        arguments = {"StreamArn": self.stream_arn, "ShardId": shard_id, "ShardIteratorType": position}
        if after:
            arguments.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        return self._streams.get_shard_iterator(**arguments)["ShardIterator"]

    def _fetch(self, reader: ShardReader) -> bool:
        if reader.closed:
            return False
        reader.fetched_at = time.monotonic()
        try:
            response = self._streams.get_records(ShardIterator=reader.iterator, Limit=GET_RECORDS_LIMIT)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                raise
            # Iterators expire after 15 minutes unused: continue after the last record seen.
            reader.iterator = self._iterator(reader.shard_id, self.starting_position, after=reader.last_sequence)
            return True
        reader.iterator = response.get("NextShardIterator")
        reader.closed = reader.iterator is None
        reader.backlogged = len(response["Records"]) >= GET_RECORDS_LIMIT
        for raw in response["Records"]:
            reader.last_sequence = raw["dynamodb"]["SequenceNumber"]
            record = self._lambda_record(raw)
            if self.filter.matches(record):
                reader.pending.append(record)
                reader.waiting_since = reader.waiting_since or time.monotonic()
        return bool(response["Records"]) or reader.closed

    def _lambda_record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A stream record as Lambda delivers it (JSON types: epoch seconds, base64 binaries)."""
        dynamodb = dict(raw["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = epoch_seconds(created)
        record = {
            "eventID": raw["eventID"],
            "eventName": raw["eventName"],
            "eventVersion": raw.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": jsonable(dynamodb),
            "eventSourceARN": self.event_source_arn,
        }
        if "userIdentity" in raw:  # TTL deletions say who removed the item
            record["userIdentity"] = raw["userIdentity"]
        return record

    # -- delivery

    def _deliver(self, reader: ShardReader, flush: bool) -> bool:
        batch = reader.retry or self._next_batch(reader, flush)
        if not batch:
            return False
        call = self.runner.call(self.function, {"Records": batch})
        failed = self._failed_indexes(batch, call)
        self.runner.report(self.label, self.function, call, len(batch), "record", len(failed))
        failed_from = min(failed, default=None)  # the retry starts at the first failure
        if failed_from is None:
            reader.retry, reader.attempts = None, 0
        elif reader.attempts >= self.max_retries:
            self._give_up(reader, batch[failed_from:], call)
            reader.retry, reader.attempts = None, 0
        else:
            reader.retry, reader.attempts = batch[failed_from:], reader.attempts + 1
        return True

    def _next_batch(self, reader: ShardReader, flush: bool) -> list[dict[str, Any]]:
        if not reader.pending:
            return []
        waited = time.monotonic() - (reader.waiting_since or 0)
        if not flush and len(reader.pending) < self.batch_size and waited < self.window:
            return []
        batch = [reader.pending.popleft() for _ in range(min(self.batch_size, len(reader.pending)))]
        reader.waiting_since = time.monotonic() if reader.pending else None
        return batch

    def _failed_indexes(self, batch: list[dict[str, Any]], call: Call) -> set[int]:
        """The positions in the batch of the records that failed (all of them on an error)."""
        everything = set(range(len(batch)))
        if call.error:
            return everything
        if not self.report_item_failures:
            return set()
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in batch]
        failures = reported_failures(call.result, sequence_numbers)
        return everything if failures is None else {sequence_numbers.index(item) for item in failures}

    def _give_up(self, reader: ShardReader, records: list[dict[str, Any]], call: Call) -> None:
        attempts = reader.attempts + 1
        if not self.on_failure_arn:
            self.runner.note(f"{self.label} → {self.function.logical_id}: {len(records)} records discarded after {attempts} attempts (no OnFailure destination)")
            return
        queue = queue_name_from_arn(self.on_failure_arn)
        url = self._sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(self._failure_record(reader, records, call, attempts)))
        self.runner.note(f"{self.label} → {self.function.logical_id}: {len(records)} records sent to {queue} after {attempts} attempts")

    def _failure_record(self, reader: ShardReader, records: list[dict[str, Any]], call: Call, attempts: int) -> dict[str, Any]:
        """What Lambda sends an OnFailure destination for a stream batch it gives up on."""
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if call.error:
            response["functionError"] = "Unhandled"
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": _function_arn(self.function),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": iso(utc_now(), milliseconds=True),
            "DDBStreamBatchInfo": {
                "shardId": reader.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": iso_from_epoch(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": iso_from_epoch(last.get("ApproximateCreationDateTime")),
                "batchSize": len(records),
                "streamArn": self.event_source_arn,
            },
        }
