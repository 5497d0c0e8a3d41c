"""The seconds of a wait that fall in business hours (oncall/schedule.open_seconds): what a
first-response target counts, correct across daylight-saving changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.oncall.schedule import Schedule, open_seconds

UTC = timezone.utc
NEW_YORK_ALWAYS = Schedule(time_zone="America/New_York", business_hours="always")
BERLIN_OFFICE = Schedule(time_zone="Europe/Berlin", business_hours="Mon-Fri 09:00-17:00")
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))


@given(start=instants, minutes=st.integers(min_value=0, max_value=60 * 24 * 9))
def test_always_open_counts_every_second_whatever_the_clock_change(start, minutes):
    end = start + timedelta(minutes=minutes)
    assert open_seconds(NEW_YORK_ALWAYS, start, end) == pytest.approx((end - start).total_seconds())


@given(start=instants, minutes=st.integers(min_value=0, max_value=60 * 24 * 20))
def test_office_hours_never_count_more_than_the_wait_nor_more_than_eight_hours_a_weekday(start, minutes):
    end = start + timedelta(minutes=minutes)
    counted = open_seconds(BERLIN_OFFICE, start, end)
    assert 0 <= counted <= (end - start).total_seconds()
    assert counted <= (minutes // (60 * 24) + 2) * 8 * 3600


def test_office_hours_follow_the_clock_change():
    # Europe/Berlin moves to summer time on Sunday 2027-03-28: on Friday 09:00 is 08:00
    # UTC, on Monday 07:00 UTC. A wait from Friday 06:00 CET to Monday 23:00 CEST holds
    # both whole days.
    friday, monday = datetime(2027, 3, 26, tzinfo=UTC), datetime(2027, 3, 29, tzinfo=UTC)
    assert open_seconds(BERLIN_OFFICE, friday + timedelta(hours=7, minutes=59), friday + timedelta(hours=8, minutes=1)) == 60
    assert open_seconds(BERLIN_OFFICE, monday + timedelta(hours=6, minutes=59), monday + timedelta(hours=7, minutes=1)) == 60
    assert open_seconds(BERLIN_OFFICE, friday + timedelta(hours=5), monday + timedelta(hours=21)) == 2 * 8 * 3600
    assert open_seconds(BERLIN_OFFICE, monday, monday - timedelta(hours=1)) == 0, "an end before the start is no wait"
