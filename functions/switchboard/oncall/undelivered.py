"""An agent's answer that could not reach the customer: the stream says so, and so does
the agent's phone, instead of the "Sent to ..." they were told.

Either the sender learns it at once (a permanent refusal: a number that sent STOP, an
address SES rejects) or Twilio's status callback does later (undelivered, failed). Both
call `answer_undelivered`, which is idempotent on the answer's outbox key: a retried
callback or record marks and tells once.
"""

from __future__ import annotations

from datetime import datetime

from switchboard.conversations.replies import customer_label
from switchboard.models import Channel, OutboundMessage, OutboundPurpose
from switchboard.oncall.agents import get_agent
from switchboard.store.conversations import ConversationStore, Route
from switchboard.store.oncall import OncallStore
from switchboard.store.queue import OutboxQueue


def answer_undelivered(
    conversation_id: str | None,
    stream_message_id: str | None,
    agent_id: str | None,
    reason: str,
    answer_key: str,
    conversations: ConversationStore,
    oncall: OncallStore,
    outbox: OutboxQueue,
    now: datetime,
) -> bool:
    """Mark the stored answer failed and text its agent; False when there is no such answer."""
    if not conversation_id or not stream_message_id:
        return False
    marked = conversations.update_message(
        Route("", conversation_id), stream_message_id, {"delivery_status": "failed", "delivery_error": reason}
    )
    agent = get_agent(oncall, agent_id) if agent_id else None
    if agent is None:  # a desk answer (the CLI shows the mark), or an agent since removed
        return marked
    summary = conversations.get_summary(conversation_id)
    label = customer_label(summary) if summary else "your answer's conversation"
    code = summary.short_code if summary and summary.short_code else "<n>"
    text = f"Not delivered to {label}: {reason}. Reach them another way, then {code} RESOLVE."
    outbox.send(
        OutboundMessage(
            Channel.SMS,
            agent.phone,
            text,
            OutboundPurpose.AGENT_REPLY,
            f"undelivered#{answer_key}",  # one warning per answer, however often we hear it
            conversation_id,
            agent.agent_id,
        )
    )
    return marked

