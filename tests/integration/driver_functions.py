"""Small Lambda handlers for the drivers' tests (test_drivers.py names them in its template).

They remember every event per function (context.function_name) and fail when the
items they receive ask them to, so a test decides what fails by what it writes.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from typing import Any

calls: dict[str, list[Any]] = defaultdict(list)  # function name → the events it received
deliveries: Counter[tuple[str, str]] = Counter()  # (function name, item key) → times delivered
_lock = threading.Lock()


def reset() -> None:
    with _lock:
        calls.clear()
        deliveries.clear()


def _remember(event: Any, context: Any) -> None:
    with _lock:
        calls[context.function_name].append(event)


def record(event: Any, context: Any) -> None:
    _remember(event, context)


def partial_stream(event: Any, context: Any) -> dict[str, Any]:
    """Reports a record failed while it has been delivered no more than its `failures` attribute says."""
    _remember(event, context)
    failures = []
    for item in event["Records"]:
        image = item["dynamodb"]["NewImage"]
        key = (context.function_name, image["pk"]["S"])
        with _lock:
            deliveries[key] += 1
            seen = deliveries[key]
        if seen <= int(image.get("failures", {"N": "0"})["N"]):
            failures.append({"itemIdentifier": item["dynamodb"]["SequenceNumber"]})
    return {"batchItemFailures": failures}


def raising(event: Any, context: Any) -> None:
    _remember(event, context)
    raise RuntimeError("this function always fails")


def sqs_sender(event: Any, context: Any) -> dict[str, Any]:
    """Reports the messages whose JSON body says {"fail": true} as failed."""
    _remember(event, context)
    failed = [item["messageId"] for item in event["Records"] if json.loads(item["body"]).get("fail")]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def scheduled(event: Any, context: Any) -> dict[str, Any]:
    _remember(event, context)
    return {"ticked": True}
