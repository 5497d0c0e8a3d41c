"""Typed DynamoDB items with the low-level client (transactions need it)."""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Iterator, TypeVar

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


def query_items(client: Any, **request: Any) -> Iterator[dict[str, Any]]:
    """A Query's items as Python values, page after page (DynamoDB pages at 1 MB)."""
    for page in client.get_paginator("query").paginate(**request):
        for item in page["Items"]:
            yield from_item(item)


def cancellation_codes(error: ClientError) -> list[str]:
    """The per-item reasons of a cancelled transaction, in request order."""
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


def cancellation_items(error: ClientError) -> list[dict[str, Any] | None]:
    """The items a cancelled transaction's failed conditions returned (ReturnValuesOnConditionCheckFailure)."""
    return [
        from_item(reason["Item"]) if reason.get("Item") else None
        for reason in error.response.get("CancellationReasons", [])
    ]


def batch_get(
    client: Any, table: str, keys: list[dict[str, str]], projection: str | None, consistent: bool
) -> list[dict[str, Any]]:
    """BatchGetItem of up to 100 keys in one round trip, retrying what DynamoDB left unprocessed."""
    if not keys:
        return []
    if len(keys) > 100:
        return batch_get(client, table, keys[:100], projection, consistent) + batch_get(
            client, table, keys[100:], projection, consistent
        )
    request: dict[str, Any] = {"Keys": [to_item(key) for key in keys], "ConsistentRead": consistent}
    if projection:
        request["ProjectionExpression"] = projection
    found: list[dict[str, Any]] = []
    pending = {table: request}
    for attempt in range(8):
        response = client.batch_get_item(RequestItems=pending)
        found += [from_item(item) for item in response["Responses"].get(table, [])]
        pending = response.get("UnprocessedKeys") or {}
        if not pending:
            return found
        time.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise RuntimeError(f"DynamoDB left {len(pending[table]['Keys'])} keys unprocessed after retries")


def is_transaction_cancelled(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "TransactionCanceledException"


def update_if(client: Any, **request: Any) -> bool:
    """UpdateItem with a ConditionExpression: False when the condition fails, rather than an error.

    Retried when it meets a running transaction on the same item.
    """
    try:
        retry_conflicts(lambda: client.update_item(**request))
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


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
            # A single-item write that meets a running transaction fails with TransactionConflictException.
            throttled = error.response["Error"]["Code"] in ("TransactionInProgressException", "TransactionConflictException")
            if not (conflict or throttled) or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
    raise AssertionError("unreachable")
