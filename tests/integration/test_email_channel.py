"""Email through SES: raw mail in S3, the receipt event, the stream; against the local stack."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import boto3
import pytest

from conftest_helpers import run_cli, wait_for_quarantine
from local_stack.invoke import invoke
from local_stack.send import new_ses_message_id, ses_receipt_event
from local_stack.stack import LOCAL_SUPPORT_EMAIL
from local_stack.template import Template
from switchboard.channels.mime import parse_email
from switchboard.reply_address import reply_address
from switchboard.store.mail import MailStore

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "mime"
CORPUS_FILES = sorted(CORPUS.glob("*.eml"))


def mail_store() -> MailStore:
    return MailStore(boto3.client("s3"), os.environ["MAIL_BUCKET"], os.environ.get("MAIL_PREFIX", "inbound/"))


def send_email(raw: bytes, *, ses_id: str | None = None, recipients: list[str] | None = None, **verdicts: str) -> dict:
    """What SES does: store the raw message, then invoke the function with the receipt event
    (verdicts: spam, virus, spf, dkim, dmarc; PASS unless given)."""
    ses_id = ses_id or new_ses_message_id()
    mail_store().put_raw(ses_id, raw)
    event = ses_receipt_event(raw, ses_id, recipients or [LOCAL_SUPPORT_EMAIL], received_at=datetime.now(timezone.utc), **verdicts)
    result = invoke(Template().functions()["EmailFunction"], event)
    assert result["disposition"] == "CONTINUE"
    (outcome,) = result["messages"]
    return outcome


def stored_message(local, outcome):
    conversation = local.conversations().get_conversation(outcome["conversation_id"])
    return conversation, next(m for m in conversation.messages if m.message_id == outcome["message_id"])


def email(sender: str, subject: str, body: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = LOCAL_SUPPORT_EMAIL
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", None) or make_msgid(domain="customer.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return bytes(message)


def unique_address(name: str = "jane") -> str:
    return f"{name}.{uuid.uuid4().hex[:10]}@customer.example"


def test_the_corpus_exists():
    assert len(CORPUS_FILES) >= 9, f"the MIME corpus is missing at {CORPUS}"


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_every_corpus_message_is_stored_as_parsed_with_its_attachments_in_s3(local, path):
    raw = path.read_bytes()
    parsed = parse_email(raw)
    outcome = send_email(raw)
    assert outcome["status"] == "stored", outcome
    conversation, message = stored_message(local, outcome)
    assert message.channel.value == "email" and message.provider == "ses"
    assert message.sender.value == parsed.sender_address and message.sender.display_name == parsed.sender_name
    assert message.subject == parsed.subject
    assert message.body == parsed.new_text and message.body.strip()
    assert (message.full_body or message.body) == parsed.text
    assert [m.filename for m in message.media] == [a.filename for a in parsed.attachments]
    s3 = boto3.client("s3")
    for media, attachment in zip(message.media, parsed.attachments):
        bucket, _, key = media.url.removeprefix("s3://").partition("/")
        assert bucket == os.environ["MAIL_BUCKET"] and key.startswith(f"attachments/{outcome['ses_message_id']}/")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == attachment.content
        assert media.size == len(attachment.content) and media.content_type == attachment.content_type


def test_corpus_spot_checks_decoded_charsets_and_quote_stripping(local):
    def stored(name):
        # A duplicate when the test above stored it first: the outcome names the original.
        outcome = send_email((CORPUS / name).read_bytes())
        return stored_message(local, outcome)[1]

    apple = stored("talon_apple_mail_reply_quoted.eml")
    assert apple.sender.display_name == "Adam Renberg" and apple.body == "Hello"
    assert "wrote:" in (apple.full_body or "")
    japanese = stored("mail_japanese_iso2022jp_7bit_crlf.eml")
    assert japanese.subject == "まみむめも"
    bilingual = stored("flanker_bilingual_rfc2047_qp_utf8.eml")
    assert "Как ты пож" in bilingual.subject


def test_a_repeated_ses_delivery_or_message_id_stores_one_message(local):
    raw = email(unique_address(), "Refund please", "Please refund order 1234.")
    ses_id = new_ses_message_id()
    first = send_email(raw, ses_id=ses_id)
    again = send_email(raw, ses_id=ses_id)
    resent = send_email(raw)  # the same Message-ID under a new SES id (e.g. sent to two of our addresses)
    assert first["status"] == "stored"
    assert again["status"] == resent["status"] == "duplicate"
    assert again["message_id"] == resent["message_id"] == first["message_id"]
    assert again["conversation_id"] == first["conversation_id"]
    conversation, _ = stored_message(local, first)
    assert [m.body for m in conversation.messages] == ["Please refund order 1234."]


def test_replies_thread_by_in_reply_to_references_and_reply_address(local):
    customer = unique_address()
    opening = email(customer, "Login broken", "I cannot log in since this morning.")
    first = send_email(opening)
    opening_id = parse_email(opening).message_id

    # The customer answers in the thread: In-Reply-To finds the conversation.
    reply = email(customer, "Re: Login broken", "Still the same error.", In_Reply_To=f"<{opening_id}>", References=f"<{opening_id}>")
    threaded = send_email(reply)
    assert threaded["conversation_id"] == first["conversation_id"] and threaded["customer_id"] == first["customer_id"]

    # References alone (In-Reply-To pointing at a message we never saw) still thread.
    later = email(customer, "Re: Login broken", "Still broken.", In_Reply_To="<unknown@elsewhere>", References=f"<{opening_id}> <unknown@elsewhere>")
    assert send_email(later)["conversation_id"] == first["conversation_id"]

    # The per-conversation reply address threads even with no headers at all. Its token is
    # random and stable: nothing in it names the conversation.
    token = local.conversations().reply_token(first["conversation_id"])
    assert local.conversations().reply_token(first["conversation_id"]) == token
    address = reply_address(LOCAL_SUPPORT_EMAIL, token)
    assert first["conversation_id"].lower() not in address
    tagged = email(customer, "new subject", "Answering on the reply address.")
    via_address = send_email(tagged, recipients=[address])
    assert via_address["conversation_id"] == first["conversation_id"]

    conversation, _ = stored_message(local, first)
    assert [m.body for m in conversation.messages] == [
        "I cannot log in since this morning.",
        "Still the same error.",
        "Still broken.",
        "Answering on the reply address.",
    ]

    # Without any thread, the sender's address decides: the customer's own new email joins their stream.
    fresh = send_email(email(customer, "Another thing", "Also, my invoice."))
    assert fresh["conversation_id"] == first["conversation_id"] and not fresh.get("new_customer")


def test_a_stranger_naming_a_thread_gets_their_own_conversation_and_changes_nothing(local):
    """Anyone forwarded one of our answers knows its Message-ID and the reply address; a
    colleague's reply-all carries them by accident. Neither joins the customer's thread."""
    customer = unique_address("customer")
    opening = email(customer, "Refund", "Please refund order 1234.")
    first = send_email(opening)
    opening_id = parse_email(opening).message_id
    thread_address = reply_address(LOCAL_SUPPORT_EMAIL, local.conversations().reply_token(first["conversation_id"]))

    stranger = unique_address("stranger")
    by_reference = send_email(email(stranger, "Re: Refund", "Refund it to my card instead.", In_Reply_To=f"<{opening_id}>", References=f"<{opening_id}>"))
    by_cc = send_email(email(stranger, "Re: Refund", "And send the receipt to me.", Cc=thread_address))
    colleague = send_email(email(unique_address("colleague"), "Re: Refund", "+1, same for us."), recipients=[thread_address])
    for outcome in (by_reference, by_cc, colleague):
        assert outcome["status"] == "stored"
        assert outcome["conversation_id"] != first["conversation_id"] and outcome["customer_id"] != first["customer_id"]
        _, message = stored_message(local, outcome)
        assert message.provider_fields["referenced_conversation"] == first["conversation_id"]
    assert by_cc["conversation_id"] == by_reference["conversation_id"]  # the stranger's own stream

    theirs, _ = stored_message(local, first)
    assert [m.body for m in theirs.messages] == ["Please refund order 1234."]
    assert theirs.reply_to == {"channel": "email", "address": customer, "in_reply_to": opening_id, "subject": "Refund"}
    shown = run_cli(["conversations", "show", by_cc["conversation_id"]], local.cli_env())
    assert f"names conversation {first['conversation_id']} of another customer" in shown.stdout

    # Once an agent links the stranger's customer into the customer's, the thread is theirs too.
    linked = run_cli(["customers", "link", first["customer_id"], by_cc["customer_id"]], local.cli_env())
    assert linked.returncode == 0, linked.stderr
    after = send_email(email(stranger, "Re: Refund", "Thanks, that was me.", In_Reply_To=f"<{opening_id}>"))
    assert after["conversation_id"] == first["conversation_id"]


FORGED = {"spf": "FAIL", "dkim": "FAIL", "dmarc": "GRAY"}  # no DMARC policy to say FAIL


def test_a_forged_from_never_joins_the_victims_conversation_nor_pages(local):
    """An attacker writes as the customer, quoting the customer's own Message-ID and our
    reply address (both in any answer they were forwarded), from a server that cannot
    pass SPF or DKIM for the customer's domain."""
    from local_stack.event_filter import compile_filter_criteria
    from switchboard.store import keys
    from switchboard.store.dynamo import from_item, to_item

    victim = unique_address("victim")
    opening = email(victim, "Invoice", "Please send my invoice to the usual address.")
    genuine = send_email(opening)
    opening_id = parse_email(opening).message_id
    their_thread = reply_address(LOCAL_SUPPORT_EMAIL, local.conversations().reply_token(genuine["conversation_id"]))

    forged = email(victim, "Re: Invoice", "Change of plan: send it to billing@attacker.example", In_Reply_To=f"<{opening_id}>", Cc=their_thread)
    outcome = send_email(forged, recipients=[LOCAL_SUPPORT_EMAIL, their_thread], **FORGED)
    assert outcome["status"] == "stored" and outcome["unverified"] is True
    assert outcome["customer_id"] != genuine["customer_id"] and outcome["conversation_id"] != genuine["conversation_id"]

    theirs, _ = stored_message(local, genuine)
    assert [m.body for m in theirs.messages] == ["Please send my invoice to the usual address."]
    assert theirs.reply_to["in_reply_to"] == opening_id  # where answers go is unchanged
    apart, message = stored_message(local, outcome)
    assert message.sender.unverified and apart.customer_identity.unverified
    assert message.provider_fields["unverified"] == "SPF FAIL, DKIM FAIL, DMARC GRAY"

    # The stored item is one the router's own stream filter drops: it never pages.
    router = compile_filter_criteria(next(iter(Template().functions()["RouterFunction"].events_of_type("DynamoDB").values())).get("FilterCriteria"))
    item = boto3.client("dynamodb").get_item(TableName=os.environ["TABLE_NAME"], Key=to_item(keys.message_key(outcome["conversation_id"], outcome["message_id"])))["Item"]
    assert from_item(item)["unverified"] is True
    assert not router.matches({"eventName": "INSERT", "dynamodb": {"NewImage": item}})
    genuine_item = boto3.client("dynamodb").get_item(TableName=os.environ["TABLE_NAME"], Key=to_item(keys.message_key(genuine["conversation_id"], genuine["message_id"])))["Item"]
    assert router.matches({"eventName": "INSERT", "dynamodb": {"NewImage": genuine_item}})

    # More unauthenticated mail from that address joins the unverified stream, not the customer's;
    # the customer's own authenticated mail still reaches their conversation.
    again = send_email(email(victim, "Re: Invoice", "Did you change it?"), **FORGED)
    assert (again["customer_id"], again["conversation_id"]) == (outcome["customer_id"], outcome["conversation_id"])
    own = send_email(email(victim, "Re: Invoice", "Thanks!", In_Reply_To=f"<{opening_id}>"))
    assert own["conversation_id"] == genuine["conversation_id"] and own["unverified"] is False

    shown = run_cli(["conversations", "show", outcome["conversation_id"]], local.cli_env())
    assert shown.returncode == 0 and "UNVERIFIED sender: SPF FAIL, DKIM FAIL, DMARC GRAY" in shown.stdout
    listed = run_cli(["customers", "show", outcome["customer_id"]], local.cli_env())
    assert "UNVERIFIED" in listed.stdout and victim in listed.stdout


def test_a_dmarc_fail_is_quarantined_with_the_reason(local):
    outcome = send_email(email(unique_address("ceo"), "Wire transfer", "Pay this today."), spf="FAIL", dkim="FAIL", dmarc="FAIL")
    assert outcome["status"] == "quarantined"
    assert outcome["reason"] == "SES DMARC verdict FAIL: the sender's domain says it did not send this message"
    assert local.conversations().find_claim("ses", outcome["ses_message_id"]) is None


def test_local_send_email_takes_the_authentication_verdicts(local, tmp_path):
    raw = tmp_path / "forged.eml"
    raw.write_bytes(email(unique_address("someone"), "Hello", "Is this thing on?"))
    unverified = run_cli(["local", "send", "email", str(raw), "--spf", "FAIL", "--dkim", "GRAY", "--dmarc", "GRAY"], local.cli_env())
    assert unverified.returncode == 0, unverified.stderr
    assert '"unverified": true' in unverified.stdout
    refused = run_cli(["local", "send", "email", str(raw), "--dmarc", "FAIL"], local.cli_env())
    assert refused.returncode == 1 and "rejected: SES DMARC verdict FAIL" in refused.stderr


@pytest.mark.parametrize(
    "headers, sender",
    [
        ({"Auto_Submitted": "auto-replied"}, None),
        ({"Precedence": "bulk"}, None),
        ({}, "MAILER-DAEMON@mx.customer.example"),
    ],
    ids=["auto-submitted", "precedence-bulk", "mailer-daemon"],
)
def test_auto_replies_and_bounces_are_recorded_but_wait_on_nobody(local, headers, sender):
    raw = email(sender or unique_address("ooo"), "Out of office", "I am away until Monday.", **headers)
    outcome = send_email(raw)
    assert outcome["status"] == "stored" and outcome["automated"] is True
    conversation, message = stored_message(local, outcome)
    assert message.automated is True
    if len(conversation.messages) == 1:
        assert conversation.status.value == "waiting_on_customer" and conversation.waiting_since is None


def test_malformed_mime_is_stored_with_what_could_be_read(local):
    sender = unique_address("broken")
    truncated = (
        f"From: Broken <{sender}>\r\nTo: {LOCAL_SUPPORT_EMAIL}\r\nSubject: cut off\r\nMessage-ID: <{uuid.uuid4().hex}@x>\r\n"
        'Content-Type: multipart/mixed; boundary="AAA"\r\n\r\n--AAA\r\nContent-Type: text/plain\r\n\r\nThe first part survives\r\n'
        "--AAA\r\nContent-Type: application/pdf; name=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK"
    ).encode()
    outcome = send_email(truncated)
    assert outcome["status"] == "stored"
    _, message = stored_message(local, outcome)
    assert message.body == "The first part survives" and message.subject == "cut off"
    assert message.provider_fields.get("defects")


def test_unreadable_mail_is_quarantined_with_a_reason(local):
    outcome = send_email(b"\x00\xff this is not an email at all")
    assert outcome["status"] == "quarantined" and outcome["reason"]
    wait_for_quarantine(local, lambda r: outcome["ses_message_id"] in r.get("raw_mail", ""))


def test_cli_sends_an_eml_and_exits_non_zero_with_the_reason_when_rejected(local):

    env = local.cli_env()
    eml = Path(os.environ.get("TMPDIR", "/tmp")) / f"cli-{uuid.uuid4().hex}.eml"
    eml.write_bytes(email(unique_address("cli"), "From the CLI", "Sent with switchboard local send email."))
    ok = run_cli(["local", "send", "email", str(eml)], env)
    assert ok.returncode == 0, ok.stderr
    assert '"status": "stored"' in ok.stdout
    refused = run_cli(["local", "send", "email", "--virus", "FAIL", str(eml)], env)
    assert refused.returncode == 1 and "rejected: SES virus verdict FAIL" in refused.stderr
    missing = run_cli(["local", "send", "email", "/nonexistent.eml"], env, timeout=60)
    assert missing.returncode == 2 and "cannot read /nonexistent.eml" in missing.stderr


def test_a_huge_email_is_stored_cut_with_the_whole_message_kept_and_nothing_is_lost(local):
    """A 400 KB plain-text body used to fail the stream transaction (item too large),
    retry, and dead-letter; now the stream keeps its first 64 KB and says where the rest is."""
    from email.message import EmailMessage

    from switchboard.channels.ses_email import MAX_STORED_ATTACHMENTS, MAX_STORED_TEXT_BYTES

    sender = unique_address("bulk")
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"], mail["Message-ID"] = sender, LOCAL_SUPPORT_EMAIL, "Logs", f"<logs-{sender}>"
    mail.set_content("Here are the logs.\n" + "2026-12-01 12:00:00 GET /api/orders 500 (é)\n" * 9000)  # ~400 KB
    for n in range(MAX_STORED_ATTACHMENTS + 3):
        mail.add_attachment(f"part {n}".encode(), maintype="text", subtype="plain", filename=f"part-{n}.txt")
    ses_id = new_ses_message_id()
    outcome = send_email(bytes(mail), ses_id=ses_id)
    assert outcome["status"] == "stored", outcome
    _, stored = stored_message(local, outcome)
    assert stored.body.startswith("Here are the logs.") and len(stored.body.encode()) <= MAX_STORED_TEXT_BYTES
    assert ses_id in stored.provider_fields["cut"] and "the whole message" in stored.provider_fields["cut"]
    assert len(stored.media) == MAX_STORED_ATTACHMENTS and stored.provider_fields["attachments_not_stored"].startswith("3 more")
    assert len(mail_store().read_raw(ses_id)) == len(bytes(mail)), "the whole message stays in the mail bucket"
