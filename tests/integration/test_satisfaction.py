"""One question after the answer, on the local stack (conversations/satisfaction.py): asked
once when an agent resolves a conversation they answered, on the customer's channel; a
bare score by SMS or a link's form by email rates it, without reopening it or paging.

The SMS webhook runs on the real clock; the rules about days (quiet days, how long an
answer counts) run through the actions with a clock derived from the conversation's own
times.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import replace
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage

import boto3
import pytest
import requests

from conftest_helpers import drain_agent_messages, drain_outbox, put_on_call, route_message, unique_number
from iam_grants import Call, recorded_calls, refused
from local_stack.invoke import invoke
from local_stack.send import new_ses_message_id, ses_receipt_event, twilio_sms_form
from local_stack.stack import LOCAL_SUPPORT_EMAIL
from local_stack.template import Template
from switchboard.channels.email_outbound import build_email
from switchboard.channels.sms import normalize_sms
from switchboard.conversations.inbound import record_inbound
from switchboard.conversations.satisfaction import Outcome, SatisfactionPolicy, Survey, resolve_and_ask
from switchboard.models import Channel, ConversationStatus, Direction, Identity, IdentityKind, MessageKind, OutboundMessage
from switchboard.oncall import actions
from switchboard.settings import load_settings
from switchboard.store import clients
from switchboard.store.mail import MailStore
from switchboard.store.pages import PageStore
from switchboard.store.queue import OutboxQueue
from switchboard.store.subscribers import SubscriberStore

pytestmark = pytest.mark.integration
QUESTION = "How did we do? Reply 1 (poor) to 5 (great). Support"


def survey(local) -> Survey:
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    return Survey(SatisfactionPolicy.from_settings(load_settings()), local.conversations(), SubscriberStore(client, table),
                  OutboxQueue(boto3.client("sqs"), os.environ["OUTBOX_QUEUE_URL"]), LOCAL_SUPPORT_EMAIL)


def desk(local) -> actions.Desk:
    return actions.Desk(local.conversations(), PageStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]),
                        OutboxQueue(boto3.client("sqs"), os.environ["OUTBOX_QUEUE_URL"]), LOCAL_SUPPORT_EMAIL, survey=survey(local))


def sms(local, sender: str, body: str, sid: str | None = None) -> str:
    """A signed SMS through the webhook; the TwiML answer's text."""
    response = local.post_sms(twilio_sms_form(sender, body, message_sid=sid))
    assert response.status_code == 200
    return response.text


def customer_writes(local, number: str, body: str = "My card was charged twice") -> str:
    """A customer's SMS, stored and routed (paged, acknowledged): the conversation id; the outbox emptied."""
    form = twilio_sms_form(number, body)
    assert local.post_sms(form).status_code == 200
    conversation_id = local.conversations().find_identity(Identity(IdentityKind.PHONE, number), consistent=True).conversation_id
    route_message(conversation_id, form["MessageSid"])
    drain_outbox()
    return conversation_id


def questions(local, conversation_id: str):
    return [m for m in local.conversations().get_conversation(conversation_id).messages if m.kind is MessageKind.SATISFACTION_QUESTION]


def test_an_answered_conversation_resolved_by_sms_asks_once_and_a_bare_score_rates_it_without_reopening(local):
    ana = put_on_call()
    number = unique_number()
    conversation_id = customer_writes(local, number)
    code = local.conversations().get_summary(conversation_id).short_code
    assert "Sent to" in sms(local, ana.phone, f"{code} Refunded: you will see it in 3 days.")
    drain_outbox()

    assert "resolved; asked how we did." in sms(local, ana.phone, f"{code} RESOLVE")
    (question,) = [m for m in drain_outbox() if m["purpose"] == "satisfaction"]
    assert question["to"] == number and question["channel"] == "sms" and question["body"] == QUESTION
    (stored,) = questions(local, conversation_id)
    assert stored.direction is Direction.OUTBOUND and stored.sender.kind is IdentityKind.AUTOMATIC
    assert question["stream_message_id"] == stored.message_id, "its delivery status lands on it"

    # The customer answers with a score: thanked, rated, still resolved, nobody paged.
    rating_sid = "SM" + "4" * 32
    assert "we have your 4 out of 5" in sms(local, number, "4", sid=rating_sid)
    summary = local.conversations().get_summary(conversation_id)
    assert summary.status is ConversationStatus.RESOLVED and summary.waiting_since is None
    assert (summary.rating.score, summary.rating.channel) == (4, "sms")
    assert drain_agent_messages() == [], "a rating pages nobody"
    (rating,) = [m for m in local.conversations().get_conversation(conversation_id).messages if m.kind is MessageKind.RATING]
    assert rating.body == "4" and rating.direction is Direction.INBOUND

    # Twilio retries the same SMS: the same thanks, nothing stored twice.
    assert "we have your 4 out of 5" in sms(local, number, "4", sid=rating_sid)
    assert len([m for m in local.conversations().get_conversation(conversation_id).messages if m.kind is MessageKind.RATING]) == 1

    # Rated once: a later "5" is a message as usual, and reopens the conversation.
    assert "out of 5" not in sms(local, number, "5")
    summary = local.conversations().get_summary(conversation_id)
    assert summary.rating.score == 4 and summary.status is ConversationStatus.WAITING_ON_US

    # Answered and resolved again: this conversation was asked already.
    assert "resolved." in sms(local, ana.phone, f"{code} RESOLVE") and not questions(local, conversation_id)[1:]
    assert [m for m in drain_outbox() if m["purpose"] == "satisfaction"] == []


def test_a_reply_that_is_not_only_a_score_is_a_new_message(local):
    ana = put_on_call()
    number = unique_number()
    conversation_id = customer_writes(local, number)
    now = local.conversations().get_summary(conversation_id).waiting_since
    actions.answer(conversation_id, ana, "Fixed it.", now + timedelta(minutes=2), desk(local))
    actions.resolve(conversation_id, ana, now + timedelta(minutes=3), desk(local))
    assert [m["purpose"] for m in drain_outbox()] == ["customer_reply", "satisfaction"]

    assert "out of 5" not in sms(local, number, "4 days and still no refund")
    summary = local.conversations().get_summary(conversation_id)
    assert summary.rating is None and summary.status is ConversationStatus.WAITING_ON_US


def test_no_question_without_an_answer_to_an_opted_out_number_or_within_the_quiet_days(local):
    ana = put_on_call()
    # Resolved without an answer: nothing to rate.
    unanswered = customer_writes(local, unique_number())
    start = local.conversations().get_summary(unanswered).waiting_since
    assert actions.resolve(unanswered, ana, start + timedelta(minutes=1), desk(local)).text.endswith("resolved.")
    assert drain_outbox() == [] and questions(local, unanswered) == []

    # An opted-out number hears nothing automatic.
    stopped = unique_number()
    sms(local, stopped, "STOP")
    opted_out = customer_writes(local, stopped, "one more thing before I go")
    actions.answer(opted_out, ana, "Done.", start + timedelta(minutes=2), desk(local))
    drain_outbox()
    assert resolve_and_ask(local.conversations().get_summary(opted_out), start + timedelta(minutes=3), survey(local)) is Outcome.OPTED_OUT
    assert drain_outbox() == [] and local.conversations().get_summary(opted_out).status is ConversationStatus.RESOLVED

    # One customer, two conversations: asked about the first, not about the next within
    # SATISFACTION_QUIET_DAYS (30) of it, asked again after. The later messages are stored
    # with the clock injected, weeks on: each opens a new conversation or reopens the last.
    number = unique_number()
    first = customer_writes(local, number)
    start = local.conversations().get_summary(first).waiting_since
    actions.answer(first, ana, "Done.", start + timedelta(minutes=1), desk(local))
    assert "asked how we did" in actions.resolve(first, ana, start + timedelta(minutes=2), desk(local)).text
    asked_at = local.conversations().get_summary(first).surveyed_at
    for days, outcome in ((29, Outcome.QUIET), (31, Outcome.ASKED)):
        at = asked_at + timedelta(days=days)
        message = normalize_sms(twilio_sms_form(number, f"a new question, {days} days on"), received_at=at, default_region="US")
        later = record_inbound(message, local.conversations(), timedelta(days=7)).conversation_id
        assert later != first
        actions.answer(later, ana, "Done.", at + timedelta(minutes=1), desk(local))
        assert resolve_and_ask(local.conversations().get_summary(later), at + timedelta(minutes=2), survey(local)) is outcome
    asked = [m["to"] for m in drain_outbox() if m["purpose"] == "satisfaction"]
    assert asked == [number, number], "the first conversation, and the one 31 days on"


def test_a_retried_resolution_queues_the_stored_question_again_under_the_same_key(local):
    ana = put_on_call()
    conversation_id = customer_writes(local, unique_number())
    start = local.conversations().get_summary(conversation_id).waiting_since
    actions.answer(conversation_id, ana, "Done.", start + timedelta(minutes=1), desk(local))
    actions.resolve(conversation_id, ana, start + timedelta(minutes=2), desk(local))
    (first,) = [m for m in drain_outbox() if m["purpose"] == "satisfaction"]
    # The agent's RESOLVE came again (the first answer was lost): queued again, sent once.
    assert "asked how we did" in actions.resolve(conversation_id, ana, start + timedelta(minutes=3), desk(local)).text
    (again,) = drain_outbox()
    assert again["idempotency_key"] == first["idempotency_key"] and again["body"] == first["body"]
    assert len(questions(local, conversation_id)) == 1
    # Hours later it is a new resolution, not a retry: nothing is queued.
    assert actions.resolve(conversation_id, ana, start + timedelta(hours=3), desk(local)).text.endswith("resolved.")
    assert drain_outbox() == []


def test_not_asked_on_x_by_default(local):
    summary = local.conversations().get_summary(customer_writes(local, unique_number()))
    on_x = replace(summary, channel=Channel.X, answered_at=summary.waiting_since, reply_to={"channel": "x", "post_id": "1"})
    assert resolve_and_ask(on_x, summary.waiting_since + timedelta(minutes=5), survey(local)) is Outcome.OFF
    assert [m for m in drain_outbox() if m["purpose"] == "satisfaction"] == []
    assert local.conversations().get_summary(summary.conversation_id).status is ConversationStatus.RESOLVED


def test_a_voicemail_caller_is_asked_by_sms_and_rates_by_sms(local):
    from local_stack.send import new_call_sid, voicemail_requests

    ana = put_on_call()
    caller = unique_number()
    for path, form in voicemail_requests(caller, new_call_sid(), text="My router keeps rebooting, call me back.", duration=12):
        signature = local.sign(form, path)
        sent = requests.post(local.gateway_url + path, data=form, headers={"X-Twilio-Signature": signature}, timeout=60)
        assert sent.status_code == 200, (path, sent.text)
    conversation_id = local.conversations().find_identity(Identity(IdentityKind.PHONE, caller), consistent=True).conversation_id
    summary = local.conversations().get_summary(conversation_id)
    assert summary.channel is Channel.VOICE
    actions.answer(conversation_id, ana, "Called you back: fixed.", summary.waiting_since + timedelta(minutes=3), desk(local))
    actions.resolve(conversation_id, ana, summary.waiting_since + timedelta(minutes=4), desk(local))
    (question,) = [m for m in drain_outbox() if m["purpose"] == "satisfaction"]
    assert (question["channel"], question["to"], question["body"]) == ("sms", caller, QUESTION)
    assert "we have your 5 out of 5" in sms(local, caller, "5 stars")
    assert local.conversations().get_summary(conversation_id).rating.score == 5


def email_customer(local) -> tuple[str, str]:
    """An email customer's message, stored and routed: (their address, the conversation id)."""
    address = f"grace.{unique_number()[-6:]}@customer.example"
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = f"Grace Hopper <{address}>", LOCAL_SUPPORT_EMAIL, "Refund"
    email["Message-ID"] = f"<refund-{address}>"
    email.set_content("Where is my refund?")
    ses_id = new_ses_message_id()
    MailStore(boto3.client("s3"), os.environ["MAIL_BUCKET"], "inbound/").put_raw(ses_id, bytes(email))
    event = ses_receipt_event(bytes(email), ses_id, [LOCAL_SUPPORT_EMAIL], received_at=datetime.now().astimezone())
    (stored,) = invoke(Template().functions()["EmailFunction"], event)["messages"]
    route_message(stored["conversation_id"], ses_id)
    drain_outbox()
    return address, stored["conversation_id"]


def test_by_email_five_links_whose_get_records_nothing_and_whose_post_rates_with_a_comment(local, monkeypatch):
    ana = put_on_call()
    address, conversation_id = email_customer(local)
    start = local.conversations().get_summary(conversation_id).waiting_since
    actions.answer(conversation_id, ana, "Refunded today.", start + timedelta(minutes=4), desk(local))
    drain_outbox()
    actions.resolve(conversation_id, ana, start + timedelta(minutes=5), desk(local))
    (question,) = drain_outbox()
    assert question["to"] == address and question["purpose"] == "satisfaction"
    sent = message_from_bytes(build_email(OutboundMessage.from_json(json.dumps(question)), LOCAL_SUPPORT_EMAIL))
    assert sent["Auto-Submitted"] == "auto-generated" and sent["Subject"] == "Re: Refund"
    links = re.findall(r"(\S+/rate/(\S+)\?score=(\d))", question["body"])
    assert [int(score) for _, _, score in links] == [5, 4, 3, 2, 1] and len({token for _, token, _ in links}) == 1
    token = links[0][1]
    assert len(token) >= 22, "at least 128 random bits"
    (stored,) = questions(local, conversation_id)
    assert token not in stored.body, "the stream keeps no token: only its digest is stored"

    page = lambda score: f"{local.gateway_url}/rate/{token}?score={score}"  # noqa: E731
    gateway_log = io.StringIO()
    monkeypatch.setattr(local.gateway, "log", gateway_log)
    with recorded_calls(clients.dynamodb()) as calls:
        # A mail scanner follows every link: it sees forms, and nothing is recorded.
        for _, _, score in links:
            shown = requests.get(page(score), timeout=30)
            assert shown.status_code == 200 and f'value="{score}" required checked' in shown.text
            assert shown.headers["Cache-Control"] == "no-store" and "script" not in shown.headers["Content-Security-Policy"]
        assert local.conversations().get_summary(conversation_id).rating is None
        posted = requests.post(page(4), data={"score": "4", "comment": "Quick,\n and kind."}, timeout=30)
        assert posted.status_code == 200 and "4 out of 5" in posted.text
        rating = local.conversations().get_summary(conversation_id).rating
        assert (rating.score, rating.channel, rating.comment) == (4, "email", "Quick, and kind.")
        # The customer changes their mind: the latest counts. The conversation stays resolved.
        assert requests.post(page(5), data={"score": "5"}, timeout=30).status_code == 200
        summary = local.conversations().get_summary(conversation_id)
        assert (summary.rating.score, summary.status) == (5, ConversationStatus.RESOLVED)
        # Bad input gets a clear answer; an unknown token the same as an expired one.
        assert requests.post(page(4), data={"score": "9"}, timeout=30).status_code == 400
        assert requests.post(page(4), data={"score": "3", "comment": "x" * 9000}, timeout=30).status_code == 413
        forged = f"{local.gateway_url}/rate/{'A' * 22}?score=1"
        assert requests.get(forged, timeout=30).status_code == 404
        assert requests.post(forged, data={"score": "1"}, timeout=30).status_code == 404
    assert local.conversations().get_summary(conversation_id).rating.score == 5
    assert drain_agent_messages() == [], "a rating pages nobody"
    assert "POST /rate/{token} → SatisfactionLinksFunction 200" in gateway_log.getvalue()
    assert token not in gateway_log.getvalue(), "no log keeps a link's token"

    # The public function touched only survey links and conversation summaries.
    assert {call.action for call in calls} == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert refused("SatisfactionLinksFunction", calls) == []
    table = calls[0].resource
    assert refused("SatisfactionLinksFunction", [Call("dynamodb:GetItem", table, (f"CONVERSATION#{conversation_id}",))]), "it cannot read a conversation"
    assert refused("SatisfactionLinksFunction", [Call("dynamodb:UpdateItem", table, ("ONCALL",))])
