"""Twilio Voice: answer with a greeting and <Record>, and turn its callbacks into one message per call.

Twilio reports a voicemail in up to four requests, in any order and sometimes twice:
the <Record> action, the recording status callback, the transcription callback, and
the number's call status callback (the only one sent when the caller hangs up before
the beep). Each becomes an InboundMessage for the same call (provider id = CallSid),
so the first one stores the message and the others only add their part to it (see
`VoicePart.updates`). Pure: no AWS calls, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from switchboard.channels.sms import to_e164
from switchboard.errors import RejectedRequest
from switchboard.models import Channel, Identity, IdentityKind, InboundMessage, Media, MessageKind

PROVIDER = "twilio-call"
CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
RECORDING_SID = re.compile(r"^RE[0-9a-f]{32}$")
# Whole seconds; a negative count is taken as nothing recorded. ASCII digits and a
# bounded length: str.isdigit() also takes "²", and int() refuses over 4,300 digits.
DURATION = re.compile(r"-?[0-9]{1,9}")
# What carriers pass on as the caller's number when it is withheld, spelled on the
# keypad: ANONYMOUS, RESTRICTED, BLOCKED, UNKNOWN, UNAVAILABLE. The last two parse as
# possible Chinese numbers, so they must be named to stay one identity per call.
WITHHELD_NUMBERS = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})

# The callback routes, relative to the public URL (template.yaml declares the same).
VOICE_PATH = "/webhooks/twilio/voice"
RECORDED_PATH = VOICE_PATH + "/recorded"
RECORDING_STATUS_PATH = VOICE_PATH + "/recording"
TRANSCRIPTION_PATH = VOICE_PATH + "/transcription"
CALL_STATUS_PATH = VOICE_PATH + "/status"

# Twilio transcribes recordings of at most two minutes.
MAX_TRANSCRIBED_SECONDS = 120
NO_MESSAGE = "We did not get a message. Goodbye."

# ---- answering the call ---------------------------------------------------------------


def greeting_twiml(public_url: str, form: dict[str, str], greeting: str, max_seconds: int, hunted: bool = False) -> str:
    """The TwiML that greets the caller and records a voicemail, built with Twilio's builders.

    The callbacks carry the caller and the number called in their query string: the
    recording status callback does not send them, and Twilio signs the full URL, so
    they cannot be altered. hunted: agents were rung first, and the callbacks say so
    (`hunted=1`), so only those read what the hunt tried.
    """
    from twilio.twiml.voice_response import VoiceResponse

    from switchboard.channels.twilio_webhook import retried

    call = urlencode({"caller": form.get("From", ""), "called": form.get("To", ""), **({"hunted": "1"} if hunted else {})})
    response = VoiceResponse()
    response.say(greeting)
    response.record(
        action=retried(f"{public_url}{RECORDED_PATH}?{call}"),
        method="POST",
        max_length=max_seconds,
        timeout=5,
        finish_on_key="#",
        play_beep=True,
        transcribe=max_seconds <= MAX_TRANSCRIBED_SECONDS,
        transcribe_callback=retried(f"{public_url}{TRANSCRIPTION_PATH}?{call}"),
        recording_status_callback=retried(f"{public_url}{RECORDING_STATUS_PATH}?{call}"),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed absent",
    )
    # Reached only when nothing was recorded (silence until the timeout).
    response.say(NO_MESSAGE)
    response.hangup()
    return str(response)


def hang_up_twiml() -> str:
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.hangup()
    return str(response)


# ---- the callbacks --------------------------------------------------------------------


@dataclass(frozen=True)
class VoicePart:
    """One callback's share of the call's message."""

    message: InboundMessage  # what to store if this callback is the first
    # What to set on the message when another callback stored it first (None: nothing).
    updates: dict[str, Any] | None


def call_part(path: str, form: dict[str, str], query: dict[str, str], received_at: datetime, region: str) -> VoicePart | None:
    """A callback's form → its part of the call's message; None when it adds nothing.

    RejectedRequest(400) when a required field is missing or malformed.
    """
    call_sid = _required(form, "CallSid", CALL_SID)
    caller = _caller(form.get("From") or query.get("caller", ""), region, call_sid)
    called = _support_number(form.get("To") or query.get("called") or "", region)
    fields = {"CallSid": call_sid}

    if path == CALL_STATUS_PATH:
        if form.get("CallStatus") not in ("completed", "busy", "no-answer", "failed", "canceled"):
            return None  # ringing, in-progress: the call is not over
        # Stored only if no recording callback came first; never updates a voicemail.
        fields["CallStatus"] = form["CallStatus"]
        return VoicePart(_message(call_sid, caller, called, received_at, MessageKind.MISSED_CALL, fields), None)

    recording_sid = form.get("RecordingSid", "")
    if recording_sid and not RECORDING_SID.fullmatch(recording_sid):
        raise RejectedRequest(400, "RecordingSid is not a Twilio recording id")
    duration = form.get("RecordingDuration", "")
    if duration and not DURATION.fullmatch(duration):
        raise RejectedRequest(400, f"RecordingDuration is not a number: {duration[:20]!r}")
    url = form.get("RecordingUrl", "")
    if url and not url.startswith("https://"):
        raise RejectedRequest(400, "RecordingUrl is not an https URL")
    nothing_recorded = form.get("RecordingStatus") in ("absent", "failed") or not url or (duration and int(duration) <= 0)
    if path in (RECORDED_PATH, RECORDING_STATUS_PATH) and nothing_recorded:
        fields["RecordingStatus"] = form.get("RecordingStatus") or "absent"
        return VoicePart(_message(call_sid, caller, called, received_at, MessageKind.MISSED_CALL, fields), None)

    recording = {"RecordingSid": recording_sid, "RecordingDuration": duration if duration else None}
    fields.update({k: v for k, v in recording.items() if v})
    media = (Media(url=url, content_type="audio/x-wav"),) if url else ()
    updates: dict[str, Any] = {"kind": MessageKind.VOICEMAIL.value}
    if media:
        updates["media"] = [{"url": url, "content_type": "audio/x-wav"}]
    for name, value in fields.items():
        updates[f"provider_fields.{name}"] = value
    body = ""
    if path == TRANSCRIPTION_PATH:
        status = form.get("TranscriptionStatus", "")
        if status not in ("completed", "failed"):
            raise RejectedRequest(400, f"TranscriptionStatus is {status[:20]!r}, not completed or failed")
        body = form.get("TranscriptionText", "").strip() if status == "completed" else ""
        transcription = "failed" if status == "failed" else ("empty" if not body else "completed")
        fields["Transcription"] = transcription
        updates["provider_fields.Transcription"] = transcription
        updates["body"] = body
    return VoicePart(_message(call_sid, caller, called, received_at, MessageKind.VOICEMAIL, fields, body, media), updates)


def _message(
    call_sid: str,
    caller: Identity,
    called: str | None,
    received_at: datetime,
    kind: MessageKind,
    fields: dict[str, str],
    body: str = "",
    media: tuple[Media, ...] = (),
) -> InboundMessage:
    return InboundMessage(
        channel=Channel.VOICE,
        provider=PROVIDER,
        provider_id=call_sid,
        sender=caller,
        recipient=called,
        received_at=received_at,
        kind=kind,
        body=body,
        media=media,
        provider_fields=dict(fields),
    )


def _caller(raw: str, region: str, call_sid: str) -> Identity:
    """The caller's number. A withheld number ("Anonymous", "Restricted") is one
    identity per call: lumping every anonymous caller into one customer would mix
    strangers' voicemails into one stream."""
    if not raw.strip():
        raise RejectedRequest(400, "From is missing (and no caller in the callback URL)")
    try:
        number = to_e164(raw, region, "From")
    except RejectedRequest:
        number = None
    if number is None or number in WITHHELD_NUMBERS:
        return Identity(IdentityKind.PHONE, f"withheld:{call_sid}", display_name="Withheld number")
    return Identity(IdentityKind.PHONE, number)


def caller_identity(value: str) -> Identity:
    """A caller as _caller made them, from the number it kept (E.164, or withheld:<CallSid>)."""
    return Identity(IdentityKind.PHONE, value, display_name="Withheld number" if value.startswith("withheld:") else None)


def caller_number(form: dict[str, str], region: str) -> str:
    """The caller of an incoming call, as stored (E.164, or withheld:<CallSid>)."""
    return _caller(form.get("From", ""), region, _required(form, "CallSid", CALL_SID)).value


def _support_number(raw: str, region: str) -> str | None:
    """The number called, in E.164 like SMS recipients; as given if it is not a number (a SIP address)."""
    if not raw.strip():
        return None
    try:
        return to_e164(raw, region, "To")
    except RejectedRequest:
        return raw


def _required(form: dict[str, str], name: str, pattern: re.Pattern[str]) -> str:
    value = form.get(name, "")
    if not value:
        raise RejectedRequest(400, f"{name} is missing")
    if not pattern.fullmatch(value):
        raise RejectedRequest(400, f"{name} is not a Twilio id")
    return value
