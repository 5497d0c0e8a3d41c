"""One incoming call as Twilio plays it against the local stack: every signed request
Twilio makes, each one following the TwiML the previous answer returned.

The incoming call's webhook; for each <Dial> the agent's phone either rings out (the Dial
action with no-answer), or picks up: the <Number url> screening, the <Gather> action with
the key the agent pressed, and, once bridged, the Dial action with the talk time; a
<Record> (voicemail) with a message left or the caller hanging up; at the end the call's
status callback. `switchboard local send call` and the tests run it.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from local_stack.send import LOCAL_ACCOUNT_SID, LOCAL_SUPPORT_NUMBER, new_call_sid, twilio_call_form

Post = Callable[[str, dict[str, str]], tuple[int, str]]  # (path + query, form) → (status, body)


@dataclass
class Step:
    path: str  # without the query
    status: int
    body: str
    sent: tuple[str, dict[str, str]] = ("", {})  # the request as posted (path and query, form): to send it again


@dataclass
class CallScript:
    """What the people on the call do."""

    keys: dict[str, str] = field(default_factory=dict)  # an agent's phone → the key they press on picking up ("1" accepts)
    talk_seconds: int = 95  # once bridged
    voicemail: str | None = None  # the caller leaves this message when voicemail answers (None: hangs up)
    hang_up_on_attempt: int | None = None  # the caller hangs up while this attempt's phone rings


def play_call(post: Post, public_url: str, caller: str, call_sid: str, script: CallScript, to: str = LOCAL_SUPPORT_NUMBER) -> list[Step]:
    steps: list[Step] = []
    request = _requester(post, public_url, steps)
    twiml = request(f"{public_url}/webhooks/twilio/voice", twilio_call_form(caller, call_sid, to, CallStatus="ringing"))
    attempt = 0
    duration = 0
    while twiml is not None:
        dial, record = twiml.find("Dial"), twiml.find("Record")
        if dial is not None:
            attempt += 1
            number = dial.find("Number")
            phone = (number.text or "").strip()
            if script.hang_up_on_attempt == attempt:
                break  # the caller gives up while it rings: only the status callback follows
            leg = new_call_sid()
            key = script.keys.get(phone)
            outcome = {"DialCallStatus": "no-answer", "DialCallSid": leg}
            if key is not None:
                leg_form = {**twilio_call_form(to, leg, phone, CallStatus="in-progress", Direction="outbound-dial"), "ParentCallSid": call_sid}
                screening = request(number.get("url", ""), leg_form)
                gather = screening.find("Gather") if screening is not None else None
                if gather is not None:
                    answer = request(gather.get("action", ""), {**leg_form, "Digits": key, "FinishedOnKey": ""})
                    bridged = answer is not None and len(answer) == 0  # an empty <Response/>: the two are connected
                    outcome = {"DialCallStatus": "completed", "DialCallSid": leg, "DialCallDuration": str(script.talk_seconds if bridged else 0)}
                    duration += script.talk_seconds if bridged else 0
            twiml = request(dial.get("action", ""), twilio_call_form(caller, call_sid, to, CallStatus="in-progress", **outcome))
        elif record is not None:
            if script.voicemail is None:
                break  # hangs up at the voicemail greeting
            _leave_voicemail(request, record, caller, call_sid, to, script.voicemail)
            duration += 12
            break
        else:
            break  # <Hangup/>, or nothing more to do
    request(f"{public_url}/webhooks/twilio/voice/status", twilio_call_form(caller, call_sid, to, CallStatus="completed", CallDuration=str(duration + 20)))
    return steps


def _leave_voicemail(request: Callable[[str, dict[str, str]], ElementTree.Element | None], record: ElementTree.Element, caller: str,
                     call_sid: str, to: str, text: str) -> None:
    recording_sid = "RE" + secrets.token_hex(16)
    recording_url = f"https://api.twilio.com/2010-04-01/Accounts/{LOCAL_ACCOUNT_SID}/Recordings/{recording_sid}"
    recording = {"RecordingSid": recording_sid, "RecordingUrl": recording_url, "RecordingDuration": "12"}
    request(record.get("action", ""), twilio_call_form(caller, call_sid, to, CallStatus="in-progress", Digits="hangup", **recording))
    request(record.get("recordingStatusCallback", ""), {"AccountSid": LOCAL_ACCOUNT_SID, "CallSid": call_sid, "RecordingStatus": "completed", **recording})
    if record.get("transcribeCallback"):
        request(record.get("transcribeCallback", ""), twilio_call_form(
            caller, call_sid, to, CallStatus="completed", TranscriptionStatus="completed", TranscriptionText=text,
            TranscriptionSid="TR" + secrets.token_hex(16), **recording,
        ))


def _requester(post: Post, public_url: str, steps: list[Step]) -> Callable[[str, dict[str, str]], ElementTree.Element | None]:
    """POST to one of our callback URLs, as Twilio does: each answer kept in `steps`, its TwiML parsed."""

    def request(url: str, form: dict[str, str]) -> ElementTree.Element | None:
        path = _local(url, public_url)
        status, body = post(path, form)
        steps.append(Step(path.split("?")[0], status, body, (path, form)))
        if status >= 300:
            raise RuntimeError(f"POST {path} answered {status}: {body[:300]}")
        return ElementTree.fromstring(body) if body.lstrip().startswith("<") else None

    return request


def _local(url: str, public_url: str) -> str:
    """An absolute callback URL of ours (Twilio's #overrides dropped) → its path and query."""
    url = url.split("#", 1)[0]
    if not url.startswith(public_url):
        raise RuntimeError(f"a callback outside the public URL: {url}")
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def play_callback(post: Post, public_url: str, twiml_url: str, agent_phone: str, key: str = "1", customer_answers: bool = True,
                  talk_seconds: int = 95, support_number: str = LOCAL_SUPPORT_NUMBER) -> list[Step]:
    """`12 CALL` as Twilio plays it once the agent's phone rings: they answer, press `key`;
    the customer's phone answers (or not), they talk, the call ends."""
    steps: list[Step] = []
    request = _requester(post, public_url, steps)
    form = twilio_call_form(support_number, new_call_sid(), agent_phone, CallStatus="in-progress", Direction="outbound-api")
    screening = request(twiml_url, form)
    gather = screening.find("Gather") if screening is not None else None
    if gather is None:
        return steps
    dialing = request(gather.get("action", ""), {**form, "Digits": key})
    dial = dialing.find("Dial") if dialing is not None else None
    if dial is not None:
        outcome = {"DialCallStatus": "completed", "DialCallDuration": str(talk_seconds)} if customer_answers else {"DialCallStatus": "no-answer"}
        request(dial.get("action", ""), {**form, "DialCallSid": new_call_sid(), **outcome})
    return steps
