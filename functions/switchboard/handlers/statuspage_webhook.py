"""POST /webhooks/statuspage/{secret}: Atlassian Statuspage's subscriber webhooks.

Statuspage signs nothing; the secret in the URL (kept in SSM) is the key, compared in
constant time. Incident notifications become our incidents (a repeated delivery adds
nothing and notifies nobody); component notifications set the component's status.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from switchboard.errors import RejectedRequest
from switchboard.incident_model import IncidentError
from switchboard.incidents.service import IncidentDesk
from switchboard.observability import logger, metrics
from switchboard.settings import get_secret, get_settings
from switchboard.store import clients
from switchboard.store.incidents import IncidentStore
from switchboard.store.notices import NoticeStore
from switchboard.webhooks import WebhookRequest, webhook

settings = get_settings()
MAX_BODY_BYTES = 256 * 1024  # an incident with a long timeline is a few tens of KB


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@webhook
def handler(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    expected = get_secret(settings.statuspage_secret_parameter, settings.secret_max_age_seconds)
    given = request.path_parameters.get("secret", "")
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise RejectedRequest(403, "unknown webhook secret")
    if len(request.body) > MAX_BODY_BYTES:
        raise RejectedRequest(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(request.body)
    except ValueError as error:
        raise RejectedRequest(400, f"the body is not JSON ({error})") from None
    # Imported once the secret matched: the reader's pydantic models (~70 ms) are not part of
    # the cold start, and a forged request never loads them.
    from switchboard.incidents.statuspage import ComponentNotice, StatuspageShapeError, parse_notification

    try:
        notice = parse_notification(payload)
    except StatuspageShapeError as error:
        raise RejectedRequest(400, f"not a Statuspage notification: {error}") from None

    desk = IncidentDesk(IncidentStore(clients.dynamodb(), settings.table_name), NoticeStore(clients.dynamodb(), settings.table_name))
    if isinstance(notice, ComponentNotice):
        desk.set_component(notice.component_id, notice.status, notice.at, notice.name)
        logger.info("component status", extra={"component_id": notice.component_id, "status": notice.status.value})
        return _json(200, {"component": notice.component_id, "status": notice.status.value})
    try:
        change = desk.ingest(notice)
    except IncidentError as error:  # well-formed, but not a valid incident (e.g. a maintenance without a window)
        raise RejectedRequest(422, str(error)) from None
    logger.info("statuspage incident", extra={"incident_id": change.incident.incident_id, "added": len(change.added), "notifying": len(change.notifying)})
    metrics.add_metric(name="StatuspageUpdates", unit=MetricUnit.Count, value=len(change.added))
    return _json(200, {"incident": change.incident.incident_id, "added": [u.update_id for u in change.added], "notifying": list(change.notifying)})


def _json(status: int, document: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(document)}
