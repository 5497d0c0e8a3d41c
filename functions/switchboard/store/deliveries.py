"""What became of each SMS we sent: Twilio's status callbacks, recorded by MessageSid."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switchboard.models import OutboundMessage, iso_utc
from switchboard.store import keys
from switchboard.store.dynamo import from_item, to_item, to_values, update_if

PROVIDER = "twilio-out"
# Twilio's statuses, in the order a message goes through them: a late callback for an
# earlier status never overwrites a later one.
STATUS_ORDER = ["accepted", "scheduled", "queued", "sending", "sent", "receiving", "received", "delivered", "read", "undelivered", "failed", "canceled"]


class DeliveryStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def sent(self, message: OutboundMessage, provider_id: str, status: str, now: datetime) -> None:
        """Remember a sent SMS under its MessageSid, with what it was for."""
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    **keys.provider_key(PROVIDER, provider_id),
                    "type": "delivery",
                    "purpose": message.purpose.value,
                    "conversation_id": message.conversation_id,
                    "stream_message_id": message.stream_message_id,
                    "agent_id": message.agent_id,
                    # A notice's callbacks settle its notice (update, channel, address); 21610 opts `to` out.
                    "notice_update_id": message.notice.get("update_id"),
                    "to": message.to,
                    "status": status,
                    "status_rank": _rank(status),
                    "sent_at": iso_utc(now),
                }
            ),
        )

    def record_status(self, provider_id: str, status: str, error_code: str | None, now: datetime) -> dict[str, Any] | None:
        """Record a status callback; returns the delivery (with what it was for), or None
        when the MessageSid is not ours or the status is older than the one recorded."""
        values = {":status": status, ":rank": _rank(status), ":now": iso_utc(now)}
        expression = "SET #status = :status, status_rank = :rank, status_at = :now"
        if error_code:
            expression += ", error_code = :error"
            values[":error"] = error_code
        if not update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.provider_key(PROVIDER, provider_id)),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk) AND status_rank <= :rank",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_values(values),
        ):
            return None
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.provider_key(PROVIDER, provider_id)), ConsistentRead=True).get("Item")
        return from_item(item) if item else None


def _rank(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else 0
