"""What the automatic acknowledgement says, in business hours and out of them, across the
edges of the day, the week and daylight saving (conversations/acknowledgement.py).

Every instant is derived from the clock these tests inject (a week from today), never from
a date that will pass.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from switchboard.conversations.acknowledgement import AcknowledgementPolicy, acknowledgement_text, hours_for, when_back
from switchboard.oncall.config import OncallConfig
from switchboard.oncall.policy import DEFAULT_POLICY, EscalationPolicy, PolicyError, parse_first_response, validate_policy
from switchboard.oncall.schedule import Schedule
from switchboard.settings import SettingsError, load_settings

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = Schedule(time_zone="Europe/Berlin", business_hours="Mon-Fri 09:00-17:00")
POLICY = AcknowledgementPolicy(
    channels=frozenset({"sms", "email"}), quiet=timedelta(hours=24),
    text_open="Thanks: someone from {brand} will answer within about {minutes} minutes.",
    text_closed="Thanks: someone from {brand} will answer {back}.",
    brand="Acme",
)
TARGETS = EscalationPolicy(DEFAULT_POLICY.levels, first_response_minutes=30, first_response_by_channel=(("sms", 5),))


def monday_after(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


# Monday of the week after next, as the injected clock's "today": any weekday rule below
# holds for every week of the year.
MONDAY = monday_after(date.today() + timedelta(days=7))


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(timezone.utc)


def said(now: datetime, channel: str = "sms", schedule: Schedule = OFFICE) -> str:
    return acknowledgement_text(POLICY, hours_for(OncallConfig({}, schedule, TARGETS), channel, now), now)


def abbreviation(day: date) -> str:
    return datetime.combine(day, time(9), tzinfo=BERLIN).tzname()


def test_inside_business_hours_it_promises_the_channels_first_response_target():
    assert said(berlin(MONDAY, 16, 59)) == "Thanks: someone from Acme will answer within about 5 minutes."
    assert said(berlin(MONDAY, 9, 0), channel="email") == "Thanks: someone from Acme will answer within about 30 minutes."


def test_outside_them_it_says_when_the_team_is_back_in_the_business_time_zone():
    tuesday = MONDAY + timedelta(days=1)
    assert said(berlin(MONDAY, 17, 1)) == f"Thanks: someone from Acme will answer tomorrow at 09:00 {abbreviation(tuesday)}."
    assert said(berlin(MONDAY, 7, 30)) == f"Thanks: someone from Acme will answer today at 09:00 {abbreviation(MONDAY)}."
    friday = MONDAY + timedelta(days=4)
    following_monday = MONDAY + timedelta(days=7)
    assert said(berlin(friday, 17, 1)) == f"Thanks: someone from Acme will answer on Monday at 09:00 {abbreviation(following_monday)}."
    # Just after midnight is already the next local day: "today", though UTC is still on the day before.
    assert said(berlin(MONDAY + timedelta(days=1), 0, 30)).endswith(f"today at 09:00 {abbreviation(tuesday)}.")


def test_an_opening_a_week_or_more_away_is_named_by_its_date():
    weekly = Schedule(time_zone="Europe/Berlin", business_hours="Mon 09:00-10:00")
    next_week = MONDAY + timedelta(days=7)
    assert said(berlin(MONDAY, 10, 30), schedule=weekly).endswith(
        f"on Monday {next_week.day} {next_week:%B} at 09:00 {abbreviation(next_week)}."
    )


def test_hours_that_never_open_promise_no_time():
    closed = Schedule(time_zone="Europe/Berlin", business_hours="never")
    assert said(berlin(MONDAY, 12), schedule=closed) == "Thanks: someone from Acme will answer as soon as we can."


def next_offset_change(zone: ZoneInfo, after: datetime) -> datetime:
    """The first hour after `after` at which the zone's UTC offset is another."""
    hour = after.replace(minute=0, second=0, microsecond=0)
    offset = hour.astimezone(zone).utcoffset()
    while hour.astimezone(zone).utcoffset() == offset:
        hour += timedelta(hours=1)
    return hour


@pytest.mark.parametrize("changes", [1, 2], ids=["next change", "the one after"])
def test_across_a_daylight_saving_change_the_opening_is_named_in_the_new_offset(changes):
    change = datetime.combine(MONDAY, time(12), tzinfo=timezone.utc)
    for _ in range(changes):
        change = next_offset_change(BERLIN, change)
    # Europe/Berlin changes on a Sunday night: a message on the Saturday before hears Monday's
    # opening, whose zone abbreviation is the one after the change.
    saturday = change.astimezone(BERLIN).date() - timedelta(days=1)
    assert saturday.weekday() == 5
    before, after = abbreviation(saturday), abbreviation(saturday + timedelta(days=2))
    assert before != after
    assert said(berlin(saturday, 12)).endswith(f"on Monday at 09:00 {after}.")
    opening = hours_for(OncallConfig({}, OFFICE, TARGETS), "sms", berlin(saturday, 12)).opening
    assert opening == berlin(saturday + timedelta(days=2), 9) and opening.astimezone(BERLIN).hour == 9


def test_when_back_counts_local_days_not_24_hour_blocks():
    now = berlin(MONDAY, 23, 30)
    assert when_back(berlin(MONDAY + timedelta(days=1), 0, 15), now, BERLIN).startswith("tomorrow at 00:15")
    assert when_back(None, now, BERLIN) == "as soon as we can"


def test_per_channel_first_response_targets_are_read_checked_and_kept_in_the_policy_document():
    assert parse_first_response(["30", "sms=5", "X=5"]) == (30, (("sms", 5), ("x", 5)))
    assert parse_first_response([]) == (None, ())
    for bad in ("fast", "sms=", "=5", "sms=five"):
        with pytest.raises(PolicyError, match="is not like '10' or 'sms=5'"):
            parse_first_response([bad])
    policy = EscalationPolicy(DEFAULT_POLICY.levels, first_response_minutes=30, first_response_by_channel=(("fax", 5), ("sms", 0)))
    problems = validate_policy(policy, set())
    assert any("'fax', which is not a channel" in p for p in problems) and any("on sms is 1 to 1440 minutes, not 0" in p for p in problems)
    assert EscalationPolicy.from_document(TARGETS.to_document()) == TARGETS
    assert TARGETS.first_response_target("sms") == 5 and TARGETS.first_response_target("voice") == 30
    older = {key: value for key, value in TARGETS.to_document().items() if key != "first_response_by_channel"}
    assert EscalationPolicy.from_document(older).first_response_by_channel == (), "pages written before per-channel targets still read"


BASE = {"TABLE_NAME": "table", "QUARANTINE_BUCKET": "bucket", "SWITCHBOARD_PUBLIC_URL": "https://support.example", "TWILIO_AUTH_TOKEN_PARAMETER": "/p"}


def test_the_wording_and_channels_are_settings_checked_at_the_cold_start():
    settings = load_settings(BASE)
    assert settings.acknowledge_channel_list == ("sms", "email", "voice"), "off on X by default: there it is a public reply"
    assert load_settings({**BASE, "ACKNOWLEDGE_CHANNELS": "none"}).acknowledge_channel_list == ()
    with pytest.raises(SettingsError, match=r"ACKNOWLEDGE_TEXT_OPEN: names \{name\}; it may name \{brand\}, \{minutes\}"):
        load_settings({**BASE, "ACKNOWLEDGE_TEXT_OPEN": "Hello {name}"})
    with pytest.raises(SettingsError, match=r"ACKNOWLEDGE_TEXT_CLOSED: .*literal brace"):
        load_settings({**BASE, "ACKNOWLEDGE_TEXT_CLOSED": "back {back"})
    with pytest.raises(SettingsError, match="ACKNOWLEDGE_CHANNELS='sms,fax' does not match"):
        load_settings({**BASE, "ACKNOWLEDGE_CHANNELS": "sms,fax"})
    own = AcknowledgementPolicy.from_settings(load_settings({**BASE, "SUPPORT_EMAIL_ADDRESS": "Help@Acme.example", "X_SUPPORT_ACCOUNT": "42:acme"}))
    assert own.own_addresses == {"help@acme.example", "42"}
