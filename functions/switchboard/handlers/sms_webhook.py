"""POST /webhooks/twilio/sms: a customer's SMS or MMS into their conversation.

An SMS from an agent's phone is a command ("12 ACK", "12 <answer>", "12 RESOLVE",
"12 TAKE", "HELP"), never a customer message, and acts only on what is the agent's
(oncall/actions.py); the agent gets the outcome in the TwiML answer.
A customer's keyword (STOP, START, HELP, SUBSCRIBE...) takes effect, is recorded in the
customer's stream without paging anyone, and is confirmed once in the TwiML answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from twilio.twiml.messaging_response import MessagingResponse

from switchboard.channels.sms import normalize_sms
from switchboard.conversations.inbound import record_inbound
from switchboard.conversations.known_senders import KnownSenders
from switchboard.incidents.keywords import Keyword, parse_keyword
from switchboard.models import InboundMessage
from switchboard.observability import logger, mask_phone, metrics
from switchboard.plain_text import one_line
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore, Lookup, Route, RouteChanged
from switchboard.webhooks import WebhookRequest, twilio_form, webhook, xml_response

settings = get_settings()
EMPTY_TWIML = str(MessagingResponse())
# The longest SMS that may be a score ("4 out of 5."): only those load the satisfaction code.
MAX_SCORE_REPLY = 20
# This warm instance's memory of its customers' routes (conversations/known_senders.py).
known_senders = KnownSenders()


def conversation_store() -> ConversationStore:
    return ConversationStore(clients.dynamodb(), settings.table_name)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@webhook
def handler(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    form = twilio_form(request)
    message = normalize_sms(form, received_at=now, default_region=settings.default_phone_region)
    logger.set_correlation_id(message.provider_id)
    logger.append_keys(sender=mask_phone(message.sender.value), media=len(message.media))
    remembered = known_senders.lookup(message.sender)
    try:
        return _handle(message, remembered or conversation_store().look_up(message), now)
    except RouteChanged:  # the remembered route is stale; nothing was written
        known_senders.forget(message.sender)
        return _handle(message, conversation_store().look_up(message, consistent=True), now)


def _handle(message: InboundMessage, lookup: Lookup, now: datetime) -> dict[str, Any]:
    if lookup.agent_id:
        return _agent_command(message, lookup.agent_id, now)
    keyword = parse_keyword(message.body) if not message.media else None
    if keyword:
        return _keyword(message, keyword, lookup, now)
    if len(message.body) <= MAX_SCORE_REPLY and not message.media:  # perhaps a score: _rating reads it
        rated = _rating(message, lookup, now)
        if rated is not None:
            return rated
    result = record_inbound(message, conversation_store(), settings.conversation_idle, lookup)
    if not result.duplicate:  # where the identity item now routes this sender
        known_senders.remember(message.sender, Route(result.customer_id, result.conversation_id))
    logger.info(
        "duplicate delivery ignored" if result.duplicate else "message stored",
        extra={"conversation_id": result.conversation_id, "message_id": result.message_id, "new_customer": result.new_customer},
    )
    metrics.add_dimension(name="channel", value=message.channel.value)
    metrics.add_metric(name="DuplicateDeliveries" if result.duplicate else "InboundMessages", unit=MetricUnit.Count, value=1)
    return xml_response(EMPTY_TWIML)


def _rating(message: InboundMessage, lookup: Lookup, now: datetime) -> dict[str, Any] | None:
    """A bare score answering our "how did we do?": on the conversation, paging nobody,
    thanked once in the TwiML answer. None when it answers no question: a message as usual."""
    from switchboard.conversations.satisfaction import SatisfactionPolicy, parse_score, rating_reply

    if parse_score(message.body) is None:
        return None
    rating = rating_reply(message, lookup.identity, now, SatisfactionPolicy.from_settings(settings), conversation_store())
    if rating is None:
        return None
    logger.info("rating", extra={"conversation_id": lookup.identity.conversation_id if lookup.identity else None, "score": rating.score})
    metrics.add_dimension(name="channel", value=rating.channel)
    metrics.add_metric(name="Ratings", unit=MetricUnit.Count, value=1)
    reply = MessagingResponse()
    reply.message(f"Thank you: we have your {rating.score} out of 5.")
    return xml_response(str(reply))


def _keyword(message: InboundMessage, keyword: Keyword, lookup: Lookup, now: datetime) -> dict[str, Any]:
    """Record a customer's keyword in their stream, apply it, and confirm it once.

    Recorded first, applied second, then marked applied: a Twilio retry of a keyword whose
    first delivery failed before the mark applies it then; a retry of one already applied
    changes nothing, so a late retry of STOP never undoes a START sent since.
    """
    from dataclasses import replace

    from switchboard.incidents.subscriptions import keyword_answer
    from switchboard.store.subscribers import SubscriberStore

    store = conversation_store()
    result = record_inbound(replace(message, keyword=keyword.word), store, settings.conversation_idle, lookup)
    route, message_id = Route(result.customer_id, result.conversation_id), result.message_id
    if result.duplicate and store.message_attribute(route, message_id, "keyword_applied"):
        return xml_response(EMPTY_TWIML)  # Twilio's retry: the confirmation went with the first answer
    known = None
    if keyword.components:
        from switchboard.store.incidents import IncidentStore

        known = {component.component_id for component in IncidentStore(clients.dynamodb(), settings.table_name).components()}
    subscribers = SubscriberStore(clients.dynamodb(), settings.table_name)
    answer = keyword_answer(keyword, message.sender.value, subscribers, settings.brand_name, now, known)
    store.update_message(route, message_id, {"keyword_applied": True})
    logger.info("keyword", extra={"keyword": keyword.kind.value, "retried": result.duplicate, "conversation_id": result.conversation_id})
    metrics.add_dimension(name="keyword", value=keyword.kind.value)
    metrics.add_metric(name="Keywords", unit=MetricUnit.Count, value=1)
    reply = MessagingResponse()
    reply.message(one_line(answer))
    return xml_response(str(reply))


def _agent_command(message: InboundMessage, agent_id: str, now: datetime) -> dict[str, Any]:
    """Carry out an agent's command and answer the agent in the TwiML response."""
    # Imported here: only agents' SMS need the on-call code, customers' stay lean.
    from switchboard.oncall.actions import run_command
    from switchboard.oncall.commands import parse_agent_sms
    from switchboard.oncall.agents import get_agent
    from switchboard.oncall.desk import desk_from
    from switchboard.store.oncall import OncallStore

    settings.require("outbox_queue_url")
    agent = get_agent(OncallStore(clients.dynamodb(), settings.table_name), agent_id)
    if agent is None:  # the mark outlived the agent: treat the text as a customer's
        record_inbound(message, conversation_store(), settings.conversation_idle)
        return xml_response(EMPTY_TWIML)
    command = parse_agent_sms(message.body)
    desk = desk_from(settings)
    outcome = run_command(command, agent, now, desk, request_id=message.provider_id)
    logger.info("agent command", extra={"agent_id": agent_id, "command": command.kind.value, "conversation_id": outcome.conversation_id})
    metrics.add_metric(name="AgentCommands", unit=MetricUnit.Count, value=1)
    if outcome.first_response is not None or outcome.resolved:
        metrics.add_dimension(name="channel", value=outcome.channel or "unknown")
    if outcome.first_response is not None:
        metrics.add_metric(name="FirstResponseTime", unit=MetricUnit.Seconds, value=outcome.first_response.total_seconds())
    if outcome.resolved:
        metrics.add_metric(name="ConversationsResolved", unit=MetricUnit.Count, value=1)
    reply = MessagingResponse()
    reply.message(one_line(outcome.text))  # customer names: one line, valid XML
    return xml_response(str(reply))
