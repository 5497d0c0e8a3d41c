"""Where a poller stopped: e.g. the newest X mention already stored."""

from __future__ import annotations

from typing import Any

from switchboard.store import keys
from switchboard.store.dynamo import from_item, to_item, to_values, update_if


class CheckpointStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, name: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key=to_item(keys.checkpoint_key(name)), ConsistentRead=True
        ).get("Item")
        return str(from_item(item)["position"]) if item else None

    def advance(self, name: str, position: int, moment: str) -> bool:
        """Move forward only: a slow poll finishing late never moves the checkpoint back."""
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.checkpoint_key(name)),
            UpdateExpression="SET #position = :position, updated_at = :moment",
            ConditionExpression="attribute_not_exists(#position) OR #position < :position",
            ExpressionAttributeNames={"#position": "position"},
            ExpressionAttributeValues=to_values({":position": position, ":moment": moment}),
        )
