"""Normalizing Twilio's inbound message fields: pure, no AWS."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.channels.sms import normalize_sms, to_e164
from switchboard.errors import RejectedRequest

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)
SID = "SM" + "a" * 32


def form(**fields):
    base = {"MessageSid": SID, "AccountSid": "AC" + "0" * 32, "From": "+14155550100", "To": "+15005550006", "Body": "Hi", "NumMedia": "0"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def normalize(fields):
    return normalize_sms(fields, received_at=NOW, default_region="US")


def test_a_plain_sms():
    message = normalize(form(FromCity="SAN FRANCISCO", Unrelated="x"))
    assert message.channel.value == "sms"
    assert message.provider == "twilio" and message.provider_id == SID
    assert message.sender.kind.value == "phone" and message.sender.value == "+14155550100"
    assert message.recipient == "+15005550006"
    assert message.body == "Hi"
    assert message.media == ()
    assert message.received_at == NOW
    assert message.provider_fields == {"AccountSid": "AC" + "0" * 32, "FromCity": "SAN FRANCISCO"}


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+14155550100", "US", "+14155550100"),
        ("+1 (415) 555-0100", "US", "+14155550100"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+81 3-1234-5678", "US", "+81312345678"),
    ],
)
def test_numbers_become_e164(raw, region, e164):
    assert to_e164(raw, region, "From") == e164


def test_mms_keeps_each_media_item_in_order():
    message = normalize(
        form(
            NumMedia="3",
            MediaUrl0="https://api.twilio.com/a", MediaContentType0="image/jpeg",
            MediaUrl1="https://api.twilio.com/b", MediaContentType1="video/mp4",
            MediaUrl2="https://api.twilio.com/c",
        )
    )
    assert [(m.url, m.content_type) for m in message.media] == [
        ("https://api.twilio.com/a", "image/jpeg"),
        ("https://api.twilio.com/b", "video/mp4"),
        ("https://api.twilio.com/c", "application/octet-stream"),
    ]


def test_the_legacy_sid_field_is_accepted():
    assert normalize(form(MessageSid=None, SmsMessageSid=SID)).provider_id == SID


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (form(MessageSid=None), "MessageSid is missing"),
        (form(MessageSid="SM123"), "MessageSid is not a Twilio message id"),
        (form(From=None), "From is missing"),
        (form(From=""), "From is empty"),
        (form(From="hello"), "From is not a phone number"),
        (form(From="+1 555"), "From is not a possible phone number"),
        (form(From="whatsapp:+14155550100"), "channel address 'whatsapp'"),
        (form(To="nonsense"), "To is not a phone number"),
        (form(NumMedia="two"), "NumMedia is not a number"),
        (form(NumMedia="11"), "Twilio sends at most 10"),
        (form(NumMedia="1"), "MediaUrl0 is missing"),
        (form(NumMedia="1", MediaUrl0="http://insecure.example/x"), "not an https URL"),
    ],
)
def test_bad_fields_are_refused_with_400_and_a_reason(fields, reason):
    with pytest.raises(RejectedRequest) as refused:
        normalize(fields)
    assert refused.value.status == 400
    assert reason in refused.value.reason


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["MessageSid", "From", "To", "Body", "NumMedia", "MediaUrl0", "MediaContentType0"]), st.text(max_size=40)))
def test_any_form_is_normalized_or_refused_never_crashes(fields):
    try:
        message = normalize(fields)
    except RejectedRequest as refused:
        assert refused.status == 400 and refused.reason
    else:
        assert message.sender.value.startswith("+")
        assert len(message.media) == int(fields.get("NumMedia") or 0)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
def test_e164_numbers_are_kept_as_they_are(number):
    assert to_e164(number, "GB", "From") == number
