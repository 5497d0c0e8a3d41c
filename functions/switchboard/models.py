"""Shared models on the ground floor: what every room passes to the others."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Channel(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"
    X = "x"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class IdentityKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    X = "x"


class ConversationStatus(StrEnum):
    WAITING_ON_US = "waiting_on_us"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"


class Identity(BaseModel):
    """How a customer is reached on one channel: an E.164 number, an address, an X id."""

    model_config = ConfigDict(frozen=True)

    kind: IdentityKind
    value: str = Field(min_length=1)
    display_name: str | None = None


class Media(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    content_type: str


class InboundMessage(BaseModel):
    """A customer's message on any channel, verified and normalized by its channel."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    provider: str  # who delivered it, e.g. "twilio"; with provider_id it is unique
    provider_id: str = Field(min_length=1)
    sender: Identity
    recipient: str | None = None
    body: str = ""
    media: tuple[Media, ...] = ()
    received_at: datetime
    # Provider fields worth keeping for support work (geo hints, segments, service ids).
    provider_fields: dict[str, str] = Field(default_factory=dict)


class Message(BaseModel):
    """A message as stored in a conversation."""

    message_id: str
    conversation_id: str
    customer_id: str
    channel: Channel
    direction: Direction
    provider: str
    provider_id: str
    sender: Identity
    recipient: str | None = None
    body: str = ""
    media: list[Media] = Field(default_factory=list)
    received_at: datetime
    provider_fields: dict[str, str] = Field(default_factory=dict)


class Conversation(BaseModel):
    conversation_id: str
    customer_id: str
    customer_name: str | None = None
    customer_identity: Identity
    status: ConversationStatus
    channel: Channel  # the channel of the latest customer message
    created_at: datetime
    last_activity_at: datetime
    waiting_since: datetime | None = None
    message_count: int = 0
    last_message_preview: str = ""


class ConversationWithMessages(Conversation):
    messages: list[Message] = Field(default_factory=list)


class AppendResult(BaseModel):
    """What recording an inbound message did."""

    customer_id: str
    conversation_id: str
    message_id: str
    duplicate: bool = False
    new_customer: bool = False


def utc_now() -> datetime:
    """The default clock; domain code takes a clock argument instead of calling this."""
    return datetime.now(timezone.utc)
