"""The shared send-time cursor of each channel (incidents/pacing.py explains the rule).

One small item per channel holds the next free send time. Taking a slot is one
conditional write on the value last seen; a sender that lost a race gets the current
value back with the failure (ReturnValuesOnConditionCheckFailure) and tries again.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from botocore.exceptions import ClientError

from switchboard.pacing import Slot, next_slot, still_on_time
from switchboard.store import keys
from switchboard.store.dynamo import from_item, to_item, to_values

MICROS = 1_000_000


class PacerStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name
        self._seen: dict[str, float | None] = {}  # channel → next free time last seen

    def reserve(self, channel: str, rate_per_second: float, clock: Callable[[], float]) -> Slot:
        seen = self._seen.get(channel)
        for _ in range(50):
            slot = next_slot(seen, clock(), rate_per_second)
            request: dict[str, Any] = {
                "TableName": self._table,
                "Key": to_item(keys.pacer_key(channel)),
                "UpdateExpression": "SET next_free = :next",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
            values = {":next": int(slot.next_free * MICROS)}
            if seen is None:
                request["ConditionExpression"] = "attribute_not_exists(next_free)"
            else:
                request["ConditionExpression"] = "next_free = :seen"
                values[":seen"] = int(seen * MICROS)
            request["ExpressionAttributeValues"] = to_values(values)
            try:
                self._client.update_item(**request)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                current = error.response.get("Item")
                seen = int(from_item(current)["next_free"]) / MICROS if current and "next_free" in current else None
                continue
            self._seen[channel] = slot.next_free
            return slot
        raise RuntimeError(f"could not take a send slot on {channel}: too much contention")

    def wait_for_slot(self, channel: str, rate_per_second: float, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> Slot:
        """Take the channel's next slot and sleep until it starts."""
        slot = self.reserve(channel, rate_per_second, clock)
        sleep(max(0.0, slot.send_at - clock()))
        return slot

    def wait_for_turn(self, channel: str, rate_per_second: float, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> float:
        """Wait for a slot still on time when we get to it; returns when the send may start."""
        while True:
            slot = self.wait_for_slot(channel, rate_per_second, clock, sleep)
            started = clock()
            if still_on_time(slot, started):
                return started
