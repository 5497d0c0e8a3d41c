"""The pure parts of the satisfaction question: which SMS is a score, what the email says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from switchboard.conversations.satisfaction import SatisfactionPolicy, email_question, parse_score
from switchboard.link_tokens import token_digest
from switchboard.settings import SettingsError, load_settings

BASE = {"TABLE_NAME": "switchboard", "QUARANTINE_BUCKET": "quarantine", "SWITCHBOARD_PUBLIC_URL": "https://support.example.com/", "TWILIO_AUTH_TOKEN_PARAMETER": "/p"}


@pytest.mark.parametrize("text, score", [
    ("4", 4), (" 5 ", 5), ("1.", 1), ("5!", 5), ("4/5", 4), ("4 / 5", 4), ("3 out of 5", 3), ("5 stars", 5), ("1 star", 1),
])
def test_a_bare_score_is_a_rating(text, score):
    assert parse_score(text) == score


@pytest.mark.parametrize("text", ["0", "6", "45", "4 thanks", "4 days and no refund", "five", "", "4?", "Order 4", "2/10"])
def test_anything_else_is_a_message(text):
    assert parse_score(text) is None


def test_the_policy_comes_from_the_settings_and_refuses_a_wrong_placeholder():
    policy = SatisfactionPolicy.from_settings(load_settings(BASE))
    assert policy.channels == {"sms", "email", "voice"}, "X is off by default: a public reply"
    assert (policy.quiet, policy.answer_within) == (timedelta(days=30), timedelta(days=7))
    assert policy.public_url == "https://support.example.com"
    assert SatisfactionPolicy.from_settings(load_settings({**BASE, "SATISFACTION_CHANNELS": "none"})).channels == frozenset()
    with pytest.raises(SettingsError, match="SATISFACTION_TEXT_SMS"):
        load_settings({**BASE, "SATISFACTION_TEXT_SMS": "How did {team} do?"})
    with pytest.raises(SettingsError, match="SATISFACTION_CHANNELS"):
        load_settings({**BASE, "SATISFACTION_CHANNELS": "sms,fax"})


def test_the_email_lists_one_link_per_score_best_first_and_only_a_digest_is_stored():
    policy = SatisfactionPolicy.from_settings(load_settings({**BASE, "BRAND_NAME": "Acme"}))
    body = email_question("How did we do?", policy, "tok3n")
    lines = [line for line in body.splitlines() if "/rate/" in line]
    assert lines[0] == "5 (great): https://support.example.com/rate/tok3n?score=5"
    assert lines[-1] == "1 (poor): https://support.example.com/rate/tok3n?score=1" and len(lines) == 5
    assert body.startswith("How did we do?") and body.endswith("Acme")
    assert token_digest("tok3n") != "tok3n" and len(token_digest("tok3n")) == 64
