"""The conversation's page, as HTML: the customer, every message in order across channels,
the page's state, and the forms that act on it. Pure: the view in, the markup out.

Readable on a phone and light: no script (the CSP forbids any), a little inline CSS,
times in the business time zone. Everything a customer wrote is escaped.
"""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from switchboard.agent_pages.conversation_view import ConversationView
from switchboard.conversations.replies import SMS_REPLY_CHANNELS, reply_destination
from switchboard.models import Conversation, ConversationStatus, Direction, Message, MessageKind
from switchboard.store.pages import Page

STYLE = (
    "h1{font-size:1.3rem;margin-bottom:.2rem}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}"
    ".sub,.meta{color:#555;font-size:.85rem}ol{list-style:none;padding:0}"
    "li.msg{border-left:4px solid #bbb;padding:.3rem .6rem;margin:.6rem 0;background:#f6f6f6}"
    "li.inbound{border-color:#1f5fbf}li.outbound{border-color:#2e8540;background:#f1f8f2}"
    "li.internal{border-color:#b58900;background:#fdf8e6}.body{white-space:pre-wrap;margin:.2rem 0}"
    ".mark{color:#a00;font-weight:600}.outcome{background:#e8f0fe;padding:.5rem;border-radius:.3rem}"
    "textarea{width:100%;font:inherit}form{margin:.5rem 0}form.inline{display:inline-block;margin-right:.4rem}"
    "button.secondary{background:#555}"
)
CHANNEL_NAMES = {"sms": "SMS", "voice": "Call", "email": "Email", "x": "X"}
KIND_NAMES = {
    MessageKind.VOICEMAIL: "Voicemail",
    MessageKind.MISSED_CALL: "Missed call",
    MessageKind.TAKEOVER: "Takeover",
    MessageKind.ACKNOWLEDGEMENT: "Automatic acknowledgement",
    MessageKind.FOLLOW_UP: "Follow-up note",
    MessageKind.CLOSING: "Closing note",
    MessageKind.SATISFACTION_QUESTION: "How did we do?",
    MessageKind.RATING: "Rating",
}
STATUS_NAMES = {
    ConversationStatus.WAITING_ON_US: "waiting on us",
    ConversationStatus.WAITING_ON_CUSTOMER: "waiting on the customer",
    ConversationStatus.RESOLVED: "resolved",
}


def conversation_page(view: ConversationView, zone: ZoneInfo, csrf: str, submission: str, outcome: str = "", signed_in: bool = False) -> str:
    """The page's content (public_page.page wraps it): `submission` keys the forms, so a
    repeated submission of one form sends nothing twice. A signed-in agent's page links the
    customer's other conversations (a link opens its one conversation only)."""
    conversation = view.conversation
    parts = [
        f'<p class="outcome" role="status">{_e(outcome)}</p>' if outcome else "",
        _customer(view, zone),
        _page_state(view.page, zone),
        "<h2>Conversation</h2>",
        f'<ol class="stream">{"".join(_message(message, view, zone) for message in conversation.messages)}</ol>',
        _actions(conversation, csrf, submission),
        _others(view, zone, signed_in),
    ]
    return "".join(parts)


def page_title(conversation: Conversation) -> str:
    code = f"[{conversation.short_code}] " if conversation.short_code else ""
    return f"{code}{conversation.customer_name or conversation.customer_identity.value}"


def _customer(view: ConversationView, zone: ZoneInfo) -> str:
    conversation = view.conversation
    identities = view.customer.identities if view.customer else (conversation.customer_identity,)
    listed = "".join(f"<li>{_e(_identity_text(identity))}</li>" for identity in identities)
    waiting = f", since {_when(conversation.waiting_since, zone)}" if conversation.waiting_since and conversation.status is ConversationStatus.WAITING_ON_US else ""
    return (
        f'<p class="sub">{_e(STATUS_NAMES.get(conversation.status, str(conversation.status)))}{waiting}'
        f" · {conversation.message_count} message{'' if conversation.message_count == 1 else 's'} · started {_when(conversation.created_at, zone)}</p>"
        f"<h2>Customer</h2><ul>{listed}</ul>"
    )


def _identity_text(identity) -> str:
    kind = {"phone": "Phone", "email": "Email", "x": "X"}.get(str(identity.kind), str(identity.kind))
    value = f"@{identity.handle} ({identity.value})" if identity.handle else identity.value
    name = f"{identity.display_name}: " if identity.display_name else ""
    return f"{kind} {name}{value}" + (" (unverified)" if identity.unverified else "")


def _page_state(page: Page | None, zone: ZoneInfo) -> str:
    if page is None:
        return "<h2>Page</h2><p>Nobody was paged about this conversation.</p>"
    paged = ", ".join(f"{_e(agent)} ({_when(at, zone)})" for agent, at in sorted(page.paged_at.items(), key=lambda item: item[1]))
    paged = paged or ", ".join(_e(agent) for agent in sorted(page.agents | set(page.recipients))) or "nobody yet"
    lines = [
        f"<li>{_e(page.status)}{f' by {_e(page.acked_by)}' if page.acked_by else ''}, opened {_when(page.opened_at, zone)}</li>",
        f"<li>paged: {paged}</li>",
        f"<li>level {page.level + 1}{f', round {page.round + 1}' if page.round else ''}"
        + (f"; escalates {_when(page.next_escalation_at, zone)}" if page.next_escalation_at and page.status == "open" else "")
        + "</li>",
    ]
    return f'<h2>Page</h2><ul>{"".join(lines)}</ul>'


def _message(message: Message, view: ConversationView, zone: ZoneInfo) -> str:
    direction = {Direction.INBOUND: "from the customer", Direction.OUTBOUND: "to the customer", Direction.INTERNAL: "note"}[message.direction]
    kind = KIND_NAMES.get(message.kind, "")
    sender = message.sender.display_name or (f"@{message.sender.handle}" if message.sender.handle else message.sender.value)
    meta = " · ".join(part for part in (_when(message.received_at, zone), CHANNEL_NAMES.get(message.channel.value, message.channel.value), kind, direction, sender) if part)
    marks = []
    if message.sender.unverified:
        marks.append("Unverified sender: the email failed authentication (SPF/DKIM/DMARC)")
    if message.automated:
        marks.append("Automated message")
    if message.delivery_error:
        marks.append(f"Not delivered: {message.delivery_error}")
    elif message.delivery_status and message.direction is Direction.OUTBOUND:
        marks.append(f"Delivery: {message.delivery_status}")
    duration = message.provider_fields.get("RecordingDuration")
    parts = [f'<p class="meta">{_e(meta)}</p>']
    parts += [f'<p class="mark">{_e(mark)}</p>' for mark in marks]
    if message.subject:
        parts.append(f"<p><strong>{_e(message.subject)}</strong></p>")
    if message.kind is MessageKind.VOICEMAIL:
        parts.append(f'<p class="meta">Recording{f" ({_e(duration)} s)" if duration else ""}; transcript:</p>')
    if message.body:
        parts.append(f'<p class="body">{_e(message.body)}</p>')
    if message.full_body and message.full_body != message.body:
        parts.append(f'<details><summary>Whole message</summary><p class="body">{_e(message.full_body)}</p></details>')
    if message.media:
        items = "".join(
            f'<li><a href="{_e(view.attachment_url(media))}" rel="noreferrer">{_e(media.filename or _media_name(message, media.content_type))}</a>'
            f' <span class="meta">{_e(media.content_type)}{f", {_size(media.size)}" if media.size else ""}</span></li>'
            for media in message.media
        )
        parts.append(f"<ul>{items}</ul>")
    return f'<li class="msg {message.direction.value}">{"".join(parts)}</li>'


def _media_name(message: Message, content_type: str) -> str:
    return "Recording" if message.kind is MessageKind.VOICEMAIL else f"Attachment ({content_type})"


def _actions(conversation: Conversation, csrf: str, submission: str) -> str:
    hidden = f'<input type="hidden" name="csrf" value="{_e(csrf)}"><input type="hidden" name="submission" value="{_e(submission)}">'
    channel = reply_destination(conversation)["channel"]  # where an answer goes, as an SMS answer would
    channel = "sms" if channel in SMS_REPLY_CHANNELS else channel  # a caller is answered by SMS
    limit = ' maxlength="280"' if channel == "x" else ""
    return (
        "<h2>Answer</h2>"
        f'<form method="post">{hidden}<input type="hidden" name="action" value="reply">'
        f'<label for="text" class="sub">Sent to the customer by {_e(CHANNEL_NAMES.get(channel, channel))}, with your name in the stream</label>'
        f'<textarea id="text" name="text" rows="5" required{limit}></textarea>'
        '<p><button type="submit">Send answer</button></p></form>'
        + "".join(
            f'<form method="post" class="inline">{hidden}<input type="hidden" name="action" value="{action}">'
            f'<button type="submit" class="secondary">{label}</button></form>'
            for action, label in (("ack", "Acknowledge"), ("resolve", "Resolve"), ("take", "Take over"))
        )
    )


def _others(view: ConversationView, zone: ZoneInfo, linked: bool) -> str:
    if not view.other_conversations:
        return ""
    rows = "".join(
        f"<li>{_other_name(other, linked)} · {_e(STATUS_NAMES.get(other.status, str(other.status)))}"
        f" · {_when(other.last_activity_at, zone)}: {_e(other.last_message_preview)}</li>"
        for other in view.other_conversations
    )
    return f"<h2>Other conversations</h2><ul>{rows}</ul>"


def _other_name(other: Conversation, linked: bool) -> str:
    name = _e(CHANNEL_NAMES.get(other.channel.value, other.channel.value))
    return f'<a href="/inbox/c/{_e(other.conversation_id)}">{name}</a>' if linked else name


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
