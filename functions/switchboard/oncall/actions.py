"""What an agent can do to a conversation: claim it, answer the customer, resolve it,
take it over.

The same actions serve the agent's SMS commands ("12 ACK") and the CLI at a desk
(`switchboard conversations reply|resolve`). Each returns the short text that tells
the agent what happened.

By SMS an agent acts only on what is theirs: a conversation whose page was sent to
them (at any level), one they settled or took over, or any while they are on call.
Anyone else is told who has it and may `12 TAKE` it, which the stream records. (A
phone number is all that identifies an agent's SMS; the CLI runs with AWS credentials,
which already allow anything.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from ulid import ULID

from switchboard.conversations.replies import SMS_REPLY_CHANNELS, CannotReply, customer_label, reply_destination, stored_form, to_customer
from switchboard.conversations.satisfaction import Outcome as SurveyOutcome
from switchboard.conversations.satisfaction import Survey, resolve_and_ask
from switchboard.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Identity,
    IdentityKind,
    InboundMessage,
    MessageKind,
    OutboundMessage,
    OutboundPurpose,
)
from switchboard.oncall.answered import tell_others
from switchboard.oncall.commands import HELP_TEXT, AgentCommand, CommandKind
from switchboard.oncall.later import LaterError, parse_later
from switchboard.oncall.schedule import Agent, Schedule
from switchboard.store.conversations import ConversationStore, DuplicateMessage, Route
from switchboard.store.pagers import PagerStore
from switchboard.store.pages import Page, PageStatus, PageStore
from switchboard.store.queue import OutboxQueue


class ActionError(Exception):
    """The action cannot be done; the message says why, for the agent."""


@dataclass(frozen=True)
class Outcome:
    text: str  # for the agent
    conversation_id: str | None = None
    first_response: timedelta | None = None  # set by the first answer to a waiting customer
    channel: str | None = None
    resolved: bool = False


@dataclass(frozen=True)
class Desk:
    """What the actions work with."""

    conversations: ConversationStore
    pages: PageStore
    outbox: OutboxQueue
    support_email_address: str = ""  # answers to email customers come from it
    # Who is on call at an instant; asked only when an agent acts on what was not paged to them.
    on_call_at: Callable[[datetime], str | None] = lambda now: None
    # The on-call schedule (its time zone and business hours): asked only to read a LATER's time.
    schedule: Callable[[], Schedule] = lambda: Schedule(time_zone="UTC")
    # How long a conversation waits on the customer (`12 WAITING`) before it resolves itself.
    wait_for_reply: timedelta = timedelta(days=3)
    # Asks customers how we did when a conversation is resolved after an answer; None: never.
    survey: Survey | None = None
    # Other agents paged about a conversation hear "12 answered by <name>" here; None: never.
    pagers: PagerStore | None = None


def run_command(command: AgentCommand, agent: Agent, now: datetime, desk: Desk, request_id: str) -> Outcome:
    """An agent's SMS command, carried out; request_id (the SMS's MessageSid) makes a
    retried webhook send the customer nothing twice."""
    if command.kind in (CommandKind.HELP, CommandKind.UNKNOWN):
        return Outcome(f"{command.problem}. {HELP_TEXT}" if command.problem else HELP_TEXT)
    conversation_id = desk.pages.conversation_for_code(command.code or "")
    if conversation_id is None:
        return Outcome(f"No conversation {command.code}: check the number in the page. HELP for commands.")
    return act(command.kind, conversation_id, agent, command.text or "", now, desk, request_id)


def act(kind: CommandKind, conversation_id: str, agent: Agent, text: str, now: datetime, desk: Desk, request_id: str) -> Outcome:
    """One action on a conversation, by SMS or from its page (agent_pages/), under the same
    rules: anything but TAKE only on what is the agent's (may_act)."""
    try:
        if kind is CommandKind.TAKE:
            return take(conversation_id, agent, now, desk, request_id)
        refusal = _refusal(conversation_id, agent, now, desk)
        if refusal:
            return Outcome(refusal, conversation_id)
        if kind is CommandKind.ACK:
            return acknowledge(conversation_id, agent, now, desk)
        if kind is CommandKind.RESOLVE:
            return resolve(conversation_id, agent, now, desk)
        if kind is CommandKind.LATER:
            try:
                until = parse_later(text, now, desk.schedule())
            except LaterError as error:
                return Outcome(f"{error}. Nothing done.", conversation_id)
            return snooze(conversation_id, agent, until, now, desk, request_id)
        if kind is CommandKind.WAITING:
            return wait_on_customer(conversation_id, agent, now, desk, request_id)
        if kind is CommandKind.CALL:
            return call_back(conversation_id, agent, desk, request_id)
        return answer(conversation_id, agent, text, now, desk, request_id)
    except ActionError as error:
        return Outcome(str(error), conversation_id)


def may_act(agent_id: str, page: Page | None, on_call: str | None) -> bool:
    """Whether an agent's SMS may act on a conversation with this page. Pure."""
    if agent_id == on_call:
        return True
    return page is not None and page.paged_to(agent_id)


def _refusal(conversation_id: str, agent: Agent, now: datetime, desk: Desk) -> str | None:
    page = desk.pages.get_page(conversation_id)
    # The common case first (paged to them), without reading the schedule.
    if may_act(agent.agent_id, page, None) or may_act(agent.agent_id, page, desk.on_call_at(now)):
        return None
    conversation = _conversation(conversation_id, desk)
    holders = sorted(page.agents | set(page.recipients)) if page else []
    whose = f"was paged to {', '.join(holders)}" if holders else "was paged to nobody yet"
    return f"{customer_label(conversation)} {whose} and you are not on call: nothing done. Reply {conversation.short_code} TAKE to take it over."


def take(conversation_id: str, agent: Agent, now: datetime, desk: Desk, request_id: str | None = None) -> Outcome:
    """Take a conversation over: a live page becomes this agent's, and they may act on it.

    Recorded in the stream as an internal note, so everyone sees who took it from whom.
    """
    conversation = _conversation(conversation_id, desk)
    label, code = customer_label(conversation), conversation.short_code
    before = desk.pages.take(conversation_id, agent.agent_id, now)
    if before is None:
        return Outcome(f"{label} was never paged: nothing to take over.", conversation_id)
    live = before.status in (PageStatus.OPEN, PageStatus.ACKED)
    holders = before.agents | set(before.recipients) | ({before.acked_by} if before.acked_by else set())
    if (before.status == PageStatus.ACKED and before.acked_by == agent.agent_id) or (not live and agent.agent_id in holders):
        return Outcome(f"{label} is already yours. Reply {code} <answer> to answer.", conversation_id)
    if before.status == PageStatus.ACKED and before.acked_by:
        source = f" from {before.acked_by}"
    else:
        others = sorted(holders - {agent.agent_id})
        source = f" (paged to {', '.join(others)})" if others else ""
    _note(conversation, agent, f"{agent.name} took this conversation over{source}.", now, desk, request_id,
          MessageKind.TAKEOVER, "agent-takeover")
    stopped = ": escalation stopped" if live else ""
    return Outcome(f"{label} is yours now{source}{stopped}. Reply {code} <answer> to answer.", conversation_id)


def acknowledge(conversation_id: str, agent: Agent, now: datetime, desk: Desk) -> Outcome:
    """Claim the conversation's live page; the answer says what really happened."""
    conversation = _conversation(conversation_id, desk)
    label, code = customer_label(conversation), conversation.short_code
    page = desk.pages.get_page(conversation_id)
    if page and page.status == PageStatus.ACKED and page.acked_by == agent.agent_id:
        return Outcome(f"{label} is already yours. Reply {code} <answer> to answer.", conversation_id)
    if desk.pages.settle(conversation_id, PageStatus.ACKED, agent.agent_id, now):
        taken = f" (it was {page.acked_by}'s)" if page and page.status == PageStatus.ACKED and page.acked_by else ""
        return Outcome(f"{label} is yours{taken}: escalation stopped. Reply {code} <answer> to answer.", conversation_id)
    page = desk.pages.get_page(conversation_id)
    state = {
        PageStatus.ANSWERED: "was already answered",
        PageStatus.RESOLVED: "is resolved",
        PageStatus.FAILED: "has a page that reached nobody",
    }.get(page.status if page else "", "has no page")
    return Outcome(f"{label} {state}: nothing to acknowledge. Reply {code} <answer> to answer.", conversation_id)


def resolve(conversation_id: str, agent: Agent, now: datetime, desk: Desk) -> Outcome:
    """Resolve the conversation; after an agent's answer the customer is asked how we did
    (conversations/satisfaction.py: stored with the resolution, once)."""
    conversation = _conversation(conversation_id, desk)
    if desk.survey is not None:
        asked = resolve_and_ask(conversation, now, desk.survey)
    else:
        asked = None
        desk.conversations.resolve_conversation(conversation.conversation_id, now)
    desk.pages.settle(conversation_id, PageStatus.RESOLVED, agent.agent_id, now)
    _tell_others(conversation_id, conversation, agent, "resolved", now, desk)
    desk.pages.release_code(conversation_id, now)  # another conversation may get it once it has rested
    said = "; asked how we did" if asked in (SurveyOutcome.ASKED, SurveyOutcome.ASKED_AGAIN) else ""
    return Outcome(f"{customer_label(conversation)} resolved{said}.", conversation_id, channel=conversation.channel.value, resolved=True)


def snooze(conversation_id: str, agent: Agent, until: datetime, now: datetime, desk: Desk, request_id: str | None = None) -> Outcome:
    """Settle the page until `until`: then, unless someone answered or resolved it, it pages
    again from the first level; a new message from the customer pages at once. The stream
    records it as a note between agents."""
    conversation = _conversation(conversation_id, desk)
    label, code = customer_label(conversation), conversation.short_code
    if conversation.status is ConversationStatus.RESOLVED:
        return Outcome(f"{label} is resolved: nothing to follow up.", conversation_id)
    before = desk.pages.snooze(conversation_id, agent.agent_id, until, now)
    if before is None:
        return Outcome(f"{label} was never paged: nothing to snooze. Reply {code} <answer> to answer.", conversation_id)
    said = _moment_in(until, ZoneInfo(desk.schedule().time_zone))
    _note(conversation, agent, f"{agent.name} will follow up: paged again {said} unless it is answered first.", now, desk, request_id)
    return Outcome(f"{label} snoozed until {said}: paged again then unless it is answered; a new message from the customer pages at once.", conversation_id)


def wait_on_customer(conversation_id: str, agent: Agent, now: datetime, desk: Desk, request_id: str | None = None) -> Outcome:
    """The conversation waits on the customer: the page is settled, and without the
    customer's reply within `desk.wait_for_reply` it resolves itself (the escalation tick).
    Their reply makes it wait on us again, and pages, as any message does."""
    conversation = _conversation(conversation_id, desk)
    label = customer_label(conversation)
    resolve_at = now + desk.wait_for_reply
    if not desk.conversations.await_customer(conversation.conversation_id, now, resolve_at):
        return Outcome(f"{label} is resolved: nothing to wait for.", conversation_id)
    desk.pages.settle(conversation.conversation_id, PageStatus.ANSWERED, agent.agent_id, now)
    zone = ZoneInfo(desk.schedule().time_zone)
    said = _moment_in(resolve_at, zone)
    _note(conversation, agent, f"{agent.name} is waiting on the customer: resolved {said} without their reply.", now, desk, request_id)
    return Outcome(f"{label} waits on the customer: resolved {said} unless they answer.", conversation_id)


def call_back(conversation_id: str, agent: Agent, desk: Desk, request_id: str) -> Outcome:
    """Ring the agent's phone; when they answer and press 1, Twilio puts them through to
    the customer with the support number as caller id (handlers/voice_webhook.py, which
    also logs the call in the stream). Queued like any send: a retried SMS rings once."""
    conversation = _conversation(conversation_id, desk)
    label = customer_label(conversation)
    destination = reply_destination(conversation)
    if destination["channel"] not in SMS_REPLY_CHANNELS:
        raise ActionError(f"{label} wrote by {destination['channel']}: there is no number to call.")
    if destination["address"].startswith("withheld:"):
        raise ActionError(f"{label} called from a withheld number: there is no number to call.")
    desk.outbox.send(OutboundMessage(
        Channel.VOICE, agent.phone, destination["address"], OutboundPurpose.CALLBACK, f"callback#{request_id}",
        conversation.conversation_id, agent.agent_id,
    ))
    return Outcome(f"Calling you now: answer, then press 1 to be put through to {label}.", conversation_id)


def _moment_in(moment: datetime, zone: ZoneInfo) -> str:
    """'Tue 01 Dec 09:00 CET': how an agent's SMS names an instant, in the business time zone."""
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def _note(
    conversation: Conversation, agent: Agent, text: str, now: datetime, desk: Desk, request_id: str | None,
    kind: MessageKind = MessageKind.FOLLOW_UP, provider: str = "agent-follow-up",
) -> None:
    """A note between agents in the stream (a takeover, a follow-up); a retried SMS stores it once."""
    message_id = str(ULID.from_datetime(now))
    note = InboundMessage(
        channel=conversation.channel,
        provider=provider,
        provider_id=request_id or message_id,
        sender=Identity(IdentityKind.AGENT, agent.agent_id, display_name=agent.name),
        received_at=now,
        kind=kind,
        body=text,
    )
    try:
        desk.conversations.append_internal(note, Route(conversation.customer_id, conversation.conversation_id), message_id)
    except DuplicateMessage:
        pass  # a retried SMS: the note is there already


def answer(conversation_id: str, agent: Agent, text: str, now: datetime, desk: Desk, request_id: str | None = None) -> Outcome:
    """Send the agent's text to the customer on their channel, and record it in the stream.

    The outbox first (keyed on the request, so a retry is not sent twice), then the
    stream (claiming the request id, so a retry is not stored twice): a failure
    between the two is mended by the provider's retry.
    """
    if not text.strip():
        raise ActionError("The answer is empty. Reply <number> <your answer>.")
    conversation = _conversation(conversation_id, desk)
    message_id = str(ULID.from_datetime(now))
    request_id = request_id or message_id
    try:
        outbound, also_known_as = to_customer(
            conversation, text, OutboundPurpose.CUSTOMER_REPLY, request_id, desk.support_email_address,
            desk.conversations.reply_token, agent.agent_id,
        )
    except CannotReply as error:
        raise ActionError(str(error)) from None
    outbound = replace(outbound, stream_message_id=message_id)
    desk.outbox.send(outbound)
    stored = stored_form(outbound, "agent-reply", request_id, Identity(IdentityKind.AGENT, agent.agent_id, display_name=agent.name), now, also_known_as)
    waited = now - conversation.waiting_since if conversation.waiting_since else None
    try:
        desk.conversations.append_outbound(stored, Route(conversation.customer_id, conversation.conversation_id), message_id, waited)
    except DuplicateMessage:
        return Outcome(f"Already sent to {customer_label(conversation)}.", conversation_id)
    desk.pages.settle(conversation_id, PageStatus.ANSWERED, agent.agent_id, now)
    _tell_others(conversation_id, conversation, agent, "answered", now, desk)
    return Outcome(f"Sent to {customer_label(conversation)}.", conversation_id, waited, reply_destination(conversation)["channel"])


def _tell_others(page_id: str, conversation: Conversation, agent: Agent, done: str, now: datetime, desk: Desk) -> None:
    """'12 answered by Ana Lima' to the other agents paged about it lately (oncall/answered.py)."""
    if desk.pagers is None or not conversation.short_code:
        return
    page = desk.pages.get_page(page_id)
    tell_others(page, agent.agent_id, f"{conversation.short_code} {done} by {agent.name}", now, desk.pagers)


def _conversation(conversation_id: str, desk: Desk) -> Conversation:
    route = desk.conversations.follow_conversation(conversation_id)  # a merge may have moved it
    conversation = desk.conversations.get_summary(route.conversation_id) if route else None
    if conversation is None:
        raise ActionError(f"Conversation {conversation_id} no longer exists.")
    return conversation
