"""The drivers against the local stack: a table's stream, SQS queues and schedules → functions.

The functions are small test handlers (driver_functions.py) declared in a template of
this file's own, with its own table and queues, so nothing here touches template.yaml's
resources or sees other tests' writes.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import boto3
import pytest

from conftest_helpers import real_time
from integration import driver_functions
from local_stack.drivers import Drivers
from local_stack.drivers.runner import DriverError
from local_stack.drivers.schedule_expressions import (
    ScheduleExpressionError,
    UnsupportedLocally,
    parse_schedule_expression,
)
from local_stack.drivers.stream import LOCAL_MAX_STREAM_RETRIES, STREAM_IDLE_SECONDS
from local_stack.resources import ensure_queues, ensure_tables
from local_stack.stack import LocalStack
from local_stack.template import Resolver, Template

pytestmark = pytest.mark.integration

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Conditions:
  Never: !Equals ["local", "deployed"]
Globals:
  Function:
    Timeout: 1
    MemorySize: 128
Resources:
  DriverTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      StreamSpecification:
        StreamViewType: NEW_AND_OLD_IMAGES
  DriverQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DriverDeadLetterQueue.Arn
        maxReceiveCount: 2
  DriverDeadLetterQueue:
    Type: AWS::SQS::Queue
  FilteredQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
  StreamFailureQueue:
    Type: AWS::SQS::Queue
  ShortVisibilityQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 0

  InboundRouter:
    Type: AWS::Serverless::Function
    Properties:
      Handler: integration.driver_functions.record
      Events:
        Messages:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt DriverTable.StreamArn
            StartingPosition: LATEST
            BatchSize: 2
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["message"]}, "direction": {"S": ["inbound"]}}}}'
  PartialRouter:
    Type: AWS::Serverless::Function
    Properties:
      Handler: integration.driver_functions.partial_stream
      Events:
        Partial:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt DriverTable.StreamArn
            StartingPosition: LATEST
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
            MaximumRetryAttempts: 2
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt StreamFailureQueue.Arn
            FilterCriteria:
              Filters:
                - Pattern: '{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "PARTIAL#"}]}}}}'
  RaisingRouter:
    Type: AWS::Serverless::Function
    Properties:
      Handler: integration.driver_functions.raising
      Events:
        Raising:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt DriverTable.StreamArn
            StartingPosition: LATEST
            FilterCriteria:
              Filters:
                - Pattern: '{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "RAISE#"}]}}}}'
  Sender:
    Type: AWS::Serverless::Function
    Properties:
      Handler: integration.driver_functions.sqs_sender
      Events:
        Outbox:
          Type: SQS
          Properties:
            Queue: !GetAtt DriverQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  FilteredSender:
    Type: AWS::Serverless::Function
    Properties:
      Handler: integration.driver_functions.record
      Events:
        Pages:
          Type: SQS
          Properties:
            Queue: !GetAtt FilteredQueue.Arn
            FilterCriteria:
              Filters:
                - Pattern: '{"body": {"kind": ["page"]}}'
                - Pattern: '{"body": [{"prefix": "PAGE "}]}'
  TooSlowSender:
    Type: AWS::Serverless::Function
    Properties:
      Handler: integration.driver_functions.record
      Timeout: 3
      Events:
        Short:
          Type: SQS
          Properties:
            Queue: !GetAtt ShortVisibilityQueue.Arn
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: integration.driver_functions.scheduled
      Events:
        EveryMinute:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 minute)
  NightlyJob:
    Type: AWS::Serverless::Function
    Properties:
      Handler: integration.driver_functions.scheduled
      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: cron(0 3 * * ? *)
            Input: '{"job": "nightly"}'
  DisabledTicker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: integration.driver_functions.scheduled
      Events:
        Paused:  # not "Off": YAML 1.1 reads that as false
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(5 minutes)
            State: !If [Never, ENABLED, DISABLED]
  MysteryTicker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: integration.driver_functions.scheduled
      Events:
        Unknown:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 9 ? * 2#1 *)
            State: !Select [0, [ENABLED]]
"""

# Every function but the one whose queue AWS would refuse (tested on its own).
SERVED = ["InboundRouter", "PartialRouter", "RaisingRouter", "Sender", "FilteredSender", "Ticker", "NightlyJob", "DisabledTicker"]
TEST_QUEUES = ["DriverQueue", "DriverDeadLetterQueue", "FilteredQueue", "StreamFailureQueue", "ShortVisibilityQueue"]
START = datetime(2026, 11, 23, 2, 58, 30, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def setup(local, tmp_path_factory) -> tuple[Template, Resolver, dict[str, str]]:
    path = tmp_path_factory.mktemp("drivers") / "template.yaml"
    path.write_text(TEMPLATE)
    template = Template(path)
    resolver = Resolver(template, {})
    ensure_tables(boto3.client("dynamodb"), template)
    urls = ensure_queues(boto3.client("sqs"), template, resolver)
    return template, resolver, urls


@pytest.fixture
def queues(setup) -> dict[str, str]:
    """The test queues, empty: recreated (moto allows one PurgeQueue a minute, as SQS does)."""
    template, resolver, urls = setup
    sqs = boto3.client("sqs")
    for name in TEST_QUEUES:
        sqs.delete_queue(QueueUrl=urls[name])
    return ensure_queues(sqs, template, resolver)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def drivers(setup, queues, clock):
    template, resolver, _ = setup
    driver_functions.reset()
    log = io.StringIO()
    drivers = Drivers(template, resolver, only=SERVED, clock=clock, log=log, tick_seconds=0.01)
    drivers.connect()  # LATEST: from now on
    try:
        yield drivers
    finally:
        drivers.stop()
        print(log.getvalue())  # shown when a test fails


def log_of(drivers: Drivers) -> str:
    return drivers.runner.log.getvalue()


def put(pk: str, **attributes: Any) -> None:
    item = {"pk": {"S": pk}, "sk": {"S": "item"}}
    for name, value in attributes.items():
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
    boto3.client("dynamodb").put_item(TableName="DriverTable", Item=item)


def keys_delivered(function_id: str) -> list[list[str]]:
    """The pk of each record, batch by batch."""
    return [[record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"]] for event in driver_functions.calls[function_id]]


def receive_all(url: str) -> list[dict[str, Any]]:
    return boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])


def run_until(drivers: Drivers, done: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        drivers.run_once()
        time.sleep(0.05)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


# ---- DynamoDB stream --------------------------------------------------------------

def test_a_put_reaches_the_stream_function_through_its_filter(drivers):
    wanted = unique("MSG#")
    put(wanted, type="message", direction="inbound", body="hello")
    put(unique("MSG#"), type="message", direction="outbound", body="reply")
    put(unique("NOTE#"), type="note", direction="inbound")
    put(wanted, type="message", direction="inbound", body="edited")  # a MODIFY: the filter wants INSERTs

    drivers.drain()

    (event,) = driver_functions.calls["InboundRouter"]
    (record,) = event["Records"]
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb" and record["eventVersion"] == "1.1"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"].startswith("arn:aws:dynamodb:us-east-1:123456789012:table/DriverTable/stream/")
    stream = record["dynamodb"]
    assert stream["Keys"] == {"pk": {"S": wanted}, "sk": {"S": "item"}}
    assert stream["NewImage"]["body"] == {"S": "hello"} and "OldImage" not in stream
    assert stream["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(stream["SizeBytes"], int) and isinstance(stream["SequenceNumber"], str)
    # Lambda sends epoch seconds, where boto3 hands back a datetime.
    assert isinstance(stream["ApproximateCreationDateTime"], (int, float))
    assert abs(stream["ApproximateCreationDateTime"] - real_time()) < 120  # DynamoDB Local's clock
    json.dumps(event)  # what Lambda sends is JSON
    assert "stream DriverTable → InboundRouter 1 record " in log_of(drivers)
    # Other functions on the same stream saw nothing their filters accept.
    assert driver_functions.calls["PartialRouter"] == [] and driver_functions.calls["RaisingRouter"] == []


def test_batches_hold_at_most_batch_size_records_in_stream_order(drivers):
    keys = [unique(f"MSG#{n}-") for n in range(5)]
    for key in keys:
        put(key, type="message", direction="inbound")

    drivers.drain()

    assert keys_delivered("InboundRouter") == [keys[0:2], keys[2:4], keys[4:5]]


def test_reported_failures_retry_from_the_failed_record_only(drivers, queues):
    first, flaky, last = unique("PARTIAL#a-"), unique("PARTIAL#b-"), unique("PARTIAL#c-")
    put(first)
    put(flaky, failures=1)  # fails on its first delivery only
    put(last)

    drivers.drain()

    # The record before the failure was checkpointed: never delivered again.
    assert keys_delivered("PartialRouter") == [[first, flaky, last], [flaky, last]]
    assert "stream DriverTable → PartialRouter 3 records 1 failed" in log_of(drivers)
    assert receive_all(queues["StreamFailureQueue"]) == []


def test_a_batch_failing_past_its_retries_goes_to_the_on_failure_queue(drivers, queues):
    stuck = unique("PARTIAL#stuck-")
    put(stuck, failures=99)

    drivers.drain()

    assert keys_delivered("PartialRouter") == [[stuck]] * 3  # the first attempt and MaximumRetryAttempts: 2
    (message,) = receive_all(queues["StreamFailureQueue"])
    failure = json.loads(message["Body"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"].endswith(":function:PartialRouter")
    assert "functionError" not in failure["responseContext"]  # it answered, reporting a failure
    batch = failure["DDBStreamBatchInfo"]
    sequence = driver_functions.calls["PartialRouter"][0]["Records"][0]["dynamodb"]["SequenceNumber"]
    assert batch["startSequenceNumber"] == batch["endSequenceNumber"] == sequence
    assert batch["batchSize"] == 1 and batch["streamArn"].startswith("arn:aws:dynamodb:us-east-1:")

    # The shard moves on.
    after = unique("PARTIAL#after-")
    put(after)
    drivers.drain()
    assert keys_delivered("PartialRouter")[-1] == [after]


def test_an_exception_retries_the_whole_batch_up_to_the_local_cap(drivers):
    keys = [unique("RAISE#a-"), unique("RAISE#b-")]
    for key in keys:
        put(key)

    drivers.drain()

    # No MaximumRetryAttempts: AWS would retry for a day; locally LOCAL_MAX_STREAM_RETRIES.
    assert keys_delivered("RaisingRouter") == [keys] * (1 + LOCAL_MAX_STREAM_RETRIES)
    log = log_of(drivers)
    assert "→ RaisingRouter 2 records error (RuntimeError: this function always fails)" in log
    assert "2 records discarded after 4 attempts (no OnFailure destination)" in log
    assert [i.error for i in drivers.invocations_of("RaisingRouter")] == ["RuntimeError: this function always fails"] * 4


# ---- SQS --------------------------------------------------------------------------

def test_sqs_failures_are_retried_then_end_in_the_dead_letter_queue(drivers, queues):
    sqs = boto3.client("sqs")
    ids = {}
    for name, fail in (("first", False), ("broken", True), ("third", False)):
        body = json.dumps({"name": name, "fail": fail})
        attributes = {"channel": {"DataType": "String", "StringValue": "sms"}}
        ids[name] = sqs.send_message(QueueUrl=queues["DriverQueue"], MessageBody=body, MessageAttributes=attributes)["MessageId"]

    # The queue hides a failed message for its 1 s visibility timeout; its RedrivePolicy
    # (maxReceiveCount 2) moves it to the dead-letter queue on the receive after the second.
    dead: list[dict[str, Any]] = []
    run_until(drivers, lambda: dead.extend(receive_all(queues["DriverDeadLetterQueue"])) or bool(dead))

    delivered = [[record["messageId"] for record in event["Records"]] for event in driver_functions.calls["Sender"]]
    assert sorted(delivered[0]) == sorted(ids.values())
    assert delivered[1:] == [[ids["broken"]]]  # delivered maxReceiveCount times, the others once
    assert [message["MessageId"] for message in dead] == [ids["broken"]]
    assert json.loads(dead[0]["Body"])["name"] == "broken"
    counts = sqs.get_queue_attributes(QueueUrl=queues["DriverQueue"], AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == counts["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert "sqs DriverQueue → Sender 3 messages 1 failed" in log_of(drivers)

    record = driver_functions.calls["Sender"][0]["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:DriverQueue"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(record["attributes"]) >= {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
    assert record["messageAttributes"]["channel"] == {"stringValue": "sms", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    assert record["md5OfBody"] and record["receiptHandle"]
    retried = driver_functions.calls["Sender"][1]["Records"][0]
    assert retried["attributes"]["ApproximateReceiveCount"] == "2"


def test_sqs_filters_match_json_bodies_and_plain_ones_and_delete_the_rest(drivers, queues):
    sqs = boto3.client("sqs")
    bodies = [json.dumps({"kind": "page", "n": 1}), json.dumps({"kind": "notice"}), "PAGE plain text", "plain text"]
    for body in bodies:
        sqs.send_message(QueueUrl=queues["FilteredQueue"], MessageBody=body)

    drivers.drain()

    received = [record["body"] for event in driver_functions.calls["FilteredSender"] for record in event["Records"]]
    assert sorted(received) == sorted([bodies[0], bodies[2]])
    # Lambda deletes the messages no filter matches: nothing is left, nothing waits to reappear.
    counts = sqs.get_queue_attributes(QueueUrl=queues["FilteredQueue"], AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == counts["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_queue_hiding_messages_for_less_than_the_function_timeout_is_refused(setup):
    template, resolver, _ = setup
    drivers = Drivers(template, resolver, only=["TooSlowSender"], log=io.StringIO())
    with pytest.raises(DriverError, match=r"VisibilityTimeout \(0 s\) is less than the function's Timeout \(3 s\)"):
        drivers.connect()


def test_queues_are_created_with_their_attributes_and_redrive_policy(setup):
    template, resolver, urls = setup
    assert ensure_queues(boto3.client("sqs"), template, resolver) == urls  # idempotent
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=urls["DriverQueue"], AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "1"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:DriverDeadLetterQueue",
        "maxReceiveCount": 2,
    }
    assert resolver.resolve({"Ref": "DriverQueue"}) == urls["DriverQueue"]


# ---- schedules --------------------------------------------------------------------

def test_a_rate_schedule_fires_once_per_period_and_tick_fires_now(drivers, clock):
    clock.advance(seconds=59)
    drivers.run_once()
    assert driver_functions.calls["Ticker"] == []

    clock.advance(seconds=1)
    drivers.run_once()
    (event,) = driver_functions.calls["Ticker"]
    assert event == {
        **event,
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "region": "us-east-1",
        "time": "2026-11-23T02:59:30Z",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/TickerEveryMinute"],
        "detail": "{}",
    }

    clock.advance(seconds=1)
    drivers.run_once()
    assert len(driver_functions.calls["Ticker"]) == 1
    clock.advance(minutes=3)  # runs missed while away are not made up
    drivers.run_once()
    assert len(driver_functions.calls["Ticker"]) == 2

    assert drivers.tick("Ticker") == {"ticked": True}
    assert len(driver_functions.calls["Ticker"]) == 3
    assert driver_functions.calls["DisabledTicker"] == []  # State resolves to DISABLED ...
    drivers.tick("DisabledTicker")  # ... but an explicit tick runs it
    assert len(driver_functions.calls["DisabledTicker"]) == 1
    assert "schedule TickerEveryMinute → Ticker " in log_of(drivers)


def test_a_cron_schedule_fires_on_its_minute_with_its_input(drivers, clock):
    for moment in ("02:59:59", "03:00:00", "03:00:40", "03:01:00"):
        clock.now = datetime.fromisoformat(f"2026-11-23T{moment}+00:00")
        drivers.run_once()
    assert driver_functions.calls["NightlyJob"] == [{"job": "nightly"}]


def test_the_background_scheduler_waits_for_the_rate_then_fires(drivers, clock):
    drivers.start()
    time.sleep(0.3)
    assert driver_functions.calls["Ticker"] == []  # 1 minute has not passed on its clock

    clock.advance(minutes=1)
    deadline = time.monotonic() + 5
    while not driver_functions.calls["Ticker"]:
        assert time.monotonic() < deadline, "the scheduler did not fire"
        time.sleep(0.02)
    assert len(driver_functions.calls["Ticker"]) == 1


def test_background_threads_deliver_and_stop_promptly(drivers, queues):
    drivers.start()
    key = unique("MSG#")
    put(key, type="message", direction="inbound")
    boto3.client("sqs").send_message(QueueUrl=queues["DriverQueue"], MessageBody=json.dumps({"name": "bg"}))
    deadline = time.monotonic() + 5
    while not (driver_functions.calls["InboundRouter"] and driver_functions.calls["Sender"]):
        assert time.monotonic() < deadline, log_of(drivers)
        time.sleep(0.02)
    assert keys_delivered("InboundRouter") == [[key]]
    with pytest.raises(RuntimeError):  # one mode at a time
        drivers.run_once()

    started = time.monotonic()
    drivers.stop()
    assert time.monotonic() - started < 2.5  # an SQS long poll lasts at most 1 s
    assert not drivers._threads


def test_in_the_background_a_shard_is_read_at_lambdas_rate_not_once_per_write(drivers):
    """Lambda polls a shard about four times a second; writes trickling in every 25 ms are
    delivered in order, from a few GetRecords rather than one per write."""
    drivers.start()
    reads = []
    clients = {id(source._streams): source._streams for source in drivers.streams}  # the sources share one
    for client in clients.values():
        client.meta.events.register("before-call.dynamodbstreams.GetRecords", lambda **_: reads.append(1))
    keys = [unique(f"MSG#{n:02d}-") for n in range(40)]
    started = time.monotonic()
    for key in keys:
        put(key, type="message", direction="inbound")
        time.sleep(0.025)
    deadline = time.monotonic() + 5
    while sum(len(batch) for batch in keys_delivered("InboundRouter")) < len(keys):
        assert time.monotonic() < deadline, log_of(drivers)
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    assert [key for batch in keys_delivered("InboundRouter") for key in batch] == keys
    per_source = elapsed / STREAM_IDLE_SECONDS + 2  # one shard each
    assert 0 < len(reads) <= len(drivers.streams) * per_source < len(keys) * len(drivers.streams), (len(reads), elapsed)


# ---- the real template ------------------------------------------------------------

def test_the_real_template_drives_the_x_poller_every_minute():
    stack = LocalStack()
    drivers = Drivers(stack.template, stack.resolver(), log=io.StringIO())
    (schedule,) = [s for s in drivers.schedules if s.function.logical_id == "XMentionsFunction"]
    assert schedule.enabled
    assert "schedule XMentionsFunctionPoll rate(1 minute) → XMentionsFunction" in drivers.describe()
    # With XSupportAccount empty, as deployed by default, its !If turns it off.
    deployed = Drivers(stack.template, Resolver(stack.template, {"PublicUrl": "https://x.example"}), log=io.StringIO())
    assert not [s for s in deployed.schedules if s.function.logical_id == "XMentionsFunction"][0].enabled


def test_what_the_local_scheduler_cannot_resolve_or_run_it_says(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    template = Template(path)
    drivers = Drivers(template, Resolver(template, {}), only=["MysteryTicker", "DisabledTicker"], log=io.StringIO())
    assert drivers.describe() == [
        "schedule DisabledTickerPaused rate(5 minutes) → DisabledTicker DISABLED",
        "schedule MysteryTickerUnknown cron(0 9 ? * 2#1 *) → MysteryTicker (State not resolvable locally: treated as ENABLED; "
        "the day-of-week field '2#1' uses L, W or #, which the local scheduler does not support: it runs on tick() only)",
    ]
    mystery = drivers.schedules[1]
    assert mystery.enabled  # an unresolvable State counts as ENABLED ...
    assert not mystery.poll(START + timedelta(days=30))  # ... but this cron runs on tick() only
    driver_functions.reset()
    drivers.tick("MysteryTicker")
    assert len(driver_functions.calls["MysteryTicker"]) == 1


def test_schedule_expressions():
    assert parse_schedule_expression("rate(1 minute)").period == timedelta(minutes=1)
    assert parse_schedule_expression("rate(5 minutes)").period == timedelta(minutes=5)
    assert parse_schedule_expression("rate(2 hours)").period == timedelta(hours=2)
    for bad in ("rate(0 minutes)", "rate(1 fortnight)", "every 5 minutes", "cron(0 3 * * *)", "cron(0 3 * * * *)", "cron(0 25 * * ? *)"):
        with pytest.raises(ScheduleExpressionError):
            parse_schedule_expression(bad)
    with pytest.raises(UnsupportedLocally):
        parse_schedule_expression("cron(0 9 ? * 2#1 *)")
    weekdays = parse_schedule_expression("cron(*/15 9-17 ? JAN-MAR MON-FRI *)")
    assert weekdays.matches(datetime(2026, 1, 5, 9, 45, tzinfo=timezone.utc))  # a Monday
    assert not weekdays.matches(datetime(2026, 1, 4, 9, 45, tzinfo=timezone.utc))  # a Sunday
    assert not weekdays.matches(datetime(2026, 1, 5, 9, 50, tzinfo=timezone.utc))
    assert not weekdays.matches(datetime(2026, 4, 6, 9, 45, tzinfo=timezone.utc))


def test_a_closed_shard_is_read_to_its_end_before_its_child(tmp_path):
    """DynamoDB rolls a stream's shards over; the child is read from its start, after the parent."""
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    template = Template(path)
    driver_functions.reset()
    drivers = Drivers(template, Resolver(template, {}), only=["InboundRouter"], log=io.StringIO())
    streams = FakeStreams()
    (source,) = drivers.streams
    source.connect(lambda service: FakeDynamoDB() if service == "dynamodb" else streams)
    assert streams.iterators == [("parent", "LATEST")]

    streams.close_parent_and_open_child()
    drivers.streams[0].poll(flush=True)  # the parent's last record, then the child opens
    drivers.streams[0].poll(flush=True)

    assert keys_delivered("InboundRouter") == [["in-parent"], ["in-child"]]
    assert streams.iterators[1:] == [("child", "TRIM_HORIZON")]


class FakeDynamoDB:
    def describe_table(self, TableName):
        return {"Table": {"StreamSpecification": {"StreamEnabled": True}, "LatestStreamArn": f"arn:aws:dynamodb:ddblocal:000000000000:table/{TableName}/stream/label"}}


class FakeStreams:
    def __init__(self) -> None:
        self.shards = [{"ShardId": "parent", "SequenceNumberRange": {"StartingSequenceNumber": "1"}}]
        self.records = {"parent": [], "child": []}
        self.iterators: list[tuple[str, str]] = []

    def close_parent_and_open_child(self) -> None:
        self.shards[0]["SequenceNumberRange"]["EndingSequenceNumber"] = "1"
        self.shards.append({"ShardId": "child", "ParentShardId": "parent", "SequenceNumberRange": {"StartingSequenceNumber": "2"}})
        self.records = {"parent": [self.record("1", "in-parent")], "child": [self.record("2", "in-child")]}

    @staticmethod
    def record(sequence: str, pk: str) -> dict[str, Any]:
        image = {"pk": {"S": pk}, "type": {"S": "message"}, "direction": {"S": "inbound"}}
        return {
            "eventID": sequence, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "ddblocal",
            "dynamodb": {"ApproximateCreationDateTime": START, "Keys": {"pk": image["pk"]}, "NewImage": image, "SequenceNumber": sequence, "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        }

    def describe_stream(self, StreamArn):
        return {"StreamDescription": {"Shards": [dict(shard) for shard in self.shards]}}

    def get_shard_iterator(self, StreamArn, ShardId, ShardIteratorType, **_):
        self.iterators.append((ShardId, ShardIteratorType))
        return {"ShardIterator": ShardId}

    def get_records(self, ShardIterator, Limit):
        records, self.records[ShardIterator] = self.records[ShardIterator], []
        closed = "EndingSequenceNumber" in next(s for s in self.shards if s["ShardId"] == ShardIterator)["SequenceNumberRange"]
        return {"Records": records, **({} if closed else {"NextShardIterator": ShardIterator})}
