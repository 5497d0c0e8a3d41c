"""The gateway turns requests into API Gateway v2 events and responses back, as AWS does."""

from __future__ import annotations

import base64

from local_stack.gateway import api_gateway_event, http_response
from local_stack.template import Resolver, Route, Template


def test_routes_match_literal_and_parameterized_paths():
    assert Route("POST", "/webhooks/twilio/sms", "F").match("POST", "/webhooks/twilio/sms") == {}
    assert Route("POST", "/webhooks/twilio/sms", "F").match("GET", "/webhooks/twilio/sms") is None
    assert Route("POST", "/webhooks/statuspage/{secret}", "F").match("POST", "/webhooks/statuspage/abc") == {"secret": "abc"}
    assert Route("ANY", "/status/{proxy+}", "F").match("GET", "/status/a/b") == {"proxy": "a/b"}
    assert Route("GET", "/a.b", "F").match("GET", "/aXb") is None


def test_a_form_post_becomes_a_base64_v2_event():
    route = Route("POST", "/webhooks/twilio/sms", "SmsWebhookFunction")
    event = api_gateway_event(route, "POST", "/webhooks/twilio/sms?x=1&x=2", [("Content-Type", "application/x-www-form-urlencoded"), ("X-A", "1"), ("x-a", "2")], b"From=%2B1", "10.0.0.1", {})
    assert event["version"] == "2.0" and event["routeKey"] == "POST /webhooks/twilio/sms"
    assert event["rawPath"] == "/webhooks/twilio/sms" and event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["headers"]["x-a"] == "1,2"
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"From=%2B1"
    assert event["requestContext"]["http"] == {**event["requestContext"]["http"], "method": "POST", "sourceIp": "10.0.0.1"}


def test_cookies_move_from_the_headers_to_the_events_cookies_as_api_gateway_does():
    route = Route("GET", "/inbox", "AgentPagesFunction")
    event = api_gateway_event(route, "GET", "/inbox", [("Cookie", "a=1; b=2"), ("Cookie", "c=3"), ("Accept", "text/html")], b"", "10.0.0.1", {})
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"] and event["headers"]["accept"] == "text/html"
    assert "cookies" not in api_gateway_event(route, "GET", "/inbox", [], b"", "10.0.0.1", {})


def test_responses_follow_payload_format_2():
    assert http_response({"statusCode": 201, "headers": {"A": "b"}, "body": "hi"}) == (201, [("A", "b")], b"hi")
    cookies = {"statusCode": 303, "headers": {"Location": "/"}, "cookies": ["a=1; Secure", "b=2; HttpOnly"]}
    assert http_response(cookies)[1] == [("Location", "/"), ("Set-Cookie", "a=1; Secure"), ("Set-Cookie", "b=2; HttpOnly")]
    assert http_response({"statusCode": 200, "body": base64.b64encode(b"\x00").decode(), "isBase64Encoded": True})[2] == b"\x00"
    assert http_response({"ok": True}) == (200, [("Content-Type", "application/json")], b'{"ok": true}')


def test_template_references_resolve_to_local_names():
    resolver = Resolver(Template(), {"PublicUrl": "http://127.0.0.1:3000"})
    assert resolver.resolve({"Ref": "Table"}) == "Table"
    assert resolver.resolve({"Ref": "TwilioAuthTokenParameterName"}) == "/switchboard/twilio/auth-token"
    assert resolver.resolve({"Fn::Sub": "${QuarantineBucket.Arn}/rejected/*"}) == "arn:aws:s3:::switchboard-local-quarantinebucket/rejected/*"
    assert resolver.resolve({"Fn::GetAtt": ["Table", "Arn"]}).endswith(":table/Table")
