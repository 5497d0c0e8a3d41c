"""Twilio's delivery status callbacks for the SMS we send, signed, through the gateway."""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import boto3
import pytest
import requests

from conftest_helpers import unique_number, wait_for_quarantine
from switchboard.conversations.inbound import record_inbound
from switchboard.models import Channel, Identity, IdentityKind, InboundMessage, OutboundMessage, OutboundPurpose
from switchboard.store.deliveries import DeliveryStore
from switchboard.store.pages import Page, PageStatus, PageStore

pytestmark = pytest.mark.integration
PATH = "/webhooks/twilio/status"


def callback(local, sid: str, status: str, signature: str | None = "sign", **extra) -> requests.Response:
    form = {"AccountSid": "AC" + "0" * 32, "MessageSid": sid, "MessageStatus": status, "To": "+14155550100", "From": "+15005550006", **extra}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = local.sign(form, PATH) if signature == "sign" else signature
    return requests.post(local.gateway_url + PATH, data=urlencode(form), headers=headers, timeout=60)


def stores():
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    return DeliveryStore(client, table), PageStore(client, table)


def sent_page(local) -> tuple[str, str, datetime]:
    """A conversation with an open page, and the SMS that paged it (its MessageSid)."""
    deliveries, pages = stores()
    number = unique_number()
    stored = record_inbound(InboundMessage(Channel.SMS, "test", f"status-{number}", Identity(IdentityKind.PHONE, number), datetime.now(timezone.utc), body="hi"), local.conversations())
    due = (datetime.now(timezone.utc) + timedelta(minutes=5)).replace(microsecond=0)  # stored to the millisecond
    pages.open_page(Page(stored.conversation_id, "5", PageStatus.OPEN, datetime.now(timezone.utc), 0, 0, ("ana",), due, {"levels": []}))
    sid = "SM" + secrets.token_hex(16)
    message = OutboundMessage(Channel.SMS, unique_number(), "[5] SMS x", OutboundPurpose.PAGE, f"page#{sid}", stored.conversation_id, "ana", "5")
    deliveries.sent(message, sid, "queued", datetime.now(timezone.utc))
    return stored.conversation_id, sid, due


def delivery(sid: str) -> dict:
    client = boto3.client("dynamodb")
    from switchboard.store import keys
    from switchboard.store.dynamo import from_item, to_item

    return from_item(client.get_item(TableName=os.environ["TABLE_NAME"], Key=to_item(keys.provider_key("twilio-out", sid)), ConsistentRead=True)["Item"])


def test_delivered_is_recorded_and_a_late_sent_does_not_overwrite_it(local):
    conversation_id, sid, due = sent_page(local)
    assert callback(local, sid, "delivered").status_code == 200
    assert callback(local, sid, "sent").status_code == 200  # callbacks can arrive out of order
    assert delivery(sid)["status"] == "delivered"
    assert stores()[1].get_page(conversation_id).next_escalation_at == due
    stores()[1].settle(conversation_id, PageStatus.RESOLVED, None, datetime.now(timezone.utc))


def test_an_undelivered_page_is_due_at_once(local):
    conversation_id, sid, due = sent_page(local)
    assert callback(local, sid, "undelivered", ErrorCode="30003").status_code == 200
    record = delivery(sid)
    assert record["status"] == "undelivered" and record["error_code"] == "30003"
    page = stores()[1].get_page(conversation_id)
    assert page.next_escalation_at < due
    stores()[1].settle(conversation_id, PageStatus.RESOLVED, None, datetime.now(timezone.utc))


def test_unknown_messages_are_acknowledged_and_bad_requests_refused(local):
    assert callback(local, "SM" + "f" * 32, "delivered").status_code == 200  # not ours: nothing to record
    sid = "SM" + secrets.token_hex(16)
    assert callback(local, sid, "delivered", signature=None).status_code == 403
    assert callback(local, "nonsense", "delivered").status_code == 400
    wait_for_quarantine(local, lambda r: sid in r["body"] and r["status"] == 403)


def test_a_notice_is_settled_by_its_callbacks_and_21610_opts_the_number_out(local):
    """A notice's MessageSid leads its status to the notice; Twilio's 21610 ("unsubscribed
    recipient") on any SMS marks the number opted out, so no notice is tried again."""
    from switchboard.store.notices import NoticeStore
    from switchboard.store.subscribers import SubscriberStore

    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    notices, subscribers = NoticeStore(client, table), SubscriberStore(client, table)
    deliveries, _ = stores()
    update_id = f"upd-{secrets.token_hex(4)}"
    delivered_to, refused_to = unique_number(), unique_number()
    sids = {}
    for number in (delivered_to, refused_to):
        sid = "SM" + secrets.token_hex(16)
        message = OutboundMessage(Channel.SMS, number, "Acme: [Investigating] ...", OutboundPurpose.NOTICE, f"notice#{update_id}#sms#{number}", notice={"incident_id": "i", "update_id": update_id})
        notices.claim(update_id, "sms", number, subscribers.opt_out_condition("sms", number), datetime.now(timezone.utc))
        notices.sent(update_id, "sms", number, sid, 0.0, datetime.now(timezone.utc))
        deliveries.sent(message, sid, "queued", datetime.now(timezone.utc))
        sids[number] = sid
    assert callback(local, sids[delivered_to], "delivered").status_code == 200
    assert callback(local, sids[refused_to], "failed", ErrorCode="21610").status_code == 200
    counts = notices.counts(update_id)
    assert (counts["delivered"], counts["failed"], counts["sent"]) == (1, 1, 0)
    assert subscribers.is_opted_out("sms", refused_to) and not subscribers.is_opted_out("sms", delivered_to)
