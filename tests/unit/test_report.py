"""The report's figures per channel and for the team: pure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from switchboard.conversations.report import TEAM, FollowUp, parse_since, report
from switchboard.models import Channel, Conversation, ConversationStatus, Identity, IdentityKind

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def conversation(channel: Channel, first_response: float | None = None, answered_days_ago: float = 1, resolved_days_ago: float | None = None) -> Conversation:
    return Conversation(
        conversation_id="c",
        customer_id="k",
        customer_identity=Identity(IdentityKind.PHONE, "+14155550100"),
        status=ConversationStatus.RESOLVED if resolved_days_ago is not None else ConversationStatus.WAITING_ON_CUSTOMER,
        channel=channel,
        created_at=NOW - timedelta(days=10),
        last_activity_at=NOW - timedelta(hours=1),
        first_response_seconds=first_response,
        first_response_at=NOW - timedelta(days=answered_days_ago) if first_response is not None else None,
        resolved_at=NOW - timedelta(days=resolved_days_ago) if resolved_days_ago is not None else None,
    )


def test_median_and_p90_first_response_and_resolved_per_channel():
    since = NOW - timedelta(days=7)
    sms = [conversation(Channel.SMS, seconds) for seconds in (60, 120, 180, 240, 300, 360, 420, 480, 540, 600)]
    sms.append(conversation(Channel.SMS, 5, answered_days_ago=30))  # answered before the period: not counted
    email = [conversation(Channel.EMAIL, 3600, resolved_days_ago=2), conversation(Channel.EMAIL, None, resolved_days_ago=20)]
    figures = {f.channel: f for f in report([*sms, *email], since)}
    assert (figures["sms"].conversations, figures["sms"].answered) == (11, 10)
    assert figures["sms"].first_response_median_seconds == 330 and figures["sms"].first_response_p90_seconds == 540
    assert (figures["email"].answered, figures["email"].resolved, figures["email"].first_response_median_seconds) == (1, 1, 3600)


def test_no_answers_yet_reports_no_times():
    voice, team = report([conversation(Channel.VOICE)], NOW - timedelta(days=7))
    assert voice.first_response_median_seconds is None and voice.answered == 0 and voice.within_target_share is None
    assert team.channel == TEAM and team.conversations == 1


def test_first_responses_within_each_channels_target_and_the_teams_share():
    since = NOW - timedelta(days=7)
    sms = [conversation(Channel.SMS, seconds) for seconds in (60, 299, 300, 301)]  # target 5 min: 3 of 4
    email = [conversation(Channel.EMAIL, seconds) for seconds in (1800, 3600)]  # target 60 min: both
    targets = {"sms": 5, "email": 60}
    figures = {f.channel: f for f in report([*sms, *email], since, targets.__getitem__)}
    assert (figures["sms"].within_target, figures["sms"].within_target_share, figures["sms"].first_response_target_minutes) == (3, 0.75, 5)
    assert figures["email"].within_target_share == 1.0
    team = figures[TEAM]
    assert (team.answered, team.within_target, team.first_response_target_minutes) == (6, 5, None)
    assert team.within_target_share == 5 / 6


def test_time_to_resolution_is_from_the_conversations_start_and_only_for_those_resolved_in_the_period():
    since = NOW - timedelta(days=7)
    quick = conversation(Channel.SMS, 60, resolved_days_ago=9.5)  # created 10 days ago: 12 h, but before the period
    slow = conversation(Channel.SMS, 60, resolved_days_ago=8)  # 48 h: before the period too
    recent = [conversation(Channel.SMS, 60, resolved_days_ago=days) for days in (6, 5, 4)]  # 96, 120, 144 h
    (sms, team) = report([quick, slow, *recent], since)
    assert sms.resolved == 3 and sms.resolution_median_seconds == 120 * 3600 and team.resolution_median_seconds == 120 * 3600


def test_follow_ups_due_and_overdue_per_channel_and_in_all():
    follow_ups = [FollowUp("sms", overdue=False), FollowUp("sms", overdue=True), FollowUp("email", overdue=False)]
    figures = {f.channel: f for f in report([conversation(Channel.SMS, 60)], NOW - timedelta(days=7), follow_ups=follow_ups)}
    assert (figures["sms"].follow_ups_due, figures["sms"].follow_ups_overdue) == (1, 1)
    assert (figures["email"].conversations, figures["email"].follow_ups_due) == (0, 1), "a follow-up on an older conversation still counts"
    assert (figures[TEAM].follow_ups_due, figures[TEAM].follow_ups_overdue) == (2, 1)


@pytest.mark.parametrize("text, delta", [("7d", timedelta(days=7)), ("24h", timedelta(hours=24)), ("90m", timedelta(minutes=90)), ("2w", timedelta(weeks=2))])
def test_since_spans(text, delta):
    assert parse_since(text, NOW) == NOW - delta


def test_since_dates_and_errors():
    assert parse_since("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="use 7d"):
        parse_since("last week", NOW)


def test_satisfaction_per_channel_and_for_the_team_counts_ratings_given_in_the_period():
    from dataclasses import replace

    from switchboard.models import Rating

    since = NOW - timedelta(days=7)

    def rated(channel: Channel, score: int | None, days_ago: float = 1) -> Conversation:
        asked = NOW - timedelta(days=days_ago)
        rating = Rating(score, channel.value, asked + timedelta(hours=1)) if score else None
        return replace(conversation(channel, 60, resolved_days_ago=days_ago), surveyed_at=asked, survey_message_id="q", rating=rating)

    sms = [rated(Channel.SMS, score) for score in (5, 4, 2, None)]
    email = [rated(Channel.EMAIL, 3), rated(Channel.EMAIL, 5, days_ago=20)]  # the second was rated before the period
    figures = {f.channel: f for f in report([*sms, *email, conversation(Channel.VOICE)], since)}
    assert (figures["sms"].satisfaction_asked, figures["sms"].satisfaction_responses) == (4, 3)
    assert figures["sms"].satisfaction_good_share == pytest.approx(2 / 3) and figures["sms"].satisfaction_mean == pytest.approx(11 / 3)
    assert (figures["email"].satisfaction_asked, figures["email"].satisfaction_responses, figures["email"].satisfaction_mean) == (1, 1, 3)
    assert figures["voice"].satisfaction_responses == 0 and figures["voice"].satisfaction_mean is None
    team = figures[TEAM]
    assert (team.satisfaction_asked, team.satisfaction_responses, team.satisfaction_good_share, team.satisfaction_mean) == (5, 4, 0.5, 3.5)


def test_within_target_counts_the_wait_in_business_hours_only():
    from dataclasses import replace

    from switchboard.oncall.schedule import Schedule, open_seconds

    berlin = Schedule(time_zone="Europe/Berlin", business_hours="Mon-Fri 09:00-17:00")
    # Written at 16:59 on a Friday (winter: 15:59 UTC), answered at 09:02 on Monday.
    friday = datetime(2026, 11, 27, 15, 59, tzinfo=timezone.utc)
    monday = datetime(2026, 11, 30, 8, 2, tzinfo=timezone.utc)
    waited = (monday - friday).total_seconds()
    overnight = replace(conversation(Channel.SMS, waited), first_response_at=monday)
    at_noon = replace(conversation(Channel.SMS, 600), first_response_at=monday + timedelta(hours=3))  # 10 minutes, all open
    since = monday - timedelta(days=7)
    in_hours = {f.channel: f for f in report([overnight, at_noon], since, lambda channel: 5, waited_in_hours=lambda a, b: open_seconds(berlin, a, b))}
    assert open_seconds(berlin, friday, monday) == 3 * 60, "one minute on Friday, two on Monday"
    assert in_hours["sms"].within_target == 1, "the overnight wait was 3 business minutes; the noon one 10"
    wall_clock = {f.channel: f for f in report([overnight, at_noon], since, lambda channel: 5)}
    assert wall_clock["sms"].within_target == 0
