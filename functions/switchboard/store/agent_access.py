"""Who may open the agents' pages (agent_pages/): links to one conversation, one-time
sign-in links, and sessions. Each item is found by its token's digest (link_tokens.py),
ends by its own expiry (checked here: the table's TTL deletes lazily), and names the agent
it was issued to and when, so that removing an agent, or signing them out everywhere
(Agent.access_since), ends every one of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from switchboard.models import iso_utc
from switchboard.store import keys
from switchboard.store.dynamo import from_item, to_item, to_values


@dataclass(frozen=True)
class Grant:
    """What a token lets its holder be: an agent, since `issued_at`, until `expires_at`."""

    agent_id: str
    issued_at: datetime
    expires_at: datetime
    conversation_id: str | None = None  # a link: this conversation only


class AgentAccessStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put_link(self, token_digest: str, grant: Grant) -> None:
        self._put(keys.agent_link_key(token_digest), "agent_link", grant)

    def find_link(self, token_digest: str, now: datetime) -> Grant | None:
        return self._find(keys.agent_link_key(token_digest), now)

    def put_session(self, token_digest: str, grant: Grant) -> None:
        self._put(keys.session_key(token_digest), "agent_session", grant)

    def find_session(self, token_digest: str, now: datetime) -> Grant | None:
        return self._find(keys.session_key(token_digest), now)

    def end_session(self, token_digest: str) -> None:
        self._client.delete_item(TableName=self._table, Key=to_item(keys.session_key(token_digest)))

    def put_sign_in(self, token_digest: str, grant: Grant) -> None:
        self._put(keys.sign_in_key(token_digest), "sign_in_link", grant)

    def use_sign_in(self, token_digest: str, now: datetime) -> Grant | None:
        """A sign-in link, used up: deleted as it is read, so a second use (or a race) finds nothing."""
        try:
            response = self._client.delete_item(
                TableName=self._table, Key=to_item(keys.sign_in_key(token_digest)), ReturnValues="ALL_OLD",
                ConditionExpression="attribute_exists(pk) AND #expires >= :now",
                ExpressionAttributeNames={"#expires": keys.TTL_ATTRIBUTE},
                ExpressionAttributeValues=to_values({":now": int(now.timestamp())}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return _grant(from_item(response["Attributes"]))

    def peek_sign_in(self, token_digest: str, now: datetime) -> Grant | None:
        """A sign-in link, unused: what its page shows before the agent presses the button."""
        return self._find(keys.sign_in_key(token_digest), now)

    def _put(self, key: dict[str, str], kind: str, grant: Grant) -> None:
        item = {
            **key, "type": kind, "agent_id": grant.agent_id, "issued_at": iso_utc(grant.issued_at),
            keys.TTL_ATTRIBUTE: int(grant.expires_at.timestamp()),
        }
        if grant.conversation_id:
            item["conversation_id"] = grant.conversation_id
        self._client.put_item(TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")

    def _find(self, key: dict[str, str], now: datetime) -> Grant | None:
        item = self._client.get_item(TableName=self._table, Key=to_item(key), ConsistentRead=True).get("Item")
        grant = _grant(from_item(item)) if item else None
        return grant if grant and grant.expires_at >= now else None


def _grant(values: dict[str, Any]) -> Grant:
    return Grant(
        agent_id=values["agent_id"],
        issued_at=datetime.fromisoformat(values["issued_at"]),
        expires_at=datetime.fromtimestamp(int(values[keys.TTL_ATTRIBUTE]), timezone.utc),
        conversation_id=values.get("conversation_id"),
    )
