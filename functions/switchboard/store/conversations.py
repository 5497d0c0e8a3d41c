"""Customers, identities, conversations and messages in the Switchboard table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from botocore.exceptions import ClientError

from dataclasses import asdict, replace

from switchboard.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Identity,
    InboundMessage,
    Media,
    Message,
    iso_utc,
)
from switchboard.store import keys
from switchboard.store.dynamo import (
    cancellation_codes,
    from_item,
    is_transaction_cancelled,
    retry_conflicts,
    to_item,
    to_values,
)

PREVIEW_LENGTH = 120


class DuplicateMessage(Exception):
    """The provider id was stored before: the message exists, nothing was written."""

    def __init__(self, conversation_id: str | None, message_id: str | None) -> None:
        super().__init__(f"already stored as {message_id} in {conversation_id}")
        self.conversation_id = conversation_id
        self.message_id = message_id


class IdentityTaken(Exception):
    """Another request created a customer for this identity first."""


@dataclass(frozen=True)
class IdentityRecord:
    customer_id: str
    conversation_id: str


def _preview(message: InboundMessage) -> str:
    text = " ".join(message.body.split())
    if not text and message.media:
        text = f"[{len(message.media)} attachment{'s' if len(message.media) > 1 else ''}]"
    return text[:PREVIEW_LENGTH]


class ConversationStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ---- the inbound hot path: one GetItem, then one transaction -------------------

    def find_identity(self, identity: Identity, consistent: bool = False) -> IdentityRecord | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item(keys.identity_key(identity.kind, identity.value)),
            ProjectionExpression="customer_id, conversation_id",
            ConsistentRead=consistent,
        )
        item = response.get("Item")
        if not item:
            return None
        values = from_item(item)
        return IdentityRecord(values["customer_id"], values["conversation_id"])

    def create_customer_with_message(
        self, message: InboundMessage, customer_id: str, conversation_id: str, message_id: str
    ) -> None:
        """A first message from a new identity: identity, customer, conversation and message at once.

        Raises IdentityTaken when a concurrent request created the customer first, and
        DuplicateMessage when the provider id is already stored.
        """
        now = iso_utc(message.received_at)
        identity = message.sender
        conversation = {
            **keys.conversation_key(conversation_id),
            "type": "conversation",
            "conversation_id": conversation_id,
            "customer_id": customer_id,
            "customer_name": identity.display_name,
            "customer_identity": {"kind": identity.kind.value, "value": identity.value},
            "status": ConversationStatus.WAITING_ON_US.value,
            "channel": message.channel.value,
            "created_at": now,
            "last_activity_at": now,
            "waiting_since": now,
            "message_count": 1,
            "last_message_preview": _preview(message),
            keys.ACTIVITY_PK: keys.ACTIVITY_PARTITION,
            keys.ACTIVITY_SK: f"{now}#{conversation_id}",
        }
        customer = {
            **keys.customer_key(customer_id),
            "type": "customer",
            "customer_id": customer_id,
            "display_name": identity.display_name,
            "identities": [{"kind": identity.kind.value, "value": identity.value}],
            "current_conversation_id": conversation_id,
            "created_at": now,
        }
        identity_item = {
            **keys.identity_key(identity.kind, identity.value),
            "type": "identity",
            "customer_id": customer_id,
            "conversation_id": conversation_id,
            "created_at": now,
        }
        transaction = [
            self._put_new(identity_item),
            self._put_new(customer),
            self._put_new(conversation),
            self._provider_claim(message, conversation_id, message_id),
            {"Put": {"TableName": self._table, "Item": to_item(self._message_item(message, customer_id, conversation_id, message_id))}},
        ]
        try:
            retry_conflicts(lambda: self._client.transact_write_items(TransactItems=transaction))
        except ClientError as error:
            if not is_transaction_cancelled(error):
                raise
            codes = cancellation_codes(error)
            if codes[3] == "ConditionalCheckFailed":
                raise self._duplicate(message) from None
            if codes[0] == "ConditionalCheckFailed":
                raise IdentityTaken(message.sender.value) from None
            raise

    def append_message(
        self, message: InboundMessage, record: IdentityRecord, message_id: str
    ) -> None:
        """Append to the customer's conversation and update its summary, exactly once.

        The provider-id claim makes a retried webhook fail the whole transaction, so a
        duplicate never writes anything. A resolved conversation reopens.
        """
        now = iso_utc(message.received_at)
        update = {
            "Update": {
                "TableName": self._table,
                "Key": to_item(keys.conversation_key(record.conversation_id)),
                "UpdateExpression": (
                    "SET #status = :waiting, last_activity_at = :now, channel = :channel,"
                    " waiting_since = if_not_exists(waiting_since, :now),"
                    " last_message_preview = :preview, activity_sk = :activity"
                    " ADD message_count :one"
                ),
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": to_values(
                    {
                        ":waiting": ConversationStatus.WAITING_ON_US.value,
                        ":now": now,
                        ":channel": message.channel.value,
                        ":preview": _preview(message),
                        ":activity": f"{now}#{record.conversation_id}",
                        ":one": 1,
                    }
                ),
            }
        }
        transaction = [
            self._provider_claim(message, record.conversation_id, message_id),
            {"Put": {"TableName": self._table, "Item": to_item(self._message_item(message, record.customer_id, record.conversation_id, message_id))}},
            update,
        ]
        try:
            retry_conflicts(lambda: self._client.transact_write_items(TransactItems=transaction))
        except ClientError as error:
            if is_transaction_cancelled(error) and cancellation_codes(error)[0] == "ConditionalCheckFailed":
                raise self._duplicate(message) from None
            raise

    def resolve_conversation(self, conversation_id: str, now: datetime) -> bool:
        """Mark a conversation resolved; False when there is no such conversation."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item(keys.conversation_key(conversation_id)),
                UpdateExpression="SET #status = :resolved, resolved_at = :now REMOVE waiting_since",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values({":resolved": ConversationStatus.RESOLVED.value, ":now": iso_utc(now)}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ---- reading the stream ---------------------------------------------------------

    def list_conversations(self, limit: int = 50) -> list[Conversation]:
        """Conversations, most recently active first (a Query on the activity index)."""
        conversations: list[Conversation] = []
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName=keys.ACTIVITY_INDEX,
            KeyConditionExpression="activity_pk = :partition",
            ExpressionAttributeValues=to_values({":partition": keys.ACTIVITY_PARTITION}),
            ScanIndexForward=False,
            PaginationConfig={"MaxItems": limit, "PageSize": min(limit, 100)},
        )
        for page in pages:
            conversations.extend(_conversation(from_item(item)) for item in page["Items"])
        return conversations[:limit]

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The summary and every message in order, from one partition."""
        summary: dict[str, Any] | None = None
        messages: list[Message] = []
        for item in self._query_partition(keys.conversation_pk(conversation_id)):
            if item[keys.SK] == keys.CONVERSATION_SK:
                summary = item
            elif item[keys.SK].startswith(keys.MESSAGE_PREFIX):
                messages.append(_message(item))
        if summary is None:
            return None
        return replace(_conversation(summary), messages=tuple(messages))

    def message_ids_for_provider_id(self, provider: str, provider_id: str) -> tuple[str, str] | None:
        response = self._client.get_item(
            TableName=self._table, Key=to_item(keys.provider_key(provider, provider_id)), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        values = from_item(item)
        return values["conversation_id"], values["message_id"]

    # ---- helpers --------------------------------------------------------------------

    def _query_partition(self, pk: str) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_values({":pk": pk}),
            ConsistentRead=True,
        ):
            for item in page["Items"]:
                yield from_item(item)

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _provider_claim(self, message: InboundMessage, conversation_id: str, message_id: str) -> dict[str, Any]:
        return self._put_new(
            {
                **keys.provider_key(message.provider, message.provider_id),
                "type": "provider_id",
                "conversation_id": conversation_id,
                "message_id": message_id,
                "created_at": iso_utc(message.received_at),
            }
        )

    def _duplicate(self, message: InboundMessage) -> DuplicateMessage:
        found = self.message_ids_for_provider_id(message.provider, message.provider_id)
        return DuplicateMessage(*(found or (None, None)))

    @staticmethod
    def _message_item(message: InboundMessage, customer_id: str, conversation_id: str, message_id: str) -> dict[str, Any]:
        return {
            **keys.message_key(conversation_id, message_id),
            "type": "message",
            "message_id": message_id,
            "conversation_id": conversation_id,
            "customer_id": customer_id,
            "channel": message.channel.value,
            "direction": Direction.INBOUND.value,
            "provider": message.provider,
            "provider_id": message.provider_id,
            "sender": {key: value for key, value in asdict(message.sender).items() if value is not None},
            "recipient": message.recipient,
            "body": message.body,
            "media": [asdict(media) for media in message.media],
            "received_at": iso_utc(message.received_at),
            "provider_fields": message.provider_fields or None,
        }


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _conversation(item: dict[str, Any]) -> Conversation:
    return Conversation(
        conversation_id=item["conversation_id"],
        customer_id=item["customer_id"],
        customer_name=item.get("customer_name"),
        customer_identity=Identity.from_dict(item["customer_identity"]),
        status=ConversationStatus(item["status"]),
        channel=Channel(item["channel"]),
        created_at=datetime.fromisoformat(item["created_at"]),
        last_activity_at=datetime.fromisoformat(item["last_activity_at"]),
        waiting_since=_moment(item.get("waiting_since")),
        message_count=int(item.get("message_count", 0)),
        last_message_preview=item.get("last_message_preview", ""),
    )


def _message(item: dict[str, Any]) -> Message:
    return Message(
        message_id=item["message_id"],
        conversation_id=item["conversation_id"],
        customer_id=item["customer_id"],
        channel=Channel(item["channel"]),
        direction=Direction(item["direction"]),
        provider=item["provider"],
        provider_id=item["provider_id"],
        sender=Identity.from_dict(item["sender"]),
        recipient=item.get("recipient"),
        body=item.get("body", ""),
        media=tuple(Media(m["url"], m["content_type"]) for m in item.get("media", [])),
        received_at=datetime.fromisoformat(item["received_at"]),
        provider_fields=item.get("provider_fields", {}),
    )
