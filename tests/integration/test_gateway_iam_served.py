"""The gateway over HTTP: an AWS_IAM route answers 403 unless the request is SigV4-signed
with the local stack's credentials, and the function sees the caller as API Gateway says it.

(Named apart from tests/unit/test_gateway_iam.py: test modules here are imported by basename.)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.credentials import Credentials

from local_stack.gateway import Gateway
from local_stack.processes import free_port
from local_stack.signed import signed_request
from local_stack.stack import Endpoints
from local_stack.template import ACCOUNT_ID, REGION, FunctionSpec, Route, Template

pytestmark = pytest.mark.integration


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A function that answers with the event it received."""
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}


def sleepy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A function that outlasts its Timeout."""
    import time

    time.sleep(context.timeout_seconds + 2)
    return {"statusCode": 200, "body": "too late"}


@pytest.fixture(scope="module")
def gateway():
    functions = {
        "Echo": FunctionSpec("Echo", f"{__name__}.echo", timeout=3, memory=128),
        "Sleepy": FunctionSpec("Sleepy", f"{__name__}.sleepy", timeout=1, memory=128),
    }
    routes = [
        Route("GET", "/incidents", "Echo", "AWS_IAM"),
        Route("POST", "/incidents/{incident_id}/updates", "Echo", "AWS_IAM"),
        Route("GET", "/status", "Echo"),
        Route("GET", "/slow", "Sleepy"),
    ]
    served = Gateway(routes, functions, port=free_port()).start_in_thread()
    try:
        yield f"http://127.0.0.1:{served.port}"
    finally:
        served.stop()


@pytest.fixture(scope="module")
def local_credentials() -> Credentials:
    """What a function or the CLI attached to the local stack signs with."""
    environment = Endpoints(dynamodb_port=0, moto_port=0).environment()
    return Credentials(environment["AWS_ACCESS_KEY_ID"], environment["AWS_SECRET_ACCESS_KEY"])


def _send(request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_unsigned_request_to_an_iam_route_is_forbidden(gateway):
    assert _send(urllib.request.Request(f"{gateway}/incidents")) == (403, {"message": "Forbidden"})


def test_a_signed_request_reaches_the_function_with_the_iam_caller(gateway, local_credentials):
    status, event = _send(signed_request("GET", f"{gateway}/incidents?status=open", None, {}, local_credentials, REGION))
    assert status == 200
    assert event["routeKey"] == "GET /incidents" and event["queryStringParameters"] == {"status": "open"}
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == local_credentials.access_key and iam["accountId"] == ACCOUNT_ID
    assert iam["userArn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{local_credentials.access_key}"
    assert iam["principalOrgId"] is None and iam["userId"] == iam["callerId"]


def test_a_signed_post_carries_its_body_and_path_parameters(gateway, local_credentials):
    body = json.dumps({"status": "monitoring", "message": "A fix is deployed."}).encode()
    request = signed_request("POST", f"{gateway}/incidents/INC1/updates", body, {"Content-Type": "application/json"}, local_credentials, REGION)
    status, event = _send(request)
    assert status == 200
    assert event["pathParameters"] == {"incident_id": "INC1"} and json.loads(event["body"]) == json.loads(body)


def test_a_request_signed_with_another_secret_or_key_is_refused(gateway, local_credentials):
    wrong_secret = Credentials(local_credentials.access_key, "not-the-local-secret")
    status, answer = _send(signed_request("GET", f"{gateway}/incidents", None, {}, wrong_secret, REGION))
    assert status == 403 and answer["message"].startswith("The request signature we calculated does not match the signature you provided.")
    stranger = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert _send(signed_request("GET", f"{gateway}/incidents", None, {}, stranger, REGION)) == (403, {"message": "The security token included in the request is invalid."})


def test_a_body_changed_after_signing_is_refused(gateway, local_credentials):
    request = signed_request("POST", f"{gateway}/incidents/INC1/updates", b'{"status": "resolved"}', {"Content-Type": "application/json"}, local_credentials, REGION)
    request.data = b'{"status": "investigating"}'
    request.remove_header("Content-length")
    status, answer = _send(request)
    assert status == 403 and answer["message"].startswith("The request signature we calculated does not match")


def test_routes_without_iam_are_unchanged(gateway):
    status, event = _send(urllib.request.Request(f"{gateway}/status"))
    assert status == 200 and "authorizer" not in event["requestContext"]


def test_template_yaml_incidents_api_refuses_unsigned_requests():
    template = Template()
    routes = [route for route in template.http_routes() if route.path.startswith("/incidents")]
    assert routes and all(route.authorization == "AWS_IAM" for route in routes)
    served = Gateway(routes, template.functions(), port=free_port()).start_in_thread()
    try:  # refused before the function is imported or run
        assert _send(urllib.request.Request(f"http://127.0.0.1:{served.port}/incidents")) == (403, {"message": "Forbidden"})
    finally:
        served.stop()


def test_a_function_past_its_timeout_is_abandoned_and_answered_as_api_gateway_does(gateway):
    import time

    started = time.monotonic()
    status, body = _send(urllib.request.Request(f"{gateway}/slow"))
    assert (status, body) == (500, {"message": "Internal Server Error"})
    assert time.monotonic() - started < 2.5, "answered at the 1 s Timeout, not when the function ended"
