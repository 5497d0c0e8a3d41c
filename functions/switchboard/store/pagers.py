"""Each agent's pager state (bundling window, pending digest, recent sends), versioned.

Routers and the tick may update one agent's pager at once: every write is conditional
on the version read, and the loser reads again and recomputes.
"""

from __future__ import annotations

from typing import Any

from switchboard.store import keys

# Optimistic writes of one agent's pager: attempts before giving up (the caller's retry then reads again).
WRITE_ATTEMPTS = 8
from switchboard.store.dynamo import from_item, to_item, to_values, update_if


class PagerStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, agent_id: str) -> tuple[dict[str, Any], int]:
        """The agent's pager document (empty when never paged) and its version."""
        item = self._client.get_item(
            TableName=self._table, Key=to_item(keys.pager_key(agent_id)), ConsistentRead=True
        ).get("Item")
        if not item:
            return {}, 0
        values = from_item(item)
        return values.get("state", {}), int(values.get("version", 0))

    def put(self, agent_id: str, state: dict[str, Any], version: int) -> bool:
        """Save the state if nobody changed it since `version` was read; False otherwise."""
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.pager_key(agent_id)),
            UpdateExpression="SET #state = :state, #version = :next, agent_id = :agent",
            ConditionExpression="attribute_not_exists(#version) OR #version = :version",
            ExpressionAttributeNames={"#state": "state", "#version": "version"},
            ExpressionAttributeValues=to_values({":state": state, ":next": version + 1, ":version": version, ":agent": agent_id}),
        )

    def all(self) -> list[tuple[str, dict[str, Any], int]]:
        """Every agent's pager (one Query: a partition of one item per agent)."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_values({":pk": keys.PAGER_PK}),
            ConsistentRead=True,
        )
        return [
            (values["agent_id"], values.get("state", {}), int(values.get("version", 0)))
            for values in (from_item(item) for item in response["Items"])
        ]
