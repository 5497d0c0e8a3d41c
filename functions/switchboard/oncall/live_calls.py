"""A caller reaches a person: the hunt along the escalation policy, screened, then voicemail.

`incoming` decides whether to ring anyone (live answering always, in business hours, or
never; somebody to ring) and rings the first agent the policy names. `screen` is what the
agent hears on picking up, `screened` their key press (1 accepts: the call is stored in
the caller's conversation, answered by them, the conversation's page acknowledged and the
first response counted at that moment), and `dialed` the end of an attempt: the next
agent (never one already rung on this call), or voicemail once nobody is left or the
caller's ringing time is spent, or a hang-up after a conversation, with its talk time.
`callback_*` put an agent who texted `12 CALL` through to the customer, and log it.

Each step reads the call's state (store/calls.py) and writes idempotently, so Twilio's
repeated or late callbacks give the same answer and change nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from switchboard.channels.voice import PROVIDER, caller_identity
from switchboard.channels.voice_live import (
    ACCEPT_DIGIT,
    RECORDING_NOTICE,
    announcement,
    bridged_twiml,
    callback_dial_twiml,
    callback_screen_twiml,
    declined_twiml,
    dial_twiml,
    screen_twiml,
)
from switchboard.conversations.inbound import record_part
from switchboard.models import Channel, ConversationStatus, InboundMessage, MessageKind
from switchboard.oncall.config import OncallConfig
from switchboard.oncall.policy import first_step, next_reachable, next_step
from switchboard.store.calls import Attempt, CallStore, LiveCall
from switchboard.store.conversations import ConversationStore
from switchboard.store.customers import CustomerStore
from switchboard.store.pages import PageStatus, PageStore

MIN_RING_SECONDS = 5  # a last attempt shorter than this is not worth the caller's wait
# Twilio's DialCallStatus → how an attempt that nobody accepted ended.
DIAL_OUTCOMES = {"no-answer": "no-answer", "busy": "busy", "failed": "failed", "canceled": "canceled", "completed": "declined"}


@dataclass(frozen=True)
class LiveAnswering:
    mode: str  # always, business_hours, never
    greeting: str
    dial_timeout: int  # seconds each agent's phone rings
    max_ring: timedelta  # the caller's ringing, across every attempt
    record: bool
    public_url: str

    @classmethod
    def from_settings(cls, settings) -> "LiveAnswering":
        return cls(
            settings.live_answering, settings.live_greeting.format(brand=settings.brand_name), settings.dial_timeout_seconds,
            timedelta(seconds=settings.max_ring_seconds), settings.call_recording == "on", settings.public_url,
        )


@dataclass(frozen=True)
class Line:
    """What the hunt works with."""

    answering: LiveAnswering
    calls: CallStore
    conversations: ConversationStore
    customers: CustomerStore
    pages: PageStore
    load_config: Callable[[], OncallConfig]
    conversation_idle: timedelta | None = None


def hunt_order(config: OncallConfig, now: datetime) -> tuple[str, ...]:
    """Whom to ring, in order: each level's agents as the escalation policy names them
    now (the on-call agent first, as pages go), everyone once, reachable by phone."""
    order: list[str] = []
    step = first_step()
    while step is not None:
        reach = next_reachable(config.policy, step, config.schedule, config.agents, now)
        if reach is None:
            break
        found, recipients = reach
        order += [agent_id for agent_id in recipients if agent_id not in order and config.agents[agent_id].phone]
        step = next_step(config.policy, found)
    return tuple(order)


def incoming(call_sid: str, caller: str, called: str, open_now: bool, now: datetime, line: Line) -> str | None:
    """The TwiML that rings the first agent; None when nobody is to be rung (voicemail)."""
    mode = line.answering.mode
    if mode == "never" or (mode == "business_hours" and not open_now):
        return None
    config = line.load_config()
    hunt = hunt_order(config, now)
    if not hunt:
        return None
    call = line.calls.start(LiveCall(call_sid, caller, called, now, hunt, {}))
    notice = f" {RECORDING_NOTICE}" if line.answering.record else ""
    return _ring(call, 1, config, now, line, say_first=line.answering.greeting + notice)


def screen(call_sid: str, number: int, now: datetime, line: Line) -> str:
    """What the agent hears on picking up attempt `number`: who calls, and that 1 accepts."""
    call = line.calls.get(call_sid)
    attempt = call.attempts.get(number) if call else None
    if call is None or attempt is None or (call.accepted_by and call.accepted_by != attempt.agent_id):
        return declined_twiml()
    line.calls.picked_up(call_sid, number, now)
    name, open_count = _caller_summary(call, line)
    return screen_twiml(line.answering.public_url, call_sid, number, call.caller, call.called, announcement(call.caller, name, open_count))


def screened(call_sid: str, number: int, digits: str, now: datetime, line: Line) -> str:
    """The agent's key press: 1 accepts (the call is theirs, and in the stream); anything else declines."""
    call = line.calls.get(call_sid)
    attempt = call.attempts.get(number) if call else None
    if call is None or attempt is None:
        return declined_twiml()
    if digits.strip() != ACCEPT_DIGIT:
        line.calls.attempt_ended(call_sid, number, "declined", None, None)
        return declined_twiml()
    if not line.calls.accept(call_sid, number, attempt.agent_id, now):
        return declined_twiml()  # another agent has it (a late callback of an earlier attempt)
    agent = line.load_config().agents.get(attempt.agent_id)
    _record_answered(call, attempt, agent.name if agent else attempt.agent_id, now, line)
    return bridged_twiml()


@dataclass(frozen=True)
class Dialed:
    twiml: str | None  # None: voicemail (the caller hears the voicemail greeting and the beep)
    outcome: str  # "answered", "next", "voicemail"


def dialed(call_sid: str, number: int, dial_status: str, leg_sid: str | None, duration: str, now: datetime, line: Line) -> Dialed:
    """An attempt ended: after a conversation, hang up (its talk time kept); else ring the
    next agent while the caller's ringing time lasts, else voicemail."""
    call = line.calls.get(call_sid)
    if call is None or number not in call.attempts:
        return Dialed(None, "voicemail")
    if call.accepted_attempt == number:
        talk = _seconds(duration)
        line.calls.attempt_ended(call_sid, number, "accepted", leg_sid, talk)
        agent = line.load_config().agents.get(call.accepted_by or "")
        _record_talk(call, talk, agent.name if agent else call.accepted_by or "an agent", line)
        return Dialed(declined_twiml(), "answered")
    line.calls.attempt_ended(call_sid, number, DIAL_OUTCOMES.get(dial_status, "no-answer"), leg_sid, None)
    if call.accepted_by is None and number < len(call.hunt):
        config = line.load_config()
        twiml = _ring(call, number + 1, config, now, line)
        if twiml is not None:
            return Dialed(twiml, "next")
    return Dialed(None, "voicemail")


def hunt_fields(call: LiveCall | None) -> dict[str, str]:
    """What a missed call's or a voicemail's message keeps of the hunt: who was rung, and
    whether the caller hung up while a phone still rang (abandoned)."""
    if call is None or not call.attempts:
        return {}
    rang = [call.attempts[n].agent_id for n in sorted(call.attempts)]
    ringing = any(attempt.outcome is None for attempt in call.attempts.values())
    return {"Rang": ",".join(rang), "Hunt": "abandoned" if ringing and call.accepted_by is None else "not answered"}


def _ring(call: LiveCall, number: int, config: OncallConfig, now: datetime, line: Line, say_first: str = "") -> str | None:
    """Ring attempt `number`'s agent for what is left of the caller's ringing time; None when too little is."""
    left = line.answering.max_ring - (now - call.started_at)
    timeout = min(line.answering.dial_timeout, int(left.total_seconds()))
    agent = config.agents.get(call.hunt[number - 1])
    if timeout < MIN_RING_SECONDS or agent is None:
        return None
    line.calls.dialing(call.call_sid, number, agent.agent_id, now)
    return dial_twiml(line.answering.public_url, call.call_sid, number, agent.phone, call.caller, call.called, timeout, line.answering.record, say_first)


def _caller_summary(call: LiveCall, line: Line) -> tuple[str | None, int]:
    """The caller's name and how many of their conversations are open, if we know them."""
    route = line.conversations.find_identity(caller_identity(call.caller))
    customer = line.customers.get_customer(route.customer_id) if route else None
    if customer is None:
        return None, 0
    conversations = line.conversations.get_conversations(customer.conversation_ids[-20:])
    return customer.display_name, sum(1 for c in conversations if c.status is not ConversationStatus.RESOLVED)


def _call_message(call: LiveCall, body: str, fields: dict[str, str]) -> InboundMessage:
    return InboundMessage(
        channel=Channel.VOICE, provider=PROVIDER, provider_id=call.call_sid, sender=caller_identity(call.caller), recipient=call.called,
        received_at=call.started_at, kind=MessageKind.CALL, body=body, provider_fields={"CallSid": call.call_sid, **fields},
    )


def _record_answered(call: LiveCall, attempt: Attempt, agent_name: str, now: datetime, line: Line) -> None:
    """The call in the caller's conversation, answered by the agent: the page acknowledged as
    `12 ACK` would, the first response counted now."""
    ring = str(int((now - call.started_at).total_seconds()))
    fields = {"AnsweredBy": attempt.agent_id, "AnsweredByName": agent_name, "RingSeconds": ring}
    updates = {"kind": MessageKind.CALL.value, **{f"provider_fields.{name}": value for name, value in fields.items()}}
    result = record_part(_call_message(call, f"Answered by {agent_name} after {ring} s of ringing", fields), updates,
                         line.conversations, line.conversation_idle)
    line.conversations.answered_by_call(result.conversation_id, now)
    line.pages.settle(result.conversation_id, PageStatus.ACKED, attempt.agent_id, now)


def _record_talk(call: LiveCall, talk_seconds: int, agent_name: str, line: Line) -> None:
    """The talk time, on the call's message (stored when the agent accepted)."""
    ring = str(int(((call.accepted_at or call.started_at) - call.started_at).total_seconds()))
    body = f"Answered by {agent_name} after {ring} s of ringing; {_on_the_phone(talk_seconds)}"
    fields = {"AnsweredBy": call.accepted_by or "", "RingSeconds": ring, "TalkSeconds": str(talk_seconds)}
    record_part(_call_message(call, body, fields), {"body": body, "provider_fields.TalkSeconds": str(talk_seconds)},
                line.conversations, line.conversation_idle)


# ---- calling a customer back (`12 CALL`, oncall/actions.call_back) ------------------------


def callback_answered(conversation_id: str, customer: str, query: str, line: Line) -> str:
    """The agent answered our call to them: who they are about to call, and 1 to call."""
    summary = line.conversations.get_summary(conversation_id)
    name = summary.customer_name if summary else None
    words = f"{name}, {' '.join(customer)}" if name else " ".join(customer)
    return callback_screen_twiml(line.answering.public_url, query, words)


def callback_connect(digits: str, customer: str, support_number: str, query: str, line: Line) -> str:
    if digits.strip() != ACCEPT_DIGIT:
        return declined_twiml()
    timeout = max(line.answering.dial_timeout, 25)  # the customer's phone, not an agent's: let it ring
    return callback_dial_twiml(line.answering.public_url, query, customer, support_number, timeout, line.answering.record)


def callback_done(conversation_id: str, agent_id: str, call_sid: str, dial_status: str, duration: str, now: datetime, line: Line) -> str:
    """The call back ended: it goes in the stream with the agent's name, answered (talk time;
    the customer hears from us: their wait ends) or not (a note). Once per call."""
    from ulid import ULID

    from switchboard.models import Direction, Identity, IdentityKind
    from switchboard.store.conversations import DuplicateMessage, Route

    route = line.conversations.follow_conversation(conversation_id)
    conversation = line.conversations.get_summary(route.conversation_id) if route else None
    if conversation is None:
        return declined_twiml()
    agent = line.load_config().agents.get(agent_id)
    name = agent.name if agent else agent_id
    talk = _seconds(duration)
    answered = dial_status == "completed" and talk > 0
    said = f"{name} called back: {_on_the_phone(talk) if answered else dial_status or 'no answer'}"
    message = InboundMessage(
        channel=Channel.VOICE, provider=PROVIDER, provider_id=call_sid, sender=Identity(IdentityKind.AGENT, agent_id, display_name=name),
        received_at=now, kind=MessageKind.CALL, body=said,
        provider_fields={"CallSid": call_sid, "Direction": Direction.OUTBOUND.value, "DialCallStatus": dial_status, "TalkSeconds": str(talk)},
    )
    message_id = str(ULID.from_datetime(now))
    try:
        if answered:
            waited = now - conversation.waiting_since if conversation.waiting_since else None
            line.conversations.append_outbound(message, Route(conversation.customer_id, conversation.conversation_id), message_id, waited)
            line.pages.settle(conversation.conversation_id, PageStatus.ANSWERED, agent_id, now)
        else:
            line.conversations.append_internal(message, Route(conversation.customer_id, conversation.conversation_id), message_id)
    except DuplicateMessage:
        pass  # Twilio's retry: logged once
    return declined_twiml()


def _seconds(duration: str) -> int:
    """Twilio's DialCallDuration (seconds, as text; absent when nobody spoke)."""
    return int(duration) if duration.isdigit() else 0


def _on_the_phone(talk_seconds: int) -> str:
    return f"{talk_seconds // 60} min {talk_seconds % 60} s on the phone"
