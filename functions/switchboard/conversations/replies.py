"""A message to a customer, on the channel of their latest message: how it leaves.

One place for every kind of message we send into a conversation (an agent's answer, our
automatic acknowledgement): SMS and voicemail customers by SMS, email customers by a
reply in their own thread, X customers by a reply to their post.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from switchboard.channel_limits import X_POST_MAX_LENGTH
from switchboard.models import Channel, Conversation, Identity, InboundMessage, MessageKind, OutboundMessage, OutboundPurpose
from switchboard.reply_address import reply_address
from switchboard.store.keys import EMAIL_MESSAGE_ID
from switchboard.store.subscribers import SubscriberStore

# Channels whose customers a message reaches by SMS: a voicemail is answered by text.
SMS_REPLY_CHANNELS = {Channel.SMS.value, Channel.VOICE.value}


class CannotReply(Exception):
    """There is no way to reach this customer on their channel; the message says why."""


def reply_destination(conversation: Conversation) -> dict[str, str]:
    """Where a message to the customer goes: {"channel", "address"} (+ email threading, X post)."""
    return conversation.reply_to or {"channel": conversation.channel.value, "address": conversation.customer_identity.value}


def opted_out(conversation: Conversation, subscribers: SubscriberStore) -> bool:
    """Whether the address a message to this customer would go to opted out (STOP, an
    unsubscribe link, Twilio's 21610): no automatic message goes there."""
    reply = reply_destination(conversation)
    if reply["channel"] in SMS_REPLY_CHANNELS:
        return subscribers.is_opted_out(Channel.SMS.value, reply["address"])
    if reply["channel"] == Channel.EMAIL.value:
        return subscribers.is_opted_out(Channel.EMAIL.value, reply["address"])
    return subscribers.is_opted_out(reply["channel"], conversation.customer_identity.value)


def to_customer(
    conversation: Conversation,
    text: str,
    purpose: OutboundPurpose,
    request_id: str,
    support_email_address: str,
    reply_token: Callable[[str], str],
    agent_id: str | None = None,
) -> tuple[OutboundMessage, tuple[tuple[str, str], ...]]:
    """The message as it leaves, on the customer's channel, and the ids it is known by.

    request_id keys it: the same request never sends twice. reply_token(conversation_id)
    gives the conversation's reply address token (made on first use).
    """
    reply = reply_destination(conversation)
    label = customer_label(conversation)
    key_prefix = "reply" if purpose is OutboundPurpose.CUSTOMER_REPLY else purpose.value
    common = {
        "body": text,
        "purpose": purpose,
        "idempotency_key": f"{key_prefix}#{request_id}",
        "conversation_id": conversation.conversation_id,
        "agent_id": agent_id,
    }
    if reply["channel"] in SMS_REPLY_CHANNELS:
        if reply["address"].startswith("withheld:"):  # the caller hid their number: nobody to text
            raise CannotReply(f"{label} called from a withheld number: there is no number to answer.")
        return OutboundMessage(channel=Channel.SMS, to=reply["address"], **common), ()
    if reply["channel"] == Channel.EMAIL.value and support_email_address:
        # Our Message-ID is claimed with the stored message: the customer's reply to it
        # (In-Reply-To) threads back into this conversation. Neither it nor the reply
        # address tells the conversation id (whoever the message is forwarded to sees both).
        message_id = f"{request_id.lower()}@{support_email_address.partition('@')[2]}"
        email = {
            "subject": reply.get("subject", ""),
            "message_id": message_id,
            "in_reply_to": reply.get("in_reply_to", ""),
            "reply_to": reply_address(support_email_address, reply_token(conversation.conversation_id)),
        }
        outbound = OutboundMessage(channel=Channel.EMAIL, to=reply["address"], email={k: v for k, v in email.items() if v}, **common)
        return outbound, ((EMAIL_MESSAGE_ID, message_id),)
    if reply["channel"] == Channel.X.value and reply.get("post_id"):
        if len(text) > X_POST_MAX_LENGTH:
            raise CannotReply(f"An answer on X is at most {X_POST_MAX_LENGTH} characters; this one has {len(text)}.")
        return OutboundMessage(channel=Channel.X, to=reply["post_id"], **common), ()
    raise CannotReply(f"{label} wrote by {reply['channel']}: answering there from SMS is not supported yet.")


def stored_form(
    outbound: OutboundMessage, provider: str, request_id: str, sender: Identity, now: datetime,
    also_known_as: tuple[tuple[str, str], ...], kind: MessageKind = MessageKind.MESSAGE,
) -> InboundMessage:
    """How the stream keeps a message we send (an agent's answer, our acknowledgement): its
    request id and the ids it is known by are claimed with it, so a retry stores it once."""
    return InboundMessage(
        channel=outbound.channel,
        provider=provider,
        provider_id=request_id,
        sender=sender,
        recipient=outbound.to,
        received_at=now,
        subject=outbound.email.get("subject"),
        body=outbound.body,
        kind=kind,
        also_known_as=also_known_as,
    )


def customer_label(conversation: Conversation) -> str:
    """How a message to an agent names a conversation: '4821 (Jane Doe)'."""
    code = f"{conversation.short_code} " if conversation.short_code else ""
    return f"{code}({conversation.customer_name or conversation.customer_identity.value})"
