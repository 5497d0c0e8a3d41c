"""The edge of every webhook: the request as received, and how refusals are answered.

A refused request is answered with its 4xx and reason, and kept in quarantine so an
operator can see what was refused: its metadata and the first 4 KB of its body, and,
past QUARANTINE_FULL_PER_MINUTE refusals a minute on a route, one in
QUARANTINE_SAMPLE_ONE_IN, so a flood of junk can neither fill the bucket nor bury what
matters. An internal failure is kept whole (it may need replaying) and answered 503 so
the provider retries. Neither is ever stored as a message.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, wraps
from typing import Any, Callable

from aws_lambda_powertools.metrics import MetricUnit

from switchboard.errors import RejectedRequest
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.quarantine import REQUEST_BODY_KEPT_BYTES, QuarantineStore, RejectedRequestRecord

# The end of a webhook's time that no AWS call may use: to answer 503 and keep the request.
RESERVE_SECONDS = 2.5


@dataclass(frozen=True)
class WebhookRequest:
    route: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names, as API Gateway v2 delivers them
    body: bytes
    source_ip: str | None
    request_id: str | None
    path_parameters: dict[str, str] = field(default_factory=dict)  # {name} parts of the route
    cookies: dict[str, str] = field(default_factory=dict)  # payload 2.0 moves Cookie headers here

    @classmethod
    def from_api_gateway(cls, event: dict[str, Any]) -> "WebhookRequest":
        """From an API Gateway HTTP API event (payload format 2.0).

        Read directly rather than through powertools' event data classes, whose
        package import costs ~20 ms of cold start for the five fields used here.
        """
        raw = event.get("body") or ""
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
        context = event.get("requestContext") or {}
        return cls(
            route=event.get("routeKey", ""),
            path=event.get("rawPath", ""),
            query=event.get("rawQueryString") or "",
            headers={name.lower(): value for name, value in (event.get("headers") or {}).items()},
            body=body,
            source_ip=(context.get("http") or {}).get("sourceIp"),
            request_id=context.get("requestId"),
            path_parameters=dict(event.get("pathParameters") or {}),
            cookies=dict(cookie.strip().partition("=")[::2] for cookie in event.get("cookies") or [] if "=" in cookie),
        )

    def public_url(self, base_url: str) -> str:
        """The URL the provider signed: the configured public base, this path, this query."""
        return f"{base_url}{self.path}" + (f"?{self.query}" if self.query else "")


@cache
def _quarantine() -> QuarantineStore:
    settings = get_settings()
    return QuarantineStore(clients.s3(), settings.quarantine_bucket, settings.quarantine_prefix)


def twilio_form(request: WebhookRequest) -> dict[str, str]:
    """The request's form, verified as Twilio's (size, type, signature over the public URL)."""
    # Imported here so the functions that take no Twilio webhook (email, X) never load it.
    from switchboard.channels.twilio_webhook import verified_form
    from switchboard.settings import get_secret

    settings = get_settings()

    def verify(fresh: bool) -> dict[str, str]:
        return verified_form(
            url=request.public_url(settings.public_url),
            content_type=request.headers.get("content-type"),
            body=request.body,
            signature=request.headers.get("x-twilio-signature"),
            auth_token=get_secret(settings.twilio_auth_token_parameter, settings.secret_max_age_seconds, fresh=fresh),
            max_body_bytes=settings.max_webhook_body_bytes,
        )

    try:
        return verify(fresh=False)
    except RejectedRequest as rejection:
        if rejection.status != 403 or not request.headers.get("x-twilio-signature"):
            raise
        # The token may have been rotated since we cached it: once more with a fresh one
        # (get_secret fetches afresh at most once a minute, so forgeries cannot flood SSM).
        return verify(fresh=True)


def keep_rejected(request: WebhookRequest, status: int, reason: str, now: datetime) -> None:
    """Quarantine the raw request; a failure here is logged, never turned into a 500."""
    refused = 400 <= status < 500
    try:
        sampled = _sampled(request.route, now) if refused else None
        if sampled is False:
            metrics.add_metric(name="QuarantineSampledOut", unit=MetricUnit.Count, value=1)
            return
        record = RejectedRequestRecord(
            status=status,
            reason=reason,
            route=request.route,
            received_at=now,
            headers=request.headers,
            body=request.body,
            source_ip=request.source_ip,
            request_id=request.request_id,
            query=request.query,
            path=request.path,
            extra={"sampled": f"1 in {get_settings().quarantine_sample_one_in}"} if sampled else {},
            **({"body_limit": REQUEST_BODY_KEPT_BYTES} if refused else {}),
        )
        key = _quarantine().keep(record)
        logger.info("request kept in quarantine", extra={"quarantine_key": key})
    except Exception:
        logger.exception("could not keep the rejected request in quarantine")


def _sampled(route: str, now: datetime) -> bool | None:
    """None: within the minute's allowance on this route, keep it. Past it, a random one
    in N is kept (True) and the rest are not (False)."""
    import secrets

    from switchboard.store.rate_limits import Limit, RateLimits

    settings = get_settings()
    allowance = Limit("quarantine", settings.quarantine_full_per_minute, timedelta(minutes=1))
    try:
        if RateLimits(clients.dynamodb(), settings.table_name).take(allowance, route, now) is None:
            return None
    except Exception:  # the table is what failed: keep it, the record is bounded anyway
        logger.exception("could not count the refusal; keeping it")
        return None
    return secrets.randbelow(settings.quarantine_sample_one_in) == 0


def keep_rejected_event(route: str, body: bytes, reason: str, now: datetime, extra: dict[str, Any] | None = None) -> None:
    """Quarantine an event that is not an HTTP request (an SES receipt), like keep_rejected.

    Its status is 422: well-formed delivery, unacceptable content. A failure to keep it
    is raised, not logged: the event source retries, and its dead-letter queue keeps it.
    """
    record = RejectedRequestRecord(
        status=422, reason=reason, route=route, received_at=now, headers={}, body=body, extra=extra or {}
    )
    key = _quarantine().keep(record)
    logger.info("event kept in quarantine", extra={"quarantine_key": key})


def refuse(request: WebhookRequest, rejection: RejectedRequest, now: datetime) -> dict[str, Any]:
    logger.warning("request refused", extra={"status": rejection.status, "reason": rejection.reason})
    metrics.add_metric(name=f"Refused{rejection.status}", unit=MetricUnit.Count, value=1)
    keep_rejected(request, rejection.status, rejection.reason, now)
    return text_response(rejection.status, rejection.reason)


def fail(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    """An internal failure (e.g. DynamoDB unavailable): keep the request, ask for a retry."""
    clients.set_deadline(None)  # the reserve is for this: keeping the request
    logger.exception("webhook failed")
    metrics.add_metric(name="WebhookFailures", unit=MetricUnit.Count, value=1)
    keep_rejected(request, 503, "internal error; the provider should retry", now)
    response = text_response(503, "temporarily unable to store the message; retry later")
    response["headers"]["Retry-After"] = "5"
    return response


def webhook(handle: Callable[[WebhookRequest, datetime], dict[str, Any]]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The edge every webhook shares: the request as received and the time it came, then
    RejectedRequest → its 4xx with the reason (refuse), anything else → 503 (fail)."""

    @wraps(handle)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = WebhookRequest.from_api_gateway(event)
        now = utc_now()
        # No AWS call may start that could end inside the last RESERVE_SECONDS: those are
        # for answering 503 and keeping the request, before Lambda's Timeout ends us.
        remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else None
        token = clients.set_deadline(time.monotonic() + remaining - RESERVE_SECONDS if remaining else None)
        try:
            return handle(request, now)
        except RejectedRequest as rejection:
            return refuse(request, rejection, now)
        except Exception:
            return fail(request, now)
        finally:
            clients.reset_deadline(token)

    return handler


def text_response(status: int, text: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": text + "\n"}


def xml_response(xml: str) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "text/xml; charset=utf-8"}, "body": xml}
