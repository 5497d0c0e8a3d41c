"""The public subscribe form, as an attacker would use it: to inject text into our email,
to flood one inbox, or to flood us from one network or from many."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import replace
from urllib.parse import urlencode

import boto3
import pytest
import requests

from conftest_helpers import drain_notices
from local_stack.gateway import api_gateway_event
from local_stack.invoke import invoke
from local_stack.template import Route, Template
from switchboard.incident_model import Component
from switchboard.store.incidents import IncidentStore

pytestmark = pytest.mark.integration

SUBSCRIBE = Route("POST", "/status/subscribe", "SubscriptionLinksFunction")


def address() -> str:
    return f"reader-{uuid.uuid4().hex[:8]}@customer.example"


def subscribe(form: dict[str, str], source_ip: str) -> dict:
    """POST /status/subscribe from `source_ip`, as API Gateway hands it to the function."""
    body = urlencode(form).encode()
    headers = [("content-type", "application/x-www-form-urlencoded")]
    event = api_gateway_event(SUBSCRIBE, "POST", "/status/subscribe", headers, body, source_ip, {})
    return invoke(Template().functions()["SubscriptionLinksFunction"], event)


def clear_of_window_edge(window_seconds: int, margin: float = 8.0) -> None:
    """Wait out the end of the current rate-limit window when it is near, so a test's
    requests all fall in one window (the limits count per fixed window)."""
    left = window_seconds - time.time() % window_seconds
    if left < margin:
        time.sleep(left + 0.5)


@pytest.fixture
def limits(local, monkeypatch):
    """The form's limits, set low for a test (its settings object, nothing else)."""
    from switchboard.handlers import subscription_links

    def set_limits(**values: int) -> None:
        monkeypatch.setattr(subscription_links, "settings", replace(subscription_links.settings, **values))

    yield set_limits
    drain_notices()


@pytest.fixture
def component(local):
    store = IncidentStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    known = Component(f"billing-{uuid.uuid4().hex[:6]}", "Billing & invoices")
    store.put_component(known)
    return known


def test_injected_text_never_reaches_an_email(local, limits, component):
    drain_notices()
    injected = subscribe({"email": address(), "components": f"{component.component_id},x\r\nBcc: victim@bigcorp.example\r\n\r\nFree money"}, "203.0.113.10")
    assert injected["statusCode"] == 400 and "We have no component x??bcc: victim@bigcorp.example" in injected["body"]
    assert "\r" not in injected["body"] and "\n\nfree money" not in injected["body"]
    header_injection = subscribe({"email": "reader@customer.example\r\nBcc: victim@bigcorp.example"}, "203.0.113.10")
    assert header_injection["statusCode"] == 400 and "line breaks or control characters" in header_injection["body"]
    for not_an_address in ('"Eve" <eve@evil.example>', "eve@evil.example, victim@bigcorp.example", "eve@evil"):
        assert subscribe({"email": not_an_address}, "203.0.113.10")["statusCode"] == 400
    assert drain_notices() == [], "nothing was queued"

    # A real request: the email holds the address, our own text and our name for the component.
    reader = address()
    accepted = subscribe({"email": reader, "components": component.component_id.upper()}, "203.0.113.10")
    assert accepted["statusCode"] == 202
    (confirmation,) = drain_notices()
    assert confirmation["to"] == reader and "about Billing & invoices" in confirmation["body"]


def test_a_flood_to_one_address_gets_one_email_then_429_with_retry_after(local, limits):
    clear_of_window_edge(600)
    reader = address()
    assert subscribe({"email": reader}, "203.0.113.20")["statusCode"] == 202
    for source in ("203.0.113.21", "198.51.100.7"):  # other networks change nothing
        again = subscribe({"email": reader.upper()}, source)
        assert again["statusCode"] == 429 and "a few minutes ago" in again["body"]
        assert 0 < int(again["headers"]["Retry-After"]) <= 600
    assert [m["to"] for m in drain_notices()] == [reader]


def test_a_flood_from_one_network_is_refused_after_its_hourly_limit(local, limits):
    limits(subscribe_per_source_per_hour=3)
    clear_of_window_edge(3600)
    network = f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    answers = [subscribe({"email": address()}, f"{network}::{n:x}")["statusCode"] for n in range(1, 5)]
    assert answers == [202, 202, 202, 429], "one IPv6 /64 is one caller"
    refused = subscribe({"email": address()}, f"{network}::99")
    assert "from your network" in refused["body"] and 0 < int(refused["headers"]["Retry-After"]) <= 3600
    assert subscribe({"email": address()}, "2001:db8:ffff:1::1")["statusCode"] == 202, "another network is not held back"
    assert len(drain_notices()) == 4


def test_a_flood_from_many_networks_stops_at_the_hourly_ceiling(local, limits):
    limits(subscribe_per_hour=5)
    clear_of_window_edge(3600)
    answers = [subscribe({"email": address()}, f"192.0.2.{n}") for n in range(1, 9)]
    statuses = [answer["statusCode"] for answer in answers]
    # Other tests may have used some of this hour's five: the ceiling comes at or before the sixth.
    assert 429 in statuses and statuses.index(429) <= 5 and set(statuses[statuses.index(429):]) == {429}
    assert "many confirmations right now" in answers[-1]["body"] and int(answers[-1]["headers"]["Retry-After"]) <= 3600
    assert len(drain_notices()) == statuses.index(429)


def test_the_gateway_throttles_the_public_routes_below_the_webhooks(local):
    routes = {route.route_key: route for route in Template().http_routes()}
    subscribe_throttle, webhook_throttle = routes["POST /status/subscribe"].throttle, routes["POST /webhooks/twilio/sms"].throttle
    assert subscribe_throttle.rate_per_second < webhook_throttle.rate_per_second
    assert routes["GET /status"].throttle.rate_per_second < webhook_throttle.rate_per_second
    # Through the real gateway: past the route's burst, API Gateway's own 429, before the function runs.
    answers = [
        requests.post(f"{local.gateway_url}/status/subscribe", data={"email": "not an address"}, timeout=30)
        for _ in range(subscribe_throttle.burst + 5)
    ]
    throttled = [answer for answer in answers if answer.status_code == 429]
    assert throttled and {answer.status_code for answer in answers} == {400, 429}
    assert all(answer.json() == {"message": "Too Many Requests"} for answer in throttled)
    assert requests.post(f"{local.gateway_url}/webhooks/twilio/sms", data={}, timeout=30).status_code != 429, "webhooks have their own bucket"
    time.sleep(subscribe_throttle.burst / subscribe_throttle.rate_per_second)  # refilled for later tests
