"""Agents answer from their phone: SMS commands through the real webhook, on the local stack."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from conftest_helpers import drain_outbox, run_cli, sqs_event, unique_number
from local_stack.send import twilio_sms_form
from switchboard.models import Identity, IdentityKind, utc_now
from switchboard.oncall.config import add_agent, load_config
from switchboard.oncall.schedule import Agent
from switchboard.store.oncall import OncallStore
from switchboard.store.pages import Page, PageStatus, PageStore

pytestmark = pytest.mark.integration


def table():
    return boto3.client("dynamodb"), os.environ["TABLE_NAME"]


def reply_text(response) -> str:
    assert response.status_code == 200, response.text
    message = ElementTree.fromstring(response.text).find("Message")
    return message.text if message is not None else ""


def page_to(pages: PageStore, conversation_id: str, agent: Agent) -> str:
    """Open the conversation's page to the agent, as the router would; its short code."""
    now = datetime.now(timezone.utc)
    code = pages.code_for(conversation_id, now)
    assert pages.open_page(Page(conversation_id, code, PageStatus.OPEN, now, 0, 0, (agent.agent_id,), now, {"levels": []}))
    return code


@pytest.fixture
def paged(local, sms_form):
    """A customer's SMS, a page open for it, and an agent with a phone."""
    client, name = table()
    store = OncallStore(client, name)
    agent = Agent(f"agent-{unique_number()[-4:]}", "Ana Lima", unique_number())
    add_agent(store, load_config(store), agent, utc_now())
    customer = unique_number()
    assert local.post_sms(sms_form(customer, "my invoice shows two charges")).status_code == 200
    route = local.conversations().find_identity(Identity(IdentityKind.PHONE, customer), consistent=True)
    pages = PageStore(client, name)
    code = page_to(pages, route.conversation_id, agent)
    drain_outbox()  # start from an empty queue
    return agent, customer, route.conversation_id, code, pages


def test_ack_claims_the_conversation_and_stops_escalation(local, paged):
    agent, _, conversation_id, code, pages = paged
    text = reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} ack")))
    assert f"{code} (" in text and "is yours" in text
    page = pages.get_page(conversation_id)
    assert page.status == PageStatus.ACKED and page.next_escalation_at is None
    assert conversation_id not in [p.conversation_id for p in pages.due(datetime(2100, 1, 1, tzinfo=timezone.utc))]
    # The command is not a customer message: nothing was added to any stream.
    assert [m.body for m in local.conversations().get_conversation(conversation_id).messages] == ["my invoice shows two charges"]
    # A second ACK changes nothing, and says so; after RESOLVE there is nothing to claim.
    again = reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} ack")))
    assert f"{code} (" in again and "is already yours" in again and "escalation stopped" not in again
    resolved = reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} resolve")))
    assert "resolved" in resolved
    after = reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} ack")))
    assert "is resolved: nothing to acknowledge" in after


def test_an_answer_reaches_the_customer_once_and_is_recorded_with_the_agents_name(local, paged):
    agent, customer, conversation_id, code, pages = paged
    form = twilio_sms_form(agent.phone, f"{code} Sorry! I refunded the second charge.")
    text = reply_text(local.post_sms(form))
    assert text.startswith(f"Sent to {code} (")
    assert reply_text(local.post_sms(form)).startswith("Already sent"), "Twilio's retry of the same MessageSid"
    queued = drain_outbox()
    assert [(m["channel"], m["to"], m["body"], m["purpose"]) for m in queued][:1] == [("sms", customer, "Sorry! I refunded the second charge.", "customer_reply")]
    assert len({m["idempotency_key"] for m in queued}) == 1, "a repeat may be queued again but carries the same key"
    conversation = local.conversations().get_conversation(conversation_id)
    assert conversation.status.value == "waiting_on_customer" and conversation.waiting_since is None
    outbound = [m for m in conversation.messages if m.direction.value == "outbound"]
    assert len(outbound) == 1 and outbound[0].sender.display_name == "Ana Lima" and outbound[0].sender.value == agent.agent_id
    assert pages.get_page(conversation_id).status == PageStatus.ANSWERED
    summary = local.conversations().get_summary(conversation_id)
    assert summary.first_response_seconds is not None and summary.first_response_seconds >= 0


    shown = run_cli(["report", "--since", "1d", "--json"], local.cli_env())
    assert shown.returncode == 0, shown.stderr
    sms = next(f for f in json.loads(shown.stdout)["channels"] if f["channel"] == "sms")
    assert sms["answered"] >= 1 and sms["first_response_median_seconds"] is not None


def test_resolve_help_and_unknown_codes_answer_the_agent_clearly(local, paged):
    agent, _, conversation_id, code, pages = paged
    assert "resolved" in reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} RESOLVE")))
    assert local.conversations().get_conversation(conversation_id).status.value == "resolved"
    assert pages.get_page(conversation_id).status == PageStatus.RESOLVED
    assert reply_text(local.post_sms(twilio_sms_form(agent.phone, "HELP"))).startswith("Switchboard:")
    assert "No conversation 99999" in reply_text(local.post_sms(twilio_sms_form(agent.phone, "99999 ACK")))
    confused = reply_text(local.post_sms(twilio_sms_form(agent.phone, "on it")))
    assert "start with the conversation's number" in confused and "HELP" in confused
    assert drain_outbox() == []


def another_agent(name: str) -> Agent:
    """A registered agent nobody paged and nobody put on call."""
    client, table_name = table()
    store = OncallStore(client, table_name)
    agent = Agent(f"{name.split()[0].lower()}-{unique_number()[-4:]}", name, unique_number())
    add_agent(store, load_config(store), agent, utc_now())
    return agent


def stream(local, conversation_id: str) -> list[tuple[str, str]]:
    return [(m.direction.value, m.body) for m in local.conversations().get_conversation(conversation_id).messages]


def test_an_agent_the_page_was_not_sent_to_cannot_ack_answer_or_resolve_it(local, paged):
    """The attack: any registered phone texting another agent's conversation code."""
    ana, _, conversation_id, code, pages = paged
    bo = another_agent("Bo Chen")
    for command in (f"{code} RESOLVE", f"{code} I refunded you, bye", f"{code} ACK"):
        text = reply_text(local.post_sms(twilio_sms_form(bo.phone, command)))
        assert text.startswith(f"{code} (") and f"was paged to {ana.agent_id} and you are not on call: nothing done" in text, text
        assert f"Reply {code} TAKE" in text
    assert drain_outbox() == [], "nothing reached the customer"
    assert stream(local, conversation_id) == [("inbound", "my invoice shows two charges")]
    assert local.conversations().get_summary(conversation_id).status.value == "waiting_on_us"
    assert pages.get_page(conversation_id).status == PageStatus.OPEN, "escalation goes on"
    # The agent it was paged to still can.
    assert "is yours" in reply_text(local.post_sms(twilio_sms_form(ana.phone, f"{code} ACK")))


def test_take_makes_a_conversation_yours_in_the_open_and_only_once(local, paged):
    ana, customer, conversation_id, code, pages = paged
    bo = another_agent("Bo Chen")
    form = twilio_sms_form(bo.phone, f"{code} TAKE")
    text = reply_text(local.post_sms(form))
    assert text.startswith(f"{code} (") and f"is yours now (paged to {ana.agent_id}): escalation stopped" in text, text
    page = pages.get_page(conversation_id)
    assert page.status == PageStatus.ACKED and page.acked_by == bo.agent_id and page.next_escalation_at is None
    assert "already yours" in reply_text(local.post_sms(form)), "Twilio's retry of the same MessageSid"
    notes = [m for m in local.conversations().get_conversation(conversation_id).messages if m.direction.value == "internal"]
    assert [(n.kind.value, n.sender.display_name, n.body) for n in notes] == [
        ("takeover", "Bo Chen", f"Bo Chen took this conversation over (paged to {ana.agent_id}).")
    ]
    shown = run_cli(["conversations", "show", conversation_id], local.cli_env())
    assert shown.returncode == 0 and "(takeover)" in shown.stdout and "Bo Chen took this conversation over" in shown.stdout
    assert local.conversations().get_summary(conversation_id).status.value == "waiting_on_us", "a takeover is no answer"
    # Ana, who was paged, takes it back: the note names whose it was.
    back = reply_text(local.post_sms(twilio_sms_form(ana.phone, f"{code} TAKE")))
    assert f"is yours now from {bo.agent_id}: escalation stopped" in back, back
    assert pages.get_page(conversation_id).acked_by == ana.agent_id
    # Bo, who took it once, may still answer.
    assert reply_text(local.post_sms(twilio_sms_form(bo.phone, f"{code} On it, refund sent."))).startswith("Sent to")
    assert [(m["to"], m["body"]) for m in drain_outbox()] == [(customer, "On it, refund sent.")]
    assert "is already yours" in reply_text(local.post_sms(twilio_sms_form(ana.phone, f"{code} TAKE")))
    assert "resolved" in reply_text(local.post_sms(twilio_sms_form(ana.phone, f"{code} RESOLVE")))


def test_whoever_is_on_call_now_may_act_on_any_conversation(local, paged):
    from switchboard.oncall.config import add_override, remove_override

    _, customer, conversation_id, code, pages = paged
    cy = another_agent("Cy Park")
    client, table_name = table()
    store = OncallStore(client, table_name)
    now = datetime.now(timezone.utc)
    override = add_override(store, load_config(store), cy.agent_id, now - timedelta(minutes=5), now + timedelta(hours=1), "test")
    try:
        assert reply_text(local.post_sms(twilio_sms_form(cy.phone, f"{code} Looking now."))).startswith("Sent to")
    finally:
        remove_override(store, override.override_id)
    assert [(m["to"], m["body"]) for m in drain_outbox()] == [(customer, "Looking now.")]
    # Cy answered it, so it stays Cy's after the shift.
    assert reply_text(local.post_sms(twilio_sms_form(cy.phone, f"{code} Fixed."))).startswith("Sent to")
    assert pages.get_page(conversation_id).status == PageStatus.ANSWERED


def test_a_walk_over_short_codes_finds_nothing_to_act_on(local, paged):
    """The attack: a registered phone texting codes one after another."""
    _, _, conversation_id, code, pages = paged
    eve = another_agent("Eve Walker")
    before = stream(local, conversation_id)
    answers = [reply_text(local.post_sms(twilio_sms_form(eve.phone, f"{n} RESOLVE"))) for n in range(int(code) - 3, int(code) + 4)]
    for n, text in zip(range(int(code) - 3, int(code) + 4), answers):
        assert text.startswith(f"No conversation {n}:") or "you are not on call: nothing done" in text, text
    assert drain_outbox() == []
    assert stream(local, conversation_id) == before and pages.get_page(conversation_id).status == PageStatus.OPEN


def test_an_agent_at_a_desk_answers_and_resolves_with_the_cli(local, paged):

    agent, customer, conversation_id, code, pages = paged
    env = {**local.cli_env(), "SWITCHBOARD_AGENT": agent.agent_id}

    def cli(*args):
        return run_cli(["conversations", *args], env)

    answered = cli("reply", conversation_id, "We are on it.", "--json")
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["text"].startswith("Sent to")
    assert [(m["to"], m["body"]) for m in drain_outbox()] == [(customer, "We are on it.")]
    resolved = cli("resolve", conversation_id)
    assert resolved.returncode == 0 and "asked how we did" in resolved.stdout, "as the SMS RESOLVE does, with its settings"
    assert local.conversations().get_conversation(conversation_id).status.value == "resolved"
    assert [(m["to"], m["purpose"]) for m in drain_outbox()] == [(customer, "satisfaction")]
    nobody = run_cli(["conversations", "resolve", conversation_id], {**local.cli_env(), "SWITCHBOARD_AGENT": ""})
    assert nobody.returncode == 2 and "--as" in nobody.stderr
    missing = cli("reply", "01ABCDEFGHJKMNPQRSTVWXYZ00", "hello")
    assert missing.returncode == 3


def test_an_answer_to_an_email_customer_is_an_email_in_their_thread_and_their_reply_threads_back(local, paged):
    from email import policy
    from email.message import EmailMessage
    from email.parser import BytesParser

    from local_stack.invoke import invoke
    from local_stack.send import new_ses_message_id, ses_receipt_event
    from local_stack.stack import LOCAL_SUPPORT_EMAIL
    from local_stack.template import Template
    from switchboard.store.mail import MailStore
    from switchboard.store.outbox import OutboxStore

    agent, _, _, _, pages = paged
    address = f"grace.{unique_number()[-4:]}@customer.example"

    def receive(raw: bytes) -> dict:
        ses_id = new_ses_message_id()
        MailStore(boto3.client("s3"), os.environ["MAIL_BUCKET"], "inbound/").put_raw(ses_id, raw)
        event = ses_receipt_event(raw, ses_id, [LOCAL_SUPPORT_EMAIL], received_at=datetime.now(timezone.utc))
        return invoke(Template().functions()["EmailFunction"], event)["messages"][0]

    first = EmailMessage()
    first["From"], first["To"], first["Subject"] = f"Grace <{address}>", LOCAL_SUPPORT_EMAIL, "Export fails"
    first["Message-ID"] = f"<export-{address}>"
    first.set_content("The CSV export times out.")
    stored = receive(bytes(first))
    conversation_id = stored["conversation_id"]
    code = page_to(pages, conversation_id, agent)
    drain_outbox()

    text = reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} Fixed, please try again.")))
    assert text.startswith("Sent to")
    (queued,) = drain_outbox()
    assert queued["channel"] == "email" and queued["to"] == address
    assert queued["email"]["in_reply_to"] == f"export-{address}" and queued["email"]["reply_to"].startswith("support+r")
    # Whoever sees our answer learns no conversation id from its Message-ID or Reply-To.
    assert conversation_id.lower() not in queued["email"]["reply_to"].lower() + queued["email"]["message_id"].lower()
    # The sender turns it into a real reply in the customer's thread.
    assert invoke(Template().functions()["SenderFunction"], sqs_event(json.dumps(queued))) == {"batchItemFailures": []}
    (sent,) = [m for m in OutboxStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).list_sms(address) if m["channel"] == "email"]
    reply = BytesParser(policy=policy.default).parsebytes(sent["extra"]["raw"].encode())
    assert reply["Subject"] == "Re: Export fails" and reply["In-Reply-To"] == f"<export-{address}>"
    assert reply["From"].addresses[0].addr_spec == LOCAL_SUPPORT_EMAIL
    assert reply.get_content().strip() == "Fixed, please try again."

    # Grace answers our email with no reply address: In-Reply-To threads it.
    answer = EmailMessage()
    answer["From"], answer["To"], answer["Subject"] = f"Grace <{address}>", LOCAL_SUPPORT_EMAIL, "Re: Export fails"
    answer["Message-ID"], answer["In-Reply-To"] = f"<thanks-{address}>", reply["Message-ID"]
    answer.set_content("Works now, thanks!")
    assert receive(bytes(answer))["conversation_id"] == conversation_id
    # The same answer from an address that is not Grace's is someone else's conversation.
    del answer["From"], answer["Message-ID"]
    answer["From"], answer["Message-ID"] = f"Grace <grace.home.{address}>", f"<thanks-home-{address}>"
    elsewhere = receive(bytes(answer))
    assert elsewhere["status"] == "stored" and elsewhere["conversation_id"] != conversation_id


def test_an_answer_to_a_mention_is_a_reply_to_the_customers_post(local, paged):
    import responses as responses_library

    from local_stack import fake_x
    from local_stack.invoke import invoke
    from local_stack.stack import LOCAL_X_ACCOUNT_ID, LOCAL_X_USERNAME
    from local_stack.template import Template
    from switchboard.store.outbox import OutboxStore

    agent, _, _, _, pages = paged
    author = f"9{unique_number()[-8:]}00000000"
    post_id = str(fake_x.new_tweet_id(datetime.now(timezone.utc)))
    with responses_library.RequestsMock(assert_all_requests_are_fired=False) as x_api:
        fake_x.register(x_api, LOCAL_X_ACCOUNT_ID, [fake_x.mentions_page([fake_x.mention(post_id, f"@{LOCAL_X_USERNAME} is the API down?", author, "dana", "Dana", datetime.now(timezone.utc))])])
        assert invoke(Template().functions()["XMentionsFunction"], {"source": "aws.scheduler"})["stored"] == 1
    conversation_id = local.conversations().find_identity(Identity(IdentityKind.X, author), consistent=True).conversation_id
    code = page_to(pages, conversation_id, agent)
    drain_outbox()

    assert reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} Not down: a partial outage, fixed by 14:00."))).startswith("Sent to")
    (queued,) = drain_outbox()
    assert (queued["channel"], queued["to"]) == ("x", post_id)
    assert invoke(Template().functions()["SenderFunction"], sqs_event(json.dumps(queued))) == {"batchItemFailures": []}
    (kept,) = OutboxStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).list_sms(post_id)
    assert kept["channel"] == "x" and kept["body"] == "Not down: a partial outage, fixed by 14:00."
    too_long = reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} " + "x" * 300)))
    assert "at most 280 characters" in too_long


def test_an_answer_twilio_could_not_deliver_is_marked_in_the_stream_and_the_agent_hears_it(local, paged):
    """The agent was told "Sent to ..."; Twilio's status callback says undelivered (a landline)."""
    import secrets

    from switchboard.models import OutboundMessage
    from switchboard.store.deliveries import DeliveryStore
    from test_delivery_status import callback

    agent, customer, conversation_id, code, pages = paged
    assert reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} Refund sent."))).startswith("Sent to")
    (answer,) = drain_outbox()
    sid = "SM" + secrets.token_hex(16)  # what Twilio answered when the sender sent it
    DeliveryStore(*table()).sent(OutboundMessage.from_json(json.dumps(answer)), sid, "queued", datetime.now(timezone.utc))

    assert callback(local, sid, "undelivered", ErrorCode="30006").status_code == 200
    assert callback(local, sid, "undelivered", ErrorCode="30006").status_code == 200, "Twilio's retry of the callback"
    warnings = drain_outbox()
    assert len({w["idempotency_key"] for w in warnings}) == 1, "queued again on a retry, but under one key: sent once"
    warning = warnings[0]
    assert (warning["to"], warning["purpose"]) == (agent.phone, "agent_reply")
    assert warning["body"].startswith(f"Not delivered to {code} (") and "landline or unreachable carrier" in warning["body"]
    stored = [m for m in local.conversations().get_conversation(conversation_id).messages if m.direction.value == "outbound"]
    assert [(m.delivery_status, m.delivery_error) for m in stored] == [("failed", "landline or unreachable carrier")]
    shown = run_cli(["conversations", "show", conversation_id], local.cli_env())
    assert "NOT DELIVERED: landline or unreachable carrier" in shown.stdout


def test_an_answer_to_a_withheld_caller_is_refused_not_reported_sent(local, paged):
    from switchboard.conversations.inbound import record_inbound
    from switchboard.models import Channel, InboundMessage, MessageKind

    agent, _, _, _, pages = paged
    call = "CA" + unique_number()[-10:] + "0" * 22
    voicemail = InboundMessage(Channel.VOICE, "twilio-voice", call, Identity(IdentityKind.PHONE, f"withheld:{call}", display_name="Withheld number"), datetime.now(timezone.utc), kind=MessageKind.VOICEMAIL, body="please call me")
    conversation_id = record_inbound(voicemail, local.conversations()).conversation_id
    code = page_to(pages, conversation_id, agent)
    text = reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} Calling you back now")))
    assert "called from a withheld number: there is no number to answer" in text
    assert drain_outbox() == []
