"""SES receipt rule → a customer's email in their conversation.

Invoked asynchronously by SES after its S3 action stored the raw message. A message
SES judged spam or a virus, one whose sender's domain disowns it (DMARC FAIL), or one
with nothing readable, is kept in quarantine with its reason instead of the stream; one
whose sender SES could not authenticate is stored apart and marked (ses_email.to_inbound). Any other failure (S3 or DynamoDB unavailable) is
raised: Lambda retries the event twice and then sends it to the dead-letter queue.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.channels.mime import UnreadableEmail, parse_email
from switchboard.channels.ses_email import (
    MAX_STORED_ATTACHMENTS,
    MalformedReceipt,
    SesReceipt,
    attachment_name,
    receipt_from_record,
    refusal,
    to_inbound,
)
from switchboard.conversations.inbound import record_inbound
from switchboard.models import Media, utc_now
from switchboard.observability import logger, mask_email, metrics
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore
from switchboard.store.mail import MailStore, RawMailMissing, RawMailTooLarge
from switchboard.webhooks import keep_rejected_event

settings = get_settings()
settings.require("mail_bucket")


def stores() -> tuple[ConversationStore, MailStore]:
    return (
        ConversationStore(clients.dynamodb(), settings.table_name),
        MailStore(clients.s3(), settings.mail_bucket, settings.mail_prefix),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_dimension(name="channel", value="email")
    outcomes = [_receive(record) for record in event.get("Records") or [{}]]
    # SES ignores the answer of an asynchronous Lambda action; `local send email` and
    # the tests read it.
    return {"disposition": "CONTINUE", "messages": outcomes}


def _receive(record: dict[str, Any]) -> dict[str, Any]:
    try:
        receipt = receipt_from_record(record)
    except MalformedReceipt as error:
        return _quarantine(record, None, str(error))
    logger.set_correlation_id(receipt.message_id)
    reason = refusal(receipt, settings.unverified_email)
    if reason:
        return _quarantine(record, receipt, reason)

    conversations, mail = stores()
    try:
        parsed = parse_email(mail.read_raw(receipt.message_id))
    except (UnreadableEmail, RawMailMissing, RawMailTooLarge) as error:
        return _quarantine(record, receipt, getattr(error, "reason", None) or str(error))
    media = tuple(
        Media(
            url=mail.put_attachment(receipt.message_id, attachment_name(index, part.filename), part.content, part.content_type),
            content_type=part.content_type,
            filename=part.filename,
            size=part.size,
        )
        for index, part in enumerate(parsed.attachments[:MAX_STORED_ATTACHMENTS])
    )
    message = to_inbound(
        parsed, receipt, media, settings.support_email_address,
        raw_url=mail.raw_url(receipt.message_id), attachments_not_stored=max(0, len(parsed.attachments) - MAX_STORED_ATTACHMENTS),
    )
    logger.append_keys(sender=mask_email(message.sender.value), attachments=len(media))
    result = record_inbound(message, conversations, settings.conversation_idle)
    logger.info(
        "duplicate delivery ignored" if result.duplicate else "message stored",
        extra={
            "conversation_id": result.conversation_id,
            "message_id": result.message_id,
            "new_customer": result.new_customer,
            "automated": message.automated,
            "unverified": message.sender.unverified,
            "threaded": bool(message.thread_refs or message.reply_token),
            "defects": len(parsed.defects),
        },
    )
    metrics.add_metric(name="DuplicateDeliveries" if result.duplicate else "InboundMessages", unit=MetricUnit.Count, value=1)
    return {
        "status": "duplicate" if result.duplicate else "stored",
        "ses_message_id": receipt.message_id,
        "customer_id": result.customer_id,
        "conversation_id": result.conversation_id,
        "message_id": result.message_id,
        "automated": message.automated,
        "unverified": message.sender.unverified,
    }


def _quarantine(record: dict[str, Any], receipt: SesReceipt | None, reason: str) -> dict[str, Any]:
    logger.warning("email refused", extra={"reason": reason})
    metrics.add_metric(name="RefusedEmails", unit=MetricUnit.Count, value=1)
    extra = {"raw_mail": stores()[1].raw_url(receipt.message_id)} if receipt else {}
    keep_rejected_event("ses:receipt", json.dumps(record).encode("utf-8"), reason, utc_now(), extra)
    return {"status": "quarantined", "reason": reason, "ses_message_id": receipt.message_id if receipt else None}
