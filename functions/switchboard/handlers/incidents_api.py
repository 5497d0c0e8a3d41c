"""The incidents API (/incidents): open, update, resolve, list and show incidents.

Never public: template.yaml puts IAM authorization on every route, so only signed
requests from principals allowed `execute-api:Invoke` reach this function. Bodies are
validated by pydantic models (incidents/api_requests.py; 400 with the reason), and
`Idempotency-Key` makes a retried POST a no-op, as the CLI's own commands are.

Routed by the event's routeKey, as template.yaml declares the routes: no web framework
to import on a cold start (powertools' resolver and pydantic cost ~80 ms of it).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Callable

from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.incident_model import IncidentError, to_document
from switchboard.incidents.service import IncidentDesk
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.incidents import IncidentStore
from switchboard.store.notices import NoticeStore
from switchboard.webhooks import WebhookRequest

settings = get_settings()


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _desk() -> IncidentDesk:
    return IncidentDesk(_incidents(), _notices())


def _incidents() -> IncidentStore:
    return IncidentStore(clients.dynamodb(), settings.table_name)


def _notices() -> NoticeStore:
    return NoticeStore(clients.dynamodb(), settings.table_name)


def _body(model_name: str, request: WebhookRequest) -> Any:
    from switchboard.incidents import api_requests

    try:
        document = json.loads(request.body or b"{}") or {}
    except ValueError:
        raise Refused(400, "the body is not JSON") from None
    try:
        return api_requests.parsed(getattr(api_requests, model_name), document)
    except api_requests.BadRequest as error:
        raise Refused(400, str(error)) from None


def _idempotency_key(request: WebhookRequest) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 100):
        raise Refused(400, "Idempotency-Key must be 1 to 100 characters")
    return key


def _with_deliveries(incident: Any) -> dict[str, Any]:
    document = to_document(incident)
    for update in document["updates"]:
        update["deliveries"] = _notices().counts(update["id"])
    return document


def list_incidents(request: WebhookRequest) -> tuple[int, dict[str, Any]]:
    from urllib.parse import parse_qs

    days = parse_qs(request.query).get("days", ["90"])[0]
    if not days.isdigit() or not 1 <= int(days) <= 3650:
        raise Refused(400, "days must be a whole number from 1 to 3650")
    found = _incidents().list(since=utc_now() - timedelta(days=int(days)))
    return 200, {"incidents": [to_document(incident) for incident in found]}


def open_incident(request: WebhookRequest) -> tuple[int, dict[str, Any]]:
    body = _body("OpenIncident", request)
    window = (body.scheduled_for, body.scheduled_until) if body.scheduled_for and body.scheduled_until else None
    try:
        change = _desk().open(
            body.title, body.impact, tuple(body.components), body.message, utc_now(), body.status, body.kind, window, body.notify,
            _idempotency_key(request),
        )
    except IncidentError as error:
        raise Refused(400, str(error)) from None
    logger.info("incident opened", extra={"incident_id": change.incident.incident_id, "notifying": len(change.notifying)})
    return _created(change)


def show_incident(request: WebhookRequest) -> tuple[int, dict[str, Any]]:
    incident_id = request.path_parameters.get("incident_id", "")
    incident = _incidents().get(incident_id)
    if incident is None:
        raise Refused(404, f"no incident {incident_id}")
    return 200, _with_deliveries(incident)


def add_update(request: WebhookRequest) -> tuple[int, dict[str, Any]]:
    incident_id = request.path_parameters.get("incident_id", "")
    body = _body("AddUpdate", request)
    key = _idempotency_key(request)
    try:
        change = _desk().update(incident_id, body.status, body.message, utc_now(), body.notify, f"{incident_id}-key-{key}" if key else None, dict(body.affected))
    except IncidentError as error:
        raise Refused(404 if str(error).startswith("no incident") else 400, str(error)) from None
    return _created(change)


def resolve_incident(request: WebhookRequest) -> tuple[int, dict[str, Any]]:
    incident_id = request.path_parameters.get("incident_id", "")
    body = _body("Resolve", request)
    try:
        change = _desk().resolve(incident_id, body.message, utc_now(), body.notify)
    except IncidentError as error:
        raise Refused(404 if str(error).startswith("no incident") else 400, str(error)) from None
    return _created(change)


def _created(change: Any) -> tuple[int, dict[str, Any]]:
    document = {**to_document(change.incident), "added": [update.update_id for update in change.added], "notifying": list(change.notifying)}
    # 201 when something was added, 200 when the request repeated an earlier one.
    return (201 if change.added else 200), document


ROUTES: dict[str, Callable[[WebhookRequest], tuple[int, dict[str, Any]]]] = {
    "GET /incidents": list_incidents,
    "POST /incidents": open_incident,
    "GET /incidents/{incident_id}": show_incident,
    "POST /incidents/{incident_id}/updates": add_update,
    "POST /incidents/{incident_id}/resolve": resolve_incident,
}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Who did it, for the audit trail: the IAM principal API Gateway authorized.
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    logger.append_keys(caller=iam.get("userArn"))
    request = WebhookRequest.from_api_gateway(event)
    route = ROUTES.get(request.route)
    try:
        if route is None:
            raise Refused(404, f"no route {request.route}")
        status, document = route(request)
    except Refused as refused:
        status, document = refused.status, {"statusCode": refused.status, "message": str(refused)}
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(document)}
