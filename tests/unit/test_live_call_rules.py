"""The pure parts of putting a call through: whom the hunt rings, in what order, and the
TwiML of each step (Twilio's own builders), read back as Twilio reads it."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import date, datetime, time, timezone
from urllib.parse import parse_qs, urlsplit

from switchboard.channels.voice_live import announcement, callback_dial_twiml, dial_twiml, screen_twiml
from switchboard.oncall.config import OncallConfig
from switchboard.oncall.live_calls import hunt_order
from switchboard.oncall.policy import EscalationPolicy, parse_level
from switchboard.oncall.schedule import Agent, Override, Rotation, Schedule

UTC = timezone.utc
AGENTS = {agent_id: Agent(agent_id, agent_id.title(), f"+1415555010{n}") for n, agent_id in enumerate(("ana", "bo", "cy", "dee"))}
ROTATION = Rotation(("ana", "bo", "cy"), time(9), 7, date(2026, 3, 2))  # weekly, Mondays 09:00 UTC: ana first
IN_ANAS_WEEK = datetime(2026, 3, 3, 15, tzinfo=UTC)
CALL = "CA" + "1" * 32


def config(*levels: str, repeat: int = 0, overrides: tuple[Override, ...] = ()) -> OncallConfig:
    policy = EscalationPolicy(tuple(parse_level(level) for level in levels), repeat=repeat)
    return OncallConfig(AGENTS, Schedule("UTC", ROTATION, overrides=overrides), policy)


def test_the_hunt_rings_the_policys_levels_in_order_each_agent_once():
    assert hunt_order(config("schedule:5", "agent:dee:10", "everyone:15", repeat=2), IN_ANAS_WEEK) == ("ana", "dee", "bo", "cy")


def test_whoever_an_override_puts_on_call_is_rung_first():
    cover = Override("01JCOVER", "cy", datetime(2026, 3, 3, 12, tzinfo=UTC), datetime(2026, 3, 3, 18, tzinfo=UTC))
    assert hunt_order(config("schedule:5", "agent:ana:10", overrides=(cover,)), IN_ANAS_WEEK) == ("cy", "ana")


def test_nobody_on_call_and_nobody_named_rings_nobody():
    before = datetime(2026, 3, 1, 12, tzinfo=UTC)  # before the rotation starts
    assert hunt_order(config("schedule:5"), before) == ()


def test_the_dial_rings_one_agent_screened_with_the_caller_kept_in_the_signed_urls():
    twiml = ElementTree.fromstring(dial_twiml("https://support.example", CALL, 2, "+14155550101", "+14155550199", "+15005550006", 18, True, "Hello."))

    assert twiml.find("Say").text == "Hello."
    dial = twiml.find("Dial")
    assert (dial.get("answerOnBridge"), dial.get("timeout"), dial.get("callerId"), dial.get("record")) == ("true", "18", "+15005550006", "record-from-answer-dual")
    number = dial.find("Number")
    assert number.text == "+14155550101"
    for url, path in ((dial.get("action"), "/webhooks/twilio/voice/dialed"), (number.get("url"), "/webhooks/twilio/voice/screen")):
        parts = urlsplit(url)
        assert parts.path == path and parts.fragment.startswith("rc=")  # Twilio retries our callbacks
        assert parse_qs(parts.query) == {"call": [CALL], "attempt": ["2"], "caller": ["+14155550199"], "called": ["+15005550006"]}


def test_without_recording_the_dial_records_nothing_and_a_sip_callee_keeps_twilios_caller_id():
    dial = ElementTree.fromstring(dial_twiml("https://s.example", CALL, 1, "+14155550101", "+14155550199", "sip:x@y", 18, False)).find("Dial")
    assert dial.get("record") is None and dial.get("callerId") is None


def test_the_screening_asks_for_a_key_and_hangs_up_on_silence():
    twiml = ElementTree.fromstring(screen_twiml("https://s.example", CALL, 1, "+14155550199", "+15005550006", "Support call from x."))
    gather = twiml.find("Gather")
    assert (gather.get("numDigits"), gather.get("actionOnEmptyResult")) == ("1", "true")
    assert gather.find("Say").text == "Support call from x. Press 1 to accept."
    assert [child.tag for child in twiml] == ["Gather", "Hangup"]


def test_the_announcement_reads_the_number_digit_by_digit_and_counts_open_conversations():
    assert announcement("+1415", "Jane Doe", 2) == "Support call from + 1 4 1 5, Jane Doe, 2 open conversations."
    assert announcement("+1415", None, 1) == "Support call from + 1 4 1 5, 1 open conversation."
    assert announcement("withheld:CA1", None, 0) == "Support call from a withheld number, no open conversations."


def test_a_call_back_shows_the_support_number_to_the_customer():
    dial = ElementTree.fromstring(callback_dial_twiml("https://s.example", "conversation=c1", "+14155550199", "+15005550006", 25, False)).find("Dial")
    assert (dial.get("callerId"), dial.find("Number").text, dial.get("timeout")) == ("+15005550006", "+14155550199", "25")
    assert urlsplit(dial.get("action")).path == "/webhooks/twilio/voice/callback/done"
