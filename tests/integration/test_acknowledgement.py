"""The automatic acknowledgement on the local stack (conversations/acknowledgement.py): once
per new or reopened conversation, on the customer's channel, true about when a person
answers, and never to a machine, an opted-out number, or twice in the quiet period.

The router's own clock is the real one; the rules about time are run through
`acknowledge` with the clock these tests inject (derived from each message's own time).
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import boto3
import pytest

from conftest_helpers import drain_outbox, put_on_call as on_call, route_message, stored_message_image, unique_number
from local_stack.invoke import invoke
from local_stack.send import new_ses_message_id, ses_receipt_event, twilio_sms_form
from local_stack.stack import LOCAL_SUPPORT_EMAIL
from local_stack.template import Template
from switchboard.channels.email_outbound import build_email
from switchboard.conversations.acknowledgement import AcknowledgementPolicy, Desk, Outcome, acknowledge, hours_for
from switchboard.models import ConversationStatus, Direction, Identity, IdentityKind, MessageKind, OutboundMessage
from switchboard.oncall import actions
from switchboard.oncall.config import load_config
from switchboard.settings import load_settings
from switchboard.store.dynamo import from_item
from switchboard.store.mail import MailStore
from switchboard.store.oncall import OncallStore
from switchboard.store.pages import PageStore
from switchboard.store.queue import OutboxQueue
from switchboard.store.subscribers import SubscriberStore

pytestmark = pytest.mark.integration


def desk(local) -> Desk:
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    return Desk(local.conversations(), SubscriberStore(client, table), OutboxQueue(boto3.client("sqs"), os.environ["OUTBOX_QUEUE_URL"]), LOCAL_SUPPORT_EMAIL)


def policy() -> AcknowledgementPolicy:
    return AcknowledgementPolicy.from_settings(load_settings())


def acknowledged_at(now: datetime, local, conversation_id: str, provider_id: str) -> Outcome:
    """`acknowledge` run on a stored message's stream image with the injected clock `now`."""
    image = from_item(stored_message_image(conversation_id, provider_id))
    config = load_config(OncallStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]))
    return acknowledge(image, now, policy(), lambda: hours_for(config, image["channel"], now), desk(local))


def sms_customer(local, body: str, sender: str | None = None) -> tuple[str, str, datetime]:
    """A customer's SMS through the webhook: (conversation id, MessageSid, when it was stored)."""
    form = twilio_sms_form(sender or unique_number(), body)
    assert local.post_sms(form).status_code == 200
    conversation = local.conversations().find_identity(Identity(IdentityKind.PHONE, form["From"]), consistent=True)
    image = from_item(stored_message_image(conversation.conversation_id, form["MessageSid"]))
    return conversation.conversation_id, form["MessageSid"], datetime.fromisoformat(image["received_at"])


def acknowledgements(local, conversation_id: str):
    conversation = local.conversations().get_conversation(conversation_id)
    return [m for m in conversation.messages if m.kind is MessageKind.ACKNOWLEDGEMENT]


def test_a_new_customer_hears_when_to_expect_a_person_once_and_it_is_not_a_first_response(local):
    ana = on_call()
    conversation_id, sid, _ = sms_customer(local, "My invoice shows two charges")
    customer = local.conversations().get_summary(conversation_id).customer_identity.value
    route_message(conversation_id, sid)
    queued = {m["purpose"]: m for m in drain_outbox()}
    assert set(queued) == {"page", "acknowledgement"} and queued["page"]["to"] == ana.phone
    ack = queued["acknowledgement"]
    assert ack["to"] == customer and ack["channel"] == "sms"
    assert ack["body"] == "Thanks for your message: someone from Support will answer within about 5 minutes."

    (stored,) = acknowledgements(local, conversation_id)
    assert stored.direction is Direction.OUTBOUND and stored.sender.kind is IdentityKind.AUTOMATIC and stored.body == ack["body"]
    assert ack["stream_message_id"] == stored.message_id, "its delivery status lands on it"
    summary = local.conversations().get_summary(conversation_id)
    assert summary.status is ConversationStatus.WAITING_ON_US and summary.first_response_seconds is None, "not a first response"
    assert summary.waiting_since is not None and summary.acknowledged_at is not None

    # The router retried for the same record: the stored acknowledgement is queued again
    # under the same key (the sender sends it once); the stream still holds one.
    route_message(conversation_id, sid)
    (again,) = drain_outbox()
    assert again["idempotency_key"] == ack["idempotency_key"] and again["body"] == ack["body"]
    assert len(acknowledgements(local, conversation_id)) == 1

    # A second message while the customer waits is not the start of a conversation.
    _, second_sid, _ = sms_customer(local, "hello??", sender=customer)
    route_message(conversation_id, second_sid)
    assert drain_outbox() == [] and len(acknowledgements(local, conversation_id)) == 1


def test_no_acknowledgement_after_an_agents_answer_and_a_reopened_conversation_waits_out_the_quiet_period(local):
    ana = on_call()
    conversation_id, sid, written = sms_customer(local, "Where is my order?")
    assert acknowledged_at(written, local, conversation_id, sid) is Outcome.SENT
    agent_desk = actions.Desk(local.conversations(), PageStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]),
                              OutboxQueue(boto3.client("sqs"), os.environ["OUTBOX_QUEUE_URL"]), LOCAL_SUPPORT_EMAIL)
    actions.answer(conversation_id, ana, "It ships tomorrow.", written + timedelta(minutes=3), agent_desk)
    customer = local.conversations().get_summary(conversation_id).customer_identity.value

    _, reply_sid, replied = sms_customer(local, "Can it come today?", sender=customer)
    assert acknowledged_at(replied, local, conversation_id, reply_sid) is Outcome.ANSWERED

    actions.resolve(conversation_id, ana, replied + timedelta(minutes=5), agent_desk)
    _, reopen_sid, reopened = sms_customer(local, "It did not arrive", sender=customer)
    assert local.conversations().get_summary(conversation_id).status is ConversationStatus.WAITING_ON_US, "reopened"
    # 24 hours (ACKNOWLEDGE_QUIET_HOURS) from the first acknowledgement: not before.
    assert acknowledged_at(written + timedelta(hours=23, minutes=59), local, conversation_id, reopen_sid) is Outcome.QUIET
    assert acknowledged_at(written + timedelta(hours=24, minutes=1), local, conversation_id, reopen_sid) is Outcome.SENT
    assert [m.body for m in acknowledgements(local, conversation_id)] == ["Thanks for your message: someone from Support will answer within about 5 minutes."] * 2
    drain_outbox()


BERLIN = ZoneInfo("Europe/Berlin")


def following(weekday: int, after: datetime) -> date:
    """The first date after `after`'s (Berlin) date that falls on `weekday` (0 = Monday)."""
    day = after.astimezone(BERLIN).date() + timedelta(days=1)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


@pytest.mark.parametrize("minute, expected", [(59, "within about 5 minutes"), (61, "on Monday at 09:00 {zone}")], ids=["16:59", "17:01"])
def test_at_the_end_of_the_week_the_customer_hears_when_the_team_is_back(local, minute, expected):
    on_call("Mon-Fri 09:00-17:00", "Europe/Berlin")
    conversation_id, sid, written = sms_customer(local, "Is anyone there?")
    friday = following(4, written)
    now = datetime.combine(friday, time(16, 0), tzinfo=BERLIN) + timedelta(minutes=minute)
    assert acknowledged_at(now, local, conversation_id, sid) is Outcome.SENT
    monday_opening = datetime.combine(friday + timedelta(days=3), time(9), tzinfo=BERLIN)
    (ack,) = drain_outbox()
    assert ack["body"].endswith(expected.format(zone=monday_opening.tzname()) + ".")


def send_email(message: EmailMessage) -> dict:
    """What SES does: the raw mail into the bucket, then the email function with its receipt event."""
    ses_id = new_ses_message_id()
    MailStore(boto3.client("s3"), os.environ["MAIL_BUCKET"], "inbound/").put_raw(ses_id, bytes(message))
    event = ses_receipt_event(bytes(message), ses_id, [LOCAL_SUPPORT_EMAIL], received_at=datetime.now(timezone.utc))
    (stored,) = invoke(Template().functions()["EmailFunction"], event)["messages"]
    return {**stored, "ses_id": ses_id}


def test_an_email_acknowledgement_threads_into_the_customers_message_and_their_autoresponder_never_loops(local):
    on_call()
    address = f"grace.{unique_number()[-6:]}@customer.example"
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = f"Grace Hopper <{address}>", LOCAL_SUPPORT_EMAIL, "Invoice question"
    email["Message-ID"] = "<invoice-question-1@customer.example>"
    email.set_content("Why was I charged twice?")
    stored = send_email(email)
    conversation_id = route_message(stored["conversation_id"], stored["ses_id"])
    (ack,) = [m for m in drain_outbox() if m["purpose"] == "acknowledgement"]
    assert ack["to"] == address and ack["body"].endswith("within about 30 minutes.")
    sent = message_from_bytes(build_email(OutboundMessage.from_json(__import__("json").dumps(ack)), LOCAL_SUPPORT_EMAIL))
    assert sent["Auto-Submitted"] == "auto-replied", "RFC 3834: other autoresponders leave it alone"
    assert sent["In-Reply-To"] == "<invoice-question-1@customer.example>" and sent["Subject"] == "Re: Invoice question"
    assert sent["Reply-To"].startswith("support+")

    # The customer's address answers every email automatically: once as RFC 3834 says
    # (Auto-Submitted), once as a careless autoresponder does (no header at all). Both
    # thread into the conversation; neither is acknowledged, even when the router sees them.
    for round_, headers in enumerate([{"Auto-Submitted": "auto-replied"}, {}], start=2):
        autoreply = EmailMessage()
        autoreply["From"], autoreply["To"], autoreply["Subject"] = address, sent["Reply-To"], "Re: Invoice question"
        autoreply["Message-ID"] = f"<away-{round_}@customer.example>"
        autoreply["In-Reply-To"] = sent["Message-ID"]
        for name, value in headers.items():
            autoreply[name] = value
        autoreply.set_content("I am away until Monday.")
        reply = send_email(autoreply)
        assert reply["conversation_id"] == conversation_id
        route_message(conversation_id, reply["ses_id"])
        assert drain_outbox() == []
    assert len(acknowledgements(local, conversation_id)) == 1


def test_no_acknowledgement_to_a_number_that_sent_stop_nor_on_x_by_default(local):
    on_call()
    number = unique_number()
    assert local.post_sms(twilio_sms_form(number, "STOP")).status_code == 200
    conversation_id, sid, written = sms_customer(local, "one more question", sender=number)
    assert acknowledged_at(written, local, conversation_id, sid) is Outcome.OPTED_OUT
    assert drain_outbox() == [] and acknowledgements(local, conversation_id) == []

    mention = {"channel": "x", "conversation_id": "unused", "customer_id": "unused", "message_id": "unused",
               "received_at": written.isoformat(), "sender": {"kind": "x", "value": "2244994945"}}
    assert acknowledge(mention, written, policy(), lambda: pytest.fail("not asked"), desk(local)) is Outcome.OFF
