"""The conversation page's markup (agent_pages/conversation_page.py) and the inbox's, from
views built here: what a customer wrote is escaped, marks and states are shown, and the
forms carry their tokens. Times derive from one injected instant."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from switchboard.agent_pages.conversation_page import conversation_page
from switchboard.agent_pages.conversation_view import ConversationView
from switchboard.agent_pages.inbox import Inbox, Row, inbox_page
from switchboard.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Identity,
    IdentityKind,
    Media,
    Message,
    MessageKind,
)
from switchboard.store.pages import Page

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)  # the night Europe/Berlin moves to summer time
EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def message(n: int, **fields) -> Message:
    base = dict(
        channel=Channel.EMAIL, provider="ses", provider_id=f"p{n}", sender=Identity(IdentityKind.EMAIL, "grace@customer.example", "Grace"),
        received_at=NOW - timedelta(hours=3 - n), message_id=f"m{n}", conversation_id="c1", customer_id="u1",
    )
    return Message(**{**base, **fields})


def view(*messages: Message, page: Page | None = None) -> ConversationView:
    conversation = Conversation(
        "c1", "u1", Identity(IdentityKind.EMAIL, "grace@customer.example"), ConversationStatus.WAITING_ON_US, Channel.EMAIL,
        NOW - timedelta(hours=3), NOW, customer_name=EVIL, waiting_since=NOW - timedelta(minutes=20), message_count=len(messages),
        short_code="42", reply_to={"channel": "email", "address": "grace@customer.example"}, messages=messages,
    )
    return ConversationView(conversation, None, (), page, presigned)


def presigned(media: Media) -> str:
    """As conversation_view.presigned_attachments: ours signed, a provider's URL as it is."""
    return f"https://signed.example/{media.url[5:]}?X-Amz-Signature=abc" if media.url.startswith("s3://") else media.url


def test_what_a_customer_wrote_is_escaped_everywhere():
    shown = conversation_page(
        view(message(0, subject=EVIL, body=EVIL, media=(Media("s3://mail/a", "text/html", filename=EVIL),))),
        ZoneInfo("Europe/Berlin"), "csrf-token", "01JSUBMISSION0000000000000",
    )
    assert "<script" not in shown and "<img" not in shown
    assert shown.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3


def test_marks_voicemail_and_attachments_are_shown_in_the_business_time_zone():
    stream = (
        message(0, sender=Identity(IdentityKind.EMAIL, "boss@bank.example", unverified=True), body="Wire the money"),
        message(1, channel=Channel.VOICE, kind=MessageKind.VOICEMAIL, sender=Identity(IdentityKind.PHONE, "+14155550100"),
                body="Please call me back", provider_fields={"RecordingDuration": "42"},
                media=(Media("https://api.twilio.com/rec/RE1.mp3", "audio/mpeg"),)),
        message(2, direction=Direction.OUTBOUND, sender=Identity(IdentityKind.AGENT, "ana", "Ana Lima"), body="On it",
                delivery_error="the number is unreachable"),
    )
    shown = conversation_page(view(*stream), ZoneInfo("Europe/Berlin"), "csrf-token", "01JSUBMISSION0000000000000")

    assert "Unverified sender" in shown and "Not delivered: the number is unreachable" in shown
    assert "Voicemail" in shown and "Recording (42 s)" in shown and 'href="https://api.twilio.com/rec/RE1.mp3"' in shown
    # 21:30 UTC the evening before is 22:30 in Berlin (winter time); 23:30 UTC is 00:30 CET, before the change at 02:00.
    assert "Sat 28 Mar 22:30 CET" in shown and "Sun 29 Mar 00:30 CET" in shown
    assert shown.index("Wire the money") < shown.index("Please call me back") < shown.index("On it")


def test_every_form_carries_the_csrf_token_and_the_submission_and_the_page_state_is_shown():
    page = Page("c1", "42", "acked", NOW - timedelta(minutes=20), 0, 1, ("ben",), None, {}, acked_by="ben",
                agents=frozenset({"ana", "ben"}), paged_at={"ana": NOW - timedelta(minutes=20), "ben": NOW - timedelta(minutes=10)})
    shown = conversation_page(view(message(0, body="hi"), page=page), ZoneInfo("UTC"), "csrf-token", "01JSUBMISSION0000000000000")

    assert shown.count('<form method="post"') == 4
    assert shown.count('name="csrf" value="csrf-token"') == 4 and shown.count('value="01JSUBMISSION0000000000000"') == 4
    assert "acked by ben" in shown and "paged: ana (Sun 29 Mar 00:10 UTC), ben (Sun 29 Mar 00:20 UTC)" in shown and "level 2" in shown


def test_the_inbox_marks_the_agents_own_pages_and_says_who_is_on_call():
    conversation = view(message(0, body="hi")).conversation
    page = Page("c1", "42", "open", NOW - timedelta(minutes=20), 0, 0, ("ana",), None, {}, agents=frozenset({"ana"}))
    shown = inbox_page(Inbox((Row(conversation, page, True),), "Ana Lima"), "Ana Lima", NOW, "sign-out-csrf")

    assert "On call now: <strong>Ana Lima</strong>" in shown and 'class="mine"' in shown
    assert 'href="/inbox/c/c1"' in shown and "waiting 20 min" in shown and "paged ana" in shown
    assert "<script" not in shown and "&lt;script&gt;" in shown
    assert "Nothing is waiting on us." in inbox_page(Inbox((), None), "Ana Lima", NOW, "x")
