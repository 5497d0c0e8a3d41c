"""Recording a customer's message in their conversation, exactly once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from ulid import ULID

from switchboard.models import AppendResult, InboundMessage
from switchboard.store.conversations import (
    ConversationIdle,
    ConversationMoved,
    ConversationStore,
    DuplicateMessage,
    IdentityTaken,
    Lookup,
    Route,
)

# A merge running at the same moment can move the conversation under us; each retry
# reads the new route, and merges are rare, so a few attempts always settle.
MAX_ATTEMPTS = 4


def _new_id(message: InboundMessage) -> str:
    return str(ULID.from_datetime(message.received_at))


def record_inbound(
    message: InboundMessage, store: ConversationStore, idle: timedelta | None = None, lookup: Lookup | None = None
) -> AppendResult:
    """Find or create the sender's customer, then append to the right conversation.

    The destination is, in order: the conversation an email answers (its reply
    address, In-Reply-To, References) when it is the sender's own customer's, else the
    sender's current conversation, else a new customer. A thread of another customer's
    is never joined (anyone who saw one answer of ours can name it): the message goes
    to its sender's own stream and records the conversation it referenced, for an
    agent to `customers link` when that is legitimate.

    A known sender costs one read and one transaction; a new one the same (the
    transaction creates identity, customer, conversation and message). Any of the
    message's ids seen before writes nothing and reports where it is stored.

    A resolved conversation reopens; one resolved and quiet for longer than `idle`
    does not: the message starts a new conversation in the same customer's stream.
    `lookup` is the caller's own `store.look_up(message)`, when it already made it, or a
    route it remembered (KnownSenders): RouteChanged, with nothing written, when the
    sender's identity item no longer routes there; look up again.
    """
    message_id = _new_id(message)
    idle_cutoff = message.received_at - idle if idle else None
    lookup = lookup or store.look_up(message)
    route, referenced = _destination(lookup, store)
    # A remembered route is checked by the write itself (RouteChanged, nothing written).
    remembered = lookup.remembered and route is lookup.identity
    if referenced:
        message = replace(message, provider_fields={**message.provider_fields, "referenced_conversation": referenced})
    followed_customer = False
    for attempt in range(MAX_ATTEMPTS):
        try:
            if route is None:
                customer_id, conversation_id = _new_id(message), _new_id(message)
                store.create_customer_with_message(message, customer_id, conversation_id, message_id)
                return AppendResult(customer_id, conversation_id, message_id, new_customer=True)
            # Only the first attempt's route can be the remembered one; later ones were read.
            store.append_message(message, route, message_id, idle_cutoff, route_remembered=remembered and attempt == 0)
            if followed_customer:  # the identity still pointed at an older conversation
                store.point_identity(message.sender, route)
            return AppendResult(route.customer_id, route.conversation_id, message_id)
        except DuplicateMessage as duplicate:
            return _duplicate_result(duplicate)
        except IdentityTaken:  # another request created this sender's customer first
            route = _destination(store.look_up(message, consistent=True), store)[0]
        except ConversationIdle:
            current = store.current_conversation(route.customer_id) if route else None
            if route is None or current is None:
                raise
            if current != route.conversation_id:  # the customer moved on to a newer conversation
                route, followed_customer = Route(route.customer_id, current), True
                continue
            fresh = Route(route.customer_id, _new_id(message))
            try:
                store.start_conversation(message, fresh, route.conversation_id, message_id)
                return AppendResult(fresh.customer_id, fresh.conversation_id, message_id, new_conversation=True)
            except ConversationIdle:  # another message started it first: join that one
                route, followed_customer = Route(route.customer_id, store.current_conversation(route.customer_id) or ""), True
            except DuplicateMessage as duplicate:
                return _duplicate_result(duplicate)
        except ConversationMoved:  # a customer merge folded the conversation into another
            moved_from = route.conversation_id if route else ""
            route = store.follow_conversation(moved_from) or _destination(store.look_up(message, consistent=True), store)[0]
    raise RuntimeError(f"could not settle where message {message.provider_id} belongs after {MAX_ATTEMPTS} attempts")


def _duplicate_result(duplicate: DuplicateMessage) -> AppendResult:
    found = duplicate.route
    return AppendResult(
        found.customer_id if found else "",
        found.conversation_id if found else "",
        duplicate.message_id or "",
        duplicate=True,
    )


def _destination(lookup: Lookup, store: ConversationStore) -> tuple[Route | None, str | None]:
    """Where the message goes, and the conversation it named but may not join (or None)."""
    thread = lookup.thread
    if thread is not None and lookup.thread_moved:
        thread = store.follow_conversation(thread.conversation_id)
    if thread is None:
        return lookup.identity, None
    if lookup.identity is not None and lookup.identity.customer_id == thread.customer_id:
        return thread, None
    return lookup.identity, thread.conversation_id


def record_part(
    message: InboundMessage, updates: dict[str, Any] | None, store: ConversationStore, idle: timedelta | None = None
) -> AppendResult:
    """Record one of several deliveries that make up one message (a call's callbacks).

    The first stores the message; each later one sets its own fields (`updates`) on
    it, so any order, and any repeat, ends in the same single message.
    """
    result = record_inbound(message, store, idle)
    if not result.duplicate or not updates:
        return result
    route, message_id = Route(result.customer_id, result.conversation_id), result.message_id
    for _ in range(MAX_ATTEMPTS):
        if store.update_message(route, message_id, updates):
            if updates.get("body"):  # a transcription: the stream's preview shows the words
                store.set_preview(route.conversation_id, updates["body"])
            return result
        found = store.find_claim(message.provider, message.provider_id)  # moved by a merge
        if found is None:
            break
        route, message_id = found
    raise RuntimeError(f"message {message.provider_id} could not be found to update")
