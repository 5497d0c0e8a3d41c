"""Inbound email through SES: the receipt record, its verdicts, reply addresses, attachment
names, and a parsed email turned into the message stored in the stream.

Pure: no AWS, no network. ParsedEmail instances are built directly, as channels.mime makes them.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from local_stack.send import ses_receipt_event

from switchboard.channels.mime import ParsedAttachment, ParsedEmail, parse_email
from switchboard.channels.ses_email import (
    MalformedReceipt,
    SesReceipt,
    attachment_name,
    authenticated,
    receipt_from_record,
    refusal,
    to_inbound,
)
from switchboard.models import Channel, Identity, IdentityKind, Media
from switchboard.reply_address import TOKEN_ALPHABET, new_reply_token, reply_address, reply_token_in_addresses

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "mime"
SUPPORT = "support@acme.example"
SES_ID = "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g81"
RECEIVED = datetime(2026, 11, 23, 9, 30, 12, 936000, tzinfo=timezone.utc)

# The event an SES receipt rule's Lambda action sends, shaped as AWS documents it.
SES_RECORD = {
    "eventSource": "aws:ses",
    "eventVersion": "1.0",
    "ses": {
        "mail": {
            "timestamp": "2026-11-23T09:30:12.936Z",
            "source": "dana@customer.example",
            "messageId": SES_ID,
            "destination": ["Support@Acme.example", "billing@partner.example"],
            "headersTruncated": False,
            "headers": [
                {"name": "Return-Path", "value": "<dana@customer.example>"},
                {"name": "Received", "value": "from mail-wr1-f41.google.com (mail-wr1-f41.google.com [209.85.221.41]) by inbound-smtp.us-east-1.amazonaws.com with SMTP id o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g81 for Support@Acme.example; Mon, 23 Nov 2026 09:30:12 +0000 (UTC)"},
                {"name": "From", "value": "Dana Whitfield <dana@customer.example>"},
                {"name": "To", "value": "Support@Acme.example"},
                {"name": "Cc", "value": "billing@partner.example"},
                {"name": "Subject", "value": "Router keeps dropping"},
                {"name": "Message-ID", "value": "<CAF9x2=QmH4@mail.gmail.com>"},
                {"name": "Date", "value": "Mon, 23 Nov 2026 10:30:09 +0100"},
            ],
            "commonHeaders": {
                "returnPath": "dana@customer.example",
                "from": ["Dana Whitfield <dana@customer.example>"],
                "date": "Mon, 23 Nov 2026 10:30:09 +0100",
                "to": ["Support@Acme.example"],
                "cc": ["billing@partner.example"],
                "messageId": "<CAF9x2=QmH4@mail.gmail.com>",
                "subject": "Router keeps dropping",
            },
        },
        "receipt": {
            "timestamp": "2026-11-23T09:30:12.936Z",
            "processingTimeMillis": 574,
            "recipients": ["Support@Acme.example"],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "spfVerdict": {"status": "PASS"},
            "dkimVerdict": {"status": "GRAY"},
            "dmarcVerdict": {"status": "FAIL"},
            "dmarcPolicy": "none",
            "action": {
                "type": "Lambda",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:switchboard-EmailFunction-1A2B3C4D5E6F",
                "invocationType": "Event",
            },
        },
    },
}


def record_with(change):
    """A deep copy of SES_RECORD with `change(record)` applied."""
    record = copy.deepcopy(SES_RECORD)
    change(record)
    return record


# ---- the receipt ----------------------------------------------------------------------


def test_a_documented_receipt_record():
    assert receipt_from_record(SES_RECORD) == SesReceipt(
        message_id=SES_ID,
        timestamp=RECEIVED,
        recipients=("support@acme.example",),  # the envelope, not the Cc on another domain
        spam="PASS",
        virus="PASS",
        spf="PASS",
        dkim="GRAY",
        dmarc="FAIL",
    )


def test_the_local_stack_event_for_a_real_email_reads_the_same_way():
    raw = (CORPUS / "talon_apple_mail_reply_quoted.eml").read_bytes()
    received = datetime(2026, 11, 23, 9, 30, 12, 345000, tzinfo=timezone.utc)
    event = ses_receipt_event(raw, SES_ID, ["Support@Acme.example"], received_at=received, spam="GRAY", virus="FAIL")
    assert len(event["Records"]) == 1
    receipt = receipt_from_record(event["Records"][0])
    assert receipt.message_id == SES_ID
    assert receipt.timestamp == received
    assert receipt.recipients == ("support@acme.example",)
    assert (receipt.spam, receipt.virus, receipt.spf, receipt.dkim, receipt.dmarc) == ("GRAY", "FAIL", "PASS", "PASS", "PASS")


def test_without_receipt_recipients_the_mail_destination_is_used():
    record = record_with(lambda r: r["ses"]["receipt"].pop("recipients"))
    assert receipt_from_record(record).recipients == ("support@acme.example", "billing@partner.example")


def test_verdicts_missing_when_scanning_is_off_are_not_checked():
    def scanning_off(record):
        for name in ("spamVerdict", "virusVerdict", "spfVerdict", "dkimVerdict", "dmarcVerdict"):
            del record["ses"]["receipt"][name]

    receipt = receipt_from_record(record_with(scanning_off))
    assert (receipt.spam, receipt.virus, receipt.spf, receipt.dkim, receipt.dmarc) == ("NOT_CHECKED",) * 5
    assert refusal(receipt) is None


def test_a_verdict_without_a_status_counts_as_processing_failed():
    def no_status(record):
        record["ses"]["receipt"]["spamVerdict"] = {}
        record["ses"]["receipt"]["virusVerdict"] = None

    receipt = receipt_from_record(record_with(no_status))
    assert (receipt.spam, receipt.virus) == ("PROCESSING_FAILED", "PROCESSING_FAILED")


def test_a_timestamp_without_a_zone_is_utc():
    receipt = receipt_from_record(record_with(lambda r: r["ses"]["mail"].update(timestamp="2026-11-23T09:30:12.936")))
    assert receipt.timestamp == RECEIVED


def _set(path, value):
    def change(record):
        *parents, last = path
        target = record
        for key in parents:
            target = target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_set(["ses"], KeyError), "'ses'"),
        (_set(["ses", "mail"], KeyError), "'mail'"),
        (_set(["ses", "receipt"], KeyError), "'receipt'"),
        (_set(["ses", "mail", "messageId"], KeyError), "'messageId'"),
        (_set(["ses", "mail", "messageId"], ""), "is not an SES message id"),
        (_set(["ses", "mail", "messageId"], "../../raw/other-message"), "'../../raw/other-message' is not an SES message id"),
        (_set(["ses", "mail", "messageId"], "a" * 101), "is not an SES message id"),
        (_set(["ses", "mail", "messageId"], SES_ID + "\n"), "is not an SES message id"),
        (_set(["ses", "mail", "messageId"], 12345), "TypeError"),
        (_set(["ses", "mail", "timestamp"], KeyError), "'timestamp'"),
        (_set(["ses", "mail", "timestamp"], "yesterday"), "Invalid isoformat string: 'yesterday'"),
        (_set(["ses", "mail", "timestamp"], 1763890212), "AttributeError"),
        (_set(["ses", "receipt", "recipients"], [None]), "AttributeError"),
        (_set(["ses", "receipt", "spamVerdict"], "PASS"), "AttributeError"),
    ],
)
def test_malformed_records_are_refused_with_a_reason(change, words):
    with pytest.raises(MalformedReceipt) as raised:
        receipt_from_record(record_with(change))
    assert words in str(raised.value)


@pytest.mark.parametrize("record", [{}, {"Records": [SES_RECORD]}, {"ses": None}, {"ses": []}])
def test_a_record_that_is_not_a_receipt_is_malformed(record):
    with pytest.raises(MalformedReceipt, match="not an SES receipt record"):
        receipt_from_record(record)


# ---- verdicts -------------------------------------------------------------------------


def receipt(**verdicts):
    base = dict(message_id=SES_ID, timestamp=RECEIVED, recipients=(SUPPORT,),
                spam="PASS", virus="PASS", spf="PASS", dkim="PASS", dmarc="PASS")
    return SesReceipt(**{**base, **verdicts})


@pytest.mark.parametrize(
    ("verdicts", "reason"),
    [
        ({"spam": "FAIL"}, "SES spam verdict FAIL"),
        ({"virus": "FAIL"}, "SES virus verdict FAIL"),
        ({"spam": "FAIL", "virus": "FAIL"}, "SES virus verdict FAIL"),
        ({}, None),
        ({"spam": "GRAY", "virus": "GRAY"}, None),
        ({"spam": "PROCESSING_FAILED", "virus": "PROCESSING_FAILED"}, None),
        ({"spam": "NOT_CHECKED", "virus": "NOT_CHECKED"}, None),
        # The sender's domain disowns the message: refused.
        ({"dmarc": "FAIL"}, "SES DMARC verdict FAIL: the sender's domain says it did not send this message"),
        ({"spf": "PASS", "dkim": "PASS", "dmarc": "FAIL"}, "SES DMARC verdict FAIL: the sender's domain says it did not send this message"),
        # SPF and DKIM failing without a DMARC verdict is stored, marked unverified
        # (to_inbound): forwarders break SPF, mailing lists break DKIM.
        ({"spf": "FAIL", "dkim": "FAIL", "dmarc": "GRAY"}, None),
        ({"spf": "NOT_CHECKED", "dkim": "NOT_CHECKED", "dmarc": "NOT_CHECKED"}, None),
    ],
)
def test_a_failed_spam_virus_or_dmarc_verdict_is_refused(verdicts, reason):
    assert refusal(receipt(**verdicts)) == reason


@pytest.mark.parametrize(
    ("verdicts", "verified"),
    [
        ({}, True),
        ({"spf": "FAIL", "dkim": "FAIL", "dmarc": "PASS"}, True),  # DMARC passes on either alignment
        ({"spf": "PASS", "dkim": "FAIL", "dmarc": "GRAY"}, True),
        ({"spf": "FAIL", "dkim": "PASS", "dmarc": "GRAY"}, True),
        ({"spf": "FAIL", "dkim": "FAIL", "dmarc": "GRAY"}, False),
        ({"spf": "GRAY", "dkim": "PROCESSING_FAILED", "dmarc": "NOT_CHECKED"}, False),
        ({"spf": "NOT_CHECKED", "dkim": "NOT_CHECKED", "dmarc": "NOT_CHECKED"}, False),  # scanning off
    ],
)
def test_a_sender_is_authenticated_by_a_pass_of_spf_dkim_or_dmarc(verdicts, verified):
    assert authenticated(receipt(**verdicts)) is verified


def test_the_quarantine_setting_refuses_unauthenticated_mail_and_keeps_the_rest():
    unauthenticated = receipt(spf="FAIL", dkim="GRAY", dmarc="NOT_CHECKED")
    assert refusal(unauthenticated, "quarantine") == (
        "sender not authenticated (SPF FAIL, DKIM GRAY, DMARC NOT_CHECKED) and UNVERIFIED_EMAIL=quarantine"
    )
    assert refusal(unauthenticated, "mark") is None
    assert refusal(receipt(spf="FAIL", dkim="PASS", dmarc="GRAY"), "quarantine") is None


# ---- reply addresses ------------------------------------------------------------------


TOKEN = "7k2m9q4xw8rz3tn5bv6h"  # what new_reply_token() makes: 20 of Crockford's base32


def test_the_reply_address_tags_the_support_address_with_the_token():
    assert reply_address(SUPPORT, TOKEN) == "support+r7k2m9q4xw8rz3tn5bv6h@acme.example"


def test_reply_tokens_are_random_and_shaped_for_the_address():
    tokens = {new_reply_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert reply_token_in_addresses((reply_address(SUPPORT, token),), SUPPORT) == token


def test_the_token_is_found_among_the_recipients_whatever_the_case():
    addresses = ("billing@partner.example", "SUPPORT+R7K2M9Q4XW8RZ3TN5BV6H@ACME.EXAMPLE")
    assert reply_token_in_addresses(addresses, SUPPORT) == TOKEN
    assert reply_token_in_addresses(addresses, "Support@Acme.Example") == TOKEN


@pytest.mark.parametrize(
    "address",
    [
        "support@acme.example",  # the plain support address
        "support+r7k2m9q4xw8rz3tn5bv6h@acme.example.org",  # another domain
        "support+r7k2m9q4xw8rz3tn5bv6h@mail.acme.example",  # a subdomain
        "support+r7k2m9q4xw8rz3tn5bv6h@other.example",
        "sales+r7k2m9q4xw8rz3tn5bv6h@acme.example",  # another local part
        "xsupport+r7k2m9q4xw8rz3tn5bv6h@acme.example",
        "support+x7k2m9q4xw8rz3tn5bv6h@acme.example",  # another tag
        "support+c01jdg4m0q8t3kz7v5n2xwy6hbc@acme.example",  # the old form: a conversation id
        "support+r7k2m9q4xw8rz3tn5bv6@acme.example",  # 19 characters
        "support+r7k2m9q4xw8rz3tn5bv6hh@acme.example",  # 21 characters
        "support+r7k2m9q4xw8rz3tn5bv6u@acme.example",  # "u" is not Crockford base32
        "Support Team <support+r7k2m9q4xw8rz3tn5bv6h@acme.example>",  # not a bare address
    ],
)
def test_other_addresses_name_no_token(address):
    assert reply_token_in_addresses((address,), SUPPORT) is None


def test_without_a_support_address_nothing_is_a_reply_address():
    assert reply_token_in_addresses(("support+r7k2m9q4xw8rz3tn5bv6h@acme.example",), "") is None


tokens = st.text(alphabet=TOKEN_ALPHABET, min_size=20, max_size=20)
support_addresses = st.sampled_from(["support@acme.example", "help.desk@mail.acme.example", "Kunden-Service@firma.example.de", "a+b@x.io"])


@given(token=tokens, support=support_addresses, shout=st.booleans(), others=st.lists(st.emails(), max_size=3))
def test_every_token_survives_the_reply_address(token, support, shout, others):
    address = reply_address(support, token)
    assert "@" in address and address.split("@", 1)[1] == support.split("@", 1)[1]
    seen = address.upper() if shout else address
    assert reply_token_in_addresses((*others, seen), support) == token


# ---- attachment names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "filename", "name"),
    [
        (0, "invoice.pdf", "00-invoice.pdf"),
        (3, "Screenshot 2026-11-23 at 10.29.51.png", "03-Screenshot_2026-11-23_at_10.29.51.png"),
        (1, "請求書 2026年11月.pdf", "01-請求書_2026年11月.pdf"),
        (1, "Überweisung März.pdf", "01-Überweisung_März.pdf"),
        (1, "re\u0301sume\u0301.docx", "01-résumé.docx"),  # decomposed, as macOS sends it
        (2, "हिंदी फ़ाइल.pdf", "02-हिंदी_फ़ाइल.pdf"),  # vowel signs are combining marks
        (4, "../../etc/passwd", "04-etc_passwd"),
        (4, "C:\\Users\\dana\\Desktop\\log file.txt", "04-C_Users_dana_Desktop_log_file.txt"),
        (5, "tab\there\x00nul.txt", "05-tab_here_nul.txt"),
        (5, "what?*<>|\".txt", "05-what_.txt"),
        (6, None, "06-attachment"),
        (6, "", "06-attachment"),
        (7, "..", "07-attachment"),
        (7, "___", "07-attachment"),
        (12, "photo.jpg", "12-photo.jpg"),
    ],
)
def test_attachment_names_are_safe_and_readable(index, filename, name):
    assert attachment_name(index, filename) == name


def test_long_attachment_names_are_cut():
    name = attachment_name(9, "quarterly report " * 20 + ".pdf")
    assert name.startswith("09-quarterly_report_quarterly_report_")
    assert len(name) == len("09-") + 100


# ---- the parsed email → the stored message --------------------------------------------

PARSED = ParsedEmail(
    message_id="CAF9x2=QmH4@mail.gmail.com",
    in_reply_to="reply-2@acme.example",
    references=("first@customer.example", "reply-1@acme.example", "reply-2@acme.example"),
    sender_address="dana@customer.example",
    sender_name="Dana Whitfield",
    reply_to=None,
    to=("support@acme.example",),
    cc=("billing@partner.example",),
    subject="Re: Router keeps dropping",
    date=datetime(2026, 11, 23, 9, 30, 9, tzinfo=timezone.utc),
    text="Still dropping every hour.\n\nOn Sun, Acme Support wrote:\n> Please restart it.",
    new_text="Still dropping every hour.",
    body_source="text/plain",
    attachments=(ParsedAttachment("log.txt", "text/plain", b"12:00 link down\n", inline=False, content_id=None),),
    automated=None,
    defects=(),
)
RECEIPT = receipt(recipients=("support@acme.example",), dkim="GRAY")
LOG = Media(url=f"s3://acme-mail/attachments/{SES_ID}/00-log.txt", content_type="text/plain", filename="log.txt", size=16)


def inbound(parsed=PARSED, receipt_=RECEIPT, media=(LOG,), support=SUPPORT):
    return to_inbound(parsed, receipt_, media, support)


def test_a_reply_becomes_an_email_message_with_its_new_text_and_the_whole_text():
    message = inbound()
    assert message.channel is Channel.EMAIL
    assert (message.provider, message.provider_id) == ("ses", SES_ID)
    assert message.sender.kind is IdentityKind.EMAIL
    assert (message.sender.value, message.sender.display_name) == ("dana@customer.example", "Dana Whitfield")
    assert message.recipient == "support@acme.example"
    assert message.received_at == RECEIVED  # the receipt's time, not the Date header
    assert message.subject == "Re: Router keeps dropping"
    assert message.body == "Still dropping every hour."
    assert message.full_body == PARSED.text
    assert message.media == (LOG,)
    assert message.automated is False
    assert message.provider_fields == {
        "message_id": "CAF9x2=QmH4@mail.gmail.com",
        "spf": "PASS",
        "dkim": "GRAY",
        "dmarc": "PASS",
        "body_source": "text/plain",
    }


def test_thread_refs_are_in_reply_to_first_then_references_newest_first():
    assert inbound().thread_refs == ("reply-2@acme.example", "reply-2@acme.example", "reply-1@acme.example", "first@customer.example")
    only_references = replace(PARSED, in_reply_to=None, references=("a@x", "", "b@x"))
    assert inbound(only_references).thread_refs == ("b@x", "a@x")
    assert inbound(replace(PARSED, in_reply_to="", references=())).thread_refs == ()


def test_the_message_id_is_another_name_for_the_message_only_when_present():
    assert inbound().also_known_as == (("email", "CAF9x2=QmH4@mail.gmail.com"),)
    without = inbound(replace(PARSED, message_id=None))
    assert without.also_known_as == ()
    assert "message_id" not in without.provider_fields
    assert inbound(replace(PARSED, message_id="")).also_known_as == ()


def test_full_body_is_kept_only_when_it_says_more_than_the_body():
    same = replace(PARSED, text="Just this.\n", new_text="Just this.")
    assert inbound(same).body == "Just this."
    assert inbound(same).full_body is None
    everything_quoted = replace(PARSED, new_text="")
    assert inbound(everything_quoted).body == ""
    assert inbound(everything_quoted).full_body == PARSED.text


def test_an_automated_email_is_flagged_and_says_why():
    message = inbound(replace(PARSED, automated="Auto-Submitted: auto-replied"))
    assert message.automated is True
    assert message.provider_fields["automated"] == "Auto-Submitted: auto-replied"


def test_a_distinct_reply_to_and_defects_are_kept():
    message = inbound(replace(PARSED, reply_to="dana.w@customer.example", defects=("bad base64 padding in log.txt", "missing MIME-Version")))
    assert message.provider_fields["reply_to"] == "dana.w@customer.example"
    assert message.provider_fields["defects"] == "bad base64 padding in log.txt; missing MIME-Version"
    assert "reply_to" not in inbound(replace(PARSED, reply_to="dana@customer.example")).provider_fields


def test_provider_fields_omit_what_is_empty():
    bare = receipt(spf="", dkim="", dmarc="")
    fields = inbound(replace(PARSED, message_id=None, body_source=""), bare).provider_fields
    assert fields == {"unverified": "SPF , DKIM , DMARC "}  # no verdict passed: only the mark


def test_an_unauthenticated_sender_is_an_unverified_identity_that_threads_nowhere():
    forged = receipt(spf="FAIL", dkim="FAIL", dmarc="GRAY")
    to_reply_address = replace(PARSED, to=(reply_address(SUPPORT, TOKEN),))
    message = inbound(to_reply_address, forged)
    assert message.sender == Identity(IdentityKind.EMAIL, "dana@customer.example", "Dana Whitfield", unverified=True)
    # Our reply address and Message-IDs are in every answer we sent: never proof of who writes.
    assert message.thread_refs == () and message.reply_token is None
    assert message.provider_fields["unverified"] == "SPF FAIL, DKIM FAIL, DMARC GRAY"
    # Its own Message-ID is still claimed, so a redelivery stores nothing twice.
    assert message.also_known_as == (("email", "CAF9x2=QmH4@mail.gmail.com"),)
    verified = inbound(to_reply_address)
    assert not verified.sender.unverified and verified.reply_token == TOKEN
    assert verified.thread_refs and "unverified" not in verified.provider_fields


def test_the_recipient_is_the_address_on_the_support_domain():
    on_behalf = receipt(recipients=("billing@partner.example", "Help@ACME.example"))
    assert inbound(receipt_=on_behalf).recipient == "help@acme.example"
    # Envelope elsewhere (a forward): the To on our domain still names us.
    forwarded = receipt(recipients=("dana-fwd@customer.example",))
    assert inbound(replace(PARSED, to=("Support@Acme.example",)), forwarded).recipient == "support@acme.example"
    # Nothing on our domain: the first recipient.
    assert inbound(replace(PARSED, to=(), cc=()), forwarded).recipient == "dana-fwd@customer.example"


def test_a_reply_address_among_the_recipients_gives_its_token():
    to_reply_address = replace(PARSED, to=(reply_address(SUPPORT, TOKEN),))
    assert inbound(to_reply_address).reply_token == TOKEN
    assert inbound().reply_token is None
    envelope_only = receipt(recipients=(reply_address(SUPPORT, TOKEN).upper(),))
    assert inbound(replace(PARSED, to=()), envelope_only).reply_token == TOKEN


def test_a_real_reply_from_the_corpus_threads_and_is_known_by_its_message_id():
    raw = (CORPUS / "talon_apple_mail_reply_quoted.eml").read_bytes()
    record = ses_receipt_event(raw, SES_ID, [SUPPORT], received_at=RECEIVED)["Records"][0]
    message = to_inbound(parse_email(raw), receipt_from_record(record), (), SUPPORT)
    gmail_id = "CABzQGhkMXDxUt_tSVQcg=43aniUhtsVfCZVzu-PG0kwS_uzqMw@mail.gmail.com"
    assert message.sender.value == "adam@tictail.com"
    assert message.also_known_as == (("email", "68001B29-8EA4-444C-A894-0537D2CA5208@tictail.com"),)
    assert message.thread_refs == (gmail_id, gmail_id)
    assert message.recipient == SUPPORT
    assert message.received_at == RECEIVED
    assert message.body == "Hello"
