"""Where a poller stopped: e.g. the newest X mention already stored, and, while a long
backlog is walked across polls, where that walk goes on."""

from __future__ import annotations

from typing import Any

from switchboard.store import keys
from switchboard.store.dynamo import from_item, to_item, to_values, update_if


class CheckpointStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def read(self, name: str) -> tuple[str | None, dict[str, str] | None]:
        """(position, backlog) in one read: the newest id stored, or None before the first
        poll; {"since_id", "next_token", "newest_id"} of an unfinished walk, or None."""
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.checkpoint_key(name)), ConsistentRead=True).get("Item")
        values = from_item(item) if item else {}
        position = values.get("position")
        return (None if position is None else str(position)), values.get("backlog")

    def save_backlog(self, name: str, backlog: dict[str, str], moment: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=to_item(keys.checkpoint_key(name)),
            UpdateExpression="SET backlog = :backlog, updated_at = :moment",
            ExpressionAttributeValues=to_values({":backlog": backlog, ":moment": moment}),
        )

    def advance(self, name: str, position: int, moment: str) -> bool:
        """Move forward only: a slow poll finishing late never moves the checkpoint back.
        A backlog walk is done when the checkpoint moves: it is forgotten with it."""
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.checkpoint_key(name)),
            UpdateExpression="SET #position = :position, updated_at = :moment REMOVE backlog",
            ConditionExpression="attribute_not_exists(#position) OR #position < :position",
            ExpressionAttributeNames={"#position": "position"},
            ExpressionAttributeValues=to_values({":position": position, ":moment": moment}),
        )
