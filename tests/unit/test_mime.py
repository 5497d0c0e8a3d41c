"""Parsing raw email: the real-world corpus, synthetic awkward messages, hostile bytes."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.channels.mime import ParsedEmail, UnreadableEmail, parse_email
from switchboard.channels.mime.html_text import html_to_text

# A copy of ../shared/corpus/mime kept in the repository (tests/fixtures/mime/README.md).
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "mime"


def corpus_file(name: str) -> bytes:
    path = CORPUS / name
    assert path.is_file(), f"email corpus file missing: {path} (expected the shared corpus next to the repo)"
    return path.read_bytes()


def corpus(name: str) -> ParsedEmail:
    return parse_email(corpus_file(name))


def tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def test_the_corpus_is_there_and_every_file_is_tested():
    assert CORPUS.is_dir(), f"email corpus missing: {CORPUS} (expected the shared corpus next to the repo)"
    names = {path.name for path in CORPUS.glob("*.eml")}
    assert names == set(CORPUS_TESTS), f"untested or vanished corpus files: {names ^ set(CORPUS_TESTS)}"


# --------------------------------------------------------------------------- the corpus


def check_bilingual_rfc2047_qp_utf8(email: ParsedEmail) -> None:
    # Subject: two B-encoded UTF-8 words, adjacent, so joined without a space.
    assert email.subject == "Simple text. How are you? Как ты поживаешь?"
    assert (email.sender_address, email.sender_name) == ("hello@example.com", "Hello")
    assert email.to == ("bob@example.com",) and email.cc == () and email.reply_to is None
    assert email.message_id == "341090.85574.qm@web50704.mail.re2.yahoo.com"
    assert email.in_reply_to is None and email.references == ()
    assert email.date == datetime(2010, 2, 7, 14, 2, 38, tzinfo=tz(-8))
    # QP with a soft break inside a UTF-8 sequence; =0A line breaks; trailing blank lines.
    assert email.text == "This line is in English\nА эта линия по-русски."
    assert email.new_text == email.text
    assert email.body_source == "text/plain"
    assert email.attachments == ()


def check_multipart_alternative_qp_long_links(email: ParsedEmail) -> None:
    assert email.subject == "This message contains very long links in html"
    assert (email.sender_address, email.sender_name) == ("bob@example.com", "Bob")
    assert email.to == ("roman@mailgunhq.com",)
    assert email.message_id == "CAKsfaBUx-V4rGeteUi3mDc_OLv2-2tSp_RGdJ5NtQOpb59dVAg@mail.gmail.com"
    assert email.date == datetime(2013, 7, 5, 10, 47, 34, tzinfo=tz(-7))
    assert email.body_source == "text/plain"
    # The QP soft breaks inside the long URLs are joined, =3D decoded.
    assert (
        "\nhttp://translate.google.com/translate?sl=de&tl=en&u=http%3A%2F%2Fwww.horizont.at"
        "%2Fhome%2Fdetail%2Fgoogle-ist-geldgeber-von-adblock-plus.html&act=url\n"
    ) in email.text
    assert "__utmc=193350514&__utmx=-&__utmz=193350514.1372904658.1.1.utmcsr=(direct)|utmccn=" in email.text
    assert email.text.startswith("Hello Bob,\n\nPlease note that this email contains extremely long links:")
    assert email.text.endswith("Thanks,\nBob")
    assert "<div" not in email.text and "=\n" not in email.text
    assert email.new_text == email.text
    # The second "text/plain" part (really HTML) is the body's alternative, not an attachment.
    assert email.attachments == ()


def check_attachment_raw_utf8_filename(email: ParsedEmail) -> None:
    assert email.subject == "testing"
    assert (email.sender_address, email.sender_name) == ("foo@example.com", None)
    assert email.to == ("blah@example.com",)
    assert email.message_id == "9169D984-4E0B-45EF-82D4-8F5E53AD7012@example.com"
    assert email.date == datetime(2005, 6, 6, 22, 21, 22, tzinfo=tz(2))
    assert email.text == "This is the first part."
    assert email.body_source == "text/plain"
    [attachment] = email.attachments
    assert attachment.filename == "ciële.txt"  # raw 8-bit UTF-8 in the parameter
    assert attachment.content_type == "text/plain"
    assert attachment.content == b"Hi there.\r\n" and attachment.size == 11
    assert (attachment.inline, attachment.content_id) == (False, None)


def check_fwd_rfc2231_iso2022jp_filename(email: ParsedEmail) -> None:
    # A leading mbox "From " line, then ordinary headers.
    assert email.subject == "Fwd: Signed email causes file attachments"
    assert email.sender_address == "xxxxxxxxx.xxxxxxx@gmail.com"
    assert email.sender_name == "xxxxxxxxx xxxxxxx"
    assert email.reply_to == "xxxxxxxxx.xxxxxxx@gmail.com"
    assert email.to == ("xxxxx@xxxxxxxxx.com",)
    assert email.message_id == "e85734b90505081209eaaa17b@mail.gmail.com"
    assert email.in_reply_to == "F6E2D0B4-CC35-4A91-BA4C-C7C712B10C13@mac.com"
    assert email.references == ("F6E2D0B4-CC35-4A91-BA4C-C7C712B10C13@mac.com",)
    assert email.date == datetime(2005, 5, 8, 14, 9, 11, tzinfo=tz(-5))
    assert email.text.startswith(
        "We should not include these files or vcards as attachments.\n\n"
        "---------- Forwarded message ----------\nFrom: xxxxx xxxxxx <xxxxxxxx@xxx.com>\n"
    )
    assert email.text.endswith("Hi,\n\nTest attachments oddly encoded with japanese charset.")
    # The forward note the sender typed, without the Gmail marker and the forwarded mail.
    assert email.new_text == "We should not include these files or vcards as attachments."
    [attachment] = email.attachments
    # name*=iso-2022-jp'ja'…Dij%8aat…: 0x8A is not ISO-2022-JP, so it is replaced.
    assert attachment.filename == "01 Quien Te Dij\ufffdat. Pitbull.mp3"
    assert attachment.content_type == "application/octet-stream"
    # 7 lines of 76 base64 characters: 399 bytes of a PKCS#7 signature cut short (the
    # ".mp3" is really the start of an S/MIME signature).
    assert attachment.size == 399
    assert attachment.content.startswith(bytes.fromhex("308006092a864886f70d010702"))
    assert any("filename" in defect and "replaced" in defect for defect in email.defects)


def check_japanese_iso2022jp(email: ParsedEmail) -> None:
    assert email.subject == "まみむめも"
    assert (email.sender_address, email.sender_name) == ("raasdnil@gmail.com", "Mikel Lindsaar")
    assert email.to == ("raasdnil@gmail.com",)
    assert email.message_id is None and email.date is None
    assert email.text == "すみません。" and email.new_text == "すみません。"
    assert email.body_source == "text/plain"


def check_ks_c_5601_1987(email: ParsedEmail) -> None:
    assert email.subject == "test"
    assert (email.sender_address, email.sender_name) == ("from@example.com", None)
    assert email.to == ("unknown@example.com",)
    assert email.message_id == "from@example.com"
    assert email.date == datetime(2014, 5, 28, 17, 18, 19, tzinfo=tz(9))
    assert email.text == "스티해"  # raw 8-bit ks_c_5601-1987 (cp949)


def check_apple_mail_reply_quoted(email: ParsedEmail) -> None:
    assert email.subject == "Re: Hello there"
    assert (email.sender_address, email.sender_name) == ("adam@tictail.com", "Adam Renberg")
    assert email.to == ("tgwizard@gmail.com",)
    assert email.message_id == "68001B29-8EA4-444C-A894-0537D2CA5208@tictail.com"
    assert email.in_reply_to == "CABzQGhkMXDxUt_tSVQcg=43aniUhtsVfCZVzu-PG0kwS_uzqMw@mail.gmail.com"
    assert email.references == ("CABzQGhkMXDxUt_tSVQcg=43aniUhtsVfCZVzu-PG0kwS_uzqMw@mail.gmail.com",)
    assert email.date == datetime(2015, 8, 22, 19, 22, 20, tzinfo=tz(2))
    assert email.text == "Hello\n> On 22 Aug 2015, at 19:21, Adam Renberg <tgwizard@gmail.com> wrote:\n>\n> Hi there!"
    assert email.new_text == "Hello"


def check_outlook_reply_header_block(email: ParsedEmail) -> None:
    assert email.subject == "Test"
    assert (email.sender_address, email.sender_name) == ("me@example.com", None)
    assert email.to == ("you@example.com",)
    assert email.message_id is None and email.date is None and email.in_reply_to is None
    # text/plain is preferred over the Word HTML (which says "Allo! Follow up MIME!").
    assert email.body_source == "text/plain"
    assert email.text.startswith(
        "Hello\n\nFrom: xxx@xxx.mailgun.org [mailto:xxx@xxx.mailgun.org]\n"
        "Sent: March-09-12 4:22 PM\nTo: Dan Le\n"
    )
    assert '"Hello Allan! Did you ask for some MIME? "' in email.text
    assert email.text.endswith(
        "Unsubscribe<http://dev.xxx.com/user/unsubscribe/dan.le@example.com"
        "?verify=4a400554148256338956101abdf06406>"
    )
    assert email.new_text == "Hello"
    assert email.attachments == ()  # the HTML alternative is not an attachment
    # X-Mailgun-Mailing-List-Id is not a sign of a machine.


def check_yahoo_original_message_block(email: ParsedEmail) -> None:
    assert email.subject == "Re: Test"
    assert (email.sender_address, email.sender_name) == ("xxx@yahoo.com", "Alex Q")
    assert email.to == ("bob@xxx.mailgun.org",)
    assert email.message_id == "1333374330.68772.YahooMailNeo@web114411.mail.gq1.yahoo.com"
    assert email.in_reply_to == "1333374262.7063.15.camel@mg5"
    assert email.references == ()
    assert email.date == datetime(2012, 4, 2, 6, 45, 30, tzinfo=tz(-7))
    assert email.text.startswith(
        'Hello\n\n----- Original Message -----\nFrom: "bob@xxx.mailgun.org" <bob@xxx.mailgun.org>\n'
    )
    assert email.text.endswith("Subject: Test\n\nHi")
    assert email.new_text == "Hello"


CORPUS_TESTS = {
    "flanker_bilingual_rfc2047_qp_utf8.eml": check_bilingual_rfc2047_qp_utf8,
    "flanker_multipart_alternative_qp_long_links.eml": check_multipart_alternative_qp_long_links,
    "mail_attachment_raw_utf8_filename_crlf.eml": check_attachment_raw_utf8_filename,
    "mail_fwd_rfc2231_iso2022jp_filename_base64_attachment_crlf.eml": check_fwd_rfc2231_iso2022jp_filename,
    "mail_japanese_iso2022jp_7bit_crlf.eml": check_japanese_iso2022jp,
    "mail_ks_c_5601_1987_8bit_crlf.eml": check_ks_c_5601_1987,
    "talon_apple_mail_reply_quoted.eml": check_apple_mail_reply_quoted,
    "talon_outlook_reply_header_block_iso8859_1.eml": check_outlook_reply_header_block,
    "talon_yahoo_reply_original_message_block.eml": check_yahoo_original_message_block,
}
# Only this one has something unreadable in it (the filename's invalid byte).
CORPUS_WITH_DEFECTS = {"mail_fwd_rfc2231_iso2022jp_filename_base64_attachment_crlf.eml"}


@pytest.mark.parametrize("name", sorted(CORPUS_TESTS))
def test_corpus_message(name):
    email = corpus(name)
    CORPUS_TESTS[name](email)
    assert email.automated is None
    if name not in CORPUS_WITH_DEFECTS:
        assert email.defects == ()
    assert_clean_strings(email)


def test_the_outlook_word_html_reads_as_text():
    raw = corpus_file("talon_outlook_reply_header_block_iso8859_1.eml")
    html = raw.split(b"Content-Type: text/html; charset=ISO-8859-1\n\n", 1)[1].rsplit(b"\n--", 1)[0]
    text = html_to_text(html.decode("latin-1"))
    assert text.startswith(
        "Allo! Follow up MIME!\n\n"
        "From: xxx@xxx.mailgun.org [mailto:xxx@xxx.mailgun.org]\n"
        "Sent: March-09-12 4:22 PM\n"
        "To: Dan Le\n"
        "Subject: The manager has commented on your Loop\n\n"
        "Hi dan.le@example.com,\n"
    )
    assert "Your Loop is here (http://dev.xxx.com/loop/view/4f50f20e160839c95a000bb3?_uid=4f3541a7ac63e655040008e3)." in text
    for noise in ("font-family", "MsoNormal", "<", "shapedefaults", "&nbsp;", "\xa0"):
        assert noise not in text


# --------------------------------------------------------------------------- synthetic messages


def build(body: str = "Hello", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Ann Customer <Ann@Example.com>")
    message["To"] = headers.pop("To", "support@switchboard.test")
    message["Subject"] = headers.pop("Subject", "Help")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def parse(message: EmailMessage) -> ParsedEmail:
    return parse_email(message.as_bytes())


def test_addresses_names_and_threading_headers():
    message = build(
        From='"Ann, Customer" <Ann@Example.COM>',
        To="a@x.test, B <b@x.test>",
        Cc="=?utf-8?q?Zo=C3=AB?= <ZOE@x.test>",
        Reply_To="Replies <replies@Example.com>",
        Message_ID="  <abc.123@mail.example.com>  ",
        In_Reply_To="<first@x> (message from Bob)",
        References="<first@x>  <second@y>\t<third@z>",
        Date="Mon, 01 Jan 2024 10:00:00 -0000",
    )
    email = parse(message)
    assert (email.sender_address, email.sender_name) == ("ann@example.com", "Ann, Customer")
    assert email.to == ("a@x.test", "b@x.test") and email.cc == ("zoe@x.test",)
    assert email.reply_to == "replies@example.com"
    assert email.message_id == "abc.123@mail.example.com"
    assert email.in_reply_to == "first@x"
    assert email.references == ("first@x", "second@y", "third@z")
    assert email.date == datetime(2024, 1, 1, 10, 0, tzinfo=timezone.utc)  # -0000 is UTC


def test_display_name_split_over_encoded_words_and_subject_whitespace():
    raw = (
        b"From: =?UTF-8?B?SsO8cmdlbg==?= =?UTF-8?Q?_M=C3=BCller?= <j@x.test>\n"
        b"Subject:   Re:  =?utf-8?q?caf=C3=A9?=\n\t and  more  \n\nHi\n"
    )
    email = parse_email(raw)
    assert email.sender_name == "Jürgen Müller"
    assert email.subject == "Re: café and more"
    assert email.defects == ()


def test_japanese_name_split_over_encoded_words_has_no_inserted_space():
    # Whitespace between adjacent encoded words is not part of the text (RFC 2047 6.2).
    first, second = (base64.b64encode(part.encode()).decode() for part in ("みけ", "る"))
    raw = (
        f"From: =?UTF-8?B?{first}?=\n =?UTF-8?B?{second}?= <m@x.test>\n"
        f"Subject: =?UTF-8?B?{first}?= =?UTF-8?B?{second}?=\n\nx\n"
    )
    email = parse_email(raw.encode())
    assert (email.sender_name, email.subject) == ("みける", "みける")


def test_encoded_word_in_a_quoted_display_name():
    email = parse_email(b'From: "=?utf-8?q?Zo=C3=AB?= Martin" <z@x.test>\n\nx\n')
    assert email.sender_name == "Zoë Martin"


def test_no_subject_and_invalid_date():
    email = parse_email(b"From: a@x.test\nDate: the day after tomorrow\n\nHi\n")
    assert email.subject == "" and email.date is None
    assert "Date: invalid date" in email.defects


def test_html_only_message():
    html = (
        "<html><head><title>t</title><style>p {color: red}</style></head><body>"
        "<p>Thanks for the <b>quick</b> answer!</p><p>It works now.<br>Ann</p>"
        '<div class="gmail_quote"><div>On Mon, 1 Jan 2024 at 10:00, Support &lt;support@switchboard.test&gt; wrote:</div>'
        "<blockquote><p>Have you tried turning it off and on again?</p></blockquote></div>"
        "<script>track()</script><!-- a comment --></body></html>"
    )
    message = build()
    message.set_content(html, subtype="html")
    email = parse(message)
    assert email.body_source == "text/html"
    assert email.text == (
        "Thanks for the quick answer!\n\nIt works now.\nAnn\n\n"
        "On Mon, 1 Jan 2024 at 10:00, Support <support@switchboard.test> wrote:\n\n"
        "> Have you tried turning it off and on again?"
    )
    assert email.new_text == "Thanks for the quick answer!\n\nIt works now.\nAnn"
    assert email.attachments == ()


def test_text_plain_part_that_is_really_html():
    html = '<div dir="ltr"><div>Hello Bob,</div><div><br></div><div>See <a href="https://x.test/a">this</a></div></div>'
    message = build(html)
    email = parse(message)
    assert email.body_source == "text/plain"
    assert email.text == "Hello Bob,\n\nSee this (https://x.test/a)"


def test_text_plain_preferred_and_html_alternative_is_no_attachment():
    message = build("plain words")
    message.add_alternative("<p>html words</p>", subtype="html")
    email = parse(message)
    assert (email.text, email.body_source, email.attachments) == ("plain words", "text/plain", ())


def test_no_body_at_all():
    message = build()
    message.set_content(b"%PDF-1.4", maintype="application", subtype="pdf", filename="only.pdf")
    email = parse(message)
    assert (email.text, email.new_text, email.body_source) == ("", "", "none")
    [attachment] = email.attachments
    assert (attachment.filename, attachment.content_type, attachment.content) == ("only.pdf", "application/pdf", b"%PDF-1.4")


def test_attachments_inline_images_and_forwarded_messages_in_order():
    message = build("see attached")
    message.add_alternative('<p>see <img src="cid:logo@x"></p>', subtype="html")
    html = message.get_payload()[1]
    html.add_related(b"\x89PNG...", maintype="image", subtype="png", cid="<logo@x>")
    message.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="données.csv")
    forwarded = build("inner body", Subject="The inner one")
    message.add_attachment(forwarded)
    message.add_attachment(b"\x00" * 1000, maintype="application", subtype="octet-stream", filename="x" * 10 + ".bin")
    email = parse(message)
    assert email.text == "see attached"
    kinds = [(a.filename, a.content_type, a.inline, a.content_id) for a in email.attachments]
    assert kinds == [
        (None, "image/png", True, "logo@x"),
        ("données.csv", "text/csv", False, None),
        (None, "message/rfc822", False, None),
        ("xxxxxxxxxx.bin", "application/octet-stream", False, None),
    ]
    assert email.attachments[0].content == b"\x89PNG..."
    assert email.attachments[1].content == b"a,b\n1,2\n"
    assert b"Subject: The inner one" in email.attachments[2].content and b"inner body" in email.attachments[2].content
    assert email.attachments[3].size == 1000


def test_filename_forms():
    raw = (
        b"From: a@x.test\nContent-Type: multipart/mixed; boundary=B\n\n"
        b"--B\nContent-Type: text/plain\n\nbody\n"
        b"--B\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rate.pdf\n\nx\n"
        b"--B\nContent-Type: application/pdf\nContent-Disposition: attachment;\n filename*0*=utf-8''long%20;\n filename*1=name.pdf\n\nx\n"
        b'--B\nContent-Type: application/pdf; name="=?UTF-8?B?w6lsw6kucGRm?="\nContent-Disposition: attachment\n\nx\n'
        b"--B\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"bad \xff\xfe.pdf\"\n\nx\n"
        b"--B--\n"
    )
    email = parse_email(raw)
    assert [a.filename for a in email.attachments] == ["€ rate.pdf", "long name.pdf", "élé.pdf", "bad \ufffd\ufffd.pdf"]
    assert "attachment 'bad \ufffd\ufffd.pdf': invalid bytes in the filename replaced" in email.defects


def test_format_flowed_is_unwrapped():
    raw = (
        b"From: a@x.test\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=no\n\n"
        b"This is one long line that the \nsender's mail client wrapped.\n\n"
        b">> quoted and \n>> wrapped\n-- \nAnn\n"
    )
    email = parse_email(raw)
    assert email.text == "This is one long line that the sender's mail client wrapped.\n\n>> quoted and wrapped\n--\nAnn"


# --------------------------------------------------------------------------- new text


@pytest.mark.parametrize(
    ("body", "new_text"),
    [
        ("Sure, Tuesday works.\n\nOn Mon, 1 Jan 2024 at 10:00, Support <s@x.test> wrote:\n> Does Tuesday work?\n", "Sure, Tuesday works."),
        ("Hallo,\ngeht klar.\n\nAm 01.01.2024 um 10:00 schrieb Support <s@x.test>:\n> Passt Dienstag?\n", "Hallo,\ngeht klar."),
        ("Oui.\n\nLe lun. 1 janv. 2024 à 10:00, Support <s@x.test> a écrit :\n> Mardi ?\n", "Oui."),
        ("Yes.\n\n________________________________\nFrom: Support <s@x.test>\nSent: Monday, January 1, 2024 10:00\nTo: Ann\nSubject: Tuesday\n\nDoes Tuesday work?\n", "Yes."),
        # Bottom-posted: the attribution and the quote are dropped, the answer kept.
        ("On Mon, 1 Jan 2024, Support <s@x.test> wrote:\n> Does Tuesday work?\n\nYes, Tuesday.\n", "Yes, Tuesday."),
        # An attribution in a language the reply parser does not know still goes with its quote.
        ("Sì.\n\nIl giorno lun 1 gen 2024, Support ha scritto:\n> Martedì?\n", "Sì."),
        # Indentation the sender typed survives.
        ("Try this:\n\n    pip install x\n\nOn Mon, Bob wrote:\n> How?\n", "Try this:\n\n    pip install x"),
        # A forward without a note: nothing new, so all of the text.
        ("---------- Forwarded message ---------\nFrom: Bob <b@x.test>\nDate: Mon\nSubject: S\nTo: a@x.test\n\nbody", None),
    ],
)
def test_new_text(body, new_text):
    email = parse(build(body))
    assert email.new_text == (email.text if new_text is None else new_text)


def test_a_long_paragraph_starting_with_on_is_quick():
    # The reply parser's "On … wrote:" pattern is quadratic in a line's length.
    paragraph = "On our side we checked the logs. " + "Everything looks fine to us. " * 1500
    started = time.perf_counter()
    email = parse(build(paragraph + "\n\nOn Mon, 1 Jan 2024, Bob <b@x.test> wrote:\n> Any news?\n"))
    assert time.perf_counter() - started < 2
    assert email.new_text == paragraph.strip()


# --------------------------------------------------------------------------- automated


def test_auto_reply():
    email = parse(build("I am out of the office.", Auto_Submitted="auto-replied; owner-email=a@x.test"))
    assert email.automated == "Auto-Submitted: auto-replied"


def test_auto_submitted_no_is_a_person():
    assert parse(build(Auto_Submitted="no")).automated is None


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"Precedence": "Junk"}, "Precedence: junk"),
        ({"Precedence": "list"}, "Precedence: list"),
        ({"X_Autoreply": "yes"}, "X-Autoreply"),
        ({"X_Autorespond": "Out of office"}, "X-Autorespond"),
        ({"Return_Path": "<>"}, "empty Return-Path (bounce or auto-reply)"),
        ({"From": "Postmaster <postmaster@mx.example.net>"}, "bounce from postmaster"),
    ],
)
def test_automated_signs(headers, reason):
    assert parse(build(**headers)).automated == reason


def test_x_auto_response_suppress_alone_is_a_person():
    # Exchange sets it on ordinary mail; it asks others not to auto-reply to this one.
    assert parse(build(X_Auto_Response_Suppress="All")).automated is None
    assert parse(build(Precedence="first-class")).automated is None


BOUNCE = b"""\
Return-Path: <>
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>
To: support@switchboard.test
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="R"

--R
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.
I'm sorry to have to inform you that your message could not be delivered.

--R
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; gone@example.net
Action: failed
Status: 5.1.1

--R
Content-Type: message/rfc822

From: support@switchboard.test
To: gone@example.net
Subject: Your ticket

Hello
--R--
"""


def test_bounce_from_mailer_daemon_with_delivery_report():
    email = parse_email(BOUNCE)
    assert email.sender_address == "mailer-daemon@mx.example.net"
    assert email.automated == "Auto-Submitted: auto-replied"
    assert email.text.startswith("This is the mail system at host mx.example.net.")
    assert [a.content_type for a in email.attachments] == ["message/delivery-status", "message/rfc822"]
    assert b"Status: 5.1.1" in email.attachments[0].content
    assert b"Subject: Your ticket" in email.attachments[1].content

    without_auto_submitted = parse_email(BOUNCE.replace(b"Auto-Submitted: auto-replied\n", b""))
    assert without_auto_submitted.automated == "bounce from mailer-daemon"


def test_delivery_report_from_an_ordinary_address():
    raw = BOUNCE.replace(b"Auto-Submitted: auto-replied\n", b"").replace(b"MAILER-DAEMON@", b"notices@")
    assert parse_email(raw.replace(b"Return-Path: <>\n", b"")).automated == "delivery status report"


# --------------------------------------------------------------------------- unreadable


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n  ", b"\xef\xbb\xbf"])
def test_empty_input(raw):
    with pytest.raises(UnreadableEmail) as raised:
        parse_email(raw)
    assert raised.value.reason == "empty input"


def test_not_an_email():
    with pytest.raises(UnreadableEmail, match="no header lines"):
        parse_email(b"hello world\nthis is not mail\n")


def test_no_from_at_all():
    with pytest.raises(UnreadableEmail) as raised:
        parse_email(b"To: support@switchboard.test\nSubject: who am I\n\nHi\n")
    assert "From" in raised.value.reason


def test_from_missing_but_sender_present():
    email = parse_email(b"Sender: Desk <Desk@Example.com>\nSubject: hi\n\nHi\n")
    assert (email.sender_address, email.sender_name) == ("desk@example.com", "Desk")
    assert "no usable From address, sender taken from Sender" in email.defects


def test_unparseable_from_falls_back_to_return_path():
    email = parse_email(b"From: not an address\nReturn-Path: <Bounce@Example.org>\n\nHi\n")
    assert email.sender_address == "bounce@example.org" and email.sender_name is None
    assert "no usable From address, sender taken from Return-Path" in email.defects


def test_mbox_from_line_with_lf():
    email = parse_email(b"From someone@x.test Mon Jan  1 10:00:00 2024\nFrom: a@x.test\nSubject: s\n\nbody\n")
    assert (email.sender_address, email.subject, email.text) == ("a@x.test", "s", "body")


def test_nested_too_deep_is_unreadable_not_a_crash():
    level = b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n"
    raw = b"From: a@x.test\n" + b"".join(level % (i, i) for i in range(3000))
    with pytest.raises(UnreadableEmail, match="nested too deeply"):
        parse_email(raw)


# --------------------------------------------------------------------------- malformed but readable


MULTIPART = b"""\
From: a@x.test
Subject: report
Content-Type: multipart/mixed; boundary="XYZ"

--XYZ
Content-Type: text/plain; charset=utf-8

See the report.
--XYZ
Content-Type: application/pdf; name="report.pdf"
Content-Transfer-Encoding: base64

""" + base64.encodebytes(bytes(range(256)) * 4) + b"""--XYZ--
"""


def test_truncated_message():
    cut = MULTIPART[: MULTIPART.index(b"--XYZ--") - 200]
    email = parse_email(cut)
    assert email.text == "See the report."
    [attachment] = email.attachments
    assert attachment.filename == "report.pdf"
    assert 0 < attachment.size < 1024
    assert (bytes(range(256)) * 4).startswith(attachment.content)
    assert "missing closing boundary" in email.defects


@pytest.mark.parametrize(
    ("encoded", "content", "defect"),
    [
        (b"QUJDR", b"ABC", "truncated base64 (incomplete last group dropped)"),
        (b"QUJDRA", b"ABCD", "truncated base64"),  # padding missing
    ],
)
def test_truncated_base64_gives_the_whole_groups(encoded, content, defect):
    headers_end = MULTIPART.index(b"base64\n\n") + len(b"base64\n\n")
    email = parse_email(MULTIPART[:headers_end] + encoded + b"\n--XYZ--\n")
    [attachment] = email.attachments
    assert attachment.content == content
    assert f"attachment 'report.pdf': {defect}" in email.defects


def test_wrong_boundary_is_recovered():
    email = parse_email(MULTIPART.replace(b'boundary="XYZ"', b'boundary="ABC"'))
    assert email.text == "See the report."
    assert [a.filename for a in email.attachments] == ["report.pdf"]
    assert email.attachments[0].content == bytes(range(256)) * 4
    assert "declared boundary not used, parts read with boundary 'XYZ'" in email.defects


def test_multipart_without_any_parts_keeps_the_raw_text():
    email = parse_email(b"From: a@x.test\nContent-Type: multipart/mixed; boundary=B\n\nno parts here\n")
    assert email.text == "no parts here"
    assert "declared boundary not found" in email.defects


def test_invalid_utf8_in_headers():
    raw = b"From: J\xc3\xbcrgen \xff <j@x.test>\nSubject: caf\xc3\xa9 \xfe\xff ok\n\nHi\n"
    email = parse_email(raw)
    assert email.subject == "café \ufffd\ufffd ok"
    assert email.sender_name == "Jürgen \ufffd"
    assert email.sender_address == "j@x.test"
    assert_clean_strings(email)


def test_invalid_utf8_in_a_body():
    raw = "From: a@x.test\nContent-Type: text/plain; charset=utf-8\n\nПривет, мир – ".encode() + b"\xff" + " ok\n".encode()
    email = parse_email(raw)
    assert email.text == "Привет, мир – \ufffd ok"
    assert "body (text/plain): not valid utf-8, decoded as utf-8 with replacements" in email.defects


def test_latin1_body_labelled_utf8():
    email = parse_email(b"From: a@x.test\nContent-Type: text/plain; charset=utf-8\n\nCaf\xe9 cr\xe8me\n")
    assert email.text == "Café crème"
    assert "body (text/plain): not valid utf-8, decoded as latin-1" in email.defects


@pytest.mark.parametrize(
    ("charset", "payload", "expected", "defect"),
    [
        ("x-foo", "naïve".encode(), "naïve", "body (text/plain): charset 'x-foo' unknown, decoded as utf-8"),
        ("x-foo", "naïve".encode("latin-1"), "naïve", "body (text/plain): charset 'x-foo' unknown, decoded as latin-1"),
        ("base64", b"plain", "plain", "body (text/plain): charset 'base64' unknown, decoded as utf-8"),
    ],
)
def test_unknown_charset(charset, payload, expected, defect):
    headers = f"From: a@x.test\nContent-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: 8bit\n\n"
    raw = headers.encode() + payload
    email = parse_email(raw)
    assert email.text == expected
    assert email.defects == (defect,)


@pytest.mark.parametrize(
    ("charset", "text", "codec"),
    [
        ("ks_c_5601-1987", "똠방각하 고맙습니다", "cp949"),  # 똠 is cp949 only, not EUC-KR
        ("x-sjis", "ありがとう ①", "cp932"),
        ("gb2312", "谢谢 𠀀", "gb18030"),
        ("iso-8859-8-i", "תודה", "iso-8859-8"),
        ("windows-874", "ขอบคุณ", "cp874"),
        ("iso-8859-1", "“smart quotes” – café", "cp1252"),
        ("iso-2022-jp", "ありがとう", "iso-2022-jp"),
    ],
)
def test_microsoft_and_legacy_charset_labels(charset, text, codec):
    headers = f'From: a@x.test\nContent-Type: text/plain; charset="{charset}"\nContent-Transfer-Encoding: 8bit\n\n'
    raw = headers.encode() + text.encode(codec)
    email = parse_email(raw)
    assert email.text == text
    assert email.defects == ()


def test_encoded_word_subjects_in_microsoft_charsets():
    subject = base64.b64encode("똠방각하".encode("cp949")).decode()
    email = parse_email(f"From: a@x.test\nSubject: Re: =?ks_c_5601-1987?B?{subject}?=\n\nx\n".encode())
    assert email.subject == "Re: 똠방각하"


# --------------------------------------------------------------------------- html_to_text


def test_html_to_text_blocks_lists_tables_links():
    html = (
        "<!DOCTYPE html><html><head><meta charset=utf-8></head><body>"
        "<h1>Title</h1><p>One<br/>two</p><ul><li>first</li><li>second <i>item</i></li></ul>"
        "<table><tr><td>a</td><td>b</td></tr><tr><th>c</th><td>d</td></tr></table>"
        '<p><a href="https://example.com/">https://example.com</a> and <a href="https://x.test/long?q=1">the form</a>'
        ' and <a href="mailto:help@x.test">write to us</a></p>'
        "<pre>  indented\n    code</pre><noscript>fallback</noscript>"
        "</body></html>"
    )
    assert html_to_text(html) == (
        "Title\n\nOne\ntwo\n\n- first\n- second item\n\na b\nc d\n\n"
        "https://example.com and the form (https://x.test/long?q=1) and write to us\n\n"
        "  indented\n    code\n\nfallback"
    )


def test_html_to_text_list_items_quotes_and_links_inside_them():
    html = (
        "<ul><li><p>first</p></li><li><div>second</div></li></ul>"
        '<blockquote><a href="https://x.test/a">https://x.test/a</a><br>'
        '<a href="https://x.test/b">b</a></blockquote>'
    )
    # A paragraph in a list item keeps its blank line, as a browser shows it.
    assert html_to_text(html) == "- first\n\n- second\n\n> https://x.test/a\n> b (https://x.test/b)"


def test_the_mislabelled_html_part_reads_like_its_plain_twin():
    raw = corpus_file("flanker_multipart_alternative_qp_long_links.eml")
    message = message_from_bytes(raw, policy=policy.default)
    plain, html = (part.get_content() for part in message.iter_parts())
    assert html.startswith('<div dir="ltr">')
    assert html_to_text(html) == corpus("flanker_multipart_alternative_qp_long_links.eml").text


def test_html_to_text_unclosed_head_keeps_the_body():
    assert html_to_text("<html><head><title>x</title><body><p>Still here") == "Still here"


@given(st.text(alphabet=st.sampled_from(list("<>/!-=\"' abcdivpbrhead&;#x\n")) | st.characters(), max_size=300))
@settings(max_examples=200, deadline=None)
def test_html_to_text_never_raises(html):
    assert isinstance(html_to_text(html), str)


# --------------------------------------------------------------------------- hostile bytes


def assert_clean_strings(email: ParsedEmail) -> None:
    """Every string survives JSON and UTF-8: no surrogates from undecodable bytes."""
    values = [email.subject, email.text, email.new_text, email.sender_address]
    values += [*email.to, *email.cc, *email.references, *email.defects]
    values += [value for value in (email.sender_name, email.reply_to, email.message_id, email.in_reply_to) if value]
    values += [attachment.filename for attachment in email.attachments if attachment.filename]
    json.dumps(values, ensure_ascii=False).encode("utf-8")


def parse_or_unreadable(raw: bytes) -> None:
    try:
        email = parse_email(raw)
    except UnreadableEmail as unreadable:
        assert not unreadable.reason.startswith("internal error"), unreadable.reason
        return
    assert_clean_strings(email)
    assert email.body_source in ("text/plain", "text/html", "none")
    assert "\r" not in email.text and email.text == email.text.strip()


@given(st.binary(max_size=2000))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes(raw):
    parse_or_unreadable(raw)


@given(st.binary(max_size=400))
@settings(max_examples=200, deadline=None)
def test_arbitrary_bytes_after_valid_headers(tail):
    parse_or_unreadable(b"From: a@x.test\nContent-Type: multipart/mixed; boundary=B\n\n--B\n" + tail)


CORPUS_NAMES = sorted(CORPUS_TESTS)


@st.composite
def mutated_corpus_message(draw):
    raw = bytearray(corpus_file(draw(st.sampled_from(CORPUS_NAMES))))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "boundary", "delete"]))
        if not raw:
            break
        at = draw(st.integers(0, len(raw) - 1))
        if kind == "truncate":
            del raw[at:]
        elif kind == "flip":
            raw[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif kind == "delete":
            del raw[at : at + draw(st.integers(1, 50))]
        else:  # corrupt every boundary line from here on
            raw[at:] = bytes(raw[at:]).replace(b"\n--", b"\n-" + draw(st.sampled_from([b"", b"x", b"-", b" "])))
    return bytes(raw)


@given(mutated_corpus_message())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_corpus_messages(raw):
    parse_or_unreadable(raw)


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_every_truncation_point_of_a_corpus_message(name):
    raw = corpus_file(name)
    for end in range(0, len(raw), max(1, len(raw) // 150)):
        parse_or_unreadable(raw[:end])
