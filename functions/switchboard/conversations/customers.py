"""One customer across channels: finding customers by any identity, and merging two.

A merge folds the absorbed customer into the survivor. Its steps run in an order that
never strands a message, and each is idempotent, so `link_customers` is safe to run
again after any failure (or twice at once):

1. the absorbed customer records `merged_into` (the intent; a repeat finishes it);
2. the survivor adopts the identities and conversation ids;
3. every identity points at the survivor's current conversation, so new messages
   go there;
4. the absorbed current conversation is closed into the survivor's (appends racing
   with the merge fail there and follow `merged_into`);
5. its messages move one transaction each (copy, claims, delete original, count);
   ULID ids keep the joined stream in time order;
6. the survivor's summary takes over the later activity and the earlier waiting time;
7. older conversations of the absorbed customer change owner, and the merge is marked done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from switchboard.models import Identity
from switchboard.store import keys
from switchboard.store.conversations import ConversationStore, Route
from switchboard.store.customers import Customer, CustomerStore


class LinkError(Exception):
    """The two customers cannot be linked (unknown, the same, or merged elsewhere)."""


@dataclass(frozen=True)
class LinkResult:
    survivor_id: str
    absorbed_id: str
    messages_moved: int
    already_linked: bool = False


def resolve_customer(customers: CustomerStore, reference: str | Identity) -> Customer:
    """A customer by id or by one of its identities, following earlier merges."""
    if isinstance(reference, Identity):
        customer_id = customers.find_customer_id(reference)
        if customer_id is None:
            raise LinkError(f"no customer has the {reference.kind.value} identity {reference.value}")
    else:
        customer_id = reference
    seen: set[str] = set()
    while True:
        customer = customers.get_customer(customer_id)
        if customer is None:
            raise LinkError(f"no customer {customer_id}")
        if customer.merged_into is None or customer.merged_into in seen:
            return customer
        seen.add(customer_id)
        customer_id = customer.merged_into


def link_customers(
    customers: CustomerStore,
    conversations: ConversationStore,
    survivor_ref: str | Identity,
    absorbed_ref: str | Identity,
    now: datetime,
) -> LinkResult:
    """Merge the second customer into the first: one customer, one stream."""
    survivor = resolve_customer(customers, survivor_ref)
    # Finish any earlier link into this customer that was interrupted.
    for pending_id in survivor.merges_pending:
        pending = customers.get_customer(pending_id)
        if pending is not None and pending.merged_into == survivor.customer_id:
            _merge(customers, conversations, survivor, pending, now)
    absorbed = _absorbed(customers, absorbed_ref, survivor.customer_id)
    if absorbed is None:
        return LinkResult(survivor.customer_id, survivor.customer_id, 0, already_linked=True)
    if not customers.mark_merging(absorbed.customer_id, survivor.customer_id, now):
        raise LinkError(f"customer {absorbed.customer_id} was merged into another customer meanwhile; run the link again")
    moved = _merge(customers, conversations, survivor, absorbed, now)
    return LinkResult(survivor.customer_id, absorbed.customer_id, moved)


def _merge(customers: CustomerStore, conversations: ConversationStore, survivor: Customer, absorbed: Customer, now: datetime) -> int:
    """Steps 2-7 of the merge; returns how many messages this run moved."""
    target = Route(survivor.customer_id, survivor.current_conversation_id)
    customers.adopt(survivor.customer_id, absorbed.identities, absorbed.conversation_ids)
    for identity in absorbed.identities:
        customers.point_identity(identity, target)

    moved = 0
    closed = customers.close_conversation_into(absorbed.current_conversation_id, target)
    if closed is not None:
        for item in conversations.query_partition(
            keys.conversation_pk(absorbed.current_conversation_id), keys.MESSAGE_PREFIX
        ):
            moved += customers.move_message(item, target)
        customers.fold_summary(target, closed)
    for conversation_id in absorbed.conversation_ids:
        if conversation_id != absorbed.current_conversation_id:
            customers.reassign_conversation(conversation_id, survivor.customer_id)
    customers.finish_merge(absorbed.customer_id, survivor.customer_id, now)
    return moved


def _absorbed(customers: CustomerStore, reference: str | Identity, survivor_id: str) -> Customer | None:
    """The customer to fold in, None when it is (or already became) the survivor.

    An interrupted merge into this survivor is picked up again and finished.
    """
    direct_id = customers.find_customer_id(reference) if isinstance(reference, Identity) else reference
    if direct_id is None:
        raise LinkError(f"no customer has the {reference.kind.value} identity {reference.value}")  # type: ignore[union-attr]
    direct = customers.get_customer(direct_id)
    if direct is None:
        raise LinkError(f"no customer {direct_id}")
    if direct.customer_id == survivor_id:
        return None
    if direct.merged_into == survivor_id:
        return None if direct.merge_completed_at else direct
    final = resolve_customer(customers, direct.customer_id)
    if final.customer_id == survivor_id:
        return None
    return final
