"""Inbound SMS end to end: signed webhooks through the gateway into DynamoDB Local."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from conftest_helpers import wait_for_quarantine

pytestmark = pytest.mark.integration

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def stored(local, form):
    """The conversation holding this form's MessageSid, and that message (or Nones)."""
    found = local.conversations().find_claim("twilio", form["MessageSid"])
    if found is None:
        return None, None
    conversation = local.conversations().get_conversation(found[0].conversation_id)
    return conversation, next(m for m in conversation.messages if m.message_id == found[1])


def test_sms_is_appended_and_answered_with_empty_twiml(local, sms_form):
    form = sms_form(body="My invoice for November shows two charges")
    form.update({"FromCity": "SAN FRANCISCO", "FromCountry": "US"})

    response = local.post_sms(form)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    assert response.text == EMPTY_TWIML
    conversation, message = stored(local, form)
    assert conversation.status.value == "waiting_on_us"
    assert conversation.customer_identity.value == form["From"]
    assert conversation.message_count == 1
    assert conversation.last_message_preview == "My invoice for November shows two charges"
    assert message.channel.value == "sms" and message.direction.value == "inbound"
    assert message.sender.kind.value == "phone" and message.sender.value == form["From"]
    assert message.recipient == form["To"]
    assert message.body == form["Body"]
    assert message.provider_id == form["MessageSid"]
    assert message.provider_fields["FromCity"] == "SAN FRANCISCO"
    assert message.media == ()


def test_messages_from_one_number_share_one_conversation_in_order(local, sms_form):
    first = sms_form(body="first")
    number = first["From"]
    forms = [first, sms_form(number, "second"), sms_form(number, "third")]
    for form in forms:
        assert local.post_sms(form).status_code == 200

    conversation, _ = stored(local, forms[0])
    assert [m.body for m in conversation.messages] == ["first", "second", "third"]
    assert [m.message_id for m in conversation.messages] == sorted(m.message_id for m in conversation.messages)
    assert conversation.message_count == 3
    assert {stored(local, form)[0].conversation_id for form in forms} == {conversation.conversation_id}


def test_mms_keeps_every_media_item(local, sms_form):
    media = [
        ("https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1", "image/jpeg"),
        ("https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME2", "application/pdf"),
    ]
    form = sms_form(body="", media=media)
    assert form["NumMedia"] == "2"

    assert local.post_sms(form).status_code == 200

    conversation, message = stored(local, form)
    assert [(m.url, m.content_type) for m in message.media] == media
    assert conversation.last_message_preview == "[2 attachments]"


def test_the_same_message_sid_ten_times_stores_one_message(local, sms_form):
    form = sms_form()
    responses = [local.post_sms(form) for _ in range(10)]

    assert [r.status_code for r in responses] == [200] * 10
    conversation, _ = stored(local, form)
    assert len(conversation.messages) == 1
    assert conversation.message_count == 1


def test_the_same_message_sid_concurrently_stores_one_message(local, sms_form):
    number_form = sms_form()
    assert local.post_sms(number_form).status_code == 200  # a known customer
    form = sms_form(number_form["From"], "sent ten times at once")
    barrier = threading.Barrier(10)

    def post(_):
        barrier.wait()
        return local.post_sms(form).status_code

    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(post, range(10)))

    assert statuses == [200] * 10
    conversation, _ = stored(local, form)
    assert [m.body for m in conversation.messages].count("sent ten times at once") == 1
    assert conversation.message_count == 2


def test_concurrent_first_messages_from_a_new_number_make_one_customer(local, sms_form):
    number = sms_form()["From"]
    forms = [sms_form(number, f"message {i}") for i in range(8)]
    barrier = threading.Barrier(len(forms))

    def post(form):
        barrier.wait()
        return local.post_sms(form).status_code

    with ThreadPoolExecutor(len(forms)) as pool:
        statuses = list(pool.map(post, forms))

    assert statuses == [200] * len(forms)
    conversations = {stored(local, form)[0].conversation_id for form in forms}
    assert len(conversations) == 1
    conversation = local.conversations().get_conversation(conversations.pop())
    assert sorted(m.body for m in conversation.messages) == sorted(f["Body"] for f in forms)
    assert conversation.message_count == len(forms)
    assert len({m.customer_id for m in conversation.messages}) == 1
    listed = [c for c in local.conversations().list_conversations(limit=1000) if c.customer_identity.value == number]
    assert len(listed) == 1


def test_a_resolved_conversation_reopens_on_a_new_message(local, sms_form):
    form = sms_form(body="I need help with my bill")  # "help" alone is the HELP keyword
    local.post_sms(form)
    conversation, _ = stored(local, form)
    assert local.conversations().resolve_conversation(conversation.conversation_id, datetime.now(timezone.utc))
    assert local.conversations().get_conversation(conversation.conversation_id).status.value == "resolved"

    again = sms_form(form["From"], "still broken")
    assert local.post_sms(again).status_code == 200

    reopened, _ = stored(local, again)
    assert reopened.conversation_id == conversation.conversation_id
    assert reopened.status.value == "waiting_on_us"
    assert reopened.waiting_since is not None and reopened.waiting_since > conversation.waiting_since


def _oversized(form):
    return {"body": b"Body=" + b"x" * 70_000}


BAD_REQUESTS = {
    # name: (change to the request, expected status, words in the reason)
    "missing signature": (lambda form: {"signature": None}, 403, "missing X-Twilio-Signature"),
    "wrong signature": (lambda form: {"signature": "bm90IGEgc2lnbmF0dXJl"}, 403, "does not match"),
    "signed for another host": (lambda form: {"signature": "host", "headers": {"Host": "attacker.example"}}, 403, "does not match"),
    "tampered body": (lambda form: {"signature": "tamper"}, 403, "does not match"),
    "json content type": (lambda form: {"headers": {"Content-Type": "application/json"}}, 415, "application/json"),
    "no content type": (lambda form: {"headers": {"Content-Type": ""}}, 415, "no content type"),
    "oversized body": (_oversized, 413, "limit is 65536"),
    "missing From": (lambda form: {"drop": "From"}, 400, "From is missing"),
    "missing MessageSid": (lambda form: {"drop": "MessageSid"}, 400, "MessageSid is missing"),
    "unparseable From": (lambda form: {"set": ("From", "not-a-phone")}, 400, "From is not a phone number"),
    "impossible From": (lambda form: {"set": ("From", "+1234")}, 400, "not a possible phone number"),
    "whatsapp From": (lambda form: {"set": ("From", "whatsapp:+14155550100")}, 400, "channel address 'whatsapp'"),
    "media count lies": (lambda form: {"set": ("NumMedia", "2")}, 400, "MediaUrl0 is missing"),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_input_is_refused_with_a_reason_kept_in_quarantine_and_never_stored(local, sms_form, case):
    change, status, reason = BAD_REQUESTS[case]
    marker = uuid.uuid4().hex
    form = sms_form(body=f"bad request {marker}")
    options = change(form)
    sid = form["MessageSid"]
    if "drop" in options:
        del form[options.pop("drop")]
        if "MessageSid" not in form:
            form.pop("SmsMessageSid"), form.pop("SmsSid")
    if "set" in options:
        name, value = options.pop("set")
        form[name] = value
    if options.get("signature") == "host":
        from twilio.request_validator import RequestValidator

        options["signature"] = RequestValidator(local.auth_token).compute_signature("http://attacker.example/webhooks/twilio/sms", form)
    if options.get("signature") == "tamper":
        options["signature"] = local.sign(form)
        form["Body"] = f"tampered after signing {marker}"
    if "body" not in options and options.get("signature", "sign") == "sign":
        options["signature"] = "sign"

    response = local.post_sms(form, **options)

    assert response.status_code == status, response.text
    assert reason in response.text
    assert local.conversations().find_claim("twilio", sid) is None
    record = wait_for_quarantine(local, lambda r: r["reason"] == response.text.strip() and (marker in r["body"] or case == "oversized body"))
    assert record["status"] == status
    assert record["route"] == "POST /webhooks/twilio/sms"
    if case == "oversized body":
        assert record["body_bytes"] == 70_005


def test_an_unknown_route_is_404(local):
    import requests

    assert requests.post(local.gateway_url + "/webhooks/nothing", timeout=10).status_code == 404


def test_a_webhook_signed_with_a_rotated_token_is_checked_again_with_the_token_fetched_afresh(local, sms_form):
    import uuid

    import boto3
    from twilio.request_validator import RequestValidator

    from local_stack.send import TWILIO_SMS_PATH
    from switchboard import settings as settings_module
    from switchboard.settings import get_secret, get_settings

    name = get_settings().twilio_auth_token_parameter
    old = get_secret(name, 300)
    assert local.post_sms(sms_form()).status_code == 200  # the webhook has the old token cached
    new = "rotated-" + uuid.uuid4().hex
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=name, Value=new, Type="SecureString", Overwrite=True)
    settings_module._fresh_fetched_at.clear()
    try:
        form = sms_form(body="signed with the new token")
        signature = RequestValidator(new).compute_signature(local.public_url + TWILIO_SMS_PATH, form)
        assert local.post_sms(form, signature=signature).status_code == 200
        forged = sms_form(body="forged")
        assert local.post_sms(forged, signature="forged").status_code == 403, "a wrong signature is still refused"
    finally:
        ssm.put_parameter(Name=name, Value=old, Type="SecureString", Overwrite=True)
        settings_module._fresh_fetched_at.clear()
        get_secret(name, 300, fresh=True)
