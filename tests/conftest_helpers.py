"""Small helpers for tests (importable: tests/ is on sys.path)."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timezone
from contextlib import contextmanager
from typing import Any, Callable, Iterator


def wait_for_quarantine(local, matches: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
    """The quarantined request that matches, polling briefly (S3 writes are synchronous, but be kind)."""
    deadline = time.monotonic() + timeout
    while True:
        records = local.quarantine().list(datetime.now(timezone.utc), limit=10_000)
        found = [record for record in records if matches(record)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching quarantined request among {len(records)}")
        time.sleep(0.2)


def real_time() -> float:
    """The machine's real clock, which DynamoDB Local (Java) reads: under `make test-clock`
    the Python processes' wall clock is shifted by SHIFTED_CLOCK_OFFSET and Java's is not."""
    return time.time() - float(os.environ.get("SHIFTED_CLOCK_OFFSET") or 0)


_numbers = iter(range(1000, 9999))


def unique_number() -> str:
    """A US number in the 555 fictional range, unique within this test run.

    It lives here, in one module, so every test file shares the same sequence (a test
    importing it from a conftest would get a second copy of the module and repeat numbers).
    """
    return f"+1415555{next(_numbers):04d}"


def drain_outbox(queue_variable: str = "OUTBOX_QUEUE_URL") -> list[dict[str, Any]]:
    """The messages waiting in a local queue (SQS; the outbox unless told), removed from it."""
    import json
    import os

    import boto3

    sqs = boto3.client("sqs")
    url = os.environ[queue_variable]
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def drain_agent_messages() -> list[dict[str, Any]]:
    """The outbox's messages to agents (pages, digests, answers to their SMS), removed from
    it; the automatic messages to customers (acknowledgements, satisfaction questions) are
    removed too, and left out."""
    return [message for message in drain_outbox() if message["purpose"] not in ("acknowledgement", "satisfaction")]


def stored_message_image(conversation_id: str, provider_id: str) -> dict[str, Any]:
    """A stored message's item, as the table's stream carries it (DynamoDB JSON)."""
    import os

    import boto3

    from switchboard.store import keys
    from switchboard.store.dynamo import to_values

    items = boto3.client("dynamodb").query(
        TableName=os.environ["TABLE_NAME"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
        ExpressionAttributeValues=to_values({":pk": keys.conversation_pk(conversation_id), ":m": keys.MESSAGE_PREFIX}),
        ConsistentRead=True,
    )["Items"]
    return next(item for item in items if item["provider_id"]["S"] == provider_id)


def route_message(conversation_id: str, provider_id: str) -> str:
    """Invoke the router with the stream record of a stored message, as Lambda would."""
    from local_stack.invoke import invoke
    from local_stack.template import Template

    image = stored_message_image(conversation_id, provider_id)
    event = {"Records": [{"eventID": "1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                          "dynamodb": {"Keys": {"pk": image["pk"], "sk": image["sk"]}, "NewImage": image, "SequenceNumber": "1", "SizeBytes": 1, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                          "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Table/stream/x"}]}
    assert invoke(Template().functions()["RouterFunction"], event) == {"batchItemFailures": []}
    return conversation_id


def put_on_call(business_hours: str = "always", time_zone: str = "UTC"):
    """Ana alone on call in the given hours, paged at one level (5 minutes), with no page
    sent yet; the first response is due in 5 minutes by SMS, 30 by email; an empty outbox."""
    import os
    from datetime import date, time

    import boto3

    from switchboard.models import utc_now
    from switchboard.oncall.config import add_agent, load_config, set_policy, set_rotation
    from switchboard.oncall.policy import EscalationPolicy, parse_level
    from switchboard.oncall.schedule import Agent
    from switchboard.store import keys
    from switchboard.store.dynamo import to_values
    from switchboard.store.oncall import OncallStore

    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    for pk in (keys.ONCALL_PK, keys.PAGER_PK):  # the configuration, and every agent's bundling state
        for item in client.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=to_values({":pk": pk}))["Items"]:
            client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    store = OncallStore(client, table)
    ana = Agent("ana", "Ana Lima", unique_number())
    add_agent(store, load_config(store), ana, utc_now())
    set_rotation(store, load_config(store), agent_ids=("ana",), handoff_time=time(0), length_days=7, starts_on=date(2026, 1, 5),
                 time_zone=time_zone, business_hours=business_hours)
    set_policy(store, load_config(store), EscalationPolicy((parse_level("schedule:5"),), first_response_minutes=30, first_response_by_channel=(("sms", 5),)))
    drain_outbox()
    return ana


def drain_notices() -> list[dict[str, Any]]:
    """The messages waiting in the local notice queue (notices, confirmation emails), removed from it."""
    return drain_outbox("NOTICE_QUEUE_URL")


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


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120):
    """The `switchboard` command in a subprocess, from the repository root."""
    import subprocess
    import sys

    from local_stack.paths import REPO_ROOT

    return subprocess.run([sys.executable, "-m", "switchboard.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


@contextmanager
def chrome_driver(scratch) -> Iterator[Any]:
    """Headless Chromium at a phone's size, driven through Debian's chromedriver (selenium)."""
    import shutil

    import pytest
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.fail("chromium and chromedriver are not installed: run infra/install-chromium.sh (make test does)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={scratch}/chromium-profile"):
        options.add_argument(argument)
    # A phone's viewport (a headless window is at least 500 px wide).
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 390, "height": 1400, "pixelRatio": 1}})
    browser = webdriver.Chrome(service=Service(driver), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()
