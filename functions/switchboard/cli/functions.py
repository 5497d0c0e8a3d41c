"""Running one of the stack's functions from the CLI, as its event source would: the
deployed function (Lambda Invoke, --stack NAME), or the local stack's (in this process).

`quarantine replay` and `dlq redrive` hand a function what it once failed on.
"""

from __future__ import annotations

import json
from typing import Any

from switchboard.cli.errors import CliError


def invoke_function(stack_name: str | None, logical_id: str, event: Any, asynchronous: bool = False) -> Any:
    """The function's result (None when asynchronous: Lambda queued the event)."""
    if stack_name:
        return _invoke_deployed(stack_name, logical_id, event, asynchronous)
    from local_stack.invoke import invoke, load_handler
    from local_stack.template import Template

    from switchboard.cli.environment import local_stack_attached

    import contextlib
    import sys

    spec = Template().functions()[logical_id]
    with local_stack_attached():
        load_handler(spec)
        # The function's logs and metrics go to stderr: the command's output stays alone on stdout.
        _function_logs_to_stderr()
        with contextlib.redirect_stdout(sys.stderr):
            return invoke(spec, event)


def _function_logs_to_stderr() -> None:
    import logging
    import sys

    for name in ("switchboard", *logging.root.manager.loggerDict):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is sys.stdout:
                handler.setStream(sys.stderr)


def _invoke_deployed(stack_name: str, logical_id: str, event: Any, asynchronous: bool) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from switchboard.cli.environment import physical_id

    name = physical_id(stack_name, logical_id)
    try:
        response = boto3.client("lambda").invoke(
            FunctionName=name, InvocationType="Event" if asynchronous else "RequestResponse", Payload=json.dumps(event).encode()
        )
    except (ClientError, BotoCoreError) as error:
        raise CliError(f"cannot invoke {logical_id} of stack {stack_name!r}: {error}") from None
    if asynchronous:
        return None
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise CliError(f"{logical_id} failed: {payload.get('errorMessage') if isinstance(payload, dict) else payload}")
    return payload
