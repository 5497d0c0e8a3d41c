"""Who hears about a customer message, and when: opening pages, escalating them, digests.

`on_customer_message` runs for every new inbound message (the table's stream): a
conversation that needs an answer and has no live page gets one, frozen with the
escalation policy in force, and its first level is paged (or held until opening time,
after hours, as the schedule says). `tick` runs every minute: pages past their wait
move up one level (a conditional write, so two ticks never move a page twice), and
bundling windows that ended send their digest. Each SMS is queued before the state that
records it moves, keyed so that a retry queues the same message: a failure in between is
mended by the next tick, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from switchboard.agent_pages.links import PageLinks
from switchboard.link_tokens import new_token
from switchboard.models import Channel, Conversation, ConversationStatus, OutboundMessage, OutboundPurpose, iso_utc
from switchboard.observability import logger
from switchboard.oncall.bundling import Action, BundlingSettings, PagerState, flush, on_page
from switchboard.oncall.config import OncallConfig, load_config
from switchboard.oncall.pages import PageItem, digest_text, page_text, short_name
from switchboard.oncall.policy import EscalationPolicy, Step, deadline, first_step, next_reachable, next_step
from switchboard.oncall.schedule import AfterHoursMode, Agent, PageDecision, page_decision
from switchboard.store.agent_access import AgentAccessStore
from switchboard.store.conversations import ConversationStore
from switchboard.store.pagers import WRITE_ATTEMPTS, PagerStore
from switchboard.store.pages import Page, PageStatus, PageStore
from switchboard.store.queue import OutboxQueue

if TYPE_CHECKING:
    from switchboard.settings import Settings

# When nobody at all can be reached (no agents, nobody on call), look again this often.
NOBODY_RETRY = timedelta(minutes=5)


@dataclass(frozen=True)
class CustomerMessage:
    """What the router needs from a stored inbound message (its stream image)."""

    conversation_id: str
    channel: str
    customer: str  # a short name, handle, address or number
    preview: str


@dataclass
class Switchboard:
    """The router's collaborators; `config` is read once per batch."""

    conversations: ConversationStore
    pages: PageStore
    pagers: PagerStore
    outbox: OutboxQueue
    load_config: Callable[[], OncallConfig]
    bundling: BundlingSettings = field(default_factory=BundlingSettings)
    # The link to each conversation's page in pages and digests; None: no links.
    links: PageLinks | None = None
    _config: OncallConfig | None = None

    @property
    def config(self) -> OncallConfig:
        if self._config is None:
            self._config = self.load_config()
        return self._config


def switchboard_from(settings: "Settings") -> Switchboard:
    """The collaborators as a deployment's settings describe them."""
    from switchboard.store import clients
    from switchboard.store.oncall import OncallStore

    dynamodb = clients.dynamodb()
    links = None
    if settings.agent_page_links == "on":
        links = PageLinks(AgentAccessStore(dynamodb, settings.table_name), settings.public_url, timedelta(hours=settings.agent_link_hours))
    return Switchboard(
        conversations=ConversationStore(dynamodb, settings.table_name),
        pages=PageStore(dynamodb, settings.table_name),
        pagers=PagerStore(dynamodb, settings.table_name),
        outbox=OutboxQueue(clients.sqs(), settings.outbox_queue_url),
        load_config=lambda: load_config(OncallStore(dynamodb, settings.table_name)),
        bundling=BundlingSettings(
            window=timedelta(seconds=settings.bundling_window_seconds), cap=settings.page_cap_per_15_minutes
        ),
        links=links,
    )


def customer_message(image: dict[str, Any]) -> CustomerMessage:
    """The message item of the stream's NewImage (already deserialized)."""
    sender = image.get("sender", {})
    name = sender.get("display_name") or (f"@{sender['handle']}" if sender.get("handle") else None)
    body = " ".join(str(image.get("body", "")).split())
    if not body:
        body = {"voicemail": "(voicemail)", "missed_call": "(missed call)"}.get(image.get("kind", ""), "")
    if image.get("subject"):
        body = f"{image['subject']}: {body}" if body else image["subject"]
    return CustomerMessage(image["conversation_id"], image["channel"], short_name(name, sender.get("value", "?")), body)


def on_customer_message(message: CustomerMessage, now: datetime, board: Switchboard) -> tuple[str, ...]:
    """Open a page for the conversation unless one is live; returns the agents paged (or bundled)."""
    if board.pages.covered(message.conversation_id):
        return ()  # most messages: their conversation's page is live; no code, no write
    config = board.config
    code = board.pages.code_for(message.conversation_id, now)
    decision, opening = page_decision(config.schedule, now, repeat=False, escalated=False)
    if decision is PageDecision.HOLD and config.schedule.after_hours is AfterHoursMode.REPEAT_OR_ESCALATED:
        # After hours this mode pages for a customer we have paged about before.
        repeat = board.pages.get_page(message.conversation_id) is not None
        decision, opening = page_decision(config.schedule, now, repeat=repeat, escalated=False)
    policy = config.policy
    if decision is PageDecision.HOLD:
        # After hours in queue mode: the tick pages the first level when business opens.
        step, recipients, due = first_step(), (), opening or now + NOBODY_RETRY
    else:
        reach = next_reachable(policy, first_step(), config.schedule, config.agents, now)
        if reach is None:
            step, recipients, due = first_step(), (), now + NOBODY_RETRY
        else:
            step, recipients = reach
            due = deadline(policy, step, now)
    page = Page(message.conversation_id, code, PageStatus.OPEN, now, step.round, step.level, recipients, due, policy.to_document())
    opened = board.pages.open_page(page)
    if not opened:
        if opened.undelivered is None:
            return ()  # a live page already covers this conversation
        page = opened.undelivered  # a retry after a failure between opening and paging
    item = PageItem(page.code, message.channel, message.customer, message.preview)
    for agent_id in page.recipients:
        if agent_id in config.agents:
            _deliver(config.agents[agent_id], item, message.conversation_id, page_key(page, agent_id), now, board)
    board.pages.mark_delivered(message.conversation_id, now)
    return page.recipients


def tick(now: datetime, board: Switchboard) -> dict[str, int]:
    """Escalate the pages that are due, and send the digests whose window ended.

    One broken page or pager never stops the others: it stays due (or pending) for the
    next tick, and `errors` counts it (the handler's metric and alarm).
    """
    escalated = failed = woken = errors = digests = 0
    for page in list(board.pages.due(now)):
        try:
            moved = _wake(page, now, board) if page.status == PageStatus.SNOOZED else _escalate(page, now, board)
        except Exception:
            logger.exception("escalation failed", extra={"conversation_id": page.conversation_id})
            errors += 1
            continue
        escalated += moved == "escalated"
        failed += moved == "failed"
        woken += moved == "woken"
    for agent_id, _, _ in board.pagers.all():
        try:
            digests += _flush(agent_id, now, board)
        except Exception:
            logger.exception("digest failed", extra={"agent_id": agent_id})
            errors += 1
    return {"escalated": escalated, "failed": failed, "woken": woken, "digests": digests, "errors": errors}


def page_key(page: Page, agent_id: str) -> str:
    """The outbox key of one page SMS: a retried router or tick never sends it twice."""
    return f"page#{page.conversation_id}#{iso_utc(page.opened_at)}#{page.round}#{page.level}#{agent_id}"


# ---- escalation -------------------------------------------------------------------------


def _escalate(page: Page, now: datetime, board: Switchboard) -> str:
    config = board.config
    policy = EscalationPolicy.from_document(page.policy)
    current = Step(page.round, page.level)
    if page.recipients:
        decision, opening = page_decision(config.schedule, now, repeat=False, escalated=True)
        if decision is PageDecision.HOLD:  # queue mode after hours: the next level waits for opening
            held = board.pages.escalate(page, current.round, current.level, page.recipients, opening or now + NOBODY_RETRY)
            return "held" if held else "raced"
    # A page nobody got yet (held after hours, or nobody on call) starts at its own step.
    candidate = current if not page.recipients else next_step(policy, current)
    reach = next_reachable(policy, candidate, config.schedule, config.agents, now) if candidate else None
    if reach is None:
        if not page.recipients and candidate is not None:
            # Still nobody to page: look again later rather than give up on the customer.
            board.pages.escalate(page, current.round, current.level, (), now + NOBODY_RETRY)
            return "waiting"
        return "failed" if board.pages.escalate(page, current.round, current.level, page.recipients, None) else "raced"
    step, recipients = reach
    conversation = board.conversations.get_summary(page.conversation_id)
    if conversation is not None:
        # Queued before the page moves, keyed on the step: a failure here leaves the page
        # due, and the next tick pages this step again (the sender drops what it sent).
        item = _summary_item(page.code, conversation, escalated=bool(page.recipients))
        moved = Page(page.conversation_id, page.code, page.status, page.opened_at, step.round, step.level, recipients, None, page.policy)
        for agent_id in recipients:
            _deliver(config.agents[agent_id], item, page.conversation_id, page_key(moved, agent_id), now, board)
    if not board.pages.escalate(page, step.round, step.level, recipients, deadline(policy, step, now), paged_now=now if conversation else None):
        return "raced"  # another tick moved it, or an agent acknowledged it meanwhile
    if conversation is None:
        return "raced"
    return "escalated" if page.recipients else "released"


def _wake(page: Page, now: datetime, board: Switchboard) -> str:
    """A snoozed page whose time came: paged again from the first level of its own policy,
    unless the conversation was resolved, or answered since the snooze (then the page is
    settled that way). After hours in queue mode it waits for the opening, like a new page."""
    conversation = board.conversations.get_summary(page.conversation_id)
    if conversation is None or conversation.status is ConversationStatus.RESOLVED:
        board.pages.settle(page.conversation_id, PageStatus.RESOLVED, None, now)
        return "settled"
    if conversation.answered_at and page.snoozed_at and conversation.answered_at >= page.snoozed_at:
        board.pages.settle(page.conversation_id, PageStatus.ANSWERED, None, now)
        return "settled"
    config = board.config
    policy = EscalationPolicy.from_document(page.policy)
    decision, opening = page_decision(config.schedule, now, repeat=True, escalated=False)
    reach = next_reachable(policy, first_step(), config.schedule, config.agents, now) if decision is PageDecision.PAGE else None
    if reach is None:  # held until opening, or nobody to page: the tick pages its first step later
        woke = board.pages.wake(page, 0, 0, (), opening if decision is PageDecision.HOLD and opening else now + NOBODY_RETRY)
        return "held" if woke else "raced"
    step, recipients = reach
    # Queued before the page moves, keyed on the snooze's end: a failure here leaves it
    # snoozed and due, and the next tick pages again under the same keys.
    woken = Page(page.conversation_id, page.code, PageStatus.OPEN, page.next_escalation_at or now, step.round, step.level, recipients, None, page.policy)
    item = replace(_summary_item(page.code, conversation, escalated=False), follow_up=True)
    for agent_id in recipients:
        _deliver(config.agents[agent_id], item, page.conversation_id, page_key(woken, agent_id), now, board)
    return "woken" if board.pages.wake(page, step.round, step.level, recipients, deadline(policy, step, now), paged_now=now) else "raced"


# ---- one agent's pager: page now or bundle ------------------------------------------------


def _deliver(agent: Agent, item: PageItem, conversation_id: str, key: str, now: datetime, board: Switchboard) -> None:
    """Page the agent now, or bundle the conversation into their next digest.

    The page is queued before the pager records it: if queuing fails, the pager is as it
    was and a retry pages again under the same key; if the pager changed meanwhile, the
    decision is taken again (at worst a conversation both paged and listed in a digest).
    """
    for _ in range(WRITE_ATTEMPTS):
        document, version = board.pagers.get(agent.agent_id)
        decision = on_page(PagerState.from_document(document), conversation_id, now, board.bundling)
        if decision.action is Action.SEND_PAGE:
            if board.links is not None and not item.link:  # a retry under the same key is dropped by the sender; its link expires unused
                item = replace(item, link=board.links.issue(agent.agent_id, conversation_id, now))
            board.outbox.send(_sms(agent, page_text(item), OutboundPurpose.PAGE, key, conversation_id, item.code))
        if board.pagers.put(agent.agent_id, decision.state.to_document(), version):
            return
    raise RuntimeError(f"pager of {agent.agent_id} kept changing under us")


def _flush(agent_id: str, now: datetime, board: Switchboard) -> int:
    """Send the digest of a window that ended, then let the pager forget what it listed:
    a failure in between leaves the digest pending for the next tick, which sends it under
    the same key (the window's end), so the agent gets it once."""
    agent = board.config.agents.get(agent_id)
    for _ in range(WRITE_ATTEMPTS):
        document, version = board.pagers.get(agent_id)
        state = PagerState.from_document(document)
        if state.window_ends_at is None or state.window_ends_at > now:
            return 0
        result = flush(state, now, board.bundling)
        # A removed agent's digest is dropped.
        sends = bool(result.send_digest or result.send_notes) and agent is not None
        if sends:
            conversations = board.conversations.get_conversations(result.send_digest or ())
            key = f"digest#{agent_id}#{iso_utc(state.window_ends_at)}"
            board.outbox.send(_sms(agent, _digest(agent_id, conversations, result.send_notes, now, board), OutboundPurpose.DIGEST, key, None, None))
        if board.pagers.put(agent_id, result.state.to_document(), version):
            return int(sends)
    return 0


def _digest(agent_id: str, conversations: list[Conversation], notes: tuple[str, ...], now: datetime, board: Switchboard) -> str:
    """The digest's text; with links on, each conversation it shows links to its page (only
    those are stored: a digest of a thousand conversations shows a handful)."""
    items = [_summary_item(c.short_code or "?", c, escalated=False) for c in conversations]
    if board.links is None:
        return digest_text(items, notes=notes)
    tokens = [new_token() for _ in conversations]
    items = [replace(item, link=board.links.url(token)) for item, token in zip(items, tokens)]
    text = digest_text(items, notes=notes, inbox_link=board.links.inbox)
    for conversation, item, token in zip(conversations, items, tokens):
        if item.link in text:
            board.links.keep(token, agent_id, conversation.conversation_id, now)
    return text


def _summary_item(code: str, conversation: Conversation, escalated: bool) -> PageItem:
    identity = conversation.customer_identity
    customer = short_name(conversation.customer_name, f"@{identity.handle}" if identity.handle else identity.value)
    channel = conversation.channel.value if isinstance(conversation.channel, Channel) else str(conversation.channel)
    return PageItem(code, channel, customer, conversation.last_message_preview, escalated)


def _sms(agent: Agent, text: str, purpose: OutboundPurpose, key: str, conversation_id: str | None, code: str | None) -> OutboundMessage:
    return OutboundMessage(Channel.SMS, agent.phone, text, purpose, key, conversation_id, agent.agent_id, code)
