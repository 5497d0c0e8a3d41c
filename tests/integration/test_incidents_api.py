"""The incidents API through the local gateway: IAM-signed requests only, validated bodies,
idempotent retries, and delivery counts on each update."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import boto3
import os
import pytest
from botocore.credentials import Credentials

from local_stack.signed import signed_request
from local_stack.template import REGION
from switchboard.incident_model import Component
from switchboard.store.incidents import IncidentStore

pytestmark = pytest.mark.integration


@pytest.fixture
def api(local):
    credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])

    def call(method: str, path: str, document: Any = None, headers: dict[str, str] | None = None, signed: bool = True) -> tuple[int, Any]:
        body = json.dumps(document).encode() if document is not None else None
        sent = {"Content-Type": "application/json", **(headers or {})}
        url = local.gateway_url + path
        request = signed_request(method, url, body, sent, credentials, REGION) if signed else urllib.request.Request(url, data=body, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    return call


@pytest.fixture
def component(local):
    component_id = f"api-{uuid.uuid4().hex[:8]}"
    IncidentStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).put_component(Component(component_id, "API"))
    return component_id


def test_unsigned_requests_are_refused_before_the_function(api):
    status, body = api("GET", "/incidents", signed=False)
    assert (status, body) == (403, {"message": "Forbidden"})
    status, _ = api("POST", "/incidents", {"title": "x", "message": "y"}, signed=False)
    assert status == 403


def test_open_update_resolve_and_show_an_incident(api, component):
    key = {"Idempotency-Key": f"open-{uuid.uuid4()}"}
    request = {"title": "Checkout errors", "message": "Some payments fail.", "impact": "critical", "components": [component]}
    status, opened = api("POST", "/incidents", request, key)
    assert status == 201 and opened["status"] == "investigating" and opened["components"] == [component]
    retried_status, retried = api("POST", "/incidents", request, key)
    assert (retried_status, retried["id"], retried["added"]) == (200, opened["id"], []), "a retried POST opens nothing new"

    status, updated = api("POST", f"/incidents/{opened['id']}/updates", {"status": "identified", "message": "A bad deploy."}, {"Idempotency-Key": "u-1"})
    assert status == 201 and updated["added"] == [f"{opened['id']}-key-u-1"]
    status, again = api("POST", f"/incidents/{opened['id']}/updates", {"status": "identified", "message": "A bad deploy."}, {"Idempotency-Key": "u-1"})
    assert (status, again["added"]) == (200, [])
    status, resolved = api("POST", f"/incidents/{opened['id']}/resolve", {"message": "Payments work again."})
    assert status == 201 and resolved["status"] == "resolved"

    status, shown = api("GET", f"/incidents/{opened['id']}")
    assert status == 200
    assert [u["status"] for u in shown["updates"]] == ["investigating", "identified", "resolved"]
    assert set(shown["updates"][0]["deliveries"]) == {"queued", "sent", "delivered", "failed", "skipped", "total"}
    status, listed = api("GET", "/incidents?days=1")
    assert status == 200 and opened["id"] in [i["id"] for i in listed["incidents"]]


def test_bad_requests_get_the_reason(api, component):
    status, body = api("POST", "/incidents", {"title": "x"})
    assert status == 400 and "message" in body["message"]
    status, body = api("POST", "/incidents", {"title": "x", "message": "y", "impact": "catastrophic"})
    assert status == 400 and body["message"].startswith("impact:")
    status, body = api("POST", "/incidents", {"title": "x", "message": "y", "components": ["nosuch"]})
    assert status == 400 and "unknown component nosuch" in body["message"]
    status, body = api("POST", "/incidents/01NOSUCHINCIDENT0000000000/updates", {"status": "identified", "message": "x"})
    assert status == 404
    status, body = api("GET", "/incidents?days=lots")
    assert status == 400
