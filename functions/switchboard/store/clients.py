"""The AWS clients of a warm function, created on first use (not at import: cold start)."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def dynamodb() -> Any:
    import boto3
    from botocore.config import Config

    # DynamoDB validates every request itself; skipping botocore's client-side copy of
    # that check saves ~0.5 ms of CPU per call on the hot path.
    return boto3.client("dynamodb", config=Config(parameter_validation=False))


@cache
def s3() -> Any:
    import boto3

    return boto3.client("s3")


@cache
def sqs() -> Any:
    import boto3

    return boto3.client("sqs")


@cache
def ses() -> Any:
    import boto3

    return boto3.client("ses")
