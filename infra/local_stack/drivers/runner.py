"""What every source shares: invoking its function and recording the invocation.

FunctionRunner invokes a function in this process, times it and logs one line per
invocation, as the gateway does; reported_failures reads a ReportBatchItemFailures
response; DriverError is an event source AWS would refuse, or one the local stack
cannot serve.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, TextIO

from local_stack.template import FunctionSpec

HISTORY_SIZE = 10_000

Invoke = Callable[[FunctionSpec, Any], Any]
ClientFactory = Callable[[str], Any]  # service name → boto3 client


class DriverError(RuntimeError):
    """An event source AWS would refuse, or one the local stack cannot serve."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Invocation:
    source: str  # "stream Table", "sqs OutboxQueue", "schedule XMentionsFunctionPoll"
    function_id: str
    size: int  # records or messages in the event; 0 for a schedule
    failed: int  # items that failed (all of them when the function raised)
    error: str | None  # "ValueError: boom" when the function raised
    elapsed_ms: float


@dataclass(frozen=True)
class Call:
    result: Any
    error: Exception | None
    elapsed_ms: float


class FunctionRunner:
    """Invokes a function, times it, and logs one line per invocation like the gateway."""

    def __init__(self, invoke: Invoke, log: TextIO) -> None:
        self.invoke = invoke
        self.log = log
        self.history: deque[Invocation] = deque(maxlen=HISTORY_SIZE)
        self.total = 0
        self._lock = threading.Lock()

    def call(self, spec: FunctionSpec, event: Any) -> Call:
        started = time.perf_counter()
        try:
            result, error = self.invoke(spec, event), None
        except Exception as exc:  # a function error, as Lambda reports it; the source decides what to retry
            result, error = None, exc
            traceback.print_exception(exc, file=self.log)
        return Call(result, error, (time.perf_counter() - started) * 1000)

    def report(self, source: str, spec: FunctionSpec, call: Call, size: int = 0, unit: str = "", failed: int = 0) -> None:
        error = f"{type(call.error).__name__}: {call.error}" if call.error else None
        line = f"{source} → {spec.logical_id}"
        if size:
            line += f" {size} {unit}{'' if size == 1 else 's'}"
        if error:
            line += f" error ({error})"
        elif failed:
            line += f" {failed} failed"
        print(f"{line} {call.elapsed_ms:.0f} ms", file=self.log, flush=True)
        with self._lock:
            self.history.append(Invocation(source, spec.logical_id, size, size if error else failed, error, call.elapsed_ms))
            self.total += 1

    def note(self, line: str) -> None:
        print(line, file=self.log, flush=True)


def reported_failures(result: Any, item_ids: list[str]) -> list[str] | None:
    """The item ids a ReportBatchItemFailures response lists; None when it fails the whole batch.

    Lambda's rules: no response, no list or an empty list is a success; a response that is
    not an object, or an itemIdentifier that is missing, empty or not in the batch, fails it all.
    """
    if result is None:
        return []
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures") or []
    if not isinstance(failures, list):
        return None
    ids = [failure.get("itemIdentifier") if isinstance(failure, dict) else None for failure in failures]
    if any(not isinstance(item, str) or item not in item_ids for item in ids):
        return None
    return ids
