"""The public subscription links: subscribe by email from the status page, confirm, unsubscribe.

- POST /status/subscribe (form: email, components): emails a confirmation link, within
  the form's rate limits (429 with Retry-After past them). The email travels on the
  notice queue, never the pages' outbox, so a flood of requests never delays a page.
- GET  /subscribe/{token}: a page with a "Confirm" button; POST subscribes, once.
- GET  /unsubscribe/{token}: a page with an "Unsubscribe" button; POST opts out. The
  POST is also RFC 8058's one-click unsubscribe that mail providers send.

A GET never changes anything: mail scanners follow links, and must not subscribe or
unsubscribe anyone by doing so.
"""

from __future__ import annotations

import html
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.incidents.subscriptions import (
    FormLimits,
    SubscriptionError,
    TooManyRequests,
    confirm,
    request_subscription,
    unsubscribe,
)
from switchboard.models import utc_now
from switchboard.observability import logger, mask_email, metrics
from switchboard.public_page import form_fields, page
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.incidents import IncidentStore
from switchboard.store.queue import OutboxQueue
from switchboard.store.rate_limits import RateLimits
from switchboard.store.subscribers import SubscriberStore

settings = get_settings()
MAX_FORM_BYTES = 4096


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from switchboard.webhooks import WebhookRequest

    request = WebhookRequest.from_api_gateway(event)
    method = (event.get("requestContext") or {}).get("http", {}).get("method", "GET")
    token = (event.get("pathParameters") or {}).get("token", "")
    store = SubscriberStore(clients.dynamodb(), settings.table_name)
    try:
        if request.route == "POST /status/subscribe":
            return _request_subscription(request.body, request.source_ip, store)
        if request.route.endswith("/subscribe/{token}"):
            return _confirm(method, token, store)
        if request.route.endswith("/unsubscribe/{token}"):
            return _unsubscribe(method, token, store)
    except Exception:
        logger.exception("subscription link failed")
        return _page(503, "Please try again", "Something went wrong on our side. Please try again in a minute.")
    return _page(404, "Not found", "This link is not one of ours.")


def _request_subscription(body: bytes, source_ip: str | None, store: SubscriberStore) -> dict[str, Any]:
    if len(body) > MAX_FORM_BYTES:
        return _page(413, "Too long", "That form was too long.")
    form = form_fields(body)
    settings.require("notice_queue_url")
    dynamodb = clients.dynamodb()
    known = {component.component_id: component.name for component in IncidentStore(dynamodb, settings.table_name).components()}
    try:
        message = request_subscription(
            form.get("email", ""),
            form.get("components", ""),
            source_ip,
            known,
            store,
            RateLimits(dynamodb, settings.table_name),
            FormLimits.from_settings(settings),
            settings.brand_name,
            settings.public_url,
            utc_now(),
        )
    except TooManyRequests as error:
        metrics.add_metric(name="SubscriptionRequestsLimited", unit=MetricUnit.Count, value=1)
        page = _page(429, "Please wait", html.escape(str(error)))
        page["headers"]["Retry-After"] = str(error.retry_after)
        return page
    except SubscriptionError as error:
        return _page(400, "Not subscribed yet", html.escape(str(error)))
    OutboxQueue(clients.sqs(), settings.notice_queue_url).send(message)
    logger.info("confirmation queued", extra={"to": mask_email(message.to)})
    metrics.add_metric(name="SubscriptionRequests", unit=MetricUnit.Count, value=1)
    return _page(202, "Check your inbox", f"We sent a confirmation link to {html.escape(message.to)}. Your subscription starts when you follow it.")


def _confirm(method: str, token: str, store: SubscriberStore) -> dict[str, Any]:
    if method == "GET":
        found = store.find_token(token, utc_now())
        if not found or found.get("purpose") != "confirm":
            return _page(404, "Link expired", "This confirmation link is unknown or has expired. Subscribe again from the status page.")
        if found.get("used_at"):
            return _page(410, "Link already used", "This confirmation link was used already: each works once.")
        return _page(200, "Confirm your subscription", f"Get {html.escape(settings.brand_name)}'s incident notices at {html.escape(found['address'])}?", button="Confirm")
    address, first_use = confirm(token, store, utc_now())
    if address is None:
        return _page(404, "Link expired", "This confirmation link is unknown or has expired. Subscribe again from the status page.")
    if not first_use:
        return _page(410, "Link already used", "This confirmation link was used already: each works once. Subscribe again from the status page if you need to.")
    metrics.add_metric(name="Subscriptions", unit=MetricUnit.Count, value=1)
    return _page(200, "Subscribed", f"{html.escape(address)} will get incident notices. Every email has a link to unsubscribe.")


def _unsubscribe(method: str, token: str, store: SubscriberStore) -> dict[str, Any]:
    if method == "GET":
        found = store.find_token(token, utc_now())
        if not found or found.get("purpose") != "unsubscribe":
            return _page(404, "Link not found", "This unsubscribe link is unknown. If you still get notices, reply STOP to an SMS or write to us.")
        return _page(200, "Unsubscribe", f"Stop all incident notices to {html.escape(found['address'])}?", button="Unsubscribe")
    address = unsubscribe(token, store, utc_now())
    if address is None:
        return _page(404, "Link not found", "This unsubscribe link is unknown. If you still get notices, reply STOP to an SMS or write to us.")
    logger.info("unsubscribed by link", extra={"to": mask_email(address)})
    metrics.add_metric(name="OptOuts", unit=MetricUnit.Count, value=1)
    return _page(200, "Unsubscribed", f"{html.escape(address)} will get no more incident notices from us.")


def _page(status: int, title: str, text: str, button: str | None = None) -> dict[str, Any]:
    """A small page; `text` is HTML (callers escape what they insert)."""
    form = f'<form method="post"><button type="submit">{html.escape(button)}</button></form>' if button else ""
    return page(status, title, f'<p>{text}</p>{form}<p><a href="{html.escape(settings.public_url)}/status">Status page</a></p>')
