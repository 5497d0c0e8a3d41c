"""Where the data lives: a deployed stack (--stack NAME) or the local stack, and what the commands read there."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from switchboard.cli.errors import CliError


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


def physical_id(stack_name: str | None, logical_id: str) -> str:
    """A template resource's physical id (a queue's URL, a function's name): from the
    deployed stack, or as the local stack names it."""
    if not stack_name:
        from local_stack.stack import LOCAL_PARAMETERS
        from local_stack.template import Resolver, Template

        return str(Resolver(Template(), {"PublicUrl": "http://127.0.0.1", **LOCAL_PARAMETERS}).resolve({"Ref": logical_id}))
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        detail = boto3.client("cloudformation").describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
    except (ClientError, BotoCoreError) as error:
        raise CliError(f"stack {stack_name!r} has no {logical_id}: {error}") from None
    return detail["StackResourceDetail"]["PhysicalResourceId"]


def open_conversation_store():
    import boto3

    from switchboard.store.conversations import ConversationStore

    return ConversationStore(boto3.client("dynamodb"), required_env("TABLE_NAME"))


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CliError(f"{name} is not set; use --stack NAME or the local stack")
    return value


def function_settings(stack_name: str | None, logical_id: str):
    """The settings one of the stack's functions runs with, so a command acts as it would:
    the deployed function's environment, or (inside data_environment) the local stack's,
    which the process already carries."""
    from switchboard.settings import SettingsError, load_settings

    environment: dict[str, str] = dict(os.environ)
    if stack_name:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        name = physical_id(stack_name, logical_id)
        try:
            configuration = boto3.client("lambda").get_function_configuration(FunctionName=name)
        except (ClientError, BotoCoreError) as error:
            raise CliError(f"cannot read {logical_id}'s settings in stack {stack_name!r}: {error}") from None
        environment = (configuration.get("Environment") or {}).get("Variables") or {}
    try:
        return load_settings(environment)
    except SettingsError as error:
        raise CliError(f"{logical_id}'s settings: {error}") from None
