"""Sending one notice against DynamoDB Local: the claim, the second opt-out check after the
wait for a send slot, and a temporary failure that gives the claim back."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timezone

import boto3
import pytest

from conftest_helpers import unique_number
from switchboard.channels.sms_outbound import Sent
from switchboard.errors import PermanentSendFailure
from switchboard.incidents.sending import deliver_notice
from switchboard.models import Channel, OutboundMessage, OutboundPurpose
from switchboard.pacing import next_slot
from switchboard.store.notices import NoticeStore
from switchboard.store.subscribers import SubscriberStore

pytestmark = pytest.mark.integration


@pytest.fixture
def stores(local):
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    return NoticeStore(client, table), SubscriberStore(client, table)


def notice(to: str, update_id: str) -> OutboundMessage:
    return OutboundMessage(Channel.SMS, to, "Acme: [Investigating] ...", OutboundPurpose.NOTICE, f"notice#{update_id}#sms#{to}", notice={"incident_id": "i", "update_id": update_id})


def now() -> datetime:
    return datetime.now(timezone.utc)


def send(message, notices, subscribers, sent: list, during_wait=lambda: None, provider=None):
    def wait_for_slot(channel: str):
        during_wait()  # what happens while the notice waits for its turn
        return next_slot(None, time.time(), 10)

    def send_now(message):
        sent.append(message.to)
        return provider(message) if provider else Sent("local-outbox", "out-1", "sent")

    return deliver_notice(message, notices, subscribers, wait_for_slot, send_now, time.time, now)


def test_a_number_that_opts_out_while_its_notice_waits_for_a_slot_gets_nothing(stores):
    notices, subscribers = stores
    phone, update_id, sent = unique_number(), f"u-{uuid.uuid4()}", []
    status = send(notice(phone, update_id), notices, subscribers, sent, during_wait=lambda: subscribers.opt_out("sms", phone, "sms-stop", now()))
    assert (status, sent) == ("opted_out", [])
    assert notices.counts(update_id)["skipped"] == 1
    # Opted out before the claim: skipped without taking a slot.
    later = f"u-{uuid.uuid4()}"
    assert send(notice(phone, later), notices, subscribers, sent, during_wait=lambda: pytest.fail("no slot for an opted-out address")) == "opted_out"


def test_each_notice_is_sent_once_and_a_temporary_failure_gives_the_claim_back(stores):
    notices, subscribers = stores
    phone, update_id, sent = unique_number(), f"u-{uuid.uuid4()}", []

    def unavailable(message):
        raise ConnectionError("Twilio is unreachable")

    with pytest.raises(ConnectionError):
        send(notice(phone, update_id), notices, subscribers, sent, provider=unavailable)
    assert send(notice(phone, update_id), notices, subscribers, sent) == "sent", "the retry may claim it again"
    assert send(notice(phone, update_id), notices, subscribers, sent) == "duplicate"
    assert sent == [phone, phone]  # the failed attempt, then the one send
    assert notices.counts(update_id)["sent"] == 1


def test_a_permanent_refusal_fails_the_notice_and_21610_opts_the_number_out(stores):
    notices, subscribers = stores
    phone, update_id, sent = unique_number(), f"u-{uuid.uuid4()}", []

    def refused(message):
        raise PermanentSendFailure(21610, "Attempt to send to unsubscribed recipient")

    assert send(notice(phone, update_id), notices, subscribers, sent, provider=refused) == "failed"
    assert notices.counts(update_id)["failed"] == 1
    assert subscribers.is_opted_out("sms", phone)


def test_an_address_that_only_holds_an_unsubscribe_link_is_not_opted_out(stores):
    """A customer notified once about their conversation's component gets a link token on an
    opt-out item without `opted_out`; later notices to them must still be sent."""
    notices, subscribers = stores
    address = f"customer-{uuid.uuid4().hex[:8]}@customer.example"
    subscribers.link_token("email", address)
    first, second, sent = f"u-{uuid.uuid4()}", f"u-{uuid.uuid4()}", []
    email = lambda update_id: OutboundMessage(Channel.EMAIL, address, "Acme: ...", OutboundPurpose.NOTICE, f"notice#{update_id}#email#{address}", notice={"incident_id": "i", "update_id": update_id})  # noqa: E731
    assert send(email(first), notices, subscribers, sent) == "sent"
    assert send(email(second), notices, subscribers, sent) == "sent"
    subscribers.opt_out("email", address, "unsubscribe-link", now())
    assert send(email(f"u-{uuid.uuid4()}"), notices, subscribers, sent) == "opted_out"
    assert sent == [address, address]


def test_a_notice_the_provider_took_is_never_sent_again_when_recording_it_fails(stores):
    """The record of the send fails (DynamoDB throttles, say): the claim stays, so the
    queue's redelivery finds a duplicate instead of sending it twice."""
    import botocore.exceptions

    notices, subscribers = stores
    phone, update_id, sent = unique_number(), f"u-{uuid.uuid4()}", []
    client = boto3.client("dynamodb")  # a client of its own, whose PutItem calls fail (the record; the claim is a transaction)

    def throttled(**_):
        raise botocore.exceptions.ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutItem")

    client.meta.events.register("before-call.dynamodb.PutItem", throttled)
    failing = NoticeStore(client, os.environ["TABLE_NAME"])
    assert send(notice(phone, update_id), failing, subscribers, sent) == "sent_unrecorded"
    assert send(notice(phone, update_id), notices, subscribers, sent) == "duplicate"
    assert sent == [phone]
