"""Posting provider webhooks to the local gateway, signed as the provider signs them."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Any
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


# ---- email: what SES's receipt rule hands the function ------------------------------------


def new_ses_message_id() -> str:
    """An id shaped like SES's (its S3 object name): 20 base32-ish characters and more."""
    return secrets.token_hex(10) + "-" + secrets.token_hex(4) + "-" + secrets.token_hex(2) + "-000000"


def ses_receipt_event(
    raw: bytes,
    ses_message_id: str,
    recipients: list[str],
    *,
    received_at: datetime,
    spam: str = "PASS",
    virus: str = "PASS",
    spf: str = "PASS",
    dkim: str = "PASS",
    dmarc: str = "PASS",
    function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:EmailFunction",
) -> dict[str, Any]:
    """The event an SES receipt rule's Lambda action sends (after its S3 action), as documented
    at docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda-event.html."""
    message = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    timestamp = received_at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def header(name: str) -> str | None:
        value = message.get(name)
        return str(value) if value is not None else None

    common = {
        "returnPath": (header("Return-Path") or "").strip("<>") or None,
        "from": [header("From")] if header("From") else None,
        "date": header("Date"),
        "to": [header("To")] if header("To") else None,
        "messageId": header("Message-ID"),
        "subject": header("Subject"),
    }
    return {
        "Records": [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {
                    "mail": {
                        "timestamp": timestamp,
                        "source": parseaddr(header("Return-Path") or header("From") or "")[1],
                        "messageId": ses_message_id,
                        "destination": recipients,
                        "headersTruncated": False,
                        "headers": [{"name": name, "value": str(value)} for name, value in message.items()],
                        "commonHeaders": {k: v for k, v in common.items() if v is not None},
                    },
                    "receipt": {
                        "timestamp": timestamp,
                        "processingTimeMillis": 420,
                        "recipients": recipients,
                        "spamVerdict": {"status": spam},
                        "virusVerdict": {"status": virus},
                        "spfVerdict": {"status": spf},
                        "dkimVerdict": {"status": dkim},
                        "dmarcVerdict": {"status": dmarc},
                        "action": {"type": "Lambda", "functionArn": function_arn, "invocationType": "Event"},
                    },
                },
            }
        ]
    }


# ---- voice: the requests Twilio makes for one call ----------------------------------------


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def twilio_call_form(caller: str, call_sid: str, to: str = LOCAL_SUPPORT_NUMBER, **fields: str) -> dict[str, str]:
    """The fields of Twilio's voice requests for a call: the call's own, plus those given."""
    return {
        "AccountSid": LOCAL_ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "Direction": "inbound",
        "From": caller,
        "To": to,
        "Caller": caller,
        "Called": to,
        **fields,
    }


def voicemail_requests(
    caller: str,
    call_sid: str,
    *,
    text: str | None,
    duration: int,
    hang_up_early: bool = False,
    to: str = LOCAL_SUPPORT_NUMBER,
) -> list[tuple[str, dict[str, str]]]:
    """The (path + query, form) of each request Twilio makes for a call that ends in
    voicemail, in the order Twilio usually sends them; hang_up_early: the caller hangs
    up during the greeting. text None: no transcription callback at all."""
    call_query = "?" + urlencode({"caller": caller, "called": to})
    requests = [("/webhooks/twilio/voice", twilio_call_form(caller, call_sid, to, CallStatus="ringing"))]
    if hang_up_early:
        return requests + [("/webhooks/twilio/voice/status", twilio_call_form(caller, call_sid, to, CallStatus="completed", CallDuration="4"))]
    recording_sid = "RE" + secrets.token_hex(16)
    recording_url = f"https://api.twilio.com/2010-04-01/Accounts/{LOCAL_ACCOUNT_SID}/Recordings/{recording_sid}"
    recording = {"RecordingSid": recording_sid, "RecordingUrl": recording_url, "RecordingDuration": str(duration)}
    requests.append(("/webhooks/twilio/voice/recorded" + call_query, twilio_call_form(caller, call_sid, to, CallStatus="in-progress", Digits="hangup", **recording)))
    requests.append(("/webhooks/twilio/voice/status", twilio_call_form(caller, call_sid, to, CallStatus="completed", CallDuration=str(duration + 9))))
    requests.append(
        (
            "/webhooks/twilio/voice/recording" + call_query,
            {"AccountSid": LOCAL_ACCOUNT_SID, "CallSid": call_sid, "RecordingStatus": "completed", "RecordingChannels": "1", "RecordingSource": "RecordVerb", **recording},
        )
    )
    if text is not None:
        transcription = {
            "TranscriptionSid": "TR" + secrets.token_hex(16),
            "TranscriptionStatus": "completed" if text else "failed",
            "TranscriptionText": text,
            "TranscriptionType": "fast",
            "TranscriptionUrl": f"https://api.twilio.com/2010-04-01/Accounts/{LOCAL_ACCOUNT_SID}/Transcriptions/TR0",
            "url": recording_url,
        }
        requests.append(("/webhooks/twilio/voice/transcription" + call_query, twilio_call_form(caller, call_sid, to, CallStatus="completed", **recording, **transcription)))
    return requests
