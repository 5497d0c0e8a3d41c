"""How often a caller may use a public form: fixed-window counters in the table.

One item per (limit, caller, window), counted with a conditional ADD, so concurrent
requests never exceed the limit, and expired by the table's TTL once its window ends.
Callers are stored as a hash (an address or an IP is personal data; a counter needs
neither), and an IPv6 source counts by its /64, which one subscriber line gets.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from switchboard.store import keys
from switchboard.store.dynamo import to_item, to_values, update_if


@dataclass(frozen=True)
class Limit:
    name: str  # "subscribe-address", "subscribe-source", "subscribe-all"
    allowed: int  # requests per window
    window: timedelta


def source_key(ip: str | None) -> str:
    """The caller behind an IP: the address itself, or an IPv6 /64 network."""
    try:
        parsed = ipaddress.ip_address(ip or "")
    except ValueError:
        return "unknown"
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class RateLimits:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def take(self, limit: Limit, caller: str, now: datetime) -> int | None:
        """Count one request; None when it is allowed, else the seconds until it would be (Retry-After)."""
        seconds = int(limit.window.total_seconds())
        start = int(now.timestamp()) // seconds * seconds
        ends = start + seconds
        digest = hashlib.sha256(f"{limit.name}#{caller}".encode()).hexdigest()[:32]
        counted = update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.rate_limit_key(limit.name, digest, start)),
            UpdateExpression="ADD #count :one SET #type = :type, #expires = :expires",
            ConditionExpression="attribute_not_exists(#count) OR #count < :allowed",
            ExpressionAttributeNames={"#count": "count", "#type": "type", "#expires": keys.TTL_ATTRIBUTE},
            ExpressionAttributeValues=to_values({":one": 1, ":type": "rate_limit", ":expires": ends, ":allowed": limit.allowed}),
        )
        return None if counted else max(1, math.ceil(ends - now.timestamp()))


