"""POST /webhooks/twilio/status: what became of an SMS we sent (Twilio's status callback).

Delivered or failed is recorded by MessageSid; an answer's status also goes onto the
outbound message in the stream; a page that could not be delivered becomes due now, so
the next tick escalates it instead of waiting for the level's timeout.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from switchboard.errors import RejectedRequest
from switchboard.observability import logger, metrics
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore, Route
from switchboard.store.deliveries import DeliveryStore
from switchboard.store.pages import PageStore
from switchboard.webhooks import WebhookRequest, text_response, twilio_form, webhook

settings = get_settings()
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
FAILED = ("undelivered", "failed")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@webhook
def handler(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    form = twilio_form(request)
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if not MESSAGE_SID.fullmatch(sid):
        raise RejectedRequest(400, "MessageSid is missing or not a Twilio message id")
    if not re.fullmatch(r"[a-z-]{3,20}", status):
        raise RejectedRequest(400, "MessageStatus is missing or malformed")
    logger.set_correlation_id(sid)
    error_code = form.get("ErrorCode") or None
    delivery = DeliveryStore(clients.dynamodb(), settings.table_name).record_status(sid, status, error_code, now)
    if delivery is not None:
        _follow_up(delivery, status, error_code, now)
    logger.info("delivery status", extra={"status": status, "error_code": error_code, "known": delivery is not None})
    metrics.add_metric(name="DeliveryFailures" if status in FAILED else "DeliveryUpdates", unit=MetricUnit.Count, value=1)
    return text_response(200, "ok")


def _follow_up(delivery: dict[str, Any], status: str, error_code: str | None, now: datetime) -> None:
    conversation_id = delivery.get("conversation_id")
    if delivery.get("stream_message_id") and conversation_id:
        route = Route("", conversation_id)  # only the conversation locates the message
        ConversationStore(clients.dynamodb(), settings.table_name).update_message(
            route, delivery["stream_message_id"], {"delivery_status": status}
        )
    if status in FAILED and delivery.get("purpose") == "customer_reply":
        _answer_undelivered(delivery, error_code, now)
    if status in FAILED and delivery.get("purpose") in ("page", "digest"):
        metrics.add_metric(name="PagesUndelivered", unit=MetricUnit.Count, value=1)  # PagesUndeliveredAlarm
    if status in FAILED and delivery.get("purpose") == "page" and conversation_id:
        PageStore(clients.dynamodb(), settings.table_name).expedite(conversation_id, now)
    if delivery.get("notice_update_id") and status in (*FAILED, "delivered"):
        from switchboard.store.notices import NoticeStatus, NoticeStore

        NoticeStore(clients.dynamodb(), settings.table_name).delivery_status(
            delivery["notice_update_id"], "sms", delivery["to"], NoticeStatus.FAILED if status in FAILED else NoticeStatus.DELIVERED, now
        )
    if status in FAILED and error_code and delivery.get("to"):
        from switchboard.incidents.subscriptions import opt_out_refused_address
        from switchboard.store.subscribers import SubscriberStore

        opt_out_refused_address("sms", delivery["to"], error_code, SubscriberStore(clients.dynamodb(), settings.table_name), now)


def _answer_undelivered(delivery: dict[str, Any], error_code: str | None, now: datetime) -> None:
    """Twilio could not deliver an agent's answer: the stream and the agent hear it."""
    from switchboard.channels.sms_outbound import PERMANENT_ERRORS
    from switchboard.oncall.undelivered import answer_undelivered
    from switchboard.store.oncall import OncallStore
    from switchboard.store.queue import OutboxQueue

    settings.require("outbox_queue_url")
    code = int(error_code) if error_code and error_code.isdigit() else None
    reason = PERMANENT_ERRORS.get(code or 0, f"Twilio could not deliver it (error {error_code})" if error_code else "Twilio could not deliver it")
    answer_undelivered(
        delivery.get("conversation_id"), delivery.get("stream_message_id"), delivery.get("agent_id"), reason,
        delivery["pk"], ConversationStore(clients.dynamodb(), settings.table_name), OncallStore(clients.dynamodb(), settings.table_name),
        OutboxQueue(clients.sqs(), settings.outbox_queue_url), now,
    )
