"""Twilio Voice webhooks: put the caller through to a person, or greet and record them,
and keep the call (answered, missed, a voicemail) in their conversation.

POST /webhooks/twilio/voice               incoming call → ring an agent (live answering,
                                          oncall/live_calls.py), else greeting + <Record> (TwiML)
POST /webhooks/twilio/voice/screen        an agent picked up → "Press 1 to accept" (<Gather>)
POST /webhooks/twilio/voice/screened      their key press → bridge, or hang up their leg
POST /webhooks/twilio/voice/dialed        an attempt ended → the next agent, voicemail, or hang up
POST /webhooks/twilio/voice/callback[/connect|/done]  `12 CALL`: the agent answered our call, pressed 1
                                          (put through to the customer), the call ended (logged)
POST /webhooks/twilio/voice/recorded      <Record> action → the voicemail, then hang up
POST /webhooks/twilio/voice/recording     recording status callback → the voicemail
POST /webhooks/twilio/voice/transcription transcription callback → its text on the voicemail
POST /webhooks/twilio/voice/status        call status callback → a missed-call note if nothing was recorded
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.metrics import MetricUnit

from switchboard.channels.voice import (
    RECORDED_PATH,
    VOICE_PATH,
    call_part,
    greeting_twiml,
    hang_up_twiml,
)
from switchboard.channels.voice_live import (
    CALLBACK_CONNECT_PATH,
    CALLBACK_DONE_PATH,
    CALLBACK_PATH,
    DIALED_PATH,
    SCREEN_PATH,
    SCREENED_PATH,
)
from switchboard.conversations.inbound import record_part
from switchboard.hours import parse_business_hours
from switchboard.observability import logger, mask_phone, metrics
from switchboard.settings import SettingsError, get_settings
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore
from switchboard.webhooks import WebhookRequest, text_response, twilio_form, webhook, xml_response

settings = get_settings()
try:
    business_hours = parse_business_hours(settings.business_hours, settings.business_time_zone)
except ValueError as error:  # fail the cold start with the setting's name
    raise SettingsError(f"BUSINESS_HOURS / BUSINESS_TIME_ZONE: {error}") from None


def conversation_store() -> ConversationStore:
    return ConversationStore(clients.dynamodb(), settings.table_name)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@webhook
def handler(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    form = twilio_form(request)
    query = dict(parse_qsl(request.query))
    logger.set_correlation_id(query.get("call") or form.get("CallSid"))
    if request.path == VOICE_PATH:
        return _answer(form, now)
    if request.path in HUNT_PATHS:
        return _hunt(request.path, form, query, now)
    if request.path in CALLBACK_PATHS:
        return _callback(request.path, form, query, now)
    part = call_part(request.path, form, query, now, settings.default_phone_region)
    if part is not None:
        part = _with_hunt(part, form.get("CallSid", ""), query)
        result = record_part(part.message, part.updates, conversation_store(), settings.conversation_idle)
        logger.append_keys(caller=mask_phone(part.message.sender.value))
        logger.info(
            "call part added" if result.duplicate else "call stored",
            extra={"kind": part.message.kind.value, "conversation_id": result.conversation_id, "message_id": result.message_id},
        )
        metrics.add_dimension(name="channel", value="voice")
        metrics.add_metric(name="CallParts" if result.duplicate else "InboundMessages", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="CallCallbacksIgnored", unit=MetricUnit.Count, value=1)
    if request.path == RECORDED_PATH:
        return xml_response(hang_up_twiml())
    return text_response(200, "ok")


def _answer(form: dict[str, str], now: datetime) -> dict[str, Any]:
    open_now = business_hours.is_open(now)
    logger.info("call answered", extra={"open": open_now, "caller": mask_phone(form.get("From"))})
    metrics.add_dimension(name="channel", value="voice")
    metrics.add_metric(name="CallsAnswered", unit=MetricUnit.Count, value=1)
    if settings.live_answering != "never":
        from switchboard.channels.voice import caller_number
        from switchboard.oncall.live_calls import incoming

        called = form.get("To", "")
        ringing = incoming(form["CallSid"], caller_number(form, settings.default_phone_region), called, open_now, now, _line())
        if ringing is not None:
            metrics.add_metric(name="CallsPutThrough", unit=MetricUnit.Count, value=1)
            return xml_response(ringing)
    return _voicemail(form, open_now)


def _voicemail(form: dict[str, str], open_now: bool, hunted: bool = False) -> dict[str, Any]:
    greeting = settings.voice_greeting_open if open_now else settings.voice_greeting_closed
    return xml_response(greeting_twiml(settings.public_url, form, greeting, settings.voicemail_max_seconds, hunted))


def _hunt(path: str, form: dict[str, str], query: dict[str, str], now: datetime) -> dict[str, Any]:
    """A step of putting the call through (oncall/live_calls.py); its TwiML answer."""
    from switchboard.oncall import live_calls

    call_sid, number = _hunt_call(query)
    line = _line()
    if path == SCREEN_PATH:
        return xml_response(live_calls.screen(call_sid, number, now, line))
    if path != DIALED_PATH:
        twiml = live_calls.screened(call_sid, number, form.get("Digits", ""), now, line)
        logger.info("call screened", extra={"attempt": number, "accepted": form.get("Digits") == "1"})
        return xml_response(twiml)
    dialed = live_calls.dialed(call_sid, number, form.get("DialCallStatus", ""), form.get("DialCallSid"), form.get("DialCallDuration", ""), now, line)
    logger.info("call attempt ended", extra={"attempt": number, "dial_status": form.get("DialCallStatus"), "next": dialed.outcome})
    metrics.add_dimension(name="channel", value="voice")
    metrics.add_metric(name={"answered": "CallsTakenLive", "next": "CallAttemptsMissed", "voicemail": "CallsToVoicemail"}[dialed.outcome],
                       unit=MetricUnit.Count, value=1)
    if dialed.twiml is not None:
        return xml_response(dialed.twiml)
    caller, called = query.get("caller", ""), query.get("called", "")
    return _voicemail({**form, "From": caller, "To": called, "CallSid": call_sid}, business_hours.is_open(now), hunted=True)


def _callback(path: str, form: dict[str, str], query: dict[str, str], now: datetime) -> dict[str, Any]:
    """A step of `12 CALL`: the agent answered, pressed a key, or the call to the customer ended."""
    from urllib.parse import urlencode

    from switchboard.errors import RejectedRequest
    from switchboard.oncall import live_calls

    conversation_id, agent_id, customer = query.get("conversation", ""), query.get("agent", ""), query.get("customer", "")
    if not (conversation_id and agent_id and customer.startswith("+")):
        raise RejectedRequest(400, "the callback URL names no conversation, agent and number of ours")
    signed_query = urlencode({"conversation": conversation_id, "agent": agent_id, "customer": customer})
    line = _line()
    if path == CALLBACK_PATH:
        return xml_response(live_calls.callback_answered(conversation_id, customer, signed_query, line))
    if path == CALLBACK_CONNECT_PATH:
        return xml_response(live_calls.callback_connect(form.get("Digits", ""), customer, form.get("From", ""), signed_query, line))
    twiml = live_calls.callback_done(conversation_id, agent_id, form.get("CallSid", ""), form.get("DialCallStatus", ""),
                                     form.get("DialCallDuration", ""), now, line)
    logger.info("call back ended", extra={"conversation_id": conversation_id, "dial_status": form.get("DialCallStatus")})
    metrics.add_metric(name="CallBacks", unit=MetricUnit.Count, value=1)
    return xml_response(twiml)


def _hunt_call(query: dict[str, str]) -> tuple[str, int]:
    """The caller's CallSid and the attempt a hunt callback is about (from the URL Twilio signed)."""
    from switchboard.channels.voice import CALL_SID
    from switchboard.errors import RejectedRequest

    call_sid, attempt = query.get("call", ""), query.get("attempt", "")
    if not CALL_SID.fullmatch(call_sid) or not attempt.isdigit() or not 1 <= int(attempt) <= 100:
        raise RejectedRequest(400, "the callback URL names no call and attempt of ours")
    return call_sid, int(attempt)


def _with_hunt(part, call_sid: str, query: dict[str, str]):
    """A missed call's or voicemail's part, with what the hunt tried (who was rung, abandoned).

    A voicemail callback's own signed URL says whether agents were rung (`hunted`); the
    number's status callback has no query, so it always reads the call."""
    if settings.live_answering == "never" or not call_sid or ("caller" in query and "hunted" not in query):
        return part
    from dataclasses import replace

    from switchboard.oncall.live_calls import hunt_fields
    from switchboard.store.calls import CallStore

    fields = hunt_fields(CallStore(clients.dynamodb(), settings.table_name).get(call_sid))
    if not fields:
        return part
    updates = None if part.updates is None else {**part.updates, **{f"provider_fields.{k}": v for k, v in fields.items()}}
    return replace(part, message=replace(part.message, provider_fields={**part.message.provider_fields, **fields}), updates=updates)


def _line():
    from switchboard.oncall.config import load_config
    from switchboard.oncall.live_calls import Line, LiveAnswering
    from switchboard.store.calls import CallStore
    from switchboard.store.customers import CustomerStore
    from switchboard.store.oncall import OncallStore
    from switchboard.store.pages import PageStore

    dynamodb = clients.dynamodb()
    return Line(
        LiveAnswering.from_settings(settings), CallStore(dynamodb, settings.table_name), conversation_store(),
        CustomerStore(dynamodb, settings.table_name), PageStore(dynamodb, settings.table_name),
        lambda: load_config(OncallStore(dynamodb, settings.table_name)), settings.conversation_idle,
    )


HUNT_PATHS = frozenset({SCREEN_PATH, SCREENED_PATH, DIALED_PATH})
CALLBACK_PATHS = frozenset({CALLBACK_PATH, CALLBACK_CONNECT_PATH, CALLBACK_DONE_PATH})
