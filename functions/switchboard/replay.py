"""A request kept in quarantine after an internal failure, made into the event it came as,
so that `switchboard quarantine replay` can hand it to its function again. Pure.

Only what we failed on is replayed (a 5xx, kept whole): a refused request (4xx) would be
refused again, and a cut body is not the request. A replay of something stored since is
a no-op: every webhook claims its provider's id (MessageSid, CallSid) exactly once.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any


class NotReplayable(ValueError):
    """The kept record cannot be replayed; the message says why."""


def replay_event(record: dict[str, Any]) -> dict[str, Any]:
    """The API Gateway (payload 2.0) event of a kept request."""
    status = int(record.get("status", 0))
    if status < 500:
        raise NotReplayable(f"it was refused ({status}: {record.get('reason')}), and would be again; replay is for requests we failed to store")
    if record.get("body_truncated"):
        raise NotReplayable("only part of its body was kept")
    route = str(record.get("route", ""))
    method, _, template_path = route.partition(" ")
    if not template_path.startswith("/"):
        raise NotReplayable(f"{route!r} is not an HTTP route")
    path = record.get("path") or template_path
    parameters = path_parameters(template_path, path)
    if parameters is None:
        raise NotReplayable(f"its path {path!r} is not one of route {route!r} (kept before paths were)")
    raw = record.get("body", "")
    body = base64.b64decode(raw) if record.get("body_encoding") == "base64" else str(raw).encode("utf-8")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": record.get("query") or "",
        "headers": dict(record.get("headers") or {}),
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": record.get("source_ip") or ""},
            "requestId": f"replay-{uuid.uuid4()}",
            "routeKey": route,
            "stage": "$default",
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
    if parameters:
        event["pathParameters"] = parameters
    return event


def path_parameters(template_path: str, path: str) -> dict[str, str] | None:
    """The {name} values of a route's path in a request's path, or None if it is not one."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template_path))
    found = re.fullmatch(pattern, path)
    return found.groupdict() if found else None
