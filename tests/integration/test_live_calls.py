"""A caller reaches a person (oncall/live_calls.py), on the local stack: every request
Twilio makes for the call, signed, through the gateway, each following the TwiML the last
one returned (local_stack/phone_call.py); the call's message in the caller's stream.

Ana is on call; the escalation policy's second level is Ben. Live answering is on
around the clock here (the handler's settings, swapped for each test), except where a
test says it is after hours.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from urllib.parse import urlencode

import boto3
import pytest
import requests

from conftest_helpers import drain_agent_messages, drain_outbox, route_message, sqs_event, unique_number
from local_stack.phone_call import CallScript, play_call
from local_stack.send import LOCAL_SUPPORT_NUMBER, new_call_sid, twilio_call_form
from switchboard.hours import parse_business_hours
from switchboard.models import Identity, IdentityKind, MessageKind, utc_now
from switchboard.oncall.config import add_agent, load_config, set_policy, set_rotation
from switchboard.oncall.policy import EscalationPolicy, parse_level
from switchboard.oncall.schedule import Agent
from switchboard.store import keys
from switchboard.store.calls import CallStore
from switchboard.store.dynamo import to_values
from switchboard.store.oncall import OncallStore
from switchboard.store.pages import PageStatus, PageStore

pytestmark = pytest.mark.integration


@pytest.fixture
def team(local, monkeypatch):
    """Ana on call around the clock, Ben at the second level; live answering always; an empty outbox."""
    from switchboard.handlers import voice_webhook

    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    for pk in (keys.ONCALL_PK, keys.PAGER_PK):
        for item in client.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=to_values({":pk": pk}))["Items"]:
            client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    store = OncallStore(client, table)
    ana, ben = Agent("ana", "Ana Lima", unique_number()), Agent("ben", "Ben Okafor", unique_number())
    for agent in (ana, ben):
        add_agent(store, load_config(store), agent, utc_now())
    set_rotation(store, load_config(store), agent_ids=("ana",), handoff_time=time(0), length_days=7, starts_on=date(2026, 1, 5),
                 time_zone="UTC", business_hours="always")
    set_policy(store, load_config(store), EscalationPolicy((parse_level("schedule:5"), parse_level("agent:ben:10")), repeat=0))
    monkeypatch.setattr(voice_webhook, "settings", replace(voice_webhook.settings, live_answering="always"))
    drain_outbox()
    return ana, ben


def poster(local):
    def post(path: str, form: dict[str, str]) -> tuple[int, str]:
        signature = local.sign(form, path)
        answer = requests.post(local.gateway_url + path, data=urlencode(form), timeout=60,
                               headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
        return answer.status_code, answer.text

    return post


def call(local, caller: str, script: CallScript, call_sid: str | None = None):
    call_sid = call_sid or new_call_sid()
    return call_sid, play_call(poster(local), local.public_url, caller, call_sid, script)


def customer_writes(local, sms_form, text: str) -> tuple[dict[str, str], str]:
    """A customer's SMS, stored and routed (paged): its form and the conversation id."""
    form = sms_form(body=text)
    assert local.post_sms(form).status_code == 200
    conversation_id = local.conversations().find_identity(Identity(IdentityKind.PHONE, form["From"]), consistent=True).conversation_id
    route_message(conversation_id, form["MessageSid"])
    return form, conversation_id


def the_call(local, call_sid: str):
    """The call's one message and its conversation."""
    route, message_id = local.conversations().find_claim("twilio-call", call_sid)
    conversation = local.conversations().get_conversation(route.conversation_id)
    (message,) = [m for m in conversation.messages if m.provider_id == call_sid]
    return conversation, message


def test_the_on_call_agent_accepts_and_the_call_is_answered_in_the_callers_stream(local, team):
    ana, ben = team
    caller = unique_number()
    call_sid, steps = call(local, caller, CallScript(keys={ana.phone: "1"}, talk_seconds=125))

    assert [s.path.rsplit("/", 1)[-1] for s in steps] == ["voice", "screen", "screened", "dialed", "status"]
    first = ElementTree.fromstring(steps[0].body)
    assert first.find("Say").text.startswith("Thanks for calling")
    dial = first.find("Dial")
    assert (dial.get("answerOnBridge"), dial.get("timeout"), dial.find("Number").text) == ("true", "18", ana.phone)
    screening = ElementTree.fromstring(steps[1].body).find("Gather")
    assert screening.get("numDigits") == "1" and "Press 1 to accept." in screening.find("Say").text
    assert f"Support call from {' '.join(caller)}" in screening.find("Say").text
    assert steps[2].body.strip().endswith("<Response />")  # accepted: bridged
    assert ElementTree.fromstring(steps[3].body).find("Hangup") is not None

    conversation, message = the_call(local, call_sid)
    assert message.kind is MessageKind.CALL and message.sender.value == caller
    assert message.provider_fields["AnsweredBy"] == "ana" and message.provider_fields["TalkSeconds"] == "125"
    assert "Answered by Ana Lima" in message.body and "2 min 5 s" in message.body
    assert conversation.first_response_at is not None and conversation.answered_at is not None
    assert conversation.first_response_seconds is not None and conversation.first_response_seconds < 60
    assert conversation.status.value == "waiting_on_customer"
    # A call taken live pages nobody (the router's filter leaves kind "call" out).
    assert CallStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).get(call_sid).accepted_by == "ana"


def test_declined_at_the_first_level_and_accepted_at_the_second(local, team):
    ana, ben = team
    call_sid, steps = call(local, unique_number(), CallScript(keys={ana.phone: "2", ben.phone: "1"}))

    assert [s.path.rsplit("/", 1)[-1] for s in steps] == ["voice", "screen", "screened", "dialed", "screen", "screened", "dialed", "status"]
    assert ElementTree.fromstring(steps[2].body).find("Hangup") is not None  # Ana's leg hangs up
    second = ElementTree.fromstring(steps[3].body).find("Dial")
    assert second.find("Number").text == ben.phone
    conversation, message = the_call(local, call_sid)
    assert message.provider_fields["AnsweredBy"] == "ben"
    attempts = CallStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).get(call_sid).attempts
    assert (attempts[1].agent_id, attempts[1].outcome, attempts[2].agent_id, attempts[2].outcome) == ("ana", "declined", "ben", "accepted")


def test_nobody_accepts_then_voicemail_which_pages_as_today(local, team):
    ana, ben = team
    caller = unique_number()
    call_sid, steps = call(local, caller, CallScript(voicemail="Please call me back about order 1042"))

    assert [s.path.rsplit("/", 1)[-1] for s in steps][:3] == ["voice", "dialed", "dialed"]
    assert ElementTree.fromstring(steps[2].body).find("Record") is not None  # nobody left: voicemail
    conversation, message = the_call(local, call_sid)
    assert message.kind is MessageKind.VOICEMAIL and message.body == "Please call me back about order 1042"
    assert message.provider_fields["Rang"] == "ana,ben"
    route_message(conversation.conversation_id, call_sid)
    (page,) = [m for m in drain_agent_messages() if m["purpose"] == "page"]
    assert page["to"] == ana.phone and "CALL" in page["body"] and "Please call me back" in page["body"]


def test_a_missed_call_without_voicemail_pages_with_the_callers_number(local, team):
    ana, ben = team
    caller = unique_number()
    call_sid, steps = call(local, caller, CallScript(voicemail=None))

    conversation, message = the_call(local, call_sid)
    assert message.kind is MessageKind.MISSED_CALL and message.provider_fields["Hunt"] == "not answered"
    route_message(conversation.conversation_id, call_sid)
    (page,) = [m for m in drain_agent_messages() if m["purpose"] == "page"]
    assert page["to"] == ana.phone and page["body"].startswith("[") and " CALL " in page["body"] and caller in page["body"]


def test_the_caller_hanging_up_while_it_rings_is_an_abandoned_call(local, team):
    ana, ben = team
    call_sid, steps = call(local, unique_number(), CallScript(hang_up_on_attempt=2))

    assert [s.path.rsplit("/", 1)[-1] for s in steps] == ["voice", "dialed", "status"]
    conversation, message = the_call(local, call_sid)
    assert message.kind is MessageKind.MISSED_CALL
    assert (message.provider_fields["Hunt"], message.provider_fields["Rang"]) == ("abandoned", "ana,ben")


def test_an_accepted_call_acknowledges_the_page_of_the_callers_conversation(local, team, sms_form):
    ana, ben = team
    form, conversation_id = customer_writes(local, sms_form, "My order never arrived")
    pages = PageStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    assert pages.get_page(conversation_id).status == PageStatus.OPEN

    call_sid, steps = call(local, form["From"], CallScript(keys={ana.phone: "1"}))

    (screening,) = [step for step in steps if step.path.endswith("/screen")]
    assert "1 open conversation." in ElementTree.fromstring(screening.body).find("Gather/Say").text
    assert pages.get_page(conversation_id).status == PageStatus.ACKED and pages.get_page(conversation_id).acked_by == "ana"
    conversation, message = the_call(local, call_sid)
    assert conversation.conversation_id == conversation_id and message.kind is MessageKind.CALL


def test_callbacks_repeated_and_out_of_order_change_nothing_twice(local, team):
    ana, ben = team
    caller = unique_number()
    recorded: list[tuple[str, dict[str, str]]] = []
    post = poster(local)

    def recording_post(path: str, form: dict[str, str]) -> tuple[int, str]:
        recorded.append((path, form))
        return post(path, form)

    call_sid = new_call_sid()
    play_call(recording_post, local.public_url, caller, call_sid, CallScript(keys={ana.phone: "1"}, talk_seconds=60))
    before = the_call(local, call_sid)

    # Twilio retries each callback (our URLs ask it to, on a 5xx or a timeout): all again,
    # last first; the answers stay what they were and the stream gets nothing new.
    answers = [post(path, form) for path, form in reversed(recorded)]
    assert all(status == 200 for status, _ in answers)
    after = the_call(local, call_sid)
    assert len(after[0].messages) == len(before[0].messages)
    assert after[1].provider_fields == before[1].provider_fields and after[1].kind is MessageKind.CALL
    assert after[0].first_response_at == before[0].first_response_at


def test_after_hours_the_call_goes_to_voicemail_without_ringing_anyone(local, team, monkeypatch):
    from switchboard.handlers import voice_webhook

    tomorrow = (utc_now() + timedelta(days=1)).strftime("%a")
    monkeypatch.setattr(voice_webhook, "settings", replace(voice_webhook.settings, live_answering="business_hours"))
    monkeypatch.setattr(voice_webhook, "business_hours", parse_business_hours(f"{tomorrow} 09:00-10:00", "UTC"))

    call_sid, steps = call(local, unique_number(), CallScript(voicemail="Call me tomorrow"))

    first = ElementTree.fromstring(steps[0].body)
    assert first.find("Dial") is None and first.find("Record") is not None
    assert the_call(local, call_sid)[1].kind is MessageKind.VOICEMAIL


def test_a_forged_callback_is_refused(local, team):
    form = {**twilio_call_form(unique_number(), new_call_sid(), LOCAL_SUPPORT_NUMBER), "Digits": "1"}
    path = "/webhooks/twilio/voice/screened?" + urlencode({"call": form["CallSid"], "attempt": 1, "caller": form["From"], "called": LOCAL_SUPPORT_NUMBER})
    forged = requests.post(local.gateway_url + path, data=urlencode(form), timeout=30,
                           headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert forged.status_code == 403
    # A real signature over another URL (the attempt changed) is as forged.
    signed_for = path.replace("attempt=1", "attempt=2")
    moved = requests.post(local.gateway_url + path, data=urlencode(form), timeout=30,
                          headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": local.sign(form, signed_for)})
    assert moved.status_code == 403


# ---- 12 CALL: an agent calls the customer back through the support number -----------------


def agent_texts(local, agent, text: str) -> str:
    from local_stack.send import twilio_sms_form

    answer = local.post_sms(twilio_sms_form(agent.phone, text))
    assert answer.status_code == 200
    return ElementTree.fromstring(answer.text).findtext("Message")


def test_12_call_rings_the_agent_then_puts_them_through_and_logs_the_call(local, team, sms_form):
    from local_stack.invoke import invoke
    from local_stack.phone_call import play_callback
    from local_stack.template import Template
    from switchboard.store.outbox import OutboxStore

    ana, ben = team
    form, conversation_id = customer_writes(local, sms_form, "Can someone call me? It is urgent")
    drain_outbox()
    code = local.conversations().get_summary(conversation_id).short_code

    said = agent_texts(local, ana, f"{code} CALL")

    assert said.startswith("Calling you now: answer, then press 1")
    (ring,) = [m for m in drain_outbox() if m["purpose"] == "callback"]
    assert (ring["channel"], ring["to"], ring["body"]) == ("voice", ana.phone, form["From"])
    invoke(Template().functions()["SenderFunction"], sqs_event(json.dumps(ring)))  # as the outbox queue's consumer would
    (kept,) = [m for m in OutboxStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).list_sms(ana.phone, limit=5) if m["body"].startswith("(call) ")]
    steps = play_callback(poster(local), local.public_url, kept["body"].removeprefix("(call) "), ana.phone, talk_seconds=185)

    assert [s.path.rsplit("/", 1)[-1] for s in steps] == ["callback", "connect", "done"]
    screening = ElementTree.fromstring(steps[0].body).find("Gather/Say").text
    assert " ".join(form["From"]) in screening and "Press 1 to call now." in screening
    dial = ElementTree.fromstring(steps[1].body).find("Dial")
    assert (dial.get("callerId"), dial.find("Number").text) == (LOCAL_SUPPORT_NUMBER, form["From"])
    conversation = local.conversations().get_conversation(conversation_id)
    (logged,) = [m for m in conversation.messages if m.kind is MessageKind.CALL]
    assert logged.direction.value == "outbound" and logged.sender.value == "ana"
    assert logged.body == "Ana Lima called back: 3 min 5 s on the phone"
    assert conversation.answered_at is not None and conversation.status.value == "waiting_on_customer"
    # Twilio's retry of the last callback logs nothing twice.
    assert poster(local)(*steps[-1].sent)[0] == 200
    assert len([m for m in local.conversations().get_conversation(conversation_id).messages if m.kind is MessageKind.CALL]) == 1


def test_12_call_for_an_email_customer_says_there_is_no_number(local, team):
    from local_stack.invoke import invoke
    from local_stack.send import new_ses_message_id, ses_receipt_event
    from local_stack.stack import LOCAL_SUPPORT_EMAIL
    from local_stack.template import Template
    from switchboard.store.mail import MailStore

    ana, ben = team
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = f"dana.{unique_number()[-5:]}@customer.example", LOCAL_SUPPORT_EMAIL, "Help"
    email.set_content("Please help")
    ses_id = new_ses_message_id()
    MailStore(boto3.client("s3"), os.environ["MAIL_BUCKET"], "inbound/").put_raw(ses_id, bytes(email))
    (stored,) = invoke(Template().functions()["EmailFunction"], ses_receipt_event(bytes(email), ses_id, [LOCAL_SUPPORT_EMAIL], received_at=datetime.now().astimezone()))["messages"]
    route_message(stored["conversation_id"], ses_id)
    drain_outbox()
    code = local.conversations().get_summary(stored["conversation_id"]).short_code

    assert "wrote by email: there is no number to call" in agent_texts(local, ana, f"{code} CALL")
    assert [m for m in drain_outbox() if m["purpose"] == "callback"] == []
