"""Sending one incident notice: never twice, never to an opted-out address, at the rate.

The claim (one transaction: "not opted out" and "never claimed") comes first, so
duplicates and opt-outs cost no send slot; the opt-out is read again after waiting for
the slot, so an address that opts out while its notice waits gets nothing. The provider
call and the pacer are passed in: this is the rule, the handler wires the providers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from switchboard.errors import PermanentSendFailure
from switchboard.observability import logger
from switchboard.incidents.subscriptions import opt_out_refused_address
from switchboard.models import OutboundMessage
from switchboard.pacing import Slot, still_on_time
from switchboard.store.notices import ClaimOutcome, NoticeStore
from switchboard.store.subscribers import SubscriberStore


def deliver_notice(
    message: OutboundMessage,
    notices: NoticeStore,
    subscribers: SubscriberStore,
    wait_for_slot: Callable[[str], Slot],
    send_now: Callable[[OutboundMessage], Any],
    clock: Callable[[], float],
    now: Callable[[], datetime],
) -> str:
    """Send the notice; returns sent, duplicate, opted_out or failed (a temporary failure is
    raised), or sent_unrecorded: sent, but the record of it could not be written (logged;
    never retried, which would send it twice)."""
    update_id, channel, address = message.notice["update_id"], message.channel.value, message.to
    outcome = notices.claim(update_id, channel, address, subscribers.opt_out_condition(channel, address), now())
    if outcome is not ClaimOutcome.CLAIMED:
        return outcome.value
    try:
        while True:
            slot = wait_for_slot(channel)
            if subscribers.is_opted_out(channel, address):
                notices.skip(update_id, channel, address, now())
                return ClaimOutcome.OPTED_OUT.value
            started = clock()
            if still_on_time(slot, started):
                break
        sent = send_now(message)
    except PermanentSendFailure as failure:
        notices.failed(update_id, channel, address, failure.reason, now())
        opt_out_refused_address(channel, address, failure.code, subscribers, now())
        return "failed"
    except Exception:
        notices.release(update_id, channel, address)  # the queue retries it
        raise
    try:
        notices.sent(update_id, channel, address, sent.provider_id, started, now())
    except Exception:  # the provider has it: the claim stays, so no retry sends it twice
        logger.exception("notice sent, but not recorded as sent", extra={"update_id": update_id, "channel": channel})
        return "sent_unrecorded"
    return "sent"
