"""Where the data lives: a deployed stack (--stack NAME) or the local stack, and what the commands read there."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from switchboard.cli.errors import EXIT_USAGE, CliError


@contextmanager
def data_environment(stack_name: str | None) -> Iterator[None]:
    """Point TABLE_NAME and QUARANTINE_BUCKET at a deployed stack, or at the local one."""
    if stack_name:
        os.environ.update(_stack_outputs(stack_name))
        yield
        return
    with local_stack_attached():
        yield


@contextmanager
def local_stack_attached() -> Iterator[None]:
    """The running local stack, or one started for this command; start failures become CliErrors."""
    from local_stack.processes import StartError
    from local_stack.stack import attached

    try:
        context = attached()
        context.__enter__()
    except StartError as error:
        raise CliError(f"cannot start the local stack: {error}") from None
    try:
        yield
    except BaseException:
        if not context.__exit__(*sys.exc_info()):
            raise
    else:
        context.__exit__(None, None, None)


def _stack_outputs(stack_name: str) -> dict[str, str]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise CliError(f"cannot read stack {stack_name!r}: {error}") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    missing = [key for key in ("TableName", "QuarantineBucketName") if key not in outputs]
    if missing:
        raise CliError(f"stack {stack_name!r} has no output {', '.join(missing)}: is it a Switchboard stack?")
    environment = {"TABLE_NAME": outputs["TableName"], "QUARANTINE_BUCKET": outputs["QuarantineBucketName"]}
    if "OutboxQueueUrl" in outputs:
        environment["OUTBOX_QUEUE_URL"] = outputs["OutboxQueueUrl"]
    return environment


def open_conversation_store():
    import boto3

    from switchboard.store.conversations import ConversationStore

    return ConversationStore(boto3.client("dynamodb"), required_env("TABLE_NAME"))


CUSTOMER_ID_PATTERN = r"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}"


def parse_customer_reference(text: str, default_region: str = "US"):
    """A customer id, or an identity: +E.164 phone, email address, or x:<numeric user id>."""
    import re

    from switchboard.models import Identity, IdentityKind

    value = text.strip()
    if re.fullmatch(CUSTOMER_ID_PATTERN, value):
        return value.upper()
    if value.lower().startswith("x:"):
        user_id = value[2:]
        if not user_id.isdigit():
            raise CliError(f"{text!r}: an X identity is x:<numeric user id>", EXIT_USAGE)
        return Identity(IdentityKind.X, user_id)
    if value.startswith("@"):
        raise CliError(f"{text!r}: X handles change hands; use x:<numeric user id> (see `customers show`)", EXIT_USAGE)
    if "@" in value:
        return Identity(IdentityKind.EMAIL, value.lower())
    from switchboard.channels.sms import to_e164
    from switchboard.errors import RejectedRequest

    try:
        return Identity(IdentityKind.PHONE, to_e164(value, default_region, "the phone number"))
    except RejectedRequest as error:
        raise CliError(
            f"{text!r} is not a customer id, an email address, x:<user id> or a phone number ({error.reason})", EXIT_USAGE
        ) from None


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CliError(f"{name} is not set; use --stack NAME or the local stack")
    return value
