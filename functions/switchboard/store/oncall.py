"""The on-call configuration: agents, the schedule, its overrides, in one small partition.

Everything the router and the escalation tick need to know about who is on call is
read with one Query. Items are plain documents here; `oncall.config` turns them into
the schedule's dataclasses (the store sits below the domain and does not import it).
An agent's phone number is also marked on its identity item, so an inbound SMS learns
"agent or customer?" from the same GetItem that resolves customers.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from switchboard.store import keys
from switchboard.store.dynamo import from_item, query_items, retry_conflicts, to_item, to_values


class AgentPhoneTaken(Exception):
    """Another agent already has this phone number."""


class OncallStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def load(self) -> list[dict[str, Any]]:
        """Every item of the configuration partition (agents, schedule, overrides)."""
        return list(
            query_items(
                self._client,
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_values({":pk": keys.ONCALL_PK}),
                ConsistentRead=True,
            )
        )

    def get_agent(self, agent_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.agent_key(agent_id))).get("Item")
        return from_item(item) if item else None

    def put_agent(self, agent: dict[str, Any], previous_phone: str | None) -> None:
        """Add or update an agent, and mark its phone's identity item as this agent's.

        One transaction: the agent item, the phone marked (failing if another agent has
        it), and the previous phone unmarked when the number changed.
        """
        agent_id, phone = agent["agent_id"], agent["phone"]
        transaction: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table, "Item": to_item({**keys.agent_key(agent_id), "type": "agent", **agent})}},
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(keys.identity_key("phone", phone)),
                    "UpdateExpression": "SET agent_id = :agent",
                    "ConditionExpression": "attribute_not_exists(agent_id) OR agent_id = :agent",
                    "ExpressionAttributeValues": to_values({":agent": agent_id}),
                }
            },
        ]
        if previous_phone and previous_phone != phone:
            transaction.append(self._unmark_phone(previous_phone, agent_id))
        try:
            retry_conflicts(lambda: self._client.transact_write_items(TransactItems=transaction))
        except ClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise AgentPhoneTaken(phone) from None
            raise

    def delete_agent(self, agent_id: str, phone: str) -> None:
        transaction = [
            {"Delete": {"TableName": self._table, "Key": to_item(keys.agent_key(agent_id))}},
            self._unmark_phone(phone, agent_id),
        ]
        retry_conflicts(lambda: self._client.transact_write_items(TransactItems=transaction))

    def put_schedule(self, schedule: dict[str, Any]) -> None:
        self._client.put_item(TableName=self._table, Item=to_item({**keys.schedule_key(), "type": "schedule", **schedule}))

    def put_policy(self, policy: dict[str, Any]) -> None:
        self._client.put_item(TableName=self._table, Item=to_item({**keys.policy_key(), "type": "policy", "policy": policy}))

    def put_override(self, override: dict[str, Any]) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_item({**keys.override_key(override["override_id"]), "type": "override", **override}),
        )

    def delete_override(self, override_id: str) -> bool:
        response = self._client.delete_item(
            TableName=self._table, Key=to_item(keys.override_key(override_id)), ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))

    def _unmark_phone(self, phone: str, agent_id: str) -> dict[str, Any]:
        # Only the mark: a customer identity on the same number (an agent who once wrote
        # in as a customer) keeps its customer.
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item(keys.identity_key("phone", phone)),
                "UpdateExpression": "REMOVE agent_id",
                "ConditionExpression": "attribute_not_exists(agent_id) OR agent_id = :agent",
                "ExpressionAttributeValues": to_values({":agent": agent_id}),
            }
        }
