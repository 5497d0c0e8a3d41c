"""Posting provider webhooks to the local gateway, signed as the provider signs them."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

TWILIO_SMS_PATH = "/webhooks/twilio/sms"
LOCAL_SUPPORT_NUMBER = "+15005550006"
LOCAL_ACCOUNT_SID = "AC" + "0" * 32


def twilio_sms_form(sender: str, body: str, to: str = LOCAL_SUPPORT_NUMBER, media: list[tuple[str, str]] | None = None, message_sid: str | None = None) -> dict[str, str]:
    """The fields Twilio posts for an inbound SMS (MMS when media is given)."""
    media = media or []
    form = {
        "ToCountry": "US",
        "SmsMessageSid": "",
        "NumMedia": str(len(media)),
        "SmsSid": "",
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": "1",
        "MessageSid": message_sid or ("MM" if media else "SM") + secrets.token_hex(16),
        "AccountSid": LOCAL_ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    form["SmsMessageSid"] = form["SmsSid"] = form["MessageSid"]
    for index, (url, content_type) in enumerate(media):
        form[f"MediaUrl{index}"] = url
        form[f"MediaContentType{index}"] = content_type
    return form


def post_signed_form(gateway_url: str, public_url: str, path: str, form: dict[str, str], auth_token: str) -> tuple[int, str]:
    """POST the form to the gateway, signed over the public URL as Twilio would."""
    signature = RequestValidator(auth_token).compute_signature(public_url + path, form)
    request = urllib.request.Request(
        gateway_url + path,
        data=urlencode(form).encode("utf-8"),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")
