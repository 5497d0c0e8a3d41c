"""Agents answer from their phone: SMS commands through the real webhook, on the local stack."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone

import boto3
import pytest

from conftest_helpers import drain_outbox, run_cli, sqs_event, unique_number
from local_stack.send import twilio_sms_form
from switchboard.models import Identity, IdentityKind
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


@pytest.fixture
def paged(local, sms_form):
    """A customer's SMS, a page open for it, and an agent with a phone."""
    client, name = table()
    store = OncallStore(client, name)
    agent = Agent(f"agent-{unique_number()[-4:]}", "Ana Lima", unique_number())
    add_agent(store, load_config(store), agent)
    customer = unique_number()
    assert local.post_sms(sms_form(customer, "my invoice shows two charges")).status_code == 200
    route = local.conversations().find_identity(Identity(IdentityKind.PHONE, customer), consistent=True)
    pages = PageStore(client, name)
    code = pages.code_for(route.conversation_id)
    now = datetime.now(timezone.utc)
    pages.open_page(Page(route.conversation_id, code, PageStatus.OPEN, now, 0, 0, (agent.agent_id,), now, {"levels": []}))
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


def test_an_agent_at_a_desk_answers_and_resolves_with_the_cli(local, paged):

    agent, customer, conversation_id, code, pages = paged
    env = {**local.cli_env(), "SWITCHBOARD_AGENT": agent.agent_id}

    def cli(*args):
        return run_cli(["conversations", *args], env)

    answered = cli("reply", conversation_id, "We are on it.", "--json")
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["text"].startswith("Sent to")
    assert [(m["to"], m["body"]) for m in drain_outbox()] == [(customer, "We are on it.")]
    assert cli("resolve", conversation_id).returncode == 0
    assert local.conversations().get_conversation(conversation_id).status.value == "resolved"
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
    code = pages.code_for(conversation_id)
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
    code = pages.code_for(conversation_id)
    drain_outbox()

    assert reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} Not down: a partial outage, fixed by 14:00."))).startswith("Sent to")
    (queued,) = drain_outbox()
    assert (queued["channel"], queued["to"]) == ("x", post_id)
    assert invoke(Template().functions()["SenderFunction"], sqs_event(json.dumps(queued))) == {"batchItemFailures": []}
    (kept,) = OutboxStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).list_sms(post_id)
    assert kept["channel"] == "x" and kept["body"] == "Not down: a partial outage, fixed by 14:00."
    too_long = reply_text(local.post_sms(twilio_sms_form(agent.phone, f"{code} " + "x" * 300)))
    assert "at most 280 characters" in too_long
