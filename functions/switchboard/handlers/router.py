"""The table's stream → pages: each new inbound customer message, at most one page per
conversation, and the customer who starts or reopens one hears when to expect a person
(conversations/acknowledgement.py).

template.yaml's FilterCriteria lets only inserted inbound, non-automated messages invoke
this function; each record succeeds or fails on its own (ReportBatchItemFailures), and a
failed one is retried from there, in order.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.conversations.acknowledgement import AcknowledgementPolicy, Desk, Outcome, acknowledge, hours_for
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.oncall.router import customer_message, on_customer_message, switchboard_from
from switchboard.partial_batch import Record, process_each, stream_sequence_number
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore
from switchboard.store.dynamo import from_item
from switchboard.store.queue import OutboxQueue
from switchboard.store.subscribers import SubscriberStore

settings = get_settings()
settings.require("outbox_queue_url")
acknowledgements = AcknowledgementPolicy.from_settings(settings)


def desk() -> Desk:
    dynamodb = clients.dynamodb()
    return Desk(
        ConversationStore(dynamodb, settings.table_name), SubscriberStore(dynamodb, settings.table_name),
        OutboxQueue(clients.sqs(), settings.outbox_queue_url), settings.support_email_address,
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    board = switchboard_from(settings)  # the on-call configuration is read once per batch
    acknowledgement_desk = desk()

    def record_handler(record: Record) -> None:
        image, now = from_item(record["dynamodb"]["NewImage"]), utc_now()
        paged = on_customer_message(customer_message(image), now, board)
        hours = lambda: hours_for(board.config, image["channel"], now)  # noqa: E731 (read only when one is due)
        acknowledged = acknowledge(image, now, acknowledgements, hours, acknowledgement_desk)
        logger.info("routed", extra={"conversation_id": image["conversation_id"], "paged": list(paged), "acknowledgement": acknowledged.value})
        metrics.add_metric(name="PagesOpened" if paged else "MessagesWithLivePage", unit=MetricUnit.Count, value=1)
        if acknowledged in (Outcome.SENT, Outcome.SENT_AGAIN):
            metrics.add_metric(name="Acknowledgements", unit=MetricUnit.Count, value=1)

    return process_each(event, record_handler, stream_sequence_number)
