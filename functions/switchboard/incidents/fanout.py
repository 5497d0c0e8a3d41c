"""Fan-out: one incident update → one queued notice per subscriber it concerns.

Two phases, one cursor: the subscribers, then (AUTO_SUBSCRIBE_CONVERSATIONS) the
customers whose open conversation is tagged with an affected component, on the channel
of that conversation. A customer who is also a subscriber is notified once.

Subscribers are read a page at a time and each page is queued before the next is read,
so memory stays flat whatever the count. After each page the job's cursor moves (a
conditional write); a fan-out cut short (timeout, crash) is retried by the stream and
resumes at the cursor. The page it may repeat queues notices the sender then refuses
to send twice: each notice is claimed, once, before it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from switchboard.incident_model import NotifyPolicy, should_notify
from switchboard.incidents.notices import notice_message
from switchboard.store.conversations import ConversationStore
from switchboard.store.incidents import IncidentStore
from switchboard.store.notices import NoticeStore
from switchboard.store.queue import OutboxQueue
from switchboard.store.subscribers import SubscriberStore

SENDABLE_CHANNELS = frozenset({"sms", "email", "x"})
# The job cursor of the second phase starts with this (then the index page's key).
CONVERSATIONS_PHASE = "conversations:"


class FanoutUnfinished(RuntimeError):
    """Time ran out; the job's cursor says where the retry resumes."""


@dataclass(frozen=True)
class FanoutResult:
    update_id: str
    queued: int  # by this run
    skipped: int  # opted out, by this run
    done: bool


def fan_out(
    update_id: str,
    incidents: IncidentStore,
    notices: NoticeStore,
    subscribers: SubscriberStore,
    queue: OutboxQueue,
    brand: str,
    public_url: str,
    policy: NotifyPolicy = NotifyPolicy.ALL,
    time_left: Callable[[], float] = lambda: float("inf"),
    page_size: int = 500,
    conversations: ConversationStore | None = None,
    conversation_window: timedelta = timedelta(days=7),
) -> FanoutResult:
    """Queue the update's notices; `conversations` turns on the open-conversations phase."""
    job = notices.job(update_id)
    if job is None or job.done:
        return FanoutResult(update_id, 0, 0, True)
    incident = incidents.get(job.incident_id)
    update = next((u for u in incident.updates if u.update_id == update_id), None) if incident else None
    if incident is None or update is None:
        raise LookupError(f"fan-out job {update_id} names an update that does not exist")
    if not should_notify(incident, update, policy):
        notices.advance(job, None, 0, 0)  # done: the policy keeps this update quiet
        return FanoutResult(update_id, 0, 0, True)
    affected = tuple(update.affected) or incident.components
    queued = skipped = 0
    since = update.created_at - conversation_window
    while True:
        if time_left() < 10:  # seconds: room for one more page and the checkpoint
            raise FanoutUnfinished(update_id)
        messages = []
        page_skipped = 0
        if not (job.cursor or "").startswith(CONVERSATIONS_PHASE):
            page = subscribers.page(job.cursor, page_size)
            for subscriber in page.subscribers:
                if subscriber.channel not in SENDABLE_CHANNELS or not subscriber.wants(affected):
                    continue
                if subscriber.opted_out:
                    page_skipped += 1
                    continue
                messages.append(notice_message(subscriber.channel, subscriber.address, subscriber.token, brand, incident, update, public_url))
            next_cursor = page.cursor or (CONVERSATIONS_PHASE if conversations and affected else None)
        else:
            position = job.cursor[len(CONVERSATIONS_PHASE):] or None
            found, position = conversations.open_about(affected, since, position)
            for conversation in found:
                channel = "sms" if conversation.reply_to.get("channel") == "voice" else conversation.reply_to.get("channel")
                address = conversation.reply_to.get("address")
                if channel not in SENDABLE_CHANNELS or not address or subscribers.get(channel, address):
                    continue  # subscribers had theirs in the first phase (or chose their components)
                token = subscribers.link_token(channel, address) if channel == "email" else ""
                messages.append(notice_message(channel, address, token, brand, incident, update, public_url))
            next_cursor = CONVERSATIONS_PHASE + position if position else None
        queue.send_all(messages)
        moved = notices.advance(job, next_cursor, len(messages), page_skipped)
        if moved is None:  # another run of the same job moved on: let it finish
            return FanoutResult(update_id, queued, skipped, False)
        job = moved
        queued += len(messages)
        skipped += page_skipped
        if job.done:
            return FanoutResult(update_id, queued, skipped, True)

