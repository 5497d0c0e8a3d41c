"""Customers and their identities in the Switchboard table, and the steps of a merge.

Each merge step is idempotent on its own, so `conversations.customers.link_customers`
can run them in order and simply run them again after any failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from switchboard.models import ConversationStatus, Identity, iso_utc
from switchboard.store import keys
from switchboard.store.conversations import Route, message_item_moved
from switchboard.store.dynamo import from_item, retry_conflicts, to_item, to_values, update_if


@dataclass(frozen=True)
class Customer:
    customer_id: str
    display_name: str | None
    identities: tuple[Identity, ...]
    conversation_ids: tuple[str, ...]  # oldest first (ULIDs sort by time)
    current_conversation_id: str
    created_at: datetime
    merged_into: str | None = None  # this customer was folded into another
    merge_completed_at: datetime | None = None
    merges_pending: tuple[str, ...] = ()  # customers being folded into this one


class CustomerStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ---- reading ------------------------------------------------------------------

    def get_customer(self, customer_id: str) -> Customer | None:
        item = self._client.get_item(
            TableName=self._table, Key=to_item(keys.customer_key(customer_id)), ConsistentRead=True
        ).get("Item")
        return _customer(from_item(item)) if item else None

    def find_customer_id(self, identity: Identity) -> str | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=to_item(keys.identity_item_key(identity)),
            ProjectionExpression="customer_id",
            ConsistentRead=True,
        ).get("Item")
        return from_item(item)["customer_id"] if item else None

    # ---- the steps of a merge -------------------------------------------------------

    def mark_merging(self, absorbed_id: str, survivor_id: str, now: datetime) -> bool:
        """Record the intent on both customers first, so a repeat (even one naming the
        absorbed customer by an identity already re-pointed) finishes the same merge;
        False if the absorbed customer was merged into someone else."""
        self._set_pending(survivor_id, absorbed_id, "ADD")
        marked = self._conditional_update(
            to_item(keys.customer_key(absorbed_id)),
            "SET merged_into = :survivor, merge_started_at = if_not_exists(merge_started_at, :now)",
            "attribute_exists(pk) AND (attribute_not_exists(merged_into) OR merged_into = :survivor)",
            {":survivor": survivor_id, ":now": iso_utc(now)},
        )
        if not marked:
            self._set_pending(survivor_id, absorbed_id, "DELETE")
        return marked

    def _set_pending(self, survivor_id: str, absorbed_id: str, action: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=to_item(keys.customer_key(survivor_id)),
            UpdateExpression=f"{action} merges_pending :absorbed",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=to_values({":absorbed": {absorbed_id}}),
        )

    def adopt(self, survivor_id: str, identities: tuple[Identity, ...], conversation_ids: tuple[str, ...]) -> None:
        """Add identities (a map: setting one twice is harmless) and conversation ids (a set)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        assignments = []
        for index, identity in enumerate(identities):
            names[f"#i{index}"] = keys.identity_map_key(identity)
            values[f":i{index}"] = identity.to_dict()
            assignments.append(f"identities.#i{index} = :i{index}")
        expression = ("SET " + ", ".join(assignments) + " " if assignments else "") + "ADD conversation_ids :conversations"
        values[":conversations"] = set(conversation_ids)
        self._client.update_item(
            TableName=self._table,
            Key=to_item(keys.customer_key(survivor_id)),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=to_values(values),
            **({"ExpressionAttributeNames": names} if names else {}),
        )

    def point_identity(self, identity: Identity, route: Route) -> None:
        """Later messages on this identity go to the survivor's conversation."""
        self._client.update_item(
            TableName=self._table,
            Key=to_item(keys.identity_item_key(identity)),
            UpdateExpression="SET customer_id = :customer, conversation_id = :conversation",
            ExpressionAttributeValues=to_values({":customer": route.customer_id, ":conversation": route.conversation_id}),
        )

    def close_conversation_into(self, conversation_id: str, survivor: Route) -> dict[str, Any] | None:
        """Stop appends to a conversation (they follow merged_into) and take it off the
        activity index; returns its summary as it was, None if it does not exist."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=to_item(keys.conversation_key(conversation_id)),
                UpdateExpression="SET merged_into = :into REMOVE activity_pk, activity_sk",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(merged_into) OR merged_into = :into)",
                ExpressionAttributeValues=to_values({":into": survivor.conversation_id}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return from_item(response["Attributes"])

    def move_message(self, item: dict[str, Any], survivor: Route) -> bool:
        """Move one message into the survivor's conversation, atomically.

        The copy, the re-pointed id claims, the deleted original and the survivor's
        message count change together; if the original is already gone (moved by an
        earlier run), nothing happens and False is returned.
        """
        moved = message_item_moved(item, survivor)
        transaction: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table, "Item": to_item(moved)}},
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": to_item({keys.PK: item[keys.PK], keys.SK: item[keys.SK]}),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(keys.conversation_key(survivor.conversation_id)),
                    "UpdateExpression": "ADD message_count :one",
                    "ExpressionAttributeValues": to_values({":one": 1}),
                }
            },
        ]
        for provider, provider_id in item.get("claims", []):
            transaction.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_item(keys.provider_key(provider, provider_id)),
                        "UpdateExpression": "SET customer_id = :customer, conversation_id = :conversation",
                        "ConditionExpression": "attribute_exists(pk) AND message_id = :message",
                        "ExpressionAttributeValues": to_values(
                            {
                                ":customer": survivor.customer_id,
                                ":conversation": survivor.conversation_id,
                                ":message": item["message_id"],
                            }
                        ),
                    }
                }
            )
        try:
            retry_conflicts(lambda: self._client.transact_write_items(TransactItems=transaction))
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                codes = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if codes[1] == "ConditionalCheckFailed":
                    return False
            raise
        return True

    def fold_summary(self, survivor: Route, absorbed: dict[str, Any]) -> None:
        """Carry the absorbed conversation's latest activity and waiting state over.

        Conditional updates, so a repeat (or a newer message on the survivor) never
        moves the survivor's last activity back or its waiting-since forward.
        """
        key = to_item(keys.conversation_key(survivor.conversation_id))
        last = absorbed["last_activity_at"]
        self._conditional_update(
            key,
            "SET last_activity_at = :last, activity_sk = :activity, last_message_preview = :preview, channel = :channel",
            "attribute_exists(pk) AND last_activity_at < :last",
            {
                ":last": last,
                ":activity": keys.activity_sort_key(last, survivor.conversation_id),
                ":preview": absorbed.get("last_message_preview", ""),
                ":channel": absorbed["channel"],
            },
        )
        if absorbed.get("status") == ConversationStatus.WAITING_ON_US.value and absorbed.get("waiting_since"):
            self._conditional_update(
                key,
                "SET #status = :waiting, waiting_since = :since",
                "attribute_exists(pk) AND (attribute_not_exists(waiting_since) OR waiting_since > :since)",
                {":waiting": ConversationStatus.WAITING_ON_US.value, ":since": absorbed["waiting_since"]},
                names={"#status": "status"},
            )

    def reassign_conversation(self, conversation_id: str, survivor_id: str) -> None:
        """An older conversation of the absorbed customer now belongs to the survivor."""
        self._conditional_update(
            to_item(keys.conversation_key(conversation_id)),
            "SET customer_id = :customer",
            "attribute_exists(pk)",
            {":customer": survivor_id},
        )

    def finish_merge(self, absorbed_id: str, survivor_id: str, now: datetime) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=to_item(keys.customer_key(absorbed_id)),
            UpdateExpression="SET merge_completed_at = if_not_exists(merge_completed_at, :now)",
            ExpressionAttributeValues=to_values({":now": iso_utc(now)}),
        )
        self._set_pending(survivor_id, absorbed_id, "DELETE")

    def _conditional_update(
        self, key: dict[str, Any], expression: str, condition: str, values: dict[str, Any], names: dict[str, str] | None = None
    ) -> bool:
        return update_if(
            self._client,
            TableName=self._table,
            Key=key,
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeValues=to_values(values),
            **({"ExpressionAttributeNames": names} if names else {}),
        )


def _customer(item: dict[str, Any]) -> Customer:
    identities = tuple(Identity.from_dict(value) for _, value in sorted(item.get("identities", {}).items()))
    return Customer(
        customer_id=item["customer_id"],
        display_name=item.get("display_name"),
        identities=identities,
        conversation_ids=tuple(sorted(item.get("conversation_ids", set()))),
        current_conversation_id=item["current_conversation_id"],
        created_at=datetime.fromisoformat(item["created_at"]),
        merged_into=item.get("merged_into"),
        merge_completed_at=datetime.fromisoformat(item["merge_completed_at"]) if item.get("merge_completed_at") else None,
        merges_pending=tuple(sorted(item.get("merges_pending", set()))),
    )
