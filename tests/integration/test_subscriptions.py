"""Subscribing and unsubscribing by link, and the incidents, components and subscribers
commands, on the local stack."""

from __future__ import annotations

import json
import os
import re
import uuid

import boto3
import pytest
import requests

from conftest_helpers import drain_notices, drain_outbox, run_cli, sqs_event, unique_number
from switchboard.store.subscribers import SubscriberStore

pytestmark = pytest.mark.integration


@pytest.fixture
def subscribers(local):
    return SubscriberStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])


def address() -> str:
    return f"reader-{uuid.uuid4().hex[:8]}@customer.example"


def test_an_unsubscribe_link_asks_first_and_a_one_click_post_opts_the_address_out(local, subscribers):
    from datetime import datetime, timezone

    reader = address()
    token = subscribers.subscribe("email", reader, (), "cli", datetime.now(timezone.utc)).token
    page = requests.get(f"{local.gateway_url}/unsubscribe/{token}", timeout=30)
    assert page.status_code == 200 and '<form method="post"><button type="submit">Unsubscribe</button></form>' in page.text
    assert reader in page.text
    assert not subscribers.is_opted_out("email", reader), "following the link alone (a mail scanner) must change nothing"
    # What a mail provider's unsubscribe button sends (RFC 8058).
    done = requests.post(f"{local.gateway_url}/unsubscribe/{token}", data="List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert done.status_code == 200 and "will get no more incident notices" in done.text
    assert subscribers.is_opted_out("email", reader)
    unknown = requests.post(f"{local.gateway_url}/unsubscribe/not-a-token", timeout=30)
    assert unknown.status_code == 404


def test_subscribing_by_email_from_the_status_page_takes_a_confirmed_link_once(local, subscribers):
    from local_stack.invoke import invoke
    from local_stack.template import Template
    from switchboard.store.outbox import OutboxStore

    drain_notices()
    reader = address()
    asked = requests.post(f"{local.gateway_url}/status/subscribe", data={"email": reader.upper(), "components": ""}, timeout=30)
    assert asked.status_code == 202 and "Check your inbox" in asked.text
    assert subscribers.get("email", reader) is None, "nothing before the confirmation"
    assert [m for m in drain_outbox() if m["to"] == reader] == [], "never on the pages' outbox"
    (confirmation,) = [m for m in drain_notices() if m["to"] == reader]
    assert confirmation["purpose"] == "subscription"
    link = re.search(r"(http://\S+/subscribe/\S+)", confirmation["body"]).group(1)
    assert link.startswith(local.public_url)
    # The notice sender sends it, as it sends notices.
    assert invoke(Template().functions()["NoticeSenderFunction"], sqs_event(json.dumps(confirmation))) == {"batchItemFailures": []}
    (sent,) = [m for m in OutboxStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).list_sms(reader) if m["channel"] == "email"]
    assert link in sent["body"]

    path = link[len(local.public_url):]
    page = requests.get(local.gateway_url + path, timeout=30)
    assert page.status_code == 200 and "Confirm" in page.text and subscribers.get("email", reader) is None
    confirmed = requests.post(local.gateway_url + path, timeout=30)
    assert confirmed.status_code == 200 and "Subscribed" in confirmed.text
    assert subscribers.get("email", reader).source == "email-link"
    # Single use: the same link again changes nothing and says so.
    subscribers.unsubscribe("email", reader)
    for method in ("POST", "GET"):
        used = requests.request(method, local.gateway_url + path, timeout=30)
        assert used.status_code == 410 and "used already" in used.text
    assert subscribers.get("email", reader) is None
    bad = requests.post(f"{local.gateway_url}/status/subscribe", data={"email": "not an address"}, timeout=30)
    assert bad.status_code == 400


def test_the_commands_open_update_and_show_an_incident_with_its_deliveries(local, subscribers):
    env = local.cli_env()
    component = f"web-{uuid.uuid4().hex[:6]}"
    added = run_cli(["components", "add", component, "--name", "Web app", "--json"], env)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["name"] == "Web app"
    phone = unique_number()
    subscribed = run_cli(["subscribers", "add", phone, "--component", component], env)
    assert subscribed.returncode == 0 and f"subscribed sms:{phone} to {component}" in subscribed.stdout
    unknown = run_cli(["subscribers", "add", phone, "--component", "nosuch"], env)
    assert unknown.returncode == 2 and "unknown component nosuch" in unknown.stderr

    opened = run_cli(["incidents", "open", "Web app down", "-m", "The web app does not load.", "--impact", "critical", "-c", component, "--json"], env)
    assert opened.returncode == 0, opened.stderr
    incident = json.loads(opened.stdout)
    assert incident["status"] == "investigating" and incident["notifying"] == [incident["updates"][0]["id"]]
    listed = run_cli(["incidents", "list", "--open"], env)
    assert incident["id"] in listed.stdout and "Web app down" in listed.stdout
    components = json.loads(run_cli(["components", "list", "--json"], env).stdout)
    assert {"id": component, "status": "major_outage"}.items() <= next(c for c in components if c["id"] == component).items()

    updated = run_cli(["incidents", "update", incident["id"], "--status", "identified", "-m", "A bad deploy; rolling back."], env)
    assert updated.returncode == 0 and "[identified]" in updated.stdout
    shown = run_cli(["incidents", "show", incident["id"], "--json"], env)
    document = json.loads(shown.stdout)
    assert [u["status"] for u in document["updates"]] == ["investigating", "identified"]
    # No drivers run in this test: the fan-out job waits, nothing is queued or sent yet.
    assert document["updates"][0]["deliveries"] == {"queued": 0, "sent": 0, "delivered": 0, "failed": 0, "skipped": 0, "total": 0}
    text = run_cli(["incidents", "show", incident["id"]], env).stdout
    assert "identified    A bad deploy; rolling back." in text and "notices:" in text

    resolved = run_cli(["incidents", "resolve", incident["id"]], env)
    assert resolved.returncode == 0 and "[resolved]" in resolved.stdout
    assert run_cli(["incidents", "update", "01NOSUCHINCIDENT0000000000", "--status", "identified", "-m", "x"], env).returncode == 3
    wrong = run_cli(["incidents", "update", incident["id"], "--status", "scheduled", "-m", "x"], env)
    assert wrong.returncode == 2 and "an incident cannot be 'scheduled'" in wrong.stderr

    maintenance = run_cli(["incidents", "open", "Database upgrade", "-m", "Read-only for an hour.", "--maintenance", "--from", "2026-12-01T02:00Z", "--to", "2026-12-01T03:00", "-c", component, "--json"], env)
    assert maintenance.returncode == 0, maintenance.stderr
    planned = json.loads(maintenance.stdout)
    assert (planned["kind"], planned["status"], planned["scheduled_for"], planned["scheduled_until"]) == ("maintenance", "scheduled", "2026-12-01T02:00:00.000Z", "2026-12-01T03:00:00.000Z")
    no_window = run_cli(["incidents", "open", "Upgrade", "-m", "x", "--maintenance"], env)
    assert no_window.returncode == 2 and "needs its window" in no_window.stderr

    opted = run_cli(["subscribers", "opt-out", phone], env)
    assert opted.returncode == 0 and subscribers.is_opted_out("sms", phone)
    listing = run_cli(["subscribers", "list", "--limit", "100000"], env)
    assert re.search(rf"sms\s+{re.escape(phone)}\s+{component}\s+cli\s+opted out", listing.stdout)


def test_a_confirmation_link_expires_after_two_days(local, subscribers):
    from datetime import datetime, timedelta, timezone

    reader = address()
    token = subscribers.confirmation_token("email", reader, (), datetime.now(timezone.utc) - timedelta(days=3))
    for method in ("GET", "POST"):
        page = requests.request(method, f"{local.gateway_url}/subscribe/{token}", timeout=30)
        assert page.status_code == 404 and "expired" in page.text
    assert subscribers.get("email", reader) is None
