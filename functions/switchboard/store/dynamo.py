"""Typed DynamoDB items with the low-level client (transactions need it)."""

from __future__ import annotations

import random
import time
from typing import Any, Callable, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

T = TypeVar("T")


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Python values → DynamoDB attribute values; None and empty strings are dropped."""
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None and v != ""}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def to_values(values: dict[str, Any]) -> dict[str, Any]:
    """Expression attribute values (empty strings kept: they may be meaningful there)."""
    return {k: _serializer.serialize(v) for k, v in values.items()}


def cancellation_codes(error: ClientError) -> list[str]:
    """The per-item reasons of a cancelled transaction, in request order."""
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


def is_transaction_cancelled(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "TransactionCanceledException"


def retry_conflicts(operation: Callable[[], T], attempts: int = 6) -> T:
    """Run a transaction, retrying when a concurrent one touched the same items.

    DynamoDB cancels (rather than queues) transactions that collide on an item, e.g.
    two messages for one conversation at once; both are valid, so the loser retries
    with jittered backoff. Condition failures are not conflicts and are re-raised.
    """
    for attempt in range(attempts):
        try:
            return operation()
        except ClientError as error:
            conflict = is_transaction_cancelled(error) and "TransactionConflict" in cancellation_codes(error)
            throttled = error.response["Error"]["Code"] in ("TransactionInProgressException",)
            if not (conflict or throttled) or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
    raise AssertionError("unreachable")
