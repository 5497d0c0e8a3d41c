"""Calling an agent back to a customer (`12 CALL`): Twilio's REST API rings the agent's
phone from the support number and fetches our TwiML when they answer
(channels/voice_live.py's callback steps), or, locally, the call is kept in the outbox.

As with SMS (channels/sms_outbound.py), one class per provider, chosen by settings.
"""

from __future__ import annotations

from typing import Any

from switchboard.channels.sms_outbound import PERMANENT_ERRORS, Sent
from switchboard.errors import CredentialsRefused, PermanentSendFailure


class TwilioCalls:
    def __init__(self, account_sid: str, auth_token: str, sender: str, timeout_seconds: float = 10) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        if not sender.startswith("+"):
            raise PermanentSendFailure(None, "calls need TwilioSender to be the support phone number, not a Messaging Service")
        self._client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout_seconds))
        self._sender = sender

    def call(self, to: str, twiml_url: str, status_callback: str | None) -> Sent:
        from twilio.base.exceptions import TwilioRestException

        extra: dict[str, Any] = {"status_callback": status_callback} if status_callback else {}
        try:
            call = self._client.calls.create(to=to, from_=self._sender, url=twiml_url, method="POST", timeout=25, **extra)
        except TwilioRestException as error:
            if error.status == 401:
                raise CredentialsRefused(f"Twilio refused the account's credentials (error {error.code})") from None
            if error.status == 429 or error.status >= 500:
                raise
            raise PermanentSendFailure(error.code, PERMANENT_ERRORS.get(error.code or 0, error.msg or f"HTTP {error.status}")) from None
        return Sent("twilio", call.sid, call.status or "queued")


class LocalCalls:
    """SMS_DELIVERY=outbox: the call is kept in the outbox with the URL Twilio would fetch
    (`switchboard local outbox` shows it; `local send callback` plays it)."""

    def __init__(self, outbox: Any) -> None:
        self._outbox = outbox

    def call(self, to: str, twiml_url: str, status_callback: str | None) -> Sent:
        return Sent("local-outbox", self._outbox.put_sms(to, f"(call) {twiml_url}"), "outbox")
