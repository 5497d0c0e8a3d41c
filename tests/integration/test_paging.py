"""The paging loop on the local stack: a customer message pages the on-call agent, escalates
without an ACK, stops on ACK, and a storm becomes a digest."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from conftest_helpers import drain_agent_messages, route_message, unique_number
from local_stack.invoke import invoke
from local_stack.send import twilio_sms_form
from local_stack.template import Template
from switchboard.models import Identity, IdentityKind, utc_now
from switchboard.oncall.config import add_agent, load_config, set_policy, set_rotation
from switchboard.oncall.policy import parse_level, EscalationPolicy
from switchboard.oncall.router import switchboard_from, tick
from switchboard.oncall.schedule import Agent
from switchboard.settings import load_settings
from switchboard.store import keys
from switchboard.store.dynamo import to_values
from switchboard.store.oncall import OncallStore
from switchboard.store.pages import PageStatus, PageStore

pytestmark = pytest.mark.integration


@pytest.fixture
def team(local):
    """Ana on call around the clock, Ben the next level; an empty outbox; no live pages or pagers."""
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    for pk in (keys.ONCALL_PK, keys.PAGER_PK):
        for item in client.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=to_values({":pk": pk}))["Items"]:
            client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    pages = PageStore(client, table)
    for leftover in list(pages.due(datetime(2100, 1, 1, tzinfo=timezone.utc))):
        pages.settle(leftover.conversation_id, PageStatus.RESOLVED, None, datetime.now(timezone.utc))
    store = OncallStore(client, table)
    ana, ben = Agent("ana", "Ana Lima", unique_number()), Agent("ben", "Ben Okafor", unique_number())
    for agent in (ana, ben):
        add_agent(store, load_config(store), agent, utc_now())
    from datetime import date, time

    set_rotation(store, load_config(store), agent_ids=("ana",), handoff_time=time(0), length_days=7, starts_on=date(2026, 1, 5), time_zone="UTC", business_hours="always")
    set_policy(store, load_config(store), EscalationPolicy((parse_level("schedule:5"), parse_level("agent:ben:10")), repeat=0))
    drain_agent_messages()
    return ana, ben, pages


def route(local, form):
    """What the table's stream hands the router for the message this SMS stored."""
    conversation = local.conversations().find_identity(Identity(IdentityKind.PHONE, form["From"]), consistent=True)
    return route_message(conversation.conversation_id, form["MessageSid"])


def board():
    return switchboard_from(load_settings())


def test_a_customer_sms_pages_the_on_call_agent_once_and_escalates_without_an_ack(local, team, sms_form):
    ana, ben, pages = team
    form = sms_form(body="My invoice for November shows two charges, please help")
    assert local.post_sms(form).status_code == 200
    conversation_id = route(local, form)
    (page_sms,) = drain_agent_messages()
    code = pages.get_page(conversation_id).code
    assert page_sms["to"] == ana.phone and page_sms["purpose"] == "page"
    assert page_sms["body"].startswith(f"[{code}] SMS ") and f"Reply {code} ACK" in page_sms["body"]

    # A second message on the same conversation does not page again.
    again = sms_form(form["From"], "hello??")
    local.post_sms(again)
    route(local, again)
    assert drain_agent_messages() == []

    opened = pages.get_page(conversation_id).opened_at
    assert tick(opened + timedelta(minutes=4), board())["escalated"] == 0
    assert tick(opened + timedelta(minutes=6), board())["escalated"] == 1
    (escalation,) = drain_agent_messages()
    assert escalation["to"] == ben.phone and escalation["body"].startswith("ESCALATED")
    assert pages.get_page(conversation_id).agents == {ana.agent_id, ben.agent_id}, "both levels may act on it"
    assert tick(opened + timedelta(minutes=6), board())["escalated"] == 0, "a second tick never pages a level twice"
    assert drain_agent_messages() == []
    assert tick(opened + timedelta(minutes=17), board())["failed"] == 1, "nobody answered at the last level"
    assert pages.get_page(conversation_id).status == PageStatus.FAILED


def test_an_ack_from_the_agents_phone_stops_the_escalation(local, team, sms_form):
    ana, ben, pages = team
    form = sms_form(body="The app crashes on login")
    local.post_sms(form)
    conversation_id = route(local, form)
    code = pages.get_page(conversation_id).code
    drain_agent_messages()
    assert local.post_sms(twilio_sms_form(ana.phone, f"{code} ACK")).status_code == 200
    opened = pages.get_page(conversation_id).opened_at
    assert tick(opened + timedelta(minutes=30), board()) == {"escalated": 0, "failed": 0, "woken": 0, "digests": 0, "errors": 0}
    assert drain_agent_messages() == []


def test_a_storm_of_customers_becomes_one_page_and_one_digest(local, team, sms_form):
    ana, _, pages = team
    conversations = []
    for n in range(25):
        form = sms_form(body=f"outage? {n}")
        local.post_sms(form)
        conversations.append(route(local, form))
    sent = drain_agent_messages()
    assert [m["purpose"] for m in sent] == ["page"] and sent[0]["to"] == ana.phone
    first_opened = pages.get_page(conversations[0]).opened_at
    counts = tick(first_opened + timedelta(minutes=3), board())
    assert counts["digests"] == 1
    digests = [m for m in drain_agent_messages() if m["purpose"] == "digest"]
    assert len(digests) == 1 and digests[0]["to"] == ana.phone
    assert digests[0]["body"].startswith("Switchboard: 24 need an answer")
    # Every conversation is tracked by its own page.
    assert all(pages.get_page(c) is not None for c in conversations)


def _after_hours(mode: str):
    from datetime import date, time

    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    store = OncallStore(client, table)
    from switchboard.oncall.schedule import AfterHoursMode

    set_rotation(store, load_config(store), agent_ids=("ana",), handoff_time=time(0), length_days=7, starts_on=date(2026, 1, 5),
                 time_zone="UTC", business_hours="Mon-Fri 09:00-17:00", after_hours=AfterHoursMode(mode))


SATURDAY_NIGHT = datetime(2026, 11, 28, 22, 0, tzinfo=timezone.utc)
MONDAY_OPENING = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def new_conversation(local, sms_form, body: str) -> str:
    form = sms_form(body=body)
    local.post_sms(form)
    return local.conversations().find_identity(Identity(IdentityKind.PHONE, form["From"]), consistent=True).conversation_id


def test_after_hours_queue_mode_holds_the_page_until_opening(local, team, sms_form):
    from switchboard.oncall.router import CustomerMessage, on_customer_message

    ana, _, pages = team
    _after_hours("queue")
    conversation_id = new_conversation(local, sms_form, "Saturday night question")
    assert on_customer_message(CustomerMessage(conversation_id, "sms", "Jane D", "Saturday night question"), SATURDAY_NIGHT, board()) == ()
    assert drain_agent_messages() == []
    assert pages.get_page(conversation_id).next_escalation_at == MONDAY_OPENING
    assert tick(MONDAY_OPENING - timedelta(minutes=1), board())["escalated"] == 0 and drain_agent_messages() == []
    tick(MONDAY_OPENING, board())
    (released,) = drain_agent_messages()
    assert released["to"] == ana.phone and not released["body"].startswith("ESCALATED")


def test_after_hours_repeat_mode_pages_only_a_customer_paged_before(local, team, sms_form):
    from switchboard.oncall.router import CustomerMessage, on_customer_message

    ana, _, pages = team
    _after_hours("repeat_or_escalated")
    conversation_id = new_conversation(local, sms_form, "first time")
    message = CustomerMessage(conversation_id, "sms", "Jane D", "first time")
    assert on_customer_message(message, SATURDAY_NIGHT, board()) == ()  # new after hours: held
    pages.settle(conversation_id, PageStatus.ANSWERED, "ana", SATURDAY_NIGHT)
    assert on_customer_message(message, SATURDAY_NIGHT + timedelta(minutes=30), board()) == ("ana",)  # a repeat: paged
    assert [m["to"] for m in drain_agent_messages()] == [ana.phone]


def test_a_customer_email_and_a_voicemail_each_page_the_on_call_agent(local, team):
    from email.message import EmailMessage

    import requests
    from urllib.parse import urlencode

    from local_stack.send import new_call_sid, new_ses_message_id, ses_receipt_event, voicemail_requests
    from local_stack.stack import LOCAL_SUPPORT_EMAIL
    from switchboard.store.mail import MailStore

    ana, _, pages = team
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = "Grace Hopper <grace.pages@customer.example>", LOCAL_SUPPORT_EMAIL, "Invoice question"
    email["Message-ID"] = "<invoice-question@customer.example>"
    email.set_content("Why was I charged twice?")
    ses_id = new_ses_message_id()
    MailStore(boto3.client("s3"), os.environ["MAIL_BUCKET"], "inbound/").put_raw(ses_id, bytes(email))
    stored = invoke(Template().functions()["EmailFunction"], ses_receipt_event(bytes(email), ses_id, [LOCAL_SUPPORT_EMAIL], received_at=datetime.now(timezone.utc)))["messages"][0]
    route_message(stored["conversation_id"], ses_id)
    (email_page,) = drain_agent_messages()
    assert email_page["to"] == ana.phone and " EMAIL Grace H: " in email_page["body"] and "Invoice question" in email_page["body"]

    caller, call_sid = unique_number(), new_call_sid()
    for path, form in voicemail_requests(caller, call_sid, text="Please call me back about my order", duration=12):
        requests.post(local.gateway_url + path, data=urlencode(form), headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": local.sign(form, path)}, timeout=60)
    conversation = local.conversations().find_identity(Identity(IdentityKind.PHONE, caller), consistent=True)
    route_message(conversation.conversation_id, call_sid)
    # Within two minutes of the email's page: bundled, and in the digest when the window ends.
    assert drain_agent_messages() == [] and pages.get_page(conversation.conversation_id).recipients == ("ana",)
    assert tick(datetime.now(timezone.utc) + timedelta(minutes=3), board())["digests"] == 1
    (digest,) = drain_agent_messages()
    assert digest["to"] == ana.phone and " CALL " in digest["body"] and "Please call me back" in digest["body"]


def test_a_page_opened_but_never_sent_is_sent_when_the_router_retries(local, team, sms_form):
    """The router failed between opening the page and paging (say SQS was down): the
    stream's retry of the same record pages the agent instead of finding a live page."""
    from switchboard.oncall.router import CustomerMessage, on_customer_message
    from switchboard.store.pages import Page

    ana, _, pages = team
    conversation_id = new_conversation(local, sms_form, "anyone there?")
    now = datetime.now(timezone.utc)
    code = pages.code_for(conversation_id, now)
    assert pages.open_page(Page(conversation_id, code, PageStatus.OPEN, now, 0, 0, ("ana",), now + timedelta(minutes=5), {"levels": [{"target": "schedule", "wait_minutes": 5}]}))
    message = CustomerMessage(conversation_id, "sms", "Jane D", "anyone there?")
    assert on_customer_message(message, now, board()) == ("ana",)
    (sent,) = drain_agent_messages()
    assert sent["to"] == ana.phone and sent["body"].startswith(f"[{code}]")
    assert on_customer_message(message, now, board()) == () and drain_agent_messages() == []


def test_an_outbox_failure_mid_escalation_or_mid_digest_loses_nothing(local, team, sms_form):
    """SQS refuses during a tick: the page stays at its level and the digest stays pending;
    the next tick pages the level and sends the digest, once each."""
    from dataclasses import replace as with_

    from switchboard.store.queue import OutboxQueue

    ana, ben, pages = team
    first = sms_form(body="first, pages Ana at once")
    local.post_sms(first)
    conversation_id = route(local, first)
    second = sms_form(body="second, waits for Ana's digest")
    local.post_sms(second)
    route(local, second)
    assert [m["to"] for m in drain_agent_messages()] == [ana.phone]
    opened = pages.get_page(conversation_id).opened_at
    broken = with_(board(), outbox=OutboxQueue(boto3.client("sqs"), os.environ["OUTBOX_QUEUE_URL"] + "-gone"))

    later = opened + timedelta(minutes=6)  # Ana's level has waited 5 minutes; her window has ended
    assert tick(later, broken) == {"escalated": 0, "failed": 0, "woken": 0, "digests": 0, "errors": 3}
    assert drain_agent_messages() == []
    assert pages.get_page(conversation_id).level == 0, "the level was not spent on a page nobody got"

    counts = tick(later + timedelta(seconds=30), board())
    sent = drain_agent_messages()
    assert counts == {"escalated": 2, "failed": 0, "woken": 0, "digests": 1, "errors": 0}
    assert [(m["purpose"], m["to"]) for m in sent if m["purpose"] == "page"] == [("page", ben.phone)], "Ben's first page now, the second in his digest"
    assert [m["to"] for m in sent if m["purpose"] == "digest"] == [ana.phone]
    assert tick(later + timedelta(seconds=40), board())["digests"] == 0 and [m for m in drain_agent_messages() if m["purpose"] == "digest"] == []


def test_the_store_down_during_the_router_the_sender_and_the_tick_loses_nothing(local, team, sms_form):
    """DynamoDB Local stopped (connections refused) while each runs: each fails in a way
    its event source retries, and once the store is back each retry does its work once."""
    import json as json_module

    from conftest_helpers import sqs_event
    from switchboard.store.outbox import OutboxStore

    ana, ben, pages = team
    form = sms_form(body="the store is about to go down")
    local.post_sms(form)
    conversation = local.conversations().find_identity(Identity(IdentityKind.PHONE, form["From"]), consistent=True)
    client = boto3.client("dynamodb")
    items = client.query(TableName=os.environ["TABLE_NAME"], KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
                         ExpressionAttributeValues=to_values({":pk": keys.conversation_pk(conversation.conversation_id), ":m": keys.MESSAGE_PREFIX}))["Items"]
    image = items[0]
    event = {"Records": [{"eventID": "1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                          "dynamodb": {"Keys": {"pk": image["pk"], "sk": image["sk"]}, "NewImage": image, "SequenceNumber": "1", "SizeBytes": 1, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                          "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Table/stream/x"}]}
    router = Template().functions()["RouterFunction"]

    local.stack.stop_dynamodb()
    try:
        with pytest.raises(Exception, match="all 1 records of the batch failed"):  # a function error: the stream retries the batch
            invoke(router, event)
    finally:
        local.stack.start_dynamodb()
    assert invoke(router, event) == {"batchItemFailures": []}
    assert invoke(router, event) == {"batchItemFailures": []}, "a second retry pages nobody twice"
    (page_sms,) = drain_agent_messages()
    assert page_sms["to"] == ana.phone

    sender = Template().functions()["SenderFunction"]
    local.stack.stop_dynamodb()
    try:
        failed = invoke(sender, sqs_event(json_module.dumps(page_sms)))
    finally:
        local.stack.start_dynamodb()
    assert len(failed["batchItemFailures"]) == 1, "the queue redelivers it"
    assert invoke(sender, sqs_event(json_module.dumps(page_sms))) == {"batchItemFailures": []}
    assert invoke(sender, sqs_event(json_module.dumps(page_sms))) == {"batchItemFailures": []}
    assert [m["body"] for m in OutboxStore(client, os.environ["TABLE_NAME"]).list_sms(ana.phone)].count(page_sms["body"]) == 1

    opened = pages.get_page(conversation.conversation_id).opened_at
    local.stack.stop_dynamodb()
    try:
        with pytest.raises(Exception):
            tick(opened + timedelta(minutes=6), board())
    finally:
        local.stack.start_dynamodb()
    assert tick(opened + timedelta(minutes=6), board())["escalated"] == 1, "the next tick escalates"
    assert [m["to"] for m in drain_agent_messages()] == [ben.phone]


def escalated_to_ben(local, team, sms_form) -> tuple[str, str, datetime]:
    """A customer's SMS paged Ana, then Ben when Ana did not answer: (conversation id, code, opened)."""
    ana, ben, pages = team
    form = sms_form(body="Charged twice for one order")
    assert local.post_sms(form).status_code == 200
    conversation_id = route(local, form)
    page = pages.get_page(conversation_id)
    assert tick(page.opened_at + timedelta(minutes=6), board())["escalated"] == 1
    assert [m["to"] for m in drain_agent_messages()] == [ana.phone, ben.phone]
    assert set(pages.get_page(conversation_id).paged_at) == {"ana", "ben"}
    return conversation_id, page.code, page.opened_at


def test_when_one_agent_answers_the_others_paged_in_the_last_hour_hear_it_in_their_next_digest(local, team, sms_form):
    ana, ben, pages = team
    conversation_id, code, opened = escalated_to_ben(local, team, sms_form)
    assert "Sent to" in local.post_sms(twilio_sms_form(ben.phone, f"{code} Refund is on its way.")).text
    # Bundled like digests: Ana's bundling window closed long ago, so the next tick sends it.
    assert tick(opened + timedelta(minutes=7), board())["digests"] == 1
    answer, note = drain_agent_messages()
    assert answer["purpose"] == "customer_reply"
    assert note["to"] == ana.phone and note["purpose"] == "digest"
    assert note["body"] == f"Switchboard: {code} answered by Ben Okafor."

    # An hour after Ana's page she no longer hears of it: the resolution tells nobody.
    from switchboard.oncall import actions
    from switchboard.store.pagers import PagerStore
    from switchboard.store.queue import OutboxQueue

    client = boto3.client("dynamodb")
    desk = actions.Desk(local.conversations(), pages, OutboxQueue(boto3.client("sqs"), os.environ["OUTBOX_QUEUE_URL"]),
                        pagers=PagerStore(client, os.environ["TABLE_NAME"]))
    later = opened + timedelta(hours=1, minutes=1)
    assert actions.resolve(conversation_id, ben, later, desk).resolved
    assert tick(later + timedelta(minutes=3), board())["digests"] == 0 and drain_agent_messages() == []


def test_the_others_are_not_told_when_the_setting_is_off(local, team, sms_form, monkeypatch):
    from dataclasses import replace

    from switchboard.handlers import sms_webhook

    monkeypatch.setattr(sms_webhook, "settings", replace(sms_webhook.settings, tell_other_agents="off"))
    ana, ben, pages = team
    _, code, opened = escalated_to_ben(local, team, sms_form)
    assert "Sent to" in local.post_sms(twilio_sms_form(ben.phone, f"{code} Refund is on its way.")).text
    assert tick(opened + timedelta(minutes=7), board())["digests"] == 0
    assert [m["purpose"] for m in drain_agent_messages()] == ["customer_reply"]
