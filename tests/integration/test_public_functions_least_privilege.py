"""The public functions call only what their own policy grants, down to the table
partitions (dynamodb:LeadingKeys): recorded on the local stack, checked against template.yaml."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from conftest_helpers import drain_notices
from iam_grants import Call, recorded_calls, refused
from switchboard.store import clients

pytestmark = pytest.mark.integration


def record():
    return recorded_calls(clients.dynamodb(), clients.sqs(), clients.s3())


def test_the_status_page_reads_only_components_and_incidents(local):
    with record() as calls:
        assert requests.get(f"{local.gateway_url}/status", timeout=30).status_code == 200
        assert requests.get(f"{local.gateway_url}/status?format=json", timeout=30).status_code == 200
    assert {call.action for call in calls} >= {"dynamodb:Query"}
    assert refused("StatusPageFunction", calls) == []


def test_the_subscription_links_touch_only_their_own_partitions(local):
    reader = f"reader-{uuid.uuid4().hex[:8]}@customer.example"
    drain_notices()
    with record() as calls:
        assert requests.post(f"{local.gateway_url}/status/subscribe", data={"email": reader}, timeout=30).status_code == 202
        (confirmation,) = [m for m in drain_notices() if m["to"] == reader]
        path = re.search(r"/subscribe/\S+", confirmation["body"]).group(0)
        assert requests.get(local.gateway_url + path, timeout=30).status_code == 200
        assert requests.post(local.gateway_url + path, timeout=30).status_code == 200
        assert requests.post(local.gateway_url + path, timeout=30).status_code == 410
    # The test's own drain of the queue is not the function's.
    function_calls = [call for call in calls if call.action not in ("sqs:ReceiveMessage", "sqs:DeleteMessage")]
    assert refused("SubscriptionLinksFunction", function_calls) == []
    assert {"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem", "sqs:SendMessage"} <= {call.action for call in function_calls}
    # And the check can fail: a read of a conversation is refused by the same policy.
    table = next(call.resource for call in function_calls if call.action == "dynamodb:GetItem")
    assert refused("SubscriptionLinksFunction", [Call("dynamodb:GetItem", table, ("CONVERSATION#01X",))])
    assert refused("StatusPageFunction", [Call("dynamodb:PutItem", table, ("COMPONENTS",))]), "read only"
