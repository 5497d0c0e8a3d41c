"""The table's stream → notices: each new fan-out job queues one notice per subscriber.

template.yaml's FilterCriteria lets only inserted fan-out jobs (written with an incident
update that notifies) invoke this function. A fan-out that runs out of time fails its
record; the stream retries it and the job resumes at its cursor.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.incidents.fanout import fan_out
from switchboard.incident_model import NotifyPolicy
from switchboard.observability import logger, metrics
from switchboard.partial_batch import Record, process_each, stream_sequence_number
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore
from switchboard.store.dynamo import from_item
from switchboard.store.incidents import IncidentStore
from switchboard.store.notices import NoticeStore
from switchboard.store.queue import OutboxQueue
from switchboard.store.subscribers import SubscriberStore

settings = get_settings()
settings.require("notice_queue_url")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    dynamodb = clients.dynamodb()

    def record_handler(record: Record) -> None:
        image = from_item(record["dynamodb"]["NewImage"])
        logger.set_correlation_id(image["update_id"])
        result = fan_out(
            image["update_id"],
            IncidentStore(dynamodb, settings.table_name),
            NoticeStore(dynamodb, settings.table_name),
            SubscriberStore(dynamodb, settings.table_name),
            OutboxQueue(clients.sqs(), settings.notice_queue_url),
            settings.brand_name,
            settings.public_url,
            NotifyPolicy(settings.notify_updates),
            time_left=lambda: context.get_remaining_time_in_millis() / 1000,
            conversations=ConversationStore(dynamodb, settings.table_name) if settings.auto_subscribe_conversations == "on" else None,
            conversation_window=settings.conversation_idle,
        )
        logger.info("fanned out", extra={"incident_id": image["incident_id"], "queued": result.queued, "skipped": result.skipped, "done": result.done})
        metrics.add_metric(name="NoticesQueued", unit=MetricUnit.Count, value=result.queued)

    return process_each(event, record_handler, stream_sequence_number)
