"""The table's stream → pages: each new inbound customer message, at most one page per conversation.

template.yaml's FilterCriteria lets only inserted inbound, non-automated messages invoke
this function; each record succeeds or fails on its own (ReportBatchItemFailures), and a
failed one is retried from there, in order.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.oncall.router import customer_message, on_customer_message, switchboard_from
from switchboard.partial_batch import Record, process_each, stream_sequence_number
from switchboard.settings import get_settings
from switchboard.store.dynamo import from_item

settings = get_settings()
settings.require("outbox_queue_url")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    board = switchboard_from(settings)  # the on-call configuration is read once per batch

    def record_handler(record: Record) -> None:
        image = from_item(record["dynamodb"]["NewImage"])
        paged = on_customer_message(customer_message(image), utc_now(), board)
        logger.info("routed", extra={"conversation_id": image["conversation_id"], "paged": list(paged)})
        metrics.add_metric(name="PagesOpened" if paged else "MessagesWithLivePage", unit=MetricUnit.Count, value=1)

    return process_each(event, record_handler, stream_sequence_number)
