"""GET /status: the public status page, HTML for people and JSON for programs.

JSON when asked for with `?format=json` or an Accept header that prefers
application/json; HTML otherwise (browsers, curl's */*). Each view is two Queries;
browsers and shared caches may reuse an answer for 30 seconds. When the table cannot be
read the page says so with a 503, never a stack trace.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.incidents.status_page import HISTORY_DAYS, render_html, status_summary
from switchboard.models import utc_now
from switchboard.observability import logger
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.incidents import IncidentStore

settings = get_settings()
PAGE_NAME = f"{settings.brand_name} status"

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # The page has no script and never needs one: an injected <script> would not run.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'",
}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = utc_now()
    try:
        store = IncidentStore(clients.dynamodb(), settings.table_name)
        components = store.components()
        incidents = store.list(since=now - timedelta(days=HISTORY_DAYS))
    except Exception:
        logger.exception("status page: the incidents could not be read")
        return _response(
            503,
            "text/plain; charset=utf-8",
            "The status page is unavailable right now. Please try again in a minute.\n",
            {"Cache-Control": "no-store", "Retry-After": "30"},
        )
    summary = status_summary(components, incidents, now, PAGE_NAME)
    cache = {"Cache-Control": "public, max-age=30", "Vary": "Accept"}
    if wants_json(event):
        return _response(200, "application/json; charset=utf-8", json.dumps(summary, ensure_ascii=False), cache)
    return _response(200, "text/html; charset=utf-8", render_html(summary), cache)


def wants_json(event: dict[str, Any]) -> bool:
    """?format=json|html decides; otherwise JSON only when Accept ranks it above HTML."""
    chosen = (event.get("queryStringParameters") or {}).get("format", "").lower()
    if chosen in ("json", "html"):
        return chosen == "json"
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    accept = headers.get("accept", "")
    return accept_quality(accept, "application/json") > accept_quality(accept, "text/html")


def accept_quality(accept: str, media_type: str) -> float:
    """The q-value an Accept header gives a media type: that of its most specific matching range (RFC 9110, 12.5.1)."""
    family = media_type.split("/")[0]
    specificity_of = {media_type: 2, f"{family}/*": 1, "*/*": 0}
    best_specificity, quality = -1, 0.0
    for member in accept.split(","):
        media_range, *parameters = (piece.strip() for piece in member.split(";"))
        specificity = specificity_of.get(media_range.lower(), -1)
        if specificity <= best_specificity:
            continue
        best_specificity, quality = specificity, 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
    return quality


def _response(status: int, content_type: str, body: str, headers: dict[str, str]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": content_type, **headers, **_SECURITY_HEADERS}, "body": body}
