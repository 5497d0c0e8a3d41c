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
    INTERNAL = "internal"  # between agents (a takeover): never sent, never pages


class IdentityKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    X = "x"
    AGENT = "agent"  # the sender of an outbound message: value is the agent's id
    AUTOMATIC = "automatic"  # Switchboard itself (an acknowledgement): value says what wrote it


class MessageKind(StrEnum):
    MESSAGE = "message"
    VOICEMAIL = "voicemail"
    MISSED_CALL = "missed_call"  # the caller hung up before the beep
    CALL = "call"  # a call an agent took live (oncall/live_calls.py): never pages
    TAKEOVER = "takeover"  # an agent took the conversation over (`12 TAKE`)
    ACKNOWLEDGEMENT = "acknowledgement"  # our automatic "we have your message" (not a response)
    FOLLOW_UP = "follow_up"  # an agent will follow up (`12 LATER 3h`, `12 WAITING`): a note between agents
    CLOSING = "closing"  # our automatic note to a customer whose conversation resolved without their reply
    SATISFACTION_QUESTION = "satisfaction_question"  # our "how did we do?" after a resolution
    RATING = "rating"  # the customer's answer to it (a score by SMS): never pages, never reopens


class ConversationStatus(StrEnum):
    WAITING_ON_US = "waiting_on_us"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Identity:
    """How a customer is reached on one channel: an E.164 number, an address, an X id."""

    kind: IdentityKind
    value: str  # E.164 number, lower-cased address, or X's numeric user id
    display_name: str | None = None
    handle: str | None = None  # X's @username (the id is what stays stable)
    # An email sender SES could not authenticate (no SPF, DKIM or DMARC pass): anyone can
    # write any From:, so this address has a stream of its own, apart from the verified one.
    unverified: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The stored form: only what is set (an identity is verified unless it says not)."""
        return {key: value for key, value in asdict(self).items() if value is not None and value is not False}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Identity":
        return cls(IdentityKind(data["kind"]), data["value"], data.get("display_name"), data.get("handle"), bool(data.get("unverified", False)))


@dataclass(frozen=True)
class Media:
    url: str  # https:// at the provider, or s3://bucket/key for what we stored
    content_type: str
    filename: str | None = None
    size: int | None = None  # bytes


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message on any channel, verified and normalized by its channel."""

    channel: Channel
    provider: str  # who delivered it, e.g. "twilio"; with provider_id it is unique
    provider_id: str
    sender: Identity
    received_at: datetime
    recipient: str | None = None
    body: str = ""  # what the customer just wrote (quoted history removed from email)
    media: tuple[Media, ...] = ()
    # Provider fields worth keeping for support work (geo hints, segments, service ids).
    provider_fields: dict[str, str] = field(default_factory=dict)
    kind: MessageKind = MessageKind.MESSAGE
    subject: str | None = None
    full_body: str | None = None  # the whole text when body is only the new part
    # Auto-replies and bounces: recorded in the stream, never paged.
    automated: bool = False
    # Other ids the same message is known by (e.g. an email's Message-ID besides SES's
    # id): each is claimed with the provider id, so any of them repeated is a duplicate.
    also_known_as: tuple[tuple[str, str], ...] = ()
    # Email threading: Message-IDs this answers (In-Reply-To first, then References
    # newest first), and the token of a per-conversation reply address it was sent to.
    thread_refs: tuple[str, ...] = ()
    reply_token: str | None = None
    # An SMS keyword (STOP, START, HELP, SUBSCRIBE...): recorded in the stream, never paged.
    keyword: str | None = None

    @property
    def needs_answer(self) -> bool:
        """Whether the message makes its conversation wait on us (and may page)."""
        return not self.automated and not self.keyword


@dataclass(frozen=True, kw_only=True)
class Message(InboundMessage):
    """A message as stored in a conversation: the inbound content plus where it lives."""

    message_id: str
    conversation_id: str
    customer_id: str
    direction: Direction = Direction.INBOUND
    delivery_status: str | None = None  # an answer's latest status from the provider
    delivery_error: str | None = None  # why an answer failed for good, when it did


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
    merged_into: str | None = None  # set when a customer merge folded it into another
    # Where an answer goes: {"channel", "address"} of the latest customer message, plus
    # "in_reply_to"/"subject" for email and "post_id" for X.
    reply_to: dict[str, str] = field(default_factory=dict)
    short_code: str | None = None  # "12": how agents name it by SMS
    first_response_seconds: float | None = None  # from waiting to our first answer
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    # The latest agent answer since the conversation last opened (a resolution forgets it).
    answered_at: datetime | None = None
    # When the customer was last told automatically that we have their message, and which one.
    acknowledged_at: datetime | None = None
    acknowledged_message_id: str | None = None
    # An agent said it waits on the customer (`12 WAITING`): without their reply since, it
    # resolves itself (resolved_automatically).
    awaiting_reply_since: datetime | None = None
    resolved_automatically: bool = False
    closing_message_id: str | None = None  # our closing note, stored but not yet queued
    # "How did we do?": when we asked, and the customer's answer (conversations/satisfaction.py).
    surveyed_at: datetime | None = None
    survey_message_id: str | None = None
    rating: "Rating | None" = None
    # Status-page components the conversation is about (set by an agent): while it is
    # open, the customer gets those components' incident notices (AUTO_SUBSCRIBE_CONVERSATIONS).
    components: tuple[str, ...] = ()
    # Filled by a conversation's full read, empty in listings.
    messages: tuple[Message, ...] = ()


@dataclass(frozen=True)
class Rating:
    """A customer's answer to "how did we do?"."""

    score: int  # 1 (poor) to 5 (great)
    channel: str  # how it came: "sms" (a reply) or "email" (a link)
    at: datetime
    comment: str = ""


@dataclass(frozen=True)
class AppendResult:
    """What recording an inbound message did."""

    customer_id: str
    conversation_id: str
    message_id: str
    duplicate: bool = False
    new_customer: bool = False
    new_conversation: bool = False  # a returning customer after the idle period


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


class OutboundPurpose(StrEnum):
    PAGE = "page"  # to the on-call agent
    DIGEST = "digest"  # several conversations at once, to the on-call agent
    AGENT_REPLY = "agent_reply"  # an agent's short answer by SMS (help, errors)
    CUSTOMER_REPLY = "customer_reply"  # an agent's answer, to the customer
    ACKNOWLEDGEMENT = "acknowledgement"  # "we have your message", to the customer, automatic
    CLOSING = "closing"  # "we closed this without your reply", to the customer, automatic
    SATISFACTION = "satisfaction"  # "how did we do?", to the customer, automatic
    NOTICE = "notice"  # an incident update, to a subscriber
    SUBSCRIPTION = "subscription"  # "confirm your subscription" and the like, to a subscriber
    SIGN_IN = "sign_in"  # a one-time link to the agents' inbox, to an agent's phone or address
    CALLBACK = "callback"  # `12 CALL`: a call to the agent's phone, then put through to the customer


@dataclass(frozen=True)
class OutboundMessage:
    """One message to send, as it travels through the outbox queue (JSON)."""

    channel: Channel
    to: str  # E.164 number, email address, or the X post id answered
    body: str
    purpose: OutboundPurpose
    # The same key is never sent twice, however often the queue delivers it.
    idempotency_key: str
    conversation_id: str | None = None
    agent_id: str | None = None
    page_code: str | None = None
    # Email only: subject, message_id (ours, claimed so the customer's reply threads back),
    # in_reply_to / references (the customer's), reply_to (the conversation's reply address).
    email: dict[str, str] = field(default_factory=dict)
    # The stored outbound message in the stream (an answer), for its delivery status.
    stream_message_id: str | None = None
    # Notices: {"incident_id", "update_id"}; the notice's claim is keyed on them and `to`.
    notice: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        import json

        return json.dumps(to_json_dict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "OutboundMessage":
        import json

        data = json.loads(text)
        return cls(
            channel=Channel(data["channel"]),
            to=data["to"],
            body=data["body"],
            purpose=OutboundPurpose(data["purpose"]),
            idempotency_key=data["idempotency_key"],
            conversation_id=data.get("conversation_id"),
            agent_id=data.get("agent_id"),
            page_code=data.get("page_code"),
            email=data.get("email") or {},
            stream_message_id=data.get("stream_message_id"),
            notice=data.get("notice") or {},
        )
