"""The table's stream → pages: each new inbound customer message, at most one page per conversation.

template.yaml's FilterCriteria lets only inserted inbound, non-automated messages invoke
this function; each record succeeds or fails on its own (ReportBatchItemFailures), and a
failed one is retried from there, in order.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.oncall.router import customer_message, on_customer_message, switchboard_from
from switchboard.settings import get_settings
from switchboard.store.dynamo import from_item

settings = get_settings()
settings.require("outbox_queue_url")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    board = switchboard_from(settings)  # the on-call configuration is read once per batch

    def record_handler(record: DynamoDBRecord) -> None:
        image = from_item(record.raw_event["dynamodb"]["NewImage"])
        paged = on_customer_message(customer_message(image), utc_now(), board)
        logger.info("routed", extra={"conversation_id": image["conversation_id"], "paged": list(paged)})
        metrics.add_metric(name="PagesOpened" if paged else "MessagesWithLivePage", unit=MetricUnit.Count, value=1)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
