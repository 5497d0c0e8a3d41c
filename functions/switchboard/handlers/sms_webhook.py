"""POST /webhooks/twilio/sms: a customer's SMS or MMS into their conversation."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from twilio.twiml.messaging_response import MessagingResponse

from switchboard.channels.sms import normalize_sms
from switchboard.conversations.inbound import record_inbound
from switchboard.errors import RejectedRequest
from switchboard.models import utc_now
from switchboard.observability import logger, mask_phone, metrics
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore
from switchboard.webhooks import WebhookRequest, fail, refuse, twilio_form, xml_response

settings = get_settings()
EMPTY_TWIML = str(MessagingResponse())


def conversation_store() -> ConversationStore:
    return ConversationStore(clients.dynamodb(), settings.table_name)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = WebhookRequest.from_api_gateway(event)
    now = utc_now()
    try:
        form = twilio_form(request)
        message = normalize_sms(form, received_at=now, default_region=settings.default_phone_region)
    except RejectedRequest as rejection:
        return refuse(request, rejection, now)
    except Exception:
        return fail(request, now)

    logger.set_correlation_id(message.provider_id)
    logger.append_keys(sender=mask_phone(message.sender.value), media=len(message.media))
    try:
        result = record_inbound(message, conversation_store(), settings.conversation_idle)
    except Exception:
        return fail(request, now)

    logger.info(
        "duplicate delivery ignored" if result.duplicate else "message stored",
        extra={"conversation_id": result.conversation_id, "message_id": result.message_id, "new_customer": result.new_customer},
    )
    metrics.add_dimension(name="channel", value=message.channel.value)
    metrics.add_metric(name="DuplicateDeliveries" if result.duplicate else "InboundMessages", unit=MetricUnit.Count, value=1)
    return xml_response(EMPTY_TWIML)
