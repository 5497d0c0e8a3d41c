"""Every minute: escalate the pages nobody answered in time, page again the follow-ups that
came due (an agent's LATER), and send the digests that are due."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.oncall.router import switchboard_from, tick
from switchboard.settings import get_settings

settings = get_settings()
settings.require("outbox_queue_url")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    counts = tick(utc_now(), switchboard_from(settings))
    logger.info("tick", extra=counts)
    metrics.add_metric(name="Escalations", unit=MetricUnit.Count, value=counts["escalated"])
    metrics.add_metric(name="PagesFailed", unit=MetricUnit.Count, value=counts["failed"])
    metrics.add_metric(name="Digests", unit=MetricUnit.Count, value=counts["digests"])
    metrics.add_metric(name="FollowUpsPaged", unit=MetricUnit.Count, value=counts["woken"])
    if counts["errors"]:
        # After every other page and digest had its turn: the failure is the function's,
        # so its alarm (EscalationTickFailingAlarm) hears it; the next tick retries.
        raise RuntimeError(f"{counts['errors']} pages or digests failed this tick; they stay due")
    return counts
