"""First-response time and resolved conversations per channel: pure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from switchboard.conversations.report import parse_since, report
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
    (figures,) = report([conversation(Channel.VOICE)], NOW - timedelta(days=7))
    assert figures.first_response_median_seconds is None and figures.answered == 0


@pytest.mark.parametrize("text, delta", [("7d", timedelta(days=7)), ("24h", timedelta(hours=24)), ("90m", timedelta(minutes=90)), ("2w", timedelta(weeks=2))])
def test_since_spans(text, delta):
    assert parse_since(text, NOW) == NOW - delta


def test_since_dates_and_errors():
    assert parse_since("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="use 7d"):
        parse_since("last week", NOW)
