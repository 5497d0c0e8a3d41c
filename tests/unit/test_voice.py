"""Twilio Voice: business hours, the greeting's TwiML, and each callback's part of the call's message.

Pure: no AWS, no network. The forms carry the fields Twilio really posts to each callback.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.channels.voice import (
    CALL_STATUS_PATH,
    RECORDED_PATH,
    RECORDING_STATUS_PATH,
    TRANSCRIPTION_PATH,
    call_part,
    greeting_twiml,
)
from switchboard.errors import RejectedRequest
from switchboard.hours import parse_business_hours
from switchboard.models import Channel, IdentityKind, Media, MessageKind

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)

PUBLIC_URL = "https://support.example.com"
ACCOUNT_SID = "AC" + "3f" * 16
CALL_SID = "CA" + "5e0a" * 8
RECORDING_SID = "RE" + "9c1d" * 8
RECORDING_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}"
CALLER = "+14155550100"
SUPPORT_NUMBER = "+15005550006"
AUDIO = Media(url=RECORDING_URL, content_type="audio/x-wav")


def local(zone, *args):
    """A wall-clock time in a zone, as the UTC instant the clock would hand us."""
    return datetime(*args, tzinfo=zone).astimezone(timezone.utc)


# ---- business hours -------------------------------------------------------------------


def test_weekday_hours_open_from_nine_until_just_before_five():
    hours = parse_business_hours("Mon-Fri 09:00-17:00", "America/New_York")
    # 2026-06-16 is a Tuesday, 2026-06-20 a Saturday.
    assert hours.is_open(local(NEW_YORK, 2026, 6, 16, 10, 0))
    assert hours.is_open(local(NEW_YORK, 2026, 6, 16, 9, 0))
    assert hours.is_open(local(NEW_YORK, 2026, 6, 16, 16, 59, 59))
    assert not hours.is_open(local(NEW_YORK, 2026, 6, 16, 8, 59))
    assert not hours.is_open(local(NEW_YORK, 2026, 6, 16, 17, 0))
    assert not hours.is_open(local(NEW_YORK, 2026, 6, 20, 12, 0))


def test_hours_are_read_in_the_business_zone_not_utc():
    hours = parse_business_hours("Mon-Fri 09:00-17:00", "America/New_York")
    # Tuesday 14:30 UTC is 10:30 in New York (EDT), Tuesday 22:00 UTC is 18:00 there.
    assert hours.is_open(datetime(2026, 6, 16, 14, 30, tzinfo=timezone.utc))
    assert not hours.is_open(datetime(2026, 6, 16, 22, 0, tzinfo=timezone.utc))
    # Saturday 02:00 UTC is still Friday 22:00 in New York: closed, but by the hour, not the day.
    assert not hours.is_open(datetime(2026, 6, 20, 2, 0, tzinfo=timezone.utc))


def test_several_ranges_give_each_day_its_own_hours():
    hours = parse_business_hours("Mon-Thu 09:00-17:00; Fri 09:00-13:00", "America/New_York")
    assert hours.is_open(local(NEW_YORK, 2026, 6, 18, 16, 0))  # Thursday afternoon
    assert hours.is_open(local(NEW_YORK, 2026, 6, 19, 12, 59))  # Friday before one
    assert not hours.is_open(local(NEW_YORK, 2026, 6, 19, 13, 0))  # Friday at one
    assert not hours.is_open(local(NEW_YORK, 2026, 6, 19, 16, 0))  # Friday afternoon


def test_a_day_range_may_wrap_around_the_weekend():
    hours = parse_business_hours("Fri-Mon 10:00-12:00", "Europe/Berlin")
    assert [day for day, _, _ in hours.windows] == [4, 5, 6, 0]
    for day in (19, 20, 21, 22):  # Friday 2026-06-19 to Monday 2026-06-22
        assert hours.is_open(local(BERLIN, 2026, 6, day, 11, 0))
    for day in (16, 17, 18):  # Tuesday to Thursday
        assert not hours.is_open(local(BERLIN, 2026, 6, day, 11, 0))


def test_day_names_and_spacing_are_forgiving():
    hours = parse_business_hours("  MON-fri  9:00-17:00 ; ", "UTC")
    assert hours.is_open(datetime(2026, 6, 16, 9, 0, tzinfo=timezone.utc))


def test_always_and_never():
    always = parse_business_hours("Always", "UTC")
    never = parse_business_hours("never", "UTC")
    for hour in (0, 3, 12, 23):
        moment = datetime(2026, 6, 20, hour, 59, 59, tzinfo=timezone.utc)
        assert always.is_open(moment)
        assert not never.is_open(moment)


def test_24_00_closes_at_midnight():
    hours = parse_business_hours("Sat 18:00-24:00", "Europe/Berlin")
    assert hours.is_open(local(BERLIN, 2026, 6, 20, 23, 59, 59, 999999))
    assert not hours.is_open(local(BERLIN, 2026, 6, 21, 0, 0))
    assert not hours.is_open(local(BERLIN, 2026, 6, 20, 17, 59))


@pytest.mark.parametrize(
    ("text", "zone", "words"),
    [
        ("Mon-Fry 09:00-17:00", "UTC", "not like 'Mon-Fri 09:00-17:00'"),
        ("Monday 09:00-17:00", "UTC", "not like"),
        ("Mon-Fri 17:00-09:00", "UTC", "close before they open"),
        ("Mon-Fri 09:00-09:00", "UTC", "close before they open"),
        ("Mon-Fri 09:00-00:00", "UTC", "close before they open"),
        ("Mon-Fri 09:00-25:00", "UTC", "'25:00' is not a time of day"),
        ("Mon-Fri 09:60-17:00", "UTC", "'09:60' is not a time of day"),
        ("Mon 24:00-24:00", "UTC", "open at 24:00"),
        ("Mon 24:00-17:00", "UTC", "open at 24:00"),
        ("nine to five", "UTC", "not like"),
        ("Mon-Fri 09:00-17:00; weekends", "UTC", "'weekends'"),
        ("", "UTC", "no opening hours"),
        (" ; ", "UTC", "no opening hours"),
        ("always", "America/Springfield", "unknown time zone 'America/Springfield'"),
        ("always", "america/new_york", "unknown time zone"),
        ("always", "America", "unknown time zone"),
        ("always", "../../etc/passwd", "unknown time zone"),
        ("always", "", "unknown time zone"),
    ],
)
def test_bad_settings_raise_value_error_saying_what_is_wrong(text, zone, words):
    with pytest.raises(ValueError) as raised:
        parse_business_hours(text, zone)
    assert words in str(raised.value)


# -- DST: is_open against an oracle that reads the local wall clock itself -----------------

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TRANSITIONS = [  # (zone, the UTC instant its clocks change)
    ("America/New_York", datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc)),  # 02:00 EST → 03:00 EDT
    ("America/New_York", datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc)),  # 02:00 EDT → 01:00 EST
    ("Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc)),  # 02:00 CET → 03:00 CEST
    ("Europe/Berlin", datetime(2026, 10, 25, 1, 0, tzinfo=timezone.utc)),  # 03:00 CEST → 02:00 CET
]
# Minutes of the day, weighted towards the hours the clocks skip or repeat.
minute_of_day = st.one_of(st.integers(0, 1439), st.integers(0, 4 * 60), st.sampled_from([60, 120, 150, 180]))


@st.composite
def ranges(draw):
    """(first day, last day, opens, closes) in minutes; closes may be 1440, written "24:00"."""
    first = draw(st.integers(0, 6))
    last = draw(st.one_of(st.none(), st.integers(0, 6)))
    opens = draw(minute_of_day)
    closes = draw(st.one_of(st.integers(opens + 1, 1440), st.just(1440)))
    return first, last, opens, closes


def as_text(spec):
    def clock(minutes):
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    def days(first, last):
        return DAYS[first] if last is None else f"{DAYS[first]}-{DAYS[last]}"

    return "; ".join(f"{days(first, last)} {clock(opens)}-{clock(closes)}" for first, last, opens, closes in spec)


def oracle(spec, zone, moment):
    """Open when the wall clock in the zone is inside a range named for that weekday."""
    wall = moment.astimezone(zone)
    seconds = wall.hour * 3600 + wall.minute * 60 + wall.second + wall.microsecond / 1e6
    for first, last, opens, closes in spec:
        span = 0 if last is None else (last - first) % 7
        if (wall.weekday() - first) % 7 <= span and opens * 60 <= seconds < closes * 60:
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(
    transition=st.sampled_from(TRANSITIONS),
    offset=st.integers(-36 * 3600, 36 * 3600),
    spec=st.lists(ranges(), min_size=1, max_size=3),
)
def test_is_open_follows_the_local_wall_clock_across_dst_changes(transition, offset, spec):
    zone_name, changes_at = transition
    zone = ZoneInfo(zone_name)
    moment = changes_at + timedelta(seconds=offset)
    hours = parse_business_hours(as_text(spec), zone_name)
    assert hours.is_open(moment) == oracle(spec, zone, moment)


def test_an_hour_the_clocks_skip_is_never_open():
    # New York skips 02:00-03:00 on Sunday 2026-03-08: no instant that day reads 02:xx.
    hours = parse_business_hours("Sun 02:00-03:00", "America/New_York")
    start = datetime(2026, 3, 8, 0, 0, tzinfo=NEW_YORK).astimezone(timezone.utc)
    minutes = [start + timedelta(minutes=m) for m in range(24 * 60)]
    assert not any(hours.is_open(moment) for moment in minutes)


def test_an_hour_the_clocks_repeat_is_open_twice():
    # New York reads 01:00-02:00 twice on Sunday 2026-11-01 (EDT, then EST).
    hours = parse_business_hours("Sun 01:00-02:00", "America/New_York")
    first_one_am = datetime(2026, 11, 1, 5, 0, tzinfo=timezone.utc)  # 01:00 EDT
    open_minutes = [m for m in range(-60, 240) if hours.is_open(first_one_am + timedelta(minutes=m))]
    assert open_minutes == list(range(0, 120))


# ---- the greeting ---------------------------------------------------------------------

CALL_FORM = {
    "AccountSid": ACCOUNT_SID,
    "ApiVersion": "2010-04-01",
    "CallSid": CALL_SID,
    "CallStatus": "ringing",
    "Direction": "inbound",
    "From": CALLER,
    "To": SUPPORT_NUMBER,
    "Caller": CALLER,
    "Called": SUPPORT_NUMBER,
    "FromCountry": "US",
    "FromCity": "SAN FRANCISCO",
}


def greeting(max_seconds=120, form=CALL_FORM, text="Thanks for calling Acme support. Leave a message after the beep."):
    return ET.fromstring(greeting_twiml(PUBLIC_URL, form, text, max_seconds))


def callback(url):
    """(path, query) of a callback URL, the query decoded."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL
    return parts.path, {name: values[0] for name, values in parse_qs(parts.query).items()}


def test_greeting_says_the_text_then_records_then_says_goodbye_and_hangs_up():
    response = greeting(text="We're closed & back at 9.")
    assert response.tag == "Response"
    assert [child.tag for child in response] == ["Say", "Record", "Say", "Hangup"]
    assert response[0].text == "We're closed & back at 9."
    assert response[2].text == "We did not get a message. Goodbye."


def test_record_calls_back_on_each_route_with_caller_and_called_in_the_query():
    record = greeting().find("Record")
    expected = {
        "action": RECORDED_PATH,
        "transcribeCallback": TRANSCRIPTION_PATH,
        "recordingStatusCallback": RECORDING_STATUS_PATH,
    }
    for attribute, path in expected.items():
        assert callback(record.get(attribute)) == (path, {"caller": CALLER, "called": SUPPORT_NUMBER})
        assert record.get(attribute).startswith(f"{PUBLIC_URL}{path}?caller=%2B14155550100&called=%2B15005550006")
    assert record.get("method") == "POST"
    assert record.get("recordingStatusCallbackMethod") == "POST"


def test_a_voicemail_after_the_hunt_says_so_in_its_signed_callbacks():
    """Only those callbacks read what the hunt tried: a straight voicemail reads no call state."""
    record = ET.fromstring(greeting_twiml(PUBLIC_URL, CALL_FORM, "Nobody could answer.", 120, hunted=True)).find("Record")
    for attribute in ("action", "transcribeCallback", "recordingStatusCallback"):
        assert callback(record.get(attribute))[1] == {"caller": CALLER, "called": SUPPORT_NUMBER, "hunted": "1"}
    assert record.get("recordingStatusCallbackEvent") == "completed absent"
    assert record.get("playBeep") == "true"
    assert record.get("finishOnKey") == "#"


def test_a_withheld_caller_is_passed_on_as_twilio_gave_it():
    record = greeting(form={**CALL_FORM, "From": "Anonymous"}).find("Record")
    assert callback(record.get("action"))[1] == {"caller": "Anonymous", "called": SUPPORT_NUMBER}


@pytest.mark.parametrize(("max_seconds", "transcribe"), [(30, "true"), (120, "true"), (121, "false"), (600, "false")])
def test_only_recordings_twilio_can_transcribe_ask_for_a_transcription(max_seconds, transcribe):
    record = greeting(max_seconds).find("Record")
    assert record.get("maxLength") == str(max_seconds)
    assert record.get("transcribe", "false") == transcribe


# ---- the callbacks --------------------------------------------------------------------

QUERY = {"caller": CALLER, "called": SUPPORT_NUMBER}

# The <Record> action: the call's fields plus the recording.
RECORDED_FORM = {
    **{k: v for k, v in CALL_FORM.items() if k != "CallStatus"},
    "CallStatus": "in-progress",
    "RecordingUrl": RECORDING_URL,
    "RecordingSid": RECORDING_SID,
    "RecordingDuration": "14",
    "Digits": "hangup",
}
# The recording status callback: no From or To (they come from the query).
RECORDING_STATUS_FORM = {
    "AccountSid": ACCOUNT_SID,
    "CallSid": CALL_SID,
    "RecordingSid": RECORDING_SID,
    "RecordingUrl": RECORDING_URL,
    "RecordingStatus": "completed",
    "RecordingDuration": "14",
    "RecordingChannels": "1",
    "RecordingStartTime": "Mon, 23 Nov 2026 14:29:41 +0000",
    "RecordingSource": "RecordVerb",
    "ErrorCode": "0",
}
TRANSCRIPTION_FORM = {
    **{k: v for k, v in CALL_FORM.items() if k != "CallStatus"},
    "CallStatus": "completed",
    "TranscriptionSid": "TR" + "7b" * 16,
    "TranscriptionText": "  Hi, this is Dana, my router keeps dropping. Please call me back.  ",
    "TranscriptionStatus": "completed",
    "TranscriptionUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING_SID}/Transcriptions/TR{'7b' * 16}",
    "TranscriptionType": "fast",
    "RecordingSid": RECORDING_SID,
    "RecordingUrl": RECORDING_URL,
    "url": f"{PUBLIC_URL}{TRANSCRIPTION_PATH}",
}
CALL_STATUS_FORM = {
    **{k: v for k, v in CALL_FORM.items() if k != "CallStatus"},
    "CallStatus": "completed",
    "CallDuration": "23",
    "Duration": "1",
    "Timestamp": "Mon, 23 Nov 2026 14:30:04 +0000",
    "CallbackSource": "call-progress-events",
    "SequenceNumber": "0",
}
FORMS = {
    RECORDED_PATH: RECORDED_FORM,
    RECORDING_STATUS_PATH: RECORDING_STATUS_FORM,
    TRANSCRIPTION_PATH: TRANSCRIPTION_FORM,
    CALL_STATUS_PATH: CALL_STATUS_FORM,
}


def part(path, form=None, query=QUERY, **changes):
    fields = {**(FORMS[path] if form is None else form), **changes}
    return call_part(path, {k: v for k, v in fields.items() if v is not None}, query, NOW, "US")


def rejected(path, form=None, query=QUERY, **changes):
    with pytest.raises(RejectedRequest) as raised:
        part(path, form, query, **changes)
    assert raised.value.status == 400
    return raised.value.reason


def test_the_record_action_is_a_voicemail_with_the_recording_and_no_body():
    result = part(RECORDED_PATH)
    message = result.message
    assert message.channel is Channel.VOICE
    assert (message.provider, message.provider_id) == ("twilio-call", CALL_SID)
    assert message.kind is MessageKind.VOICEMAIL
    assert message.sender.kind is IdentityKind.PHONE and message.sender.value == CALLER
    assert message.recipient == SUPPORT_NUMBER
    assert message.received_at == NOW
    assert message.body == ""
    assert message.media == (AUDIO,)
    assert message.provider_fields == {"CallSid": CALL_SID, "RecordingSid": RECORDING_SID, "RecordingDuration": "14"}
    assert result.updates == {
        "kind": "voicemail",
        "media": [{"url": RECORDING_URL, "content_type": "audio/x-wav"}],
        "provider_fields.CallSid": CALL_SID,
        "provider_fields.RecordingSid": RECORDING_SID,
        "provider_fields.RecordingDuration": "14",
    }


def test_the_recording_status_callback_takes_caller_and_called_from_the_query():
    result = part(RECORDING_STATUS_PATH, query={"caller": "+44 20 7946 0958", "called": SUPPORT_NUMBER})
    assert "From" not in RECORDING_STATUS_FORM
    assert result.message.sender.value == "+442079460958"
    assert result.message.recipient == SUPPORT_NUMBER
    assert result.message.kind is MessageKind.VOICEMAIL
    assert result.message.media == (AUDIO,)
    assert result.message.body == ""
    assert "body" not in result.updates
    assert result.updates["kind"] == "voicemail"


def test_from_in_the_form_wins_over_the_query():
    result = part(RECORDED_PATH, query={"caller": "+12025550123", "called": "+12025550199"})
    assert result.message.sender.value == CALLER
    assert result.message.recipient == SUPPORT_NUMBER


@pytest.mark.parametrize("path", [RECORDED_PATH, RECORDING_STATUS_PATH])
def test_recording_callbacks_never_set_the_body(path):
    # A transcription stored first keeps its text when the recording arrives.
    assert "body" not in part(path).updates


@pytest.mark.parametrize(
    ("status", "text", "body", "transcription"),
    [
        ("completed", "  Hi, this is Dana, my router keeps dropping.  ", "Hi, this is Dana, my router keeps dropping.", "completed"),
        ("completed", "   ", "", "empty"),
        ("completed", None, "", "empty"),
        ("failed", "(blank)", "", "failed"),
    ],
)
def test_the_transcription_sets_the_body_and_says_how_it_went(status, text, body, transcription):
    result = part(TRANSCRIPTION_PATH, TranscriptionStatus=status, TranscriptionText=text)
    assert result.message.kind is MessageKind.VOICEMAIL
    assert result.message.body == body
    assert result.message.media == (AUDIO,)
    assert result.message.provider_fields == {"CallSid": CALL_SID, "RecordingSid": RECORDING_SID, "Transcription": transcription}
    assert result.updates == {
        "kind": "voicemail",
        "media": [{"url": RECORDING_URL, "content_type": "audio/x-wav"}],
        "provider_fields.CallSid": CALL_SID,
        "provider_fields.RecordingSid": RECORDING_SID,
        "provider_fields.Transcription": transcription,
        "body": body,
    }


@pytest.mark.parametrize("status", ["completed", "busy", "no-answer", "failed", "canceled"])
def test_a_finished_call_is_a_missed_call_that_never_updates_a_voicemail(status):
    result = part(CALL_STATUS_PATH, CallStatus=status)
    assert result.updates is None
    assert result.message.kind is MessageKind.MISSED_CALL
    assert result.message.body == "" and result.message.media == ()
    assert result.message.provider_fields == {"CallSid": CALL_SID, "CallStatus": status}
    assert result.message.sender.value == CALLER


@pytest.mark.parametrize("status", ["queued", "ringing", "in-progress", "", None])
def test_a_call_that_is_not_over_adds_nothing(status):
    assert part(CALL_STATUS_PATH, CallStatus=status) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"RecordingStatus": "absent", "RecordingDuration": "0", "RecordingUrl": None, "RecordingSid": None},
        {"RecordingStatus": "absent"},
        {"RecordingStatus": "failed"},
        {"RecordingDuration": "0"},
        {"RecordingDuration": "-1"},
    ],
)
def test_a_recording_status_with_nothing_recorded_is_a_missed_call(changes):
    result = part(RECORDING_STATUS_PATH, **changes)
    assert result.updates is None
    assert result.message.kind is MessageKind.MISSED_CALL
    assert result.message.media == ()
    assert result.message.provider_fields == {"CallSid": CALL_SID, "RecordingStatus": changes.get("RecordingStatus") or "completed"}


def test_a_record_action_without_a_recording_is_a_missed_call_marked_absent():
    result = part(RECORDED_PATH, RecordingUrl=None, RecordingSid=None, RecordingDuration=None)
    assert result.message.kind is MessageKind.MISSED_CALL
    assert result.message.provider_fields == {"CallSid": CALL_SID, "RecordingStatus": "absent"}
    assert result.updates is None


@pytest.mark.parametrize("withheld", ["Anonymous", "Restricted", "Unknown", "+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"])
def test_each_withheld_caller_is_their_own_identity(withheld):
    for path in (RECORDED_PATH, CALL_STATUS_PATH):
        sender = part(path, From=withheld).message.sender
        assert sender.kind is IdentityKind.PHONE
        assert sender.value == f"withheld:{CALL_SID}"
        assert sender.display_name == "Withheld number"
    # The recording status callback sees the same caller through the query.
    assert part(RECORDING_STATUS_PATH, query={"caller": withheld}).message.sender.value == f"withheld:{CALL_SID}"
    other_call = "CA" + "1" * 32
    assert part(CALL_STATUS_PATH, From=withheld, CallSid=other_call).message.sender.value == f"withheld:{other_call}"


@pytest.mark.parametrize(
    ("path", "changes", "query", "words"),
    [
        (RECORDED_PATH, {"CallSid": None}, QUERY, "CallSid is missing"),
        (CALL_STATUS_PATH, {"CallSid": ""}, QUERY, "CallSid is missing"),
        (RECORDED_PATH, {"CallSid": "CA" + "G" * 32}, QUERY, "CallSid is not a Twilio id"),
        (RECORDED_PATH, {"CallSid": "SM" + "a" * 32}, QUERY, "CallSid is not a Twilio id"),
        (RECORDED_PATH, {"CallSid": CALL_SID + "\n"}, QUERY, "CallSid is not a Twilio id"),
        (RECORDED_PATH, {"RecordingSid": "RE123"}, QUERY, "RecordingSid"),
        (RECORDING_STATUS_PATH, {"RecordingSid": RECORDING_SID + "\n"}, QUERY, "RecordingSid"),
        (RECORDED_PATH, {"RecordingUrl": RECORDING_URL.replace("https:", "http:")}, QUERY, "RecordingUrl is not an https URL"),
        (RECORDING_STATUS_PATH, {"RecordingUrl": "ftp://example.com/a.wav"}, QUERY, "RecordingUrl"),
        (RECORDED_PATH, {"RecordingDuration": "14s"}, QUERY, "RecordingDuration is not a number"),
        (RECORDED_PATH, {"RecordingDuration": "--5"}, QUERY, "RecordingDuration is not a number"),
        (RECORDED_PATH, {"RecordingDuration": "²"}, QUERY, "RecordingDuration is not a number"),
        (RECORDED_PATH, {"RecordingDuration": "9" * 5000}, QUERY, "RecordingDuration is not a number"),
        (TRANSCRIPTION_PATH, {"TranscriptionStatus": "in-progress"}, QUERY, "TranscriptionStatus"),
        (TRANSCRIPTION_PATH, {"TranscriptionStatus": None}, QUERY, "TranscriptionStatus"),
        (RECORDING_STATUS_PATH, {}, {}, "From is missing"),
        (CALL_STATUS_PATH, {"From": None}, {"called": SUPPORT_NUMBER}, "From is missing"),
        (RECORDED_PATH, {"From": "  "}, {"caller": ""}, "From is missing"),
    ],
)
def test_bad_callbacks_are_refused_with_400_naming_the_field(path, changes, query, words):
    assert words in rejected(path, query=query, **changes)


# -- every order, any repeat: one message ---------------------------------------------------


def apply(stored, result):
    """What record_part does with a part: store it when first, else SET its updates."""
    if stored is None:
        message = result.message
        return {
            "kind": message.kind.value,
            "body": message.body,
            "media": [{"url": m.url, "content_type": m.content_type} for m in message.media],
            "provider_fields": dict(message.provider_fields),
        }
    for name, value in (result.updates or {}).items():
        if name.startswith("provider_fields."):
            stored["provider_fields"][name.removeprefix("provider_fields.")] = value
        else:
            stored[name] = value
    return stored


def test_the_four_callbacks_in_any_order_and_repeated_make_the_same_voicemail():
    parts = {path: part(path) for path in FORMS}
    outcomes = []
    for order in itertools.permutations(FORMS):
        for repeated in (order, order + order[:2]):
            stored = None
            for path in repeated:
                stored = apply(stored, parts[path])
            stored["provider_fields"].pop("CallStatus", None)  # kept only when the status came first
            outcomes.append(stored)
    assert outcomes[0] == {
        "kind": "voicemail",
        "body": "Hi, this is Dana, my router keeps dropping. Please call me back.",
        "media": [{"url": RECORDING_URL, "content_type": "audio/x-wav"}],
        "provider_fields": {"CallSid": CALL_SID, "RecordingSid": RECORDING_SID, "RecordingDuration": "14", "Transcription": "completed"},
    }
    assert all(outcome == outcomes[0] for outcome in outcomes)
