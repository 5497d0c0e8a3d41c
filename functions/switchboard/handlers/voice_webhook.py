"""Twilio Voice webhooks: greet and record the caller, then keep the voicemail in their conversation.

POST /webhooks/twilio/voice               incoming call → greeting + <Record> (TwiML)
POST /webhooks/twilio/voice/recorded      <Record> action → the voicemail, then hang up
POST /webhooks/twilio/voice/recording     recording status callback → the voicemail
POST /webhooks/twilio/voice/transcription transcription callback → its text on the voicemail
POST /webhooks/twilio/voice/status        call status callback → a missed-call note if nothing was recorded
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.metrics import MetricUnit

from switchboard.channels.voice import (
    RECORDED_PATH,
    VOICE_PATH,
    call_part,
    greeting_twiml,
    hang_up_twiml,
)
from switchboard.conversations.inbound import record_part
from switchboard.hours import parse_business_hours
from switchboard.observability import logger, mask_phone, metrics
from switchboard.settings import SettingsError, get_settings
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore
from switchboard.webhooks import WebhookRequest, text_response, twilio_form, webhook, xml_response

settings = get_settings()
try:
    business_hours = parse_business_hours(settings.business_hours, settings.business_time_zone)
except ValueError as error:  # fail the cold start with the setting's name
    raise SettingsError(f"BUSINESS_HOURS / BUSINESS_TIME_ZONE: {error}") from None


def conversation_store() -> ConversationStore:
    return ConversationStore(clients.dynamodb(), settings.table_name)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@webhook
def handler(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    form = twilio_form(request)
    logger.set_correlation_id(form.get("CallSid"))
    if request.path == VOICE_PATH:
        return _answer(form, now)
    part = call_part(request.path, form, dict(parse_qsl(request.query)), now, settings.default_phone_region)
    if part is not None:
        result = record_part(part.message, part.updates, conversation_store(), settings.conversation_idle)
        logger.append_keys(caller=mask_phone(part.message.sender.value))
        logger.info(
            "call part added" if result.duplicate else "call stored",
            extra={"kind": part.message.kind.value, "conversation_id": result.conversation_id, "message_id": result.message_id},
        )
        metrics.add_dimension(name="channel", value="voice")
        metrics.add_metric(name="CallParts" if result.duplicate else "InboundMessages", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="CallCallbacksIgnored", unit=MetricUnit.Count, value=1)
    if request.path == RECORDED_PATH:
        return xml_response(hang_up_twiml())
    return text_response(200, "ok")


def _answer(form: dict[str, str], now: datetime) -> dict[str, Any]:
    open_now = business_hours.is_open(now)
    logger.info("call answered", extra={"open": open_now, "caller": mask_phone(form.get("From"))})
    metrics.add_dimension(name="channel", value="voice")
    metrics.add_metric(name="CallsAnswered", unit=MetricUnit.Count, value=1)
    greeting = settings.voice_greeting_open if open_now else settings.voice_greeting_closed
    return xml_response(greeting_twiml(settings.public_url, form, greeting, settings.voicemail_max_seconds))
