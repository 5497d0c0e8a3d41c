"""What a conversation's page shows, read in one Query (the conversation's partition: its
summary and every message) and a few key reads: the customer, their other conversations,
the page. No Scan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from switchboard.models import Conversation, Media
from switchboard.store.customers import Customer, CustomerStore
from switchboard.store.conversations import ConversationStore
from switchboard.store.pages import Page, PageStore

# The most other conversations of the customer's the page lists (newest first).
MAX_OTHER_CONVERSATIONS = 10


@dataclass(frozen=True)
class ConversationView:
    conversation: Conversation  # with its messages, oldest first
    customer: Customer | None
    other_conversations: tuple[Conversation, ...]  # the customer's others, newest first
    page: Page | None
    attachment_url: Callable[[Media], str]  # where the agent's browser fetches an attachment


def read_view(
    conversation_id: str, conversations: ConversationStore, customers: CustomerStore, pages: PageStore,
    attachment_url: Callable[[Media], str],
) -> ConversationView | None:
    conversation = conversations.get_conversation(conversation_id)
    if conversation is None:
        return None
    customer = customers.get_customer(conversation.customer_id)
    other_ids = [cid for cid in (customer.conversation_ids if customer else ()) if cid != conversation_id][-MAX_OTHER_CONVERSATIONS:]
    others = sorted(conversations.get_conversations(other_ids), key=lambda c: c.created_at, reverse=True) if other_ids else []
    return ConversationView(conversation, customer, tuple(others), pages.get_page(conversation_id), attachment_url)


def presigned_attachments(s3: Any, expires_in_seconds: int) -> Callable[[Media], str]:
    """Attachments we stored (s3://) through short-lived presigned URLs, never public
    objects; a provider's own URL (Twilio's MMS media) as it is."""

    def url(media: Media) -> str:
        if not media.url.startswith("s3://"):
            return media.url
        bucket, _, key = media.url.removeprefix("s3://").partition("/")
        return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in_seconds)

    return url
