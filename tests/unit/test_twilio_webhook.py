"""The checks every Twilio webhook passes, with signatures made by Twilio's own validator."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from switchboard.channels.twilio_webhook import verified_form
from switchboard.errors import RejectedRequest

TOKEN = "12345678901234567890123456789012"
URL = "https://support.example.com/webhooks/twilio/sms"
FORM = {"MessageSid": "SM" + "b" * 32, "From": "+14155550100", "Body": "Héllo & goodbye = ok?"}


def check(form=FORM, *, url=URL, signed_url=URL, content_type="application/x-www-form-urlencoded", body=None, signature="sign", limit=65536):
    if signature == "sign":
        signature = RequestValidator(TOKEN).compute_signature(signed_url, form)
    return verified_form(
        url=url, content_type=content_type, body=body if body is not None else urlencode(form).encode(),
        signature=signature, auth_token=TOKEN, max_body_bytes=limit,
    )


def test_a_signed_form_is_returned_decoded():
    assert check() == FORM


def test_a_content_type_with_charset_is_accepted():
    assert check(content_type="application/x-www-form-urlencoded; charset=UTF-8") == FORM


def test_a_query_string_is_part_of_what_is_signed():
    assert check(url=URL + "?tenant=a", signed_url=URL + "?tenant=a") == FORM
    with pytest.raises(RejectedRequest):
        check(url=URL + "?tenant=b", signed_url=URL + "?tenant=a")


@pytest.mark.parametrize(
    ("options", "status", "reason"),
    [
        ({"signature": None}, 403, "missing X-Twilio-Signature"),
        ({"signature": "AAAA"}, 403, "does not match"),
        ({"signed_url": "https://attacker.example/webhooks/twilio/sms"}, 403, "does not match"),
        ({"content_type": "application/json"}, 415, "got application/json"),
        ({"content_type": None}, 415, "no content type"),
        ({"limit": 10}, 413, "the limit is 10"),
        ({"body": b"\xff\xfe=1"}, 400, "not a valid form"),
        ({"body": b"a=1&a=2"}, 400, "repeats a field"),
        ({"body": b"just text"}, 400, "not a valid form"),
        ({"body": "&".join(f"f{i}=1" for i in range(300)).encode()}, 400, "not a valid form"),
    ],
)
def test_refusals_carry_status_and_reason(options, status, reason):
    with pytest.raises(RejectedRequest) as refused:
        check(**options)
    assert refused.value.status == status
    assert reason in refused.value.reason


def test_size_is_checked_before_anything_is_parsed():
    with pytest.raises(RejectedRequest) as refused:
        check(content_type="text/plain", signature=None, limit=5)
    assert refused.value.status == 413


def test_a_signature_over_the_url_with_our_connection_overrides_holds_too():
    """Twilio is given our URLs with the retry overrides as a fragment; the fragment never
    reaches us, so a signature with or without it is accepted, and no other."""
    from switchboard.channels.twilio_webhook import CONNECTION_OVERRIDES, retried

    assert check(signed_url=retried(URL)) == FORM
    assert check(signed_url=URL) == FORM
    with pytest.raises(RejectedRequest):
        check(signed_url=URL + "#rc=5")
    assert retried(URL) == f"{URL}#{CONNECTION_OVERRIDES}" and "rp=" in CONNECTION_OVERRIDES and "5xx" in CONNECTION_OVERRIDES


def test_every_webhook_url_given_to_twilio_asks_for_retries():
    from local_stack.template import Template
    from switchboard.channels.twilio_webhook import CONNECTION_OVERRIDES
    from switchboard.channels.voice import greeting_twiml

    outputs = Template().document["Outputs"]
    for name in ("SmsWebhookUrl", "VoiceWebhookUrl", "VoiceStatusCallbackUrl"):
        assert outputs[name]["Value"]["Fn::Sub"].endswith(f"#{CONNECTION_OVERRIDES}"), name
    twiml = greeting_twiml("https://support.example.com", {"From": "+14155550100", "To": "+14155550199"}, "Hello", 120)
    assert twiml.count("#" + CONNECTION_OVERRIDES.replace("&", "&amp;")) == 3, twiml
