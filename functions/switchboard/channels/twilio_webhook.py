"""Checks shared by every Twilio webhook: size, content type, form body, signature."""

from __future__ import annotations

from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from switchboard.errors import RejectedRequest

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Twilio retries a webhook only when its URL asks, in connection overrides (a URL
# fragment, https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides):
# up to 3 more times on a connect or read timeout or a 5xx, which is what a function
# answers when its store stalls (503) or what API Gateway answers when Lambda ends it.
CONNECTION_OVERRIDES = "rc=3&rp=ct,rt,5xx"
# Twilio's webhooks carry a few dozen fields; a form with hundreds is not from Twilio.
MAX_FORM_FIELDS = 200


def retried(url: str) -> str:
    """A URL of ours as Twilio is given it (console, TwiML callbacks): with the overrides."""
    return f"{url}#{CONNECTION_OVERRIDES}"


def verified_form(
    *,
    url: str,
    content_type: str | None,
    body: bytes,
    signature: str | None,
    auth_token: str,
    max_body_bytes: int,
) -> dict[str, str]:
    """The webhook's form fields, once the request is shown to come from Twilio.

    `url` is the public URL Twilio was configured to call (with the query string, if
    any), never one rebuilt from the Host header. The signature may cover it with or
    without our connection overrides (the fragment never reaches us): either holds.
    Raises RejectedRequest with the HTTP status and reason for anything else.
    """
    if len(body) > max_body_bytes:
        raise RejectedRequest(413, f"body is {len(body)} bytes; the limit is {max_body_bytes}")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_CONTENT_TYPE:
        raise RejectedRequest(415, f"expected {FORM_CONTENT_TYPE}, got {media_type or 'no content type'}")
    if not signature:
        raise RejectedRequest(403, "missing X-Twilio-Signature header")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as error:
        raise RejectedRequest(400, f"body is not a valid form: {error}") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise RejectedRequest(400, "form repeats a field; Twilio never does")
    validator = RequestValidator(auth_token)
    if not (validator.validate(url, form, signature) or validator.validate(retried(url), form, signature)):
        raise RejectedRequest(403, "X-Twilio-Signature does not match the request")
    return form
