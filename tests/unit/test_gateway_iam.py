"""AWS_IAM routes: the template declares them as SAM does, and the gateway verifies
Signature Version 4 (service execute-api) as API Gateway does, with botocore's own signer."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_stack.gateway import (
    FORBIDDEN,
    INVALID_TOKEN,
    SIGNATURE_MISMATCH,
    SignatureRejected,
    api_gateway_event,
    iam_authorizer,
    local_credentials,
    verify_signature,
)
from local_stack.signed import signed_request
from local_stack.stack import Endpoints
from local_stack.template import ACCOUNT_ID, REGION, Route, Template, TemplateError

URL = "http://127.0.0.1:3000/incidents?status=open&limit=5"
CREDENTIALS = {"local": "local"}


def _signed(method: str = "GET", url: str = URL, body: bytes | None = None, *, key: str = "local", secret: str = "local", headers: dict[str, str] | None = None, region: str = REGION):
    """What the gateway receives for a request signed now: method, target, headers, body, and when it was signed."""
    request = signed_request(method, url, body, headers or {}, Credentials(key, secret), region)
    parts = urlsplit(request.full_url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    sent = request.header_items()
    signed_at = datetime.strptime(dict((k.lower(), v) for k, v in sent)["x-amz-date"], SIGV4_TIMESTAMP).replace(tzinfo=timezone.utc)
    return request.get_method(), target, sent, request.data or b"", signed_at


def _verify(method, target, headers, body, now, credentials=CREDENTIALS) -> str:
    return verify_signature(method, target, headers, body, credentials=credentials, now=now)


def _rejection(*args, **kwargs) -> str:
    with pytest.raises(SignatureRejected) as rejected:
        _verify(*args, **kwargs)
    return rejected.value.message


def test_a_request_signed_with_the_local_credentials_verifies():
    method, target, headers, body, signed_at = _signed()
    assert _verify(method, target, headers, body, signed_at) == "local"


def test_a_signed_body_and_content_type_verify():
    method, target, headers, body, signed_at = _signed("POST", URL, b'{"title": "Queue delays"}', headers={"Content-Type": "application/json"})
    assert _verify(method, target, headers, body, signed_at + timedelta(minutes=4)) == "local"


def test_the_gateway_accepts_exactly_the_local_stack_credentials():
    environment = Endpoints(dynamodb_port=0, moto_port=0).environment()
    assert local_credentials() == {environment["AWS_ACCESS_KEY_ID"]: environment["AWS_SECRET_ACCESS_KEY"]}


def test_a_wrong_secret_does_not_verify():
    method, target, headers, body, signed_at = _signed(secret="not-the-secret")
    message = _rejection(method, target, headers, body, signed_at)
    assert message.startswith(SIGNATURE_MISMATCH)
    assert "The Canonical String for this request should have been" in message


def test_a_tampered_body_does_not_verify():
    method, target, headers, _, signed_at = _signed("POST", URL, b'{"severity": "minor"}')
    assert _rejection(method, target, headers, b'{"severity": "major"}', signed_at).startswith(SIGNATURE_MISMATCH)


def test_a_tampered_body_does_not_verify_even_with_a_signed_content_hash():
    body = b'{"severity": "minor"}'
    method, target, headers, _, signed_at = _signed("POST", URL, body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert _verify(method, target, headers, body, signed_at) == "local"
    assert _rejection(method, target, headers, b'{"severity": "major"}', signed_at).startswith(SIGNATURE_MISMATCH)


@pytest.mark.parametrize("target", ["/incidents/other?status=open&limit=5", "/incidents?status=resolved&limit=5", "/incidents"])
def test_a_tampered_path_or_query_does_not_verify(target):
    method, _, headers, body, signed_at = _signed()
    assert _rejection(method, target, headers, body, signed_at).startswith(SIGNATURE_MISMATCH)


def test_a_tampered_method_or_signed_header_does_not_verify():
    method, target, headers, body, signed_at = _signed("POST", URL, b"{}", headers={"Content-Type": "application/json"})
    assert _rejection("PUT", target, headers, body, signed_at).startswith(SIGNATURE_MISMATCH)
    swapped = [(k, "text/plain" if k.lower() == "content-type" else v) for k, v in headers]
    assert _rejection(method, target, swapped, body, signed_at).startswith(SIGNATURE_MISMATCH)


def test_unsigned_headers_may_be_added():
    method, target, headers, body, signed_at = _signed()
    assert _verify(method, target, [*headers, ("User-Agent", "curl/8"), ("X-Forwarded-For", "10.0.0.1")], body, signed_at) == "local"


def test_a_missing_authorization_header_is_forbidden():
    method, target, headers, body, signed_at = _signed()
    unsigned = [(k, v) for k, v in headers if k.lower() != "authorization"]
    assert _rejection(method, target, unsigned, body, signed_at) == FORBIDDEN


def test_a_malformed_authorization_header_says_what_is_missing():
    message = _rejection("GET", "/incidents", [("Host", "127.0.0.1:3000"), ("Authorization", "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/execute-api/aws4_request")], b"", datetime.now(timezone.utc))
    assert "Authorization header requires 'Signature' parameter." in message
    assert "Authorization header requires 'SignedHeaders' parameter." in message
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header" in message


def test_a_signature_older_than_five_minutes_has_expired():
    method, target, headers, body, signed_at = _signed()
    message = _rejection(method, target, headers, body, signed_at + timedelta(minutes=5, seconds=1))
    assert message.startswith("Signature expired: ")
    assert message.endswith(" - 5 min.)")


def test_a_signature_more_than_five_minutes_ahead_is_not_yet_current():
    method, target, headers, body, signed_at = _signed()
    assert _rejection(method, target, headers, body, signed_at - timedelta(minutes=6)).startswith("Signature not yet current: ")


def test_an_unknown_access_key_is_an_invalid_security_token():
    method, target, headers, body, signed_at = _signed(key="AKIAIOSFODNN7EXAMPLE", secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert _rejection(method, target, headers, body, signed_at) == INVALID_TOKEN


def test_the_credential_scope_must_be_execute_api_in_the_region():
    method, target, headers, body, signed_at = _signed(region="eu-west-1")
    assert _rejection(method, target, headers, body, signed_at) == "Credential should be scoped to a valid region, not 'eu-west-1'."
    request = AWSRequest(method="GET", url=URL, headers={"Host": "127.0.0.1:3000"})
    SigV4Auth(Credentials("local", "local"), "lambda", REGION).add_auth(request)
    message = _rejection("GET", "/incidents?status=open&limit=5", list(request.headers.items()), b"", signed_at)
    assert message == "Credential should be scoped to correct service: 'execute-api'."


def test_the_event_carries_the_iam_caller_as_payload_2_does():
    route = Route("GET", "/incidents", "IncidentsApiFunction", "AWS_IAM")
    event = api_gateway_event(route, "GET", "/incidents", [("Host", "127.0.0.1:3000")], b"", "127.0.0.1", {}, iam_authorizer("local"))
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam == {
        "accessKey": "local",
        "accountId": ACCOUNT_ID,
        "callerId": iam["userId"],
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/local",
        "userId": iam["userId"],
    }
    parsed = APIGatewayProxyEventV2Model(**event)  # powertools reads it as an IAM-authorized event
    assert parsed.requestContext.authorizer.iam.userArn == iam["userArn"]
    open_event = api_gateway_event(Route("POST", "/webhooks/twilio/sms", "F"), "POST", "/webhooks/twilio/sms", [], b"", "127.0.0.1", {})
    assert "authorizer" not in open_event["requestContext"]


# ---- the template: which routes are AWS_IAM ---------------------------------------------

_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
{globals}
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
{api_auth}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Events:
{events}
"""


def _event(name: str, path: str, authorizer: str | None = None, api: bool = True) -> str:
    lines = [f"        {name}:", "          Type: HttpApi", "          Properties:"]
    if api:
        lines.append("            ApiId: !Ref HttpApi")
    lines += [f"            Path: {path}", "            Method: GET"]
    if authorizer:
        lines += ["            Auth:", f"              Authorizer: {authorizer}"]
    return "\n".join(lines)


def _routes(tmp_path: Path, events: list[str], api_auth: str = "      Auth:\n        EnableIamAuthorizer: true", globals_: str = "") -> dict[str, str]:
    template = tmp_path / "template.yaml"
    template.write_text(_TEMPLATE.format(globals=globals_, api_auth=api_auth or "      Description: no auth", events="\n".join(events)))
    return {route.path: route.authorization for route in Template(template).http_routes()}


def test_an_event_declares_iam_authorization_as_sam_does(tmp_path):
    routes = _routes(tmp_path, [_event("List", "/incidents", "AWS_IAM"), _event("Hook", "/webhooks/x")])
    assert routes == {"/incidents": "AWS_IAM", "/webhooks/x": "NONE"}
    assert Route("GET", "/x", "F").authorization == "NONE"


def test_the_api_default_authorizer_applies_unless_an_event_says_none(tmp_path):
    auth = "      Auth:\n        EnableIamAuthorizer: true\n        DefaultAuthorizer: AWS_IAM"
    routes = _routes(tmp_path, [_event("List", "/incidents"), _event("Hook", "/webhooks/x", "NONE")], auth)
    assert routes == {"/incidents": "AWS_IAM", "/webhooks/x": "NONE"}


def test_globals_enable_the_iam_authorizer_of_the_implicit_api(tmp_path):
    globals_ = "Globals:\n  HttpApi:\n    Auth:\n      EnableIamAuthorizer: true"
    assert _routes(tmp_path, [_event("List", "/incidents", "AWS_IAM", api=False)], "", globals_) == {"/incidents": "AWS_IAM"}


def test_aws_iam_without_enable_iam_authorizer_fails_at_load(tmp_path):
    with pytest.raises(TemplateError, match="EnableIamAuthorizer: true"):
        _routes(tmp_path, [_event("List", "/incidents", "AWS_IAM")], "")


def test_other_authorizers_fail_at_load_rather_than_serve_unprotected(tmp_path):
    auth = "      Auth:\n        Authorizers:\n          OpenIdAuth:\n            IdentitySource: $request.header.Authorization"
    with pytest.raises(TemplateError, match="'OpenIdAuth' is not supported by the local gateway") as error:
        _routes(tmp_path, [_event("List", "/incidents", "OpenIdAuth")], auth)
    assert "Fn.Events.List (GET /incidents)" in str(error.value)


def test_template_yaml_keeps_webhooks_open_and_the_incidents_api_behind_iam():
    routes = Template().http_routes()
    assert all(route.authorization == "NONE" for route in routes if route.path.startswith(("/webhooks/", "/status", "/subscribe", "/unsubscribe")))
    assert all(route.authorization == "AWS_IAM" for route in routes if route.path.startswith("/incidents"))
