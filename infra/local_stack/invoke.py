"""Running a function of template.yaml in this process, as Lambda would."""

from __future__ import annotations

import contextvars
import importlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from local_stack.template import ACCOUNT_ID, REGION, FunctionSpec


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[{self.function_version}]{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def load_handler(spec: FunctionSpec) -> Callable[[Any, Any], Any]:
    """Import the handler module (its cold start) and return the handler function."""
    module_name, _, function_name = spec.handler.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


# The function whose invocation this thread is running: what a test's IAM check charges
# each AWS call to (tests/iam_grants.py).
CURRENT_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("CURRENT_FUNCTION", default=None)


def invoke(spec: FunctionSpec, event: Any) -> Any:
    token = CURRENT_FUNCTION.set(spec.logical_id)  # its cold start's calls are the function's too
    try:
        handler = load_handler(spec)
        # As in Lambda, the function's Timeout counts from after the init (the import).
        return handler(event, LambdaContext(spec.logical_id, spec.memory, spec.timeout))
    finally:
        CURRENT_FUNCTION.reset(token)


class FunctionTimedOut(Exception):
    """The function ran past its Timeout: Lambda ends such an invocation, its caller sees an error."""


def invoke_within_timeout(spec: FunctionSpec, event: Any) -> Any:
    """invoke, abandoned at the function's Timeout as Lambda abandons it (FunctionTimedOut).

    The gateway and the event sources invoke this way, so what a caller sees of a slow
    function is what AWS shows. (Lambda also freezes the abandoned invocation; a thread
    cannot be stopped, so locally it runs on, unseen.) The import (init) is outside the
    Timeout, as in Lambda.
    """
    load_handler(spec)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = invoke(spec, event)
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error

    worker = threading.Thread(target=run, name=f"invoke-{spec.logical_id}", daemon=True)
    worker.start()
    worker.join(spec.timeout)
    if worker.is_alive():
        raise FunctionTimedOut(f"Task timed out after {spec.timeout:.2f} seconds")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
