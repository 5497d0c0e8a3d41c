"""Sending SMS through Twilio's REST API, with its HTTP intercepted by `responses`."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses
from twilio.base.exceptions import TwilioRestException

from switchboard.channels.sms_outbound import TwilioSms
from switchboard.errors import PermanentSendFailure

ACCOUNT = "AC" + "1" * 32
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


def twilio_message(sid: str = "SM" + "a" * 32, status: str = "queued") -> dict:
    return {"sid": sid, "status": status, "account_sid": ACCOUNT, "to": "+14155550100", "from": "+15005550006", "body": "hi", "num_segments": "1", "direction": "outbound-api", "error_code": None}


def twilio_error(code: int, message: str, status: int = 400) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


@responses.activate
def test_a_page_is_sent_from_the_number_with_basic_auth_and_the_status_callback():
    responses.add("POST", MESSAGES_URL, json=twilio_message(), status=201)
    sent = TwilioSms(ACCOUNT, "token", "+15005550006").send("+14155550100", "[12] SMS Jane D: hi", "https://example.com/webhooks/twilio/status")
    assert (sent.provider, sent.provider_id, sent.status) == ("twilio", "SM" + "a" * 32, "queued")
    (call,) = responses.calls
    form = parse_qs(call.request.body)
    assert form == {"To": ["+14155550100"], "From": ["+15005550006"], "Body": ["[12] SMS Jane D: hi"], "StatusCallback": ["https://example.com/webhooks/twilio/status"]}
    assert call.request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_a_messaging_service_sends_by_its_sid():
    responses.add("POST", MESSAGES_URL, json=twilio_message(), status=201)
    TwilioSms(ACCOUNT, "token", "MG" + "2" * 32).send("+14155550100", "hi", None)
    form = parse_qs(responses.calls[0].request.body)
    assert form["MessagingServiceSid"] == ["MG" + "2" * 32] and "From" not in form and "StatusCallback" not in form


@pytest.mark.parametrize(
    "code, reason",
    [(21211, "invalid 'To' number"), (21610, "the recipient has opted out (replied STOP)"), (21614, "the 'To' number is not a mobile number")],
)
@responses.activate
def test_permanent_twilio_errors_are_not_retried(code, reason):
    responses.add("POST", MESSAGES_URL, json=twilio_error(code, "nope"), status=400)
    with pytest.raises(PermanentSendFailure) as failure:
        TwilioSms(ACCOUNT, "token", "+15005550006").send("+14155550100", "hi", None)
    assert (failure.value.code, failure.value.reason) == (code, reason)


@pytest.mark.parametrize("status", [429, 500, 503])
@responses.activate
def test_throttling_and_server_errors_are_raised_for_the_queue_to_retry(status):
    responses.add("POST", MESSAGES_URL, json=twilio_error(20429 if status == 429 else 20500, "busy", status), status=status)
    with pytest.raises(TwilioRestException):
        TwilioSms(ACCOUNT, "token", "+15005550006").send("+14155550100", "hi", None)


@responses.activate
def test_an_unknown_client_error_is_permanent_with_twilios_message():
    responses.add("POST", MESSAGES_URL, json=twilio_error(21602, "Message body is required."), status=400)
    with pytest.raises(PermanentSendFailure) as failure:
        TwilioSms(ACCOUNT, "token", "+15005550006").send("+14155550100", "", None)
    assert failure.value.code == 21602 and "Message body is required" in failure.value.reason
