"""Inbound SMS and MMS from Twilio's messaging webhook → InboundMessage."""

from __future__ import annotations

import re
from datetime import datetime

from switchboard.errors import RejectedRequest
from switchboard.models import Channel, Identity, IdentityKind, InboundMessage, Media

PROVIDER = "twilio"
# SM… for SMS, MM… for MMS; Twilio ids are two letters and 32 hex digits.
MESSAGE_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
# Twilio delivers at most 10 media items per message.
MAX_MEDIA = 10
# Fields kept on the message for support work; the rest of the form is noise or echoed ids.
KEPT_FIELDS = (
    "AccountSid",
    "MessagingServiceSid",
    "NumSegments",
    "SmsStatus",
    "FromCity",
    "FromState",
    "FromZip",
    "FromCountry",
    "ToCountry",
)


def to_e164(raw: str, default_region: str, field: str) -> str:
    """A phone number in E.164, or a 400 that says which field was wrong and why."""
    if not raw.strip():
        raise RejectedRequest(400, f"{field} is empty")
    if ":" in raw:  # whatsapp:+1…, messenger:…: other channels, not handled here
        raise RejectedRequest(400, f"{field} is not a phone number (channel address {raw.split(':', 1)[0]!r})")
    # Imported on first use (40 ms): a handler's import stays close to boto3's, and only an
    # invocation with a number to read pays it (tests/bench/imports.py shows both).
    import phonenumbers

    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as error:
        raise RejectedRequest(400, f"{field} is not a phone number: {error}") from None
    if not phonenumbers.is_possible_number(number):
        raise RejectedRequest(400, f"{field} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_sms(form: dict[str, str], *, received_at: datetime, default_region: str) -> InboundMessage:
    """Twilio's inbound message fields → InboundMessage; RejectedRequest(400) on bad input."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    if not sid:
        raise RejectedRequest(400, "MessageSid is missing")
    if not MESSAGE_SID.fullmatch(sid):
        raise RejectedRequest(400, "MessageSid is not a Twilio message id")
    if "From" not in form:
        raise RejectedRequest(400, "From is missing")
    sender = to_e164(form["From"], default_region, "From")
    recipient = to_e164(form["To"], default_region, "To") if form.get("To") else None
    return InboundMessage(
        channel=Channel.SMS,
        provider=PROVIDER,
        provider_id=sid,
        sender=Identity(kind=IdentityKind.PHONE, value=sender),
        recipient=recipient,
        body=form.get("Body", ""),
        media=_media(form),
        received_at=received_at,
        provider_fields={name: form[name] for name in KEPT_FIELDS if form.get(name)},
    )


def _media(form: dict[str, str]) -> tuple[Media, ...]:
    raw_count = form.get("NumMedia", "0") or "0"
    if not raw_count.isdigit():
        raise RejectedRequest(400, f"NumMedia is not a number: {raw_count[:20]!r}")
    count = int(raw_count)
    if count > MAX_MEDIA:
        raise RejectedRequest(400, f"NumMedia is {count}; Twilio sends at most {MAX_MEDIA}")
    media = []
    for index in range(count):
        url = form.get(f"MediaUrl{index}")
        if not url:
            raise RejectedRequest(400, f"NumMedia is {count} but MediaUrl{index} is missing")
        if not url.startswith("https://"):
            raise RejectedRequest(400, f"MediaUrl{index} is not an https URL")
        content_type = form.get(f"MediaContentType{index}") or "application/octet-stream"
        media.append(Media(url=url, content_type=content_type))
    return tuple(media)
