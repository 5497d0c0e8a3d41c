"""Incident notices on the local stack: fan-out through the table's stream and the notice
queue, the paced sender, opt-outs by SMS keyword at any moment, and no notice twice."""

from __future__ import annotations

import email
import email.policy
import io
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
import requests

from conftest_helpers import unique_number
from local_stack.drivers import Drivers
from local_stack.stack import LOCAL_STATUSPAGE_SECRET
from switchboard.incident_model import Component, Impact, UpdateStatus
from switchboard.incidents.service import IncidentDesk
from switchboard.models import ConversationStatus, Identity, IdentityKind
from switchboard.store import keys
from switchboard.store.dynamo import to_values
from switchboard.store.incidents import IncidentStore
from switchboard.store.notices import NoticeStore
from switchboard.store.outbox import OutboxStore
from switchboard.store.subscribers import SubscriberStore

pytestmark = pytest.mark.integration

NOTICE_FUNCTIONS = ["NoticeFanoutFunction", "NoticeSenderFunction"]


@pytest.fixture
def stores(local):
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    return IncidentStore(client, table), NoticeStore(client, table), SubscriberStore(client, table)


@pytest.fixture
def component(stores):
    """A component of its own per test, so other tests' subscribers are not concerned."""
    incidents, _, _ = stores
    component_id = f"api-{uuid.uuid4().hex[:8]}"
    incidents.put_component(Component(component_id, "Public API"))
    return component_id


@pytest.fixture
def drivers(local):
    """The notice path as Lambda drives it: stream → fan-out → notice queue → sender."""
    drivers = Drivers(local.stack.template, local.stack.resolver(), only=NOTICE_FUNCTIONS, log=io.StringIO())
    drivers.connect()  # the stream is read from here on (LATEST)
    return drivers


def outbox_to(address: str) -> list[dict]:
    return [message for message in OutboxStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).list_sms(limit=1000) if message["to"] == address]


def notice_status(update_id: str, phone: str) -> str | None:
    item = boto3.client("dynamodb").get_item(TableName=os.environ["TABLE_NAME"], Key=to_values(keys.notice_key(update_id, "sms", phone)), ConsistentRead=True).get("Item")
    return item["status"]["S"] if item else None


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_an_incident_update_reaches_sms_and_email_subscribers_once_each_with_unsubscribe_headers(local, stores, component, drivers):
    incidents, notices, subscribers = stores
    phone, address = unique_number(), f"ops-{uuid.uuid4().hex[:8]}@customer.example"
    subscribers.subscribe("sms", phone, (component,), "cli", now())
    subscribers.subscribe("email", address, (), "cli", now())
    elsewhere = unique_number()  # subscribed to another component only: not concerned
    subscribers.subscribe("sms", elsewhere, ("some-other-component",), "cli", now())

    change = IncidentDesk(incidents, notices).open("Elevated API error rates", Impact.MAJOR, (component,), "We are investigating errors on the API.", now())
    drivers.drain(timeout=60)

    (sms,) = outbox_to(phone)
    assert sms["body"].startswith("Support: [Investigating] Incident: Elevated API error rates. We are investigating errors on the API.")
    assert sms["body"].endswith(f"{local.public_url}/status Reply STOP to opt out.")
    (mail,) = outbox_to(address)
    parsed = email.message_from_string(mail["extra"]["raw"], policy=email.policy.default)
    assert parsed["Subject"] == "Support [Investigating] Incident: Elevated API error rates"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = subscribers.get("email", address).token
    assert parsed["List-Unsubscribe"].strip() == f"<{local.public_url}/unsubscribe/{token}>"  # folded: it is long
    assert f"Unsubscribe: {local.public_url}/unsubscribe/{token}" in parsed.get_content()
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert outbox_to(elsewhere) == []

    update_id = change.incident.updates[0].update_id
    counts = notices.counts(update_id)
    assert counts["sent"] >= 2 and counts["queued"] == 0 and counts["failed"] == 0

    # The same update again (a double click) adds nothing and sends nothing.
    again = IncidentDesk(incidents, notices).update(change.incident.incident_id, UpdateStatus.INVESTIGATING, "We are investigating errors on the API.", now())
    assert again.added == ()
    # A fan-out repeated from the start (the stream's retry of a cut-short run) queues
    # the same notices again: the sender's claims send none of them twice.
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    client.update_item(TableName=table, Key=to_values(keys.fanout_job_key(update_id)), UpdateExpression="SET done = :no, queued = :zero REMOVE next_page",
                       ExpressionAttributeValues=to_values({":no": False, ":zero": 0}))
    from switchboard.incidents.fanout import fan_out
    from switchboard.store.queue import OutboxQueue

    result = fan_out(update_id, incidents, notices, subscribers, OutboxQueue(boto3.client("sqs"), os.environ["NOTICE_QUEUE_URL"]), "Support", local.public_url)
    assert result.queued >= 2
    drivers.drain(timeout=60)
    assert len(outbox_to(phone)) == 1 and len(outbox_to(address)) == 1


def test_a_number_that_texts_stop_after_the_fan_out_gets_nothing_and_start_restores_it(local, stores, component, drivers, sms_form):
    incidents, notices, subscribers = stores
    phone = unique_number()
    subscribers.subscribe("sms", phone, (), "cli", now())
    fanout_only = Drivers(local.stack.template, local.stack.resolver(), only=["NoticeFanoutFunction"], log=io.StringIO())
    fanout_only.connect()
    change = IncidentDesk(incidents, notices).open("Dashboard is slow", Impact.MINOR, (component,), "Pages load slowly; we are on it.", now())
    fanout_only.drain(timeout=60)  # the notice is queued, not yet sent
    assert notices.job(change.incident.updates[0].update_id).queued >= 1

    stop = local.post_sms(sms_form(sender=phone, body="stop"))
    assert stop.status_code == 200
    assert "You are unsubscribed" in stop.text
    drivers.drain(timeout=60)
    assert outbox_to(phone) == []
    update_id = change.incident.updates[0].update_id
    assert notice_status(update_id, phone) == "skipped"  # checked at send time: fanned out before the STOP

    # The STOP is in the customer's stream, where it makes nobody wait (and the router's
    # filter, tested with the local event filter, keeps it from paging).
    route = local.conversations().find_identity(Identity(IdentityKind.PHONE, phone), consistent=True)
    conversation = local.conversations().get_conversation(route.conversation_id)
    assert [(m.body, m.keyword) for m in conversation.messages] == [("stop", "STOP")]
    assert conversation.status is ConversationStatus.WAITING_ON_CUSTOMER and conversation.waiting_since is None
    start = local.post_sms(sms_form(sender=phone, body="START"))
    assert "opted back in" in start.text
    IncidentDesk(incidents, notices).resolve(change.incident.incident_id, "Pages load normally again.", now())
    drivers.drain(timeout=60)
    (resolved,) = outbox_to(phone)
    assert "[Resolved] Incident: Dashboard is slow. Pages load normally again." in resolved["body"]


def test_help_and_subscribe_keywords_answer_once_and_never_page(local, stores, component, sms_form):
    _, _, subscribers = stores
    phone = unique_number()
    form = sms_form(sender=phone, body="Subscribe " + component)
    first = local.post_sms(form)
    assert f"You will get incident notices about {component} by SMS" in first.text
    assert subscribers.get("sms", phone).components == (component,)
    repeat = local.post_sms(form)  # Twilio's retry of the same MessageSid: no second answer
    assert "<Message>" not in repeat.text
    unknown = local.post_sms(sms_form(sender=phone, body="SUBSCRIBE nosuchthing"))
    assert "We don't know nosuchthing" in unknown.text
    help_answer = local.post_sms(sms_form(sender=phone, body="help"))
    assert "Reply SUBSCRIBE for incident notices" in help_answer.text


def test_the_statuspage_webhook_refuses_a_wrong_secret_and_an_unknown_shape(local):
    wrong = requests.post(f"{local.gateway_url}/webhooks/statuspage/not-the-secret", json={"incident": {}}, timeout=30)
    assert wrong.status_code == 403
    odd = requests.post(f"{local.gateway_url}/webhooks/statuspage/{LOCAL_STATUSPAGE_SECRET}", json={"hello": "world"}, timeout=30)
    assert odd.status_code == 400
    assert "not a Statuspage notification" in odd.text
    not_json = requests.post(f"{local.gateway_url}/webhooks/statuspage/{LOCAL_STATUSPAGE_SECRET}", data=b"{nope", headers={"Content-Type": "application/json"}, timeout=30)
    assert not_json.status_code == 400


def test_a_customer_whose_open_conversation_is_about_the_component_is_notified_on_its_channel(local, stores, component, drivers, sms_form):
    incidents, notices, subscribers = stores
    phone = unique_number()
    assert local.post_sms(sms_form(sender=phone, body="Is the API down? I get 502s")).status_code == 200
    route = local.conversations().find_identity(Identity(IdentityKind.PHONE, phone), consistent=True)
    assert local.conversations().tag(route.conversation_id, (component,))
    resolved_phone = unique_number()  # a resolved conversation about it: not notified
    local.post_sms(sms_form(sender=resolved_phone, body="API errors again"))
    resolved = local.conversations().find_identity(Identity(IdentityKind.PHONE, resolved_phone), consistent=True)
    local.conversations().tag(resolved.conversation_id, (component,))
    local.conversations().resolve_conversation(resolved.conversation_id, now())

    IncidentDesk(incidents, notices).open("API returns 502", Impact.MAJOR, (component,), "Some API calls fail with 502.", now())
    drivers.drain(timeout=60)
    (notice,) = outbox_to(phone)
    assert "[Investigating] Incident: API returns 502. Some API calls fail with 502." in notice["body"]
    assert outbox_to(resolved_phone) == []
    assert subscribers.get("sms", phone) is None, "notified for the conversation, not subscribed for good"


STATUSPAGE_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "statuspage"


def post_statuspage(local, name: str) -> requests.Response:
    body = (STATUSPAGE_FIXTURES / name).read_bytes()
    return requests.post(f"{local.gateway_url}/webhooks/statuspage/{LOCAL_STATUSPAGE_SECRET}", data=body, headers={"Content-Type": "application/json"}, timeout=60)


def test_statuspage_webhooks_notify_sms_and_email_subscribers_once_per_notifying_update(local, stores, drivers):
    incidents, notices, subscribers = stores
    phone, address = unique_number(), f"sre-{uuid.uuid4().hex[:8]}@customer.example"
    subscribers.subscribe("sms", phone, ("r1kz8m0q2v4t",), "cli", now())  # Statuspage's id of "API"
    subscribers.subscribe("email", address, (), "cli", now())

    created = post_statuspage(local, "incident_created_investigating.json")
    assert created.status_code == 200, created.text
    incident_id = created.json()["incident"]
    assert len(created.json()["notifying"]) == 1
    assert post_statuspage(local, "incident_created_investigating.json").json() == {"incident": incident_id, "added": [], "notifying": []}, "a repeated delivery changes nothing"
    drivers.drain(timeout=60)
    (sms,) = outbox_to(phone)
    assert "[Investigating] Incident: Elevated API error rates. We are investigating elevated error rates" in sms["body"]
    assert len(outbox_to(address)) == 1

    # identified: deliver_notifications false. Then resolved, carrying monitoring and resolved
    # at once (a missed delivery): only the latest notifies.
    assert post_statuspage(local, "incident_identified.json").json()["notifying"] == []
    resolved = post_statuspage(local, "incident_resolved.json").json()
    assert len(resolved["added"]) == 2 and len(resolved["notifying"]) == 1
    drivers.drain(timeout=60)
    assert [m["body"].split(". ")[0] for m in outbox_to(phone)] == ["Support: [Resolved] Incident: Elevated API error rates", "Support: [Investigating] Incident: Elevated API error rates"]
    assert len(outbox_to(address)) == 2
    incident = incidents.get(incident_id)
    assert [u.status.value for u in incident.updates] == ["investigating", "identified", "monitoring", "resolved"]
    assert {c.component_id: c.name for c in incidents.components()}["r1kz8m0q2v4t"] == "API"

    component = requests.post(f"{local.gateway_url}/webhooks/statuspage/{LOCAL_STATUSPAGE_SECRET}", data=(STATUSPAGE_FIXTURES / "component_update.json").read_bytes(), timeout=60)
    assert component.status_code == 200 and component.json()["status"]


def test_a_late_retry_of_stop_never_undoes_a_later_start_and_a_recorded_but_unapplied_stop_applies_on_retry(local, stores, sms_form):
    from switchboard.conversations.inbound import record_inbound
    from switchboard.models import Channel, InboundMessage

    _, _, subscribers = stores
    phone = unique_number()
    stop = sms_form(sender=phone, body="STOP")
    assert "You are unsubscribed" in local.post_sms(stop).text
    assert "opted back in" in local.post_sms(sms_form(sender=phone, body="START")).text
    retried = local.post_sms(stop)  # Twilio's retry of the first STOP, after the START
    assert retried.status_code == 200 and "<Message>" not in retried.text
    assert not subscribers.is_opted_out("sms", phone)

    # A STOP stored by a delivery that then failed (before its effect): the retry applies it.
    other = unique_number()
    failed_first = sms_form(sender=other, body="stop")
    record_inbound(
        InboundMessage(Channel.SMS, "twilio", failed_first["MessageSid"], Identity(IdentityKind.PHONE, other), now(), body="stop", keyword="STOP"),
        local.conversations(),
    )
    assert not subscribers.is_opted_out("sms", other)
    assert "You are unsubscribed" in local.post_sms(failed_first).text
    assert subscribers.is_opted_out("sms", other)
