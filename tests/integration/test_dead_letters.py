"""`switchboard dlq list|redrive` on the local stack: each dead-letter queue, what it holds,
and a redrive that gives every message its second go, once."""

from __future__ import annotations

import json
import os
import uuid

import boto3
import pytest

from conftest_helpers import drain_agent_messages, drain_outbox, run_cli, unique_number
from local_stack.template import Resolver, Template
from local_stack.stack import LOCAL_PARAMETERS
from switchboard.models import Channel, OutboundMessage, OutboundPurpose, utc_now

pytestmark = pytest.mark.integration


def queue_url(logical_id: str) -> str:
    return str(Resolver(Template(), {"PublicUrl": "http://127.0.0.1", **LOCAL_PARAMETERS}).resolve({"Ref": logical_id}))


def empty(logical_id: str) -> None:
    sqs = boto3.client("sqs")
    while batch := sqs.receive_message(QueueUrl=queue_url(logical_id), MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url(logical_id), ReceiptHandle=message["ReceiptHandle"])


def test_an_unsent_page_in_the_outbox_dead_letters_is_listed_then_sent_again_once(local):
    empty("OutboxDeadLetterQueue")
    drain_outbox()
    agent = unique_number()
    page = OutboundMessage(Channel.SMS, agent, "[4821] SMS Jane: refund?", OutboundPurpose.PAGE, f"page#{uuid.uuid4()}")
    boto3.client("sqs").send_message(QueueUrl=queue_url("OutboxDeadLetterQueue"), MessageBody=page.to_json())
    env = local.cli_env()

    counts = json.loads(run_cli(["dlq", "list", "--json"], env).stdout)
    assert counts["outbox"] == 1 and set(counts) == {"outbox", "notices", "inbound", "router", "fanout"}
    listed = run_cli(["dlq", "list", "outbox"], env)
    assert listed.returncode == 0 and f"page sms to {agent}" in listed.stdout
    redriven = run_cli(["dlq", "redrive", "outbox"], env)
    assert redriven.returncode == 0 and "1 redriven, 0 left" in redriven.stdout, redriven.stdout + redriven.stderr
    assert [m["to"] for m in drain_outbox()] == [agent], "back on the outbox, for the sender"
    assert json.loads(run_cli(["dlq", "list", "--json"], env).stdout)["outbox"] == 0


@pytest.fixture
def on_call(local):
    """A new agent alone in the rotation, on call at every hour; the schedule as it was after."""
    from datetime import date, time

    from switchboard.oncall.config import add_agent, load_config, set_rotation
    from switchboard.oncall.schedule import Agent
    from switchboard.store import keys
    from switchboard.store.oncall import OncallStore

    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    schedule_key = {"pk": {"S": keys.ONCALL_PK}, "sk": {"S": "SCHEDULE"}}
    schedule_before = client.get_item(TableName=table, Key=schedule_key).get("Item")
    store = OncallStore(client, table)
    agent = Agent(f"rita-{unique_number()[-4:]}", "Rita Moreno", unique_number())
    add_agent(store, load_config(store), agent, utc_now())
    set_rotation(store, load_config(store), agent_ids=(agent.agent_id,), handoff_time=time(0), length_days=7, starts_on=date(2026, 1, 5), time_zone="UTC", business_hours="always")
    yield agent
    if schedule_before:  # later tests find the schedule as it was
        client.put_item(TableName=table, Item=schedule_before)
    else:
        client.delete_item(TableName=table, Key=schedule_key)


def test_a_stream_batch_the_router_gave_up_on_is_read_back_and_paged(local, sms_form, on_call):
    """The router failed every retry on a customer's message: the OnFailure record names the
    batch; the redrive reads it from the table's stream and the router pages it."""
    from switchboard.store.pages import PageStore

    agent = on_call
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    empty("RouterDeadLetterQueue")
    streams = boto3.client("dynamodbstreams")
    stream_arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    open_shard = next(s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"])
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=open_shard["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]

    form = sms_form(body="my order never came")
    assert local.post_sms(form).status_code == 200  # stored; no driver runs here, as if the router failed on it
    records = []
    while not records:
        response = streams.get_records(ShardIterator=iterator)
        records, iterator = [r for r in response["Records"] if r["dynamodb"].get("NewImage", {}).get("type", {}).get("S") == "message"], response["NextShardIterator"]
    (record,) = records
    failure = {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
        "responseContext": {"functionError": "Unhandled"},
        "DDBStreamBatchInfo": {"shardId": open_shard["ShardId"], "startSequenceNumber": record["dynamodb"]["SequenceNumber"],
                               "endSequenceNumber": record["dynamodb"]["SequenceNumber"], "batchSize": 1, "streamArn": stream_arn},
    }
    boto3.client("sqs").send_message(QueueUrl=queue_url("RouterDeadLetterQueue"), MessageBody=json.dumps(failure))
    drain_outbox()

    env = local.cli_env()
    assert "1 stream records" in run_cli(["dlq", "list", "router"], env).stdout
    redriven = run_cli(["dlq", "redrive", "router"], env)
    assert redriven.returncode == 0 and "1 redriven" in redriven.stdout, redriven.stdout + redriven.stderr
    conversation_id = record["dynamodb"]["NewImage"]["conversation_id"]["S"]
    assert PageStore(client, table).get_page(conversation_id).recipients == (agent.agent_id,)
    assert [m["to"] for m in drain_agent_messages()] == [agent.phone]
    assert json.loads(run_cli(["dlq", "list", "--json"], env).stdout)["router"] == 0


def test_an_unknown_queue_is_a_usage_error(local):
    wrong = run_cli(["dlq", "list", "nope"], local.cli_env())
    assert wrong.returncode == 2 and "outbox, notices, inbound, router, fanout" in wrong.stderr


def test_an_email_the_function_failed_on_is_handed_to_it_again_with_its_ses_event(local):
    from datetime import datetime, timezone
    from email.message import EmailMessage

    from local_stack.send import new_ses_message_id, ses_receipt_event
    from local_stack.stack import LOCAL_SUPPORT_EMAIL
    from switchboard.models import Identity, IdentityKind
    from switchboard.store.mail import MailStore

    empty("InboundDeadLetterQueue")
    sender = f"lee.{uuid.uuid4().hex[:6]}@customer.example"
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"], mail["Message-ID"] = sender, LOCAL_SUPPORT_EMAIL, "Invoice", f"<inv-{sender}>"
    mail.set_content("Where is my invoice?")
    ses_id = new_ses_message_id()
    MailStore(boto3.client("s3"), os.environ["MAIL_BUCKET"], "inbound/").put_raw(ses_id, bytes(mail))
    event = ses_receipt_event(bytes(mail), ses_id, [LOCAL_SUPPORT_EMAIL], received_at=datetime.now(timezone.utc))
    failure = {"requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3}, "requestPayload": event,
               "responsePayload": {"errorMessage": "Task timed out after 60.00 seconds"}}
    boto3.client("sqs").send_message(QueueUrl=queue_url("InboundDeadLetterQueue"), MessageBody=json.dumps(failure))

    env = local.cli_env()
    assert f"email {ses_id} from" in run_cli(["dlq", "list", "inbound"], env).stdout
    assert "1 redriven" in run_cli(["dlq", "redrive", "inbound"], env).stdout
    stored = local.conversations().find_identity(Identity(IdentityKind.EMAIL, sender), consistent=True)
    assert stored is not None and [m.body for m in local.conversations().get_conversation(stored.conversation_id).messages] == ["Where is my invoice?"]


def test_past_the_streams_retention_the_router_redrive_pages_what_still_waits(local, sms_form, on_call):
    """The batch is gone from the stream (here: a shard that no longer exists): the redrive
    pages the conversations active since the batch that still wait on us without a page."""
    from datetime import datetime, timedelta, timezone

    from switchboard.models import Identity, IdentityKind
    from switchboard.store.pages import PageStore

    agent = on_call
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    empty("RouterDeadLetterQueue")
    form = sms_form(body="still waiting after two days")
    assert local.post_sms(form).status_code == 200
    conversation = local.conversations().find_identity(Identity(IdentityKind.PHONE, form["From"]), consistent=True)
    arrived = (datetime.now(timezone.utc) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    failure = {"requestContext": {"condition": "RetryAttemptsExhausted"},
               "DDBStreamBatchInfo": {"shardId": "shardId-00000001700000000000-deadbeef", "startSequenceNumber": "000000000000000000001", "endSequenceNumber": "000000000000000000002",
                                      "approximateArrivalOfFirstRecord": arrived, "batchSize": 1, "streamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Table/stream/x"}}
    boto3.client("sqs").send_message(QueueUrl=queue_url("RouterDeadLetterQueue"), MessageBody=json.dumps(failure))
    drain_outbox()
    redriven = run_cli(["dlq", "redrive", "router"], local.cli_env())
    assert redriven.returncode == 0 and "no longer holds this batch" in redriven.stdout, redriven.stdout + redriven.stderr
    assert PageStore(client, table).get_page(conversation.conversation_id).recipients == (agent.agent_id,)
    assert agent.phone in [m["to"] for m in drain_outbox()]


def test_past_the_streams_retention_the_fanout_redrive_resumes_the_jobs_not_done(local):
    """A fan-out whose stream record is gone: its job item is still in the table, not done;
    the redrive hands it to the fan-out, which queues the update's notices."""
    from datetime import datetime, timedelta, timezone

    from conftest_helpers import drain_notices
    from switchboard.incident_model import Component, Impact
    from switchboard.incidents.service import IncidentDesk
    from switchboard.store.incidents import IncidentStore
    from switchboard.store.notices import NoticeStore
    from switchboard.store.subscribers import SubscriberStore

    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    incidents, notices = IncidentStore(client, table), NoticeStore(client, table)
    component = f"api-{uuid.uuid4().hex[:6]}"
    incidents.put_component(Component(component, "API"))
    reader = unique_number()
    SubscriberStore(client, table).subscribe("sms", reader, (component,), "cli", datetime.now(timezone.utc))
    empty("FanoutDeadLetterQueue")
    drain_notices()
    change = IncidentDesk(incidents, notices).open("API errors", Impact.MAJOR, (component,), "Looking into it.", datetime.now(timezone.utc))
    update_id = change.incident.updates[0].update_id
    assert not notices.job(update_id).done, "no driver ran: as if the fan-out failed every retry"
    arrived = (datetime.now(timezone.utc) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    failure = {"requestContext": {"condition": "RetryAttemptsExhausted"},
               "DDBStreamBatchInfo": {"shardId": "shardId-00000001700000000000-deadbeef", "startSequenceNumber": "000000000000000000001",
                                      "endSequenceNumber": "000000000000000000002", "approximateArrivalOfFirstRecord": arrived, "batchSize": 1}}
    boto3.client("sqs").send_message(QueueUrl=queue_url("FanoutDeadLetterQueue"), MessageBody=json.dumps(failure))

    redriven = run_cli(["dlq", "redrive", "fanout"], local.cli_env())
    assert redriven.returncode == 0 and "resuming the fan-outs not done" in redriven.stdout, redriven.stdout + redriven.stderr
    assert notices.job(update_id).done
    assert reader in [m["to"] for m in drain_notices()]
