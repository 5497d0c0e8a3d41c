"""The outbox's consumers: send each queued message once, paced, retrying what failed for a while.

Two queues feed this module: the outbox (pages, answers: `handler`) and the notice queue
(incident notices and the status page's confirmation emails: `notice_handler`), so a
fan-out of thousands, or a flood of subscribe requests, never delays a page.
Every send of a channel first takes a slot from the channel's shared pacer
(switchboard/pacing.py), so all senders together keep the configured rate.

SQS delivers batches; each record succeeds or fails on its own (ReportBatchItemFailures,
switchboard/partial_batch.py), so one failing SMS never resends the others. A
temporary provider failure is raised: the message comes back after the visibility
timeout and, after the queue's maxReceiveCount, lands in the dead-letter queue. A
permanent one (invalid or opted-out number) is recorded and not retried. Powertools'
idempotency utility keys each send on the message's idempotency key, so a message SQS
delivers twice is sent once.
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.channels.sms_outbound import LocalOutbox, Sent, SmsSender, TwilioSms
from switchboard.channels.twilio_webhook import retried
from switchboard.errors import CredentialsRefused, PermanentSendFailure
from switchboard.models import Channel, OutboundMessage, OutboundPurpose, utc_now
from switchboard.observability import logger, mask_email, mask_phone, metrics
from switchboard.partial_batch import Record, process_each, sqs_message_id, sqs_queue_url
from switchboard.settings import get_secret, get_settings
from switchboard.store import clients, keys
from switchboard.store.deliveries import DeliveryStore
from switchboard.store.outbox import OutboxStore
from switchboard.store.pacer import PacerStore
from switchboard.store.pages import PageStore

settings = get_settings()
# Twilio reports each SMS's delivery here (handlers/status_webhook.py).
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
idempotency = IdempotencyConfig(event_key_jmespath="idempotency_key", expires_after_seconds=24 * 3600)


# The cold start refuses a delivery choice that is incomplete (SMS_DELIVERY=twilio without
# an account, ...), naming what is missing: a sender never fakes a send.
settings.require_delivery()


@cache
def sms_sender(fresh_token: bool = False) -> SmsSender:
    if settings.sms_delivery == "twilio":
        token = get_secret(settings.twilio_auth_token_parameter, settings.secret_max_age_seconds, fresh=fresh_token)
        return TwilioSms(settings.twilio_account_sid, token, settings.twilio_sender, settings.provider_timeout_seconds)
    return LocalOutbox(OutboxStore(clients.dynamodb(), settings.table_name))


def _send_sms(message: OutboundMessage) -> Sent:
    callback = retried(f"{settings.public_url}{STATUS_CALLBACK_PATH}")
    try:
        return sms_sender().send(message.to, message.body, callback)
    except CredentialsRefused:
        # The auth token may have been rotated: once more with it fetched afresh. Refused
        # again, it is a temporary failure (retried, then dead-lettered: the alarm says so).
        logger.warning("Twilio refused our credentials; fetching the auth token afresh")
        sms_sender.cache_clear()  # the next send makes its client from the token fetched now
        return sms_sender(fresh_token=True).send(message.to, message.body, callback)


@cache
def email_sender():
    from switchboard.channels.email_outbound import LocalEmailOutbox, SesEmail

    if settings.email_delivery == "off":
        raise PermanentSendFailure(None, "email delivery is off (EmailDelivery=off)")
    settings.require("support_email_address")
    if settings.email_delivery == "ses":
        return SesEmail(clients.ses(), settings.support_email_address)
    return LocalEmailOutbox(OutboxStore(clients.dynamodb(), settings.table_name), settings.support_email_address)


@cache
def x_sender():
    from switchboard.channels.x_outbound import LocalXOutbox, XReplies, user_credentials

    if settings.x_delivery == "off":
        raise PermanentSendFailure(None, "X delivery is off (XDelivery=off)")
    if settings.x_delivery == "api":
        return XReplies(user_credentials(get_secret(settings.x_user_credentials_parameter, settings.secret_max_age_seconds)), settings.provider_timeout_seconds)
    return LocalXOutbox(OutboxStore(clients.dynamodb(), settings.table_name))


@cache
def pacer() -> PacerStore:
    return PacerStore(clients.dynamodb(), settings.table_name)


def _send(message: OutboundMessage) -> Sent:
    pacer().wait_for_turn(message.channel.value, settings.rate_per_second(message.channel.value))
    return _send_now(message)


def _send_now(message: OutboundMessage) -> Sent:
    if message.channel is Channel.SMS:
        sent = _send_sms(message)
        try:
            DeliveryStore(clients.dynamodb(), settings.table_name).sent(message, sent.provider_id, sent.status, utc_now())
        except Exception:  # Twilio has it: a retry would send it twice, so only say so
            logger.exception("sent, but its delivery record could not be kept", extra={"provider_id": sent.provider_id})
            metrics.add_metric(name="BookkeepingFailures", unit=MetricUnit.Count, value=1)
        return sent
    if message.channel is Channel.EMAIL:
        return Sent(settings.email_delivery, email_sender().send(message), "sent" if settings.email_delivery == "ses" else "outbox")
    x_status = "sent" if settings.x_delivery == "api" else "outbox"
    if message.channel is Channel.X and message.purpose in (OutboundPurpose.NOTICE, OutboundPurpose.SUBSCRIPTION):
        return Sent(f"x-{settings.x_delivery}", x_sender().direct_message(message.to, message.body), x_status)
    if message.channel is Channel.X:
        return Sent(f"x-{settings.x_delivery}", x_sender().send(message.to, message.body), x_status)
    if message.channel is Channel.VOICE and message.purpose is OutboundPurpose.CALLBACK:
        from switchboard.channels.voice_live import callback_url

        url = callback_url(settings.public_url, message.conversation_id or "", message.agent_id or "", message.body)
        return call_sender().call(message.to, url, None)
    raise PermanentSendFailure(None, f"sending on {message.channel.value} is not supported yet")


@cache
def call_sender():
    from switchboard.channels.voice_outbound import LocalCalls, TwilioCalls

    if settings.sms_delivery == "twilio":  # the same account and number as the SMS
        token = get_secret(settings.twilio_auth_token_parameter, settings.secret_max_age_seconds)
        return TwilioCalls(settings.twilio_account_sid, token, settings.twilio_sender, settings.provider_timeout_seconds)
    return LocalCalls(OutboxStore(clients.dynamodb(), settings.table_name))


def deliver(document: dict[str, Any]) -> dict[str, Any]:
    """Send one outbox message; the result is remembered, so a redelivery returns it unsent."""
    return _remembered_send()(document=document)


@cache
def _remembered_send():
    """_send_document behind powertools' idempotency, built on the first send rather than at
    import: its persistence layer takes the one DynamoDB client every store uses.

    Idempotency records share the table: one partition, keyed by a hash of the idempotency
    key, expired by the table's TTL after a day (the queue's retries end long before)."""
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.table_name,
        key_attr=keys.PK,
        sort_key_attr=keys.SK,
        static_pk_value="IDEMPOTENCY#sender",
        expiry_attr=keys.TTL_ATTRIBUTE,
        boto3_client=clients.dynamodb(),
    )
    return idempotent_function(data_keyword_argument="document", config=idempotency, persistence_store=persistence)(_send_document)


def _send_document(document: dict[str, Any]) -> dict[str, Any]:
    message = OutboundMessage.from_json(json.dumps(document))
    to = mask_email(message.to) if message.channel is Channel.EMAIL else mask_phone(message.to)
    try:
        sent = _send(message)
    except PermanentSendFailure as failure:
        logger.warning("permanent send failure", extra={"to": to, "reason": failure.reason, "code": failure.code})
        metrics.add_metric(name="SendFailures", unit=MetricUnit.Count, value=1)
        if message.purpose in (OutboundPurpose.PAGE, OutboundPurpose.DIGEST):
            metrics.add_metric(name="PagesUndelivered", unit=MetricUnit.Count, value=1)  # PagesUndeliveredAlarm
        _opted_out_at_provider(message, failure)
        if message.purpose is OutboundPurpose.PAGE and message.conversation_id:
            # The agent cannot be reached: escalate now rather than wait for the level's timeout.
            PageStore(clients.dynamodb(), settings.table_name).expedite(message.conversation_id, utc_now())
        if message.purpose is OutboundPurpose.CUSTOMER_REPLY:
            _answer_undelivered(message, failure.reason)
        if message.purpose is OutboundPurpose.CALLBACK:
            _call_failed(message, failure.reason)
        return {"status": "failed", "code": failure.code, "reason": failure.reason}
    logger.info("sent", extra={"to": to, "channel": message.channel.value, "purpose": message.purpose.value, "provider_id": sent.provider_id})
    metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=1)
    return {"status": sent.status, "provider": sent.provider, "provider_id": sent.provider_id}


def _answer_undelivered(message: OutboundMessage, reason: str) -> None:
    """The agent was told "Sent to ..."; now the stream and their phone say it was not."""
    from switchboard.oncall.undelivered import answer_undelivered
    from switchboard.store.conversations import ConversationStore
    from switchboard.store.oncall import OncallStore
    from switchboard.store.queue import OutboxQueue

    settings.require("outbox_queue_url")
    answer_undelivered(
        message.conversation_id, message.stream_message_id, message.agent_id, reason, message.idempotency_key,
        ConversationStore(clients.dynamodb(), settings.table_name), OncallStore(clients.dynamodb(), settings.table_name),
        OutboxQueue(clients.sqs(), settings.outbox_queue_url), utc_now(),
    )


def _call_failed(message: OutboundMessage, reason: str) -> None:
    """The agent was told "Calling you now"; tell them it will not ring."""
    from switchboard.store.queue import OutboxQueue

    settings.require("outbox_queue_url")
    text = f"Switchboard could not call you back to the customer: {reason}."
    OutboxQueue(clients.sqs(), settings.outbox_queue_url).send(OutboundMessage(
        Channel.SMS, message.to, text, OutboundPurpose.AGENT_REPLY, f"{message.idempotency_key}#failed", message.conversation_id, message.agent_id,
    ))


def _opted_out_at_provider(message: OutboundMessage, failure: PermanentSendFailure) -> None:
    from switchboard.incidents.subscriptions import opt_out_refused_address
    from switchboard.store.subscribers import SubscriberStore

    opt_out_refused_address(message.channel.value, message.to, failure.code, SubscriberStore(clients.dynamodb(), settings.table_name), utc_now())


def deliver_notice(message: OutboundMessage) -> str:
    from switchboard.incidents.sending import deliver_notice as send_notice
    from switchboard.store.notices import NoticeStore
    from switchboard.store.subscribers import SubscriberStore

    status = send_notice(
        message,
        NoticeStore(clients.dynamodb(), settings.table_name),
        SubscriberStore(clients.dynamodb(), settings.table_name),
        wait_for_slot=lambda channel: pacer().wait_for_slot(channel, settings.rate_per_second(channel)),
        send_now=_send_now,
        clock=time.time,
        now=utc_now,
    )
    to = mask_email(message.to) if message.channel is Channel.EMAIL else mask_phone(message.to)
    logger.info("notice", extra={"to": to, "channel": message.channel.value, "update_id": message.notice.get("update_id"), "status": status})
    name = {"sent": "NoticesSent", "sent_unrecorded": "NoticesSent", "failed": "NoticeFailures"}.get(status, "NoticesNotSent")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if status == "sent_unrecorded":
        metrics.add_metric(name="BookkeepingFailures", unit=MetricUnit.Count, value=1)
    return status


def record_handler(record: Record) -> dict[str, Any]:
    try:
        return deliver(document=json.loads(record["body"]))
    except Exception:
        _back_off(record)
        raise


def retry_delay(receive_count: int) -> int:
    """Seconds before the next attempt: 30 s, doubling, at most 15 minutes (SQS's limit)."""
    return min(900, 30 * 2 ** max(0, receive_count - 1))


def _back_off(record: Record) -> None:
    """Give a failed message back later than the queue's fixed visibility timeout."""
    try:
        receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount") or 1)
        clients.sqs().change_message_visibility(
            QueueUrl=sqs_queue_url(record), ReceiptHandle=record["receiptHandle"], VisibilityTimeout=retry_delay(receive_count)
        )
    except Exception:  # the queue's own visibility timeout still brings it back
        logger.exception("could not delay the failed message's retry")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    metrics.add_metric(name="OutboxRecords", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    # Every failure reported per record, even when all of a batch failed: the same retries, clearer logs.
    return process_each(event, record_handler, sqs_message_id, raise_when_all_fail=False)


# A notice is not started with less time left than this: waiting for its slot and sending
# must end before the function's timeout, or the send's outcome would be lost.
NOTICE_TIME_NEEDED_SECONDS = 20


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def notice_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings.require("notice_queue_url")

    def record_handler(record: Record) -> dict[str, Any]:
        if context.get_remaining_time_in_millis() < NOTICE_TIME_NEEDED_SECONDS * 1000:
            # Slow channels (a low rate) wait long for slots: hand the rest back to the
            # queue as new messages rather than failing them towards the dead-letter queue.
            clients.sqs().send_message(QueueUrl=settings.notice_queue_url, MessageBody=record["body"])
            return {"status": "requeued"}
        try:
            message = OutboundMessage.from_json(record["body"])
            if message.purpose is OutboundPurpose.NOTICE:
                return {"status": deliver_notice(message)}
            # The status page's confirmation emails: paced and sent once, like the outbox's.
            return deliver(document=json.loads(record["body"]))
        except Exception:
            _back_off(record)
            raise

    idempotency.register_lambda_context(context)
    return process_each(event, record_handler, sqs_message_id, raise_when_all_fail=False)
