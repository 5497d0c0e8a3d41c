"""JSON as Lambda sends it: times as ISO strings or epoch seconds, binaries as base64."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any


def epoch_seconds(moment: datetime) -> int | float:
    seconds = moment.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def iso(moment: datetime, milliseconds: bool = False) -> str:
    moment = moment.astimezone(timezone.utc)
    if milliseconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_from_epoch(seconds: float | None) -> str | None:
    return None if seconds is None else iso(datetime.fromtimestamp(seconds, timezone.utc))


def base64_text(value: bytes | str) -> str:
    raw = value if isinstance(value, bytes) else value.encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def jsonable(value: Any) -> Any:
    """boto3's attribute values → JSON: binaries (B, BS) as base64, as Lambda sends them."""
    if isinstance(value, bytes):
        return base64_text(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(item) for item in value]
    return value
