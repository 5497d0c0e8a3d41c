"""Every minute: escalate the pages nobody answered in time, page again the follow-ups that
came due (an agent's LATER), send the digests that are due, and resolve the conversations
that waited on the customer (`12 WAITING`) without their reply."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.conversations.waiting import Waiting, resolve_waiting
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.oncall.router import switchboard_from, tick
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore
from switchboard.store.pages import PageStore
from switchboard.store.queue import OutboxQueue
from switchboard.store.subscribers import SubscriberStore

settings = get_settings()
settings.require("outbox_queue_url")


def waiting_from() -> Waiting:
    dynamodb = clients.dynamodb()
    return Waiting(
        ConversationStore(dynamodb, settings.table_name), PageStore(dynamodb, settings.table_name),
        SubscriberStore(dynamodb, settings.table_name), OutboxQueue(clients.sqs(), settings.outbox_queue_url),
        settings.closing_note, settings.brand_name, settings.support_email_address,
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    now = utc_now()
    counts = tick(now, switchboard_from(settings))
    waited = resolve_waiting(now, waiting_from())
    counts = {**counts, **waited, "errors": counts["errors"] + waited["errors"]}
    logger.info("tick", extra=counts)
    metrics.add_metric(name="Escalations", unit=MetricUnit.Count, value=counts["escalated"])
    metrics.add_metric(name="PagesFailed", unit=MetricUnit.Count, value=counts["failed"])
    metrics.add_metric(name="Digests", unit=MetricUnit.Count, value=counts["digests"])
    metrics.add_metric(name="FollowUpsPaged", unit=MetricUnit.Count, value=counts["woken"])
    metrics.add_metric(name="ResolvedWithoutReply", unit=MetricUnit.Count, value=counts["auto_resolved"])
    if counts["errors"]:
        # After every other page and digest had its turn: the failure is the function's,
        # so its alarm (EscalationTickFailingAlarm) hears it; the next tick retries.
        raise RuntimeError(f"{counts['errors']} pages or digests failed this tick; they stay due")
    return counts
