"""Sending SMS: through Twilio's REST API (SMS_DELIVERY=twilio), or into the local outbox.

One class per provider behind one small interface (as Grafana OnCall's PhoneProvider),
chosen by settings, never by an "if local" in the calling code. Twilio errors are
sorted into permanent ones (a bad or opted-out number: retrying cannot help, the page
escalates at once) and temporary ones (raised, so the queue retries and, in the end,
dead-letters the message).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from switchboard.errors import CredentialsRefused, PermanentSendFailure

# Twilio error codes that no retry can fix (https://www.twilio.com/docs/api/errors).
PERMANENT_ERRORS = {
    21211: "invalid 'To' number",
    21408: "permission to send to this region is not enabled",
    21610: "the recipient has opted out (replied STOP)",
    21612: "the 'To' number cannot receive messages from this sender",
    21614: "the 'To' number is not a mobile number",
    30003: "unreachable destination handset",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
}


@dataclass(frozen=True)
class Sent:
    provider: str
    provider_id: str  # Twilio's MessageSid, or the local outbox's id
    status: str


class SmsSender(Protocol):
    def send(self, to: str, body: str, status_callback: str | None) -> Sent: ...


class TwilioSms:
    """Twilio Programmable Messaging. twilio.rest is imported here, where it sends:
    it costs ~100 ms of import that no inbound function should pay."""

    def __init__(self, account_sid: str, auth_token: str, sender: str, timeout_seconds: float = 10) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        # A timeout, so a stalled Twilio ends in a retryable error before the function's own.
        self._client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout_seconds))
        # A Messaging Service (MG…) picks the number itself; otherwise send from the number.
        self._sender = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}

    def send(self, to: str, body: str, status_callback: str | None) -> Sent:
        from twilio.base.exceptions import TwilioRestException

        extra: dict[str, Any] = {"status_callback": status_callback} if status_callback else {}
        try:
            message = self._client.messages.create(to=to, body=body, **self._sender, **extra)
        except TwilioRestException as error:
            if error.status == 401:
                raise CredentialsRefused(f"Twilio refused the account's credentials (error {error.code})") from None
            if error.status == 429 or error.status >= 500:
                raise  # temporary: the queue retries
            reason = PERMANENT_ERRORS.get(error.code or 0, error.msg or f"HTTP {error.status}")
            raise PermanentSendFailure(error.code, reason) from None
        return Sent("twilio", message.sid, message.status or "queued")


class LocalOutbox:
    """SMS_DELIVERY=outbox (the local stack, tests): the SMS is kept in the table's outbox
    partition, where `switchboard local outbox` shows it. It reached nobody, and its
    status says so ("outbox", never "delivered")."""

    def __init__(self, outbox: Any) -> None:
        self._outbox = outbox

    def send(self, to: str, body: str, status_callback: str | None) -> Sent:
        return Sent("local-outbox", self._outbox.put_sms(to, body), "outbox")
