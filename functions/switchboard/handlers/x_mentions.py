"""Scheduled: the support account's new mentions on X into their authors' conversations.

The checkpoint (the newest mention stored) moves only after every mention of the
poll is stored, so a failure or a rate limit loses nothing: the next poll fetches the
same mentions again, and their tweet-id claims make the repeats no-ops.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.channels.x import Backlog, fetch_mentions, make_client, parse_account
from switchboard.conversations.inbound import record_inbound
from switchboard.models import iso_utc, utc_now
from switchboard.observability import logger, metrics
from switchboard.settings import SettingsError, get_secret, get_settings
from switchboard.store import clients
from switchboard.store.checkpoints import CheckpointStore
from switchboard.store.conversations import ConversationStore

settings = get_settings()
settings.require("x_support_account")
try:
    ACCOUNT_ID, ACCOUNT_USERNAME = parse_account(settings.x_support_account)
except ValueError as error:
    raise SettingsError(f"X_SUPPORT_ACCOUNT: {error}") from None
CHECKPOINT = f"x-mentions#{ACCOUNT_ID}"
# Time kept back from the Lambda timeout for storing what was fetched.
STORE_MARGIN = timedelta(seconds=20)


def stores() -> tuple[ConversationStore, CheckpointStore]:
    return ConversationStore(clients.dynamodb(), settings.table_name), CheckpointStore(clients.dynamodb(), settings.table_name)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    conversations, checkpoints = stores()
    started = utc_now()
    deadline = started + timedelta(milliseconds=context.get_remaining_time_in_millis()) - STORE_MARGIN
    since_id, saved = checkpoints.read(CHECKPOINT)
    backlog = Backlog(**saved) if saved else None
    client = make_client(get_secret(settings.x_bearer_token_parameter, settings.secret_max_age_seconds), settings.provider_timeout_seconds)
    poll = fetch_mentions(
        client, ACCOUNT_ID, since_id, deadline=deadline, now=utc_now, sleep=time.sleep, account_username=ACCOUNT_USERNAME, backlog=backlog
    )
    stored = duplicates = 0
    for message in poll.messages:
        result = record_inbound(message, conversations, settings.conversation_idle)
        duplicates += result.duplicate
        stored += not result.duplicate
    if poll.checkpoint:
        checkpoints.advance(CHECKPOINT, int(poll.checkpoint), iso_utc(utc_now()))
    elif poll.backlog:  # stored what it fetched; the next poll goes on from here
        checkpoints.save_backlog(CHECKPOINT, asdict(poll.backlog), iso_utc(utc_now()))
    summary = {
        "since_id": since_id,
        "pages": poll.pages,
        "mentions": len(poll.messages),
        "stored": stored,
        "duplicates": duplicates,
        "checkpoint": poll.checkpoint or since_id,
        "complete": poll.complete,
        "rate_limited_until": iso_utc(poll.rate_limited_until) if poll.rate_limited_until else None,
        "backlog_from": backlog.next_token if backlog else None,
    }
    logger.info("mentions polled", extra=summary)
    metrics.add_dimension(name="channel", value="x")
    metrics.add_metric(name="InboundMessages", unit=MetricUnit.Count, value=stored)
    metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=duplicates)
    if not poll.complete:
        metrics.add_metric(name="XRateLimited", unit=MetricUnit.Count, value=1)
    return summary
