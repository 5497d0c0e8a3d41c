"""Recording a customer's message in their conversation, exactly once."""

from __future__ import annotations

from ulid import ULID

from switchboard.models import AppendResult, InboundMessage
from switchboard.store.conversations import ConversationStore, DuplicateMessage, IdentityTaken


def _new_id(message: InboundMessage) -> str:
    return str(ULID.from_datetime(message.received_at))


def record_inbound(message: InboundMessage, store: ConversationStore) -> AppendResult:
    """Find or create the sender's customer, then append to their open conversation.

    A known sender costs one GetItem and one transaction. A new sender costs the same:
    the transaction creates identity, customer, conversation and message together, and
    if another request won the race to create that identity, the message is appended
    to the winner's conversation instead. A provider id seen before writes nothing.
    """
    message_id = _new_id(message)
    record = store.find_identity(message.sender)
    try:
        if record is None:
            customer_id, conversation_id = _new_id(message), _new_id(message)
            try:
                store.create_customer_with_message(message, customer_id, conversation_id, message_id)
                return AppendResult(
                    customer_id=customer_id,
                    conversation_id=conversation_id,
                    message_id=message_id,
                    new_customer=True,
                )
            except IdentityTaken:
                record = store.find_identity(message.sender, consistent=True)
                if record is None:  # a committed identity is never deleted on this path
                    raise
        store.append_message(message, record, message_id)
        return AppendResult(
            customer_id=record.customer_id, conversation_id=record.conversation_id, message_id=message_id
        )
    except DuplicateMessage as duplicate:
        return AppendResult(
            customer_id=record.customer_id if record else "",
            conversation_id=duplicate.conversation_id or "",
            message_id=duplicate.message_id or "",
            duplicate=True,
        )
