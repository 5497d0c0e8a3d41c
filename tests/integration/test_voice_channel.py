"""Voicemail through Twilio Voice's webhooks, signed like Twilio, through the local gateway."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from conftest_helpers import run_cli, wait_for_quarantine
from conftest_helpers import unique_number
from local_stack.send import new_call_sid, twilio_call_form, voicemail_requests

pytestmark = pytest.mark.integration


def post(local, path_and_query: str, form: dict[str, str], signature: str | None = "sign") -> requests.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "sign":
        signature = local.sign(form, path_and_query)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return requests.post(local.gateway_url + path_and_query, data=urlencode(form), headers=headers, timeout=60)


def call_message(local, call_sid: str):
    """The one message stored for this call (and its conversation), or (None, None)."""
    found = local.conversations().find_claim("twilio-call", call_sid)
    if found is None:
        return None, None
    route, message_id = found
    conversation = local.conversations().get_conversation(route.conversation_id)
    matching = [m for m in conversation.messages if m.provider_id == call_sid]
    assert len(matching) == 1, f"{len(matching)} messages for one call"
    return conversation, matching[0]


def test_with_live_answering_off_the_suites_calls_go_to_voicemail_whatever_the_hour(local):
    """tests/integration/conftest.py turns it off; test_live_calls.py turns it on per test."""
    from switchboard.handlers import voice_webhook

    assert voice_webhook.settings.live_answering == "never"


def test_an_incoming_call_is_answered_with_a_greeting_and_a_transcribed_recording(local):
    caller = unique_number()
    response = post(local, "/webhooks/twilio/voice", twilio_call_form(caller, new_call_sid(), CallStatus="ringing"))
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/xml")
    root = ElementTree.fromstring(response.text)
    assert [child.tag for child in root] == ["Say", "Record", "Say", "Hangup"]
    greeting, record = root[0].text, root[1].attrib
    assert "leave a message" in greeting
    assert record["maxLength"] == "120" and record["transcribe"] == "true" and record["playBeep"] == "true"
    assert record["recordingStatusCallbackEvent"] == "completed absent"
    for attribute, path in [("action", "/recorded"), ("transcribeCallback", "/transcription"), ("recordingStatusCallback", "/recording")]:
        url = urlsplit(record[attribute])
        assert f"{url.scheme}://{url.netloc}" == local.public_url and url.path == "/webhooks/twilio/voice" + path
        assert parse_qs(url.query) == {"caller": [caller], "called": ["+15005550006"]}


def test_the_callbacks_in_any_order_or_repeated_make_one_voicemail_with_both_parts(local):
    for order in ([1, 2, 3, 4], [4, 3, 2, 1], [3, 1, 4, 2, 3, 1, 4]):
        caller, call_sid = unique_number(), new_call_sid()
        requests_ = voicemail_requests(caller, call_sid, text="Hi, my router keeps rebooting. Call me back.", duration=21)
        assert post(local, *requests_[0]).status_code == 200  # the call is answered first
        for index in order:
            response = post(local, *requests_[index])
            assert response.status_code == 200, (order, requests_[index][0], response.text)
        conversation, message = call_message(local, call_sid)
        assert message.kind.value == "voicemail", order
        assert message.body == "Hi, my router keeps rebooting. Call me back."
        assert message.sender.value == caller and message.channel.value == "voice"
        (recording,) = message.media
        assert recording.url.startswith("https://api.twilio.com/") and recording.content_type == "audio/x-wav"
        assert message.provider_fields["RecordingDuration"] == "21"
        assert message.provider_fields["RecordingSid"].startswith("RE")
        assert message.provider_fields["Transcription"] == "completed"
        assert conversation.message_count == 1


def test_a_voicemail_without_transcription_or_with_a_failed_one_is_kept_as_such(local):
    never_sid, failed_sid = new_call_sid(), new_call_sid()
    for path, form in voicemail_requests(unique_number(), never_sid, text=None, duration=8):
        assert post(local, path, form).status_code == 200
    for path, form in voicemail_requests(unique_number(), failed_sid, text="", duration=8):
        assert post(local, path, form).status_code == 200
    _, never = call_message(local, never_sid)
    assert never.kind.value == "voicemail" and never.body == "" and len(never.media) == 1
    assert "Transcription" not in never.provider_fields
    _, failed = call_message(local, failed_sid)
    assert failed.kind.value == "voicemail" and failed.body == "" and failed.provider_fields["Transcription"] == "failed"


def test_a_hang_up_before_the_beep_stores_only_a_missed_call_note(local):
    caller, call_sid = unique_number(), new_call_sid()
    for path, form in voicemail_requests(caller, call_sid, text=None, duration=0, hang_up_early=True):
        assert post(local, path, form).status_code == 200
    conversation, message = call_message(local, call_sid)
    assert message.kind.value == "missed_call" and message.media == () and message.body == ""
    assert conversation.last_message_preview == "[missed call]"
    # A later "absent" recording status for the same call changes nothing.
    absent = {"AccountSid": "AC" + "0" * 32, "CallSid": call_sid, "RecordingStatus": "absent", "RecordingSid": "RE" + "1" * 32, "RecordingDuration": "0"}
    assert post(local, "/webhooks/twilio/voice/recording?" + urlencode({"caller": caller, "called": "+15005550006"}), absent).status_code == 200
    assert call_message(local, call_sid)[1] == message


@pytest.mark.parametrize("path", ["/webhooks/twilio/voice", "/webhooks/twilio/voice/recorded", "/webhooks/twilio/voice/recording", "/webhooks/twilio/voice/transcription", "/webhooks/twilio/voice/status"])
def test_every_voice_route_refuses_unsigned_and_forged_requests(local, path):
    call_sid = new_call_sid()
    form = twilio_call_form(unique_number(), call_sid, CallStatus="completed", RecordingUrl="https://api.twilio.com/x", RecordingDuration="5", RecordingSid="RE" + "2" * 32)
    unsigned = post(local, path, form, signature=None)
    forged = post(local, path, form, signature="bm90IGEgc2lnbmF0dXJl")
    assert unsigned.status_code == 403 and forged.status_code == 403
    # The caller in the query string is covered by the signature: changing it breaks it.
    signed_for = local.sign(form, path + "?caller=%2B14155550100")
    tampered = post(local, path + "?caller=%2B19995550100", form, signature=signed_for)
    assert tampered.status_code == 403
    assert local.conversations().find_claim("twilio-call", call_sid) is None
    wait_for_quarantine(local, lambda r: call_sid in r["body"] and r["status"] == 403)


def test_bad_callback_fields_are_a_400_with_the_reason(local):
    form = twilio_call_form(unique_number(), new_call_sid(), TranscriptionStatus="weird", RecordingUrl="https://api.twilio.com/r", RecordingSid="RE" + "3" * 32)
    response = post(local, "/webhooks/twilio/voice/transcription", form)
    assert response.status_code == 400 and "TranscriptionStatus" in response.text


def test_cli_sends_a_whole_voicemail_to_the_running_stack(local):
    caller = unique_number()
    done = run_cli(["local", "send", "voicemail", "--from", caller, "--call-sid", (sid := new_call_sid()), "Please call me back"], local.cli_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("→ 200") == 5
    _, message = call_message(local, sid)
    assert message.body == "Please call me back" and message.kind.value == "voicemail"
