"""The local outbox: messages that would have gone to Twilio or SES, kept in the table to be read back."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ulid import ULID

from switchboard.models import iso_utc
from switchboard.store import keys
from switchboard.store.dynamo import query_items, to_item, to_values


class OutboxStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put_sms(self, to: str, body: str) -> str:
        return self.put("sms", to, body)

    def put(self, channel: str, to: str, body: str, extra: dict[str, Any] | None = None) -> str:
        """Keep one message the local stack sent instead of a provider; returns its id."""
        outbox_id = str(ULID())
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    **keys.outbox_key(outbox_id),
                    "type": f"outbox_{channel}",
                    "channel": channel,
                    "outbox_id": outbox_id,
                    "to": to,
                    "body": body,
                    "extra": extra or None,
                    "sent_at": iso_utc(datetime.now(timezone.utc)),
                }
            ),
        )
        return outbox_id

    def list_sms(self, to: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first."""
        found: list[dict[str, Any]] = []
        for values in query_items(
            self._client,
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_values({":pk": keys.OUTBOX_PK}),
            ScanIndexForward=False,
            ConsistentRead=True,
        ):
            if to is None or values["to"] == to:
                found.append(values)
            if len(found) >= limit:
                return found
        return found
