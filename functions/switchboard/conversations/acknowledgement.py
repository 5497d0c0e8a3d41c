"""The automatic acknowledgement: a customer who starts (or reopens) a conversation hears,
on their own channel, when to expect a person.

Inside business hours: "someone will answer within about N minutes" (N: the escalation
policy's first-response target for the channel); outside them, when the team is back, in
the business time zone ("tomorrow at 09:00 CET"). The wording is a setting.

Who never gets one: a machine (auto-replies, bounces, lists: they never reach the router,
and are refused here too), an unauthenticated email sender (anyone can write any From:),
ourselves, a caller who hung up before the beep (they left no message), a customer who
opted out, a conversation an agent has answered since it
opened, or one acknowledged within the quiet period. Only the message that started the
conversation's wait is acknowledged, so a second message, or an autoresponder answering
our acknowledgement, never gets another: two autoresponders cannot loop.

The acknowledgement is stored in the stream as ours (MessageKind.ACKNOWLEDGEMENT, sent by
IdentityKind.AUTOMATIC); it leaves the customer waiting on us and is not a first response.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Callable
from zoneinfo import ZoneInfo

from ulid import ULID

from switchboard.conversations.replies import CannotReply, opted_out, stored_form, to_customer
from switchboard.models import (
    ConversationStatus,
    Identity,
    IdentityKind,
    MessageKind,
    OutboundMessage,
    OutboundPurpose,
)
from switchboard.oncall.config import OncallConfig
from switchboard.oncall.schedule import next_opening
from switchboard.store.conversations import ConversationStore, DuplicateMessage, Route
from switchboard.store.queue import OutboxQueue
from switchboard.store.subscribers import SubscriberStore

# The stored acknowledgement's provider: it and "ack-<message id>" are claimed, once.
ACKNOWLEDGEMENT_PROVIDER = "acknowledgement"
# What a customer wrote or said; a missed call (a hang-up before the beep) left no message.
ACKNOWLEDGED_KINDS = frozenset({MessageKind.MESSAGE.value, MessageKind.VOICEMAIL.value})


class Outcome(StrEnum):
    SENT = "sent"
    SENT_AGAIN = "sent_again"  # a retry: the stored acknowledgement queued again (sent once)
    OFF = "off"  # not acknowledged on this channel (a setting)
    NOT_FOR_THEM = "not_for_them"  # a machine, an unauthenticated sender, ourselves
    NOT_FIRST = "not_first"  # the conversation was already waiting on us, or is not now
    ANSWERED = "answered"  # an agent answered since the conversation opened
    QUIET = "quiet"  # acknowledged within the quiet period
    OPTED_OUT = "opted_out"
    UNREACHABLE = "unreachable"  # no way to write back (a withheld number)
    GONE = "gone"  # the conversation was merged away or removed


@dataclass(frozen=True)
class AcknowledgementPolicy:
    channels: frozenset[str]  # the channels acknowledged: sms, email, voice (by SMS), x
    quiet: timedelta  # at most one acknowledgement per conversation in this long
    text_open: str  # "{minutes}", "{brand}"
    text_closed: str  # "{back}", "{brand}"
    brand: str
    own_addresses: frozenset[str] = frozenset()  # our support address, our X account's id

    @classmethod
    def from_settings(cls, settings: Any) -> "AcknowledgementPolicy":
        own = {settings.support_email_address.lower(), settings.x_support_account.partition(":")[0]} - {""}
        return cls(
            channels=frozenset(settings.acknowledge_channel_list),
            quiet=timedelta(hours=settings.acknowledge_quiet_hours),
            text_open=settings.acknowledge_text_open,
            text_closed=settings.acknowledge_text_closed,
            brand=settings.brand_name,
            own_addresses=frozenset(own),
        )


@dataclass(frozen=True)
class Hours:
    """What the on-call configuration says about now, for the wording."""

    opening: datetime | None  # the first open instant at or after now (now itself when open); None: never
    zone: ZoneInfo  # the business time zone
    target_minutes: int  # the first-response target of the message's channel


def hours_for(config: OncallConfig, channel: str, now: datetime) -> Hours:
    """The on-call schedule's business hours and the policy's target, for a message on `channel`."""
    schedule = config.schedule
    return Hours(next_opening(schedule, now), ZoneInfo(schedule.time_zone), config.policy.first_response_target(channel))


@dataclass(frozen=True)
class Desk:
    conversations: ConversationStore
    subscribers: SubscriberStore
    outbox: OutboxQueue
    support_email_address: str = ""


def acknowledgement_text(policy: AcknowledgementPolicy, hours: Hours, now: datetime) -> str:
    if hours.opening is not None and hours.opening <= now:
        return policy.text_open.format(brand=policy.brand, minutes=hours.target_minutes)
    return policy.text_closed.format(brand=policy.brand, back=when_back(hours.opening, now, hours.zone))


def when_back(opening: datetime | None, now: datetime, zone: ZoneInfo) -> str:
    """'today at 13:00 CET', 'tomorrow at 09:00 CEST', 'on Monday at 09:00 EST', 'on
    Monday 4 January at 09:00 CET': the opening in the business time zone, as seen from now."""
    if opening is None:
        return "as soon as we can"
    local = opening.astimezone(zone)
    clock = f"{local:%H:%M} {local.tzname()}"
    days = (local.date() - now.astimezone(zone).date()).days
    if days <= 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    if days < 7:
        return f"on {local:%A} at {clock}"
    return f"on {local:%A} {local.day} {local:%B} at {clock}"


def acknowledge(image: dict[str, Any], now: datetime, policy: AcknowledgementPolicy, hours: Callable[[], Hours], desk: Desk) -> Outcome:
    """Acknowledge the stored inbound message `image` (its stream image) if it is due one;
    `hours` is asked only then (it reads the on-call configuration).

    Safe to repeat: the acknowledgement is stored under the message's id, only while the
    conversation still waits on us since this message, unanswered and unacknowledged (in
    the same transaction); a retry finds it stored and queues it again, under the same
    outbox key, so the sender sends it once.
    """
    channel, sender = image["channel"], image.get("sender", {})
    if channel not in policy.channels:
        return Outcome.OFF
    if (image.get("automated") or image.get("unverified") or image.get("keyword")
            or image.get("kind", MessageKind.MESSAGE.value) not in ACKNOWLEDGED_KINDS
            or sender.get("kind") == IdentityKind.AGENT.value or str(sender.get("value", "")).lower() in policy.own_addresses):
        return Outcome.NOT_FOR_THEM
    route = Route(image["customer_id"], image["conversation_id"])
    conversation = desk.conversations.get_summary(route.conversation_id)
    if conversation is None or conversation.merged_into:
        return Outcome.GONE
    began = datetime.fromisoformat(image["received_at"])
    stored_before = conversation.acknowledged_message_id == image["message_id"]  # a retry
    if not stored_before:
        if conversation.status is not ConversationStatus.WAITING_ON_US or conversation.waiting_since != began:
            return Outcome.NOT_FIRST
        if conversation.answered_at is not None:
            return Outcome.ANSWERED
        if conversation.acknowledged_at is not None and conversation.acknowledged_at >= now - policy.quiet:
            return Outcome.QUIET
    if opted_out(conversation, desk.subscribers):
        return Outcome.OPTED_OUT

    request_id = f"ack-{image['message_id']}"
    text = acknowledgement_text(policy, hours(), now)
    try:
        outbound, also_known_as = to_customer(
            conversation, text, OutboundPurpose.ACKNOWLEDGEMENT, request_id, desk.support_email_address, desk.conversations.reply_token,
        )
    except CannotReply:
        return Outcome.UNREACHABLE
    if stored_before:
        return _queue_again(outbound, request_id, desk)
    sender = Identity(IdentityKind.AUTOMATIC, "acknowledgement", display_name=policy.brand)
    stored = stored_form(outbound, ACKNOWLEDGEMENT_PROVIDER, request_id, sender, now, also_known_as, MessageKind.ACKNOWLEDGEMENT)
    message_id = str(ULID.from_datetime(now))
    try:
        if not desk.conversations.append_acknowledgement(stored, route, message_id, image["message_id"], began, now - policy.quiet):
            return Outcome.NOT_FIRST  # answered, acknowledged or moved on meanwhile
    except DuplicateMessage:
        return _queue_again(outbound, request_id, desk)  # stored by a concurrent retry
    desk.outbox.send(replace(outbound, stream_message_id=message_id))
    return Outcome.SENT


def _queue_again(outbound: OutboundMessage, request_id: str, desk: Desk) -> Outcome:
    """Queue the stored acknowledgement again with the words it was stored with (the same
    outbox key: however often a retry queues it, the sender sends it once)."""
    found = desk.conversations.find_claim(ACKNOWLEDGEMENT_PROVIDER, request_id)
    if found is None:
        raise LookupError(f"the conversation names {request_id} as acknowledged, but it is not stored")
    route, message_id = found
    body = desk.conversations.message_attribute(route, message_id, "body") or outbound.body
    desk.outbox.send(replace(outbound, body=body, stream_message_id=message_id))
    return Outcome.SENT_AGAIN
