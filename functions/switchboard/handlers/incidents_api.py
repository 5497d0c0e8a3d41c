"""The incidents API (/incidents): open, update, resolve, list and show incidents.

Never public: template.yaml puts IAM authorization on every route, so only signed
requests from principals allowed `execute-api:Invoke` reach this function. Requests are
validated by pydantic models (400 with the reason), and `Idempotency-Key` makes a
retried POST a no-op, as the CLI's own commands are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchboard.incident_model import (
    ComponentStatus,
    Impact,
    IncidentError,
    IncidentKind,
    UpdateStatus,
    to_document,
)
from switchboard.incidents.service import IncidentDesk
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.incidents import IncidentStore
from switchboard.store.notices import NoticeStore

settings = get_settings()
app = APIGatewayHttpResolver()


class OpenIncident(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=5000)
    impact: Impact = Impact.MINOR
    components: list[str] = Field(default_factory=list, max_length=50)
    status: UpdateStatus | None = None
    kind: IncidentKind = IncidentKind.INCIDENT
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    notify: bool = True


class AddUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: UpdateStatus
    message: str = Field(min_length=1, max_length=5000)
    notify: bool = True
    affected: dict[str, ComponentStatus] = Field(default_factory=dict)


class Resolve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(default="", max_length=5000)
    notify: bool = True


def _desk() -> IncidentDesk:
    return IncidentDesk(_incidents(), _notices())


def _incidents() -> IncidentStore:
    return IncidentStore(clients.dynamodb(), settings.table_name)


def _notices() -> NoticeStore:
    return NoticeStore(clients.dynamodb(), settings.table_name)


def _body(model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(app.current_event.json_body or {})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequestError(f"{where}: {first['msg']}") from None
    except ValueError:
        raise BadRequestError("the body is not JSON") from None


def _idempotency_key() -> str | None:
    key = app.current_event.headers.get("idempotency-key")
    if key is not None and not (1 <= len(key) <= 100):
        raise BadRequestError("Idempotency-Key must be 1 to 100 characters")
    return key


def _with_deliveries(incident: Any) -> dict[str, Any]:
    document = to_document(incident)
    for update in document["updates"]:
        update["deliveries"] = _notices().counts(update["id"])
    return document


@app.get("/incidents")
def list_incidents() -> dict[str, Any]:
    days = app.current_event.get_query_string_value("days", "90")
    if not days.isdigit() or not 1 <= int(days) <= 3650:
        raise BadRequestError("days must be a whole number from 1 to 3650")
    found = _incidents().list(since=utc_now() - timedelta(days=int(days)))
    return {"incidents": [to_document(incident) for incident in found]}


@app.post("/incidents")
def open_incident() -> Response:
    request = _body(OpenIncident)
    window = (request.scheduled_for, request.scheduled_until) if request.scheduled_for and request.scheduled_until else None
    try:
        change = _desk().open(
            request.title, request.impact, tuple(request.components), request.message, utc_now(), request.status, request.kind, window, request.notify, _idempotency_key()
        )
    except IncidentError as error:
        raise BadRequestError(str(error)) from None
    logger.info("incident opened", extra={"incident_id": change.incident.incident_id, "notifying": len(change.notifying)})
    return _created(change)


@app.get("/incidents/<incident_id>")
def show_incident(incident_id: str) -> dict[str, Any]:
    incident = _incidents().get(incident_id)
    if incident is None:
        raise NotFoundError(f"no incident {incident_id}")
    return _with_deliveries(incident)


@app.post("/incidents/<incident_id>/updates")
def add_update(incident_id: str) -> Response:
    request = _body(AddUpdate)
    key = _idempotency_key()
    try:
        change = _desk().update(incident_id, request.status, request.message, utc_now(), request.notify, f"{incident_id}-key-{key}" if key else None, dict(request.affected))
    except IncidentError as error:
        raise (NotFoundError if str(error).startswith("no incident") else BadRequestError)(str(error)) from None
    return _created(change)


@app.post("/incidents/<incident_id>/resolve")
def resolve_incident(incident_id: str) -> Response:
    request = _body(Resolve)
    try:
        change = _desk().resolve(incident_id, request.message, utc_now(), request.notify)
    except IncidentError as error:
        raise (NotFoundError if str(error).startswith("no incident") else BadRequestError)(str(error)) from None
    return _created(change)


def _created(change: Any) -> Response:
    import json

    document = {**to_document(change.incident), "added": [update.update_id for update in change.added], "notifying": list(change.notifying)}
    # 201 when something was added, 200 when the request repeated an earlier one.
    return Response(status_code=201 if change.added else 200, content_type="application/json", body=json.dumps(document))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Who did it, for the audit trail: the IAM principal API Gateway authorized.
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    logger.append_keys(caller=iam.get("userArn"))
    return app.resolve(event, context)
