"""Shared models on the ground floor: what every room passes to the others.

Plain frozen dataclasses, not pydantic: these are built by our own code after the
edges have validated their input, and importing pydantic would add about 80 ms to
every inbound function's cold start (40% of `import boto3`). Pydantic stays at the
edges whose payloads are complex documents (provider JSON in later channels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any


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


@dataclass(frozen=True)
class Identity:
    """How a customer is reached on one channel: an E.164 number, an address, an X id."""

    kind: IdentityKind
    value: str
    display_name: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Identity":
        return cls(IdentityKind(data["kind"]), data["value"], data.get("display_name"))


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message on any channel, verified and normalized by its channel."""

    channel: Channel
    provider: str  # who delivered it, e.g. "twilio"; with provider_id it is unique
    provider_id: str
    sender: Identity
    received_at: datetime
    recipient: str | None = None
    body: str = ""
    media: tuple[Media, ...] = ()
    # Provider fields worth keeping for support work (geo hints, segments, service ids).
    provider_fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """A message as stored in a conversation."""

    message_id: str
    conversation_id: str
    customer_id: str
    channel: Channel
    direction: Direction
    provider: str
    provider_id: str
    sender: Identity
    received_at: datetime
    recipient: str | None = None
    body: str = ""
    media: tuple[Media, ...] = ()
    provider_fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    conversation_id: str
    customer_id: str
    customer_identity: Identity
    status: ConversationStatus
    channel: Channel  # the channel of the latest customer message
    created_at: datetime
    last_activity_at: datetime
    customer_name: str | None = None
    waiting_since: datetime | None = None
    message_count: int = 0
    last_message_preview: str = ""
    # Filled by a conversation's full read, empty in listings.
    messages: tuple[Message, ...] = ()


@dataclass(frozen=True)
class AppendResult:
    """What recording an inbound message did."""

    customer_id: str
    conversation_id: str
    message_id: str
    duplicate: bool = False
    new_customer: bool = False


def to_json_dict(value: Any) -> Any:
    """A model as JSON-ready data: datetimes in ISO 8601 UTC with Z, enums as their values."""
    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    if isinstance(value, dict):
        return {k: to_json_dict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_dict(v) for v in value]
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


def iso_utc(moment: datetime) -> str:
    """'2026-11-23T09:30:00.000Z': sortable as text, as stored in the table."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> datetime:
    """The default clock; domain code takes a clock argument instead of calling this."""
    return datetime.now(timezone.utc)
