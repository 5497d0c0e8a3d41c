"""Conversations waiting on the customer (`12 WAITING`): resolved by themselves when the
customer does not reply in time, with an optional closing note on their channel.

The escalation tick runs `resolve_waiting` every minute over the conversations whose time
has come (the ByDue index). A customer who wrote since the agent's WAITING keeps their
conversation (it already waits on us, and paged); any other is resolved, marked
`resolved_automatically` (no satisfaction question follows it), its page settled and its
code released. The closing note is stored with the resolution in one transaction and
queued after it; a tick that fails in between queues the stored note again, under the
same outbox key, so the customer gets it once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ulid import ULID

from switchboard.conversations.replies import CannotReply, opted_out, stored_form, to_customer
from switchboard.models import Conversation, Identity, IdentityKind, InboundMessage, MessageKind, OutboundMessage, OutboundPurpose
from switchboard.observability import logger
from switchboard.store.conversations import ConversationStore, Route
from switchboard.store.pages import PageStatus, PageStore
from switchboard.store.queue import OutboxQueue
from switchboard.store.subscribers import SubscriberStore

CLOSING_PROVIDER = "closing"


@dataclass(frozen=True)
class Waiting:
    conversations: ConversationStore
    pages: PageStore
    subscribers: SubscriberStore
    outbox: OutboxQueue
    closing_text: str = ""  # the note to the customer ("{brand}"); empty: none
    brand: str = "Support"
    support_email_address: str = ""


def resolve_waiting(now: datetime, waiting: Waiting) -> dict[str, int]:
    """Resolve the conversations due; one that fails stays due for the next tick (`errors`)."""
    counts = {"auto_resolved": 0, "customer_replied": 0, "errors": 0}
    for conversation in waiting.conversations.auto_resolve_due(now):
        try:
            outcome = _settle(conversation, now, waiting)
        except Exception:
            logger.exception("resolving a conversation that waited on the customer failed", extra={"conversation_id": conversation.conversation_id})
            counts["errors"] += 1
            continue
        if outcome in counts:
            counts[outcome] += 1
    return counts


def _settle(conversation: Conversation, now: datetime, waiting: Waiting) -> str:
    conversation_id = conversation.conversation_id
    if conversation.closing_message_id:  # resolved, its note stored but never queued
        _queue_closing(conversation, conversation.closing_message_id, waiting, None)
        return "auto_resolved"
    since = conversation.awaiting_reply_since
    if since is None:
        return "raced"
    if waiting.conversations.customer_wrote_since(conversation_id, since):
        waiting.conversations.stop_awaiting(conversation_id, since)
        return "customer_replied"
    closing = _closing_note(conversation, now, waiting)
    stored = (closing[0], Route(conversation.customer_id, conversation_id), closing[1]) if closing else None
    if not waiting.conversations.resolve_unanswered(conversation_id, since, now, stored):
        return "raced"  # the customer wrote, or an agent acted, meanwhile
    waiting.pages.settle(conversation_id, PageStatus.RESOLVED, None, now)
    waiting.pages.release_code(conversation_id, now)
    if closing:
        _queue_closing(conversation, closing[1], waiting, closing[2])
    return "auto_resolved"


def _closing_note(conversation: Conversation, now: datetime, waiting: Waiting) -> tuple[InboundMessage, str, OutboundMessage] | None:
    """The note to store and send (None: no closing text, an opted-out address, or no way to write)."""
    if not waiting.closing_text or opted_out(conversation, waiting.subscribers):
        return None
    message_id = str(ULID.from_datetime(now))
    try:
        outbound, also_known_as = _outbound(conversation, waiting.closing_text.format(brand=waiting.brand), message_id, waiting)
    except CannotReply:
        return None
    sender = Identity(IdentityKind.AUTOMATIC, "closing", display_name=waiting.brand)
    message = stored_form(outbound, CLOSING_PROVIDER, f"closing-{message_id}", sender, now, also_known_as, MessageKind.CLOSING)
    return message, message_id, outbound


def _outbound(conversation: Conversation, text: str, message_id: str, waiting: Waiting) -> tuple[OutboundMessage, tuple[tuple[str, str], ...]]:
    return to_customer(
        conversation, text, OutboundPurpose.CLOSING, f"closing-{message_id}", waiting.support_email_address, waiting.conversations.reply_token,
    )


def _queue_closing(conversation: Conversation, message_id: str, waiting: Waiting, outbound: OutboundMessage | None) -> None:
    if outbound is None:  # a later tick: the note as it was stored, under the same key
        route = Route(conversation.customer_id, conversation.conversation_id)
        body = waiting.conversations.message_attribute(route, message_id, "body") or waiting.closing_text.format(brand=waiting.brand)
        outbound = _outbound(conversation, body, message_id, waiting)[0]
    waiting.outbox.send(replace(outbound, stream_message_id=message_id))
    waiting.conversations.closing_queued(conversation.conversation_id, message_id)
