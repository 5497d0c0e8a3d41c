from __future__ import annotations

import pytest

from switchboard.observability import mask_email, mask_phone
from switchboard.settings import SettingsError, load_settings

VALID = {
    "TABLE_NAME": "switchboard-Table-1",
    "QUARANTINE_BUCKET": "switchboard-quarantine",
    "SWITCHBOARD_PUBLIC_URL": "https://support.example.com/",
    "TWILIO_AUTH_TOKEN_PARAMETER": "/switchboard/twilio/auth-token",
}


def test_valid_environment_with_defaults():
    settings = load_settings(VALID)
    assert settings.public_url == "https://support.example.com"
    assert settings.default_phone_region == "US"
    assert settings.max_webhook_body_bytes == 65536


def test_missing_and_malformed_variables_are_named():
    environment = {**VALID, "SWITCHBOARD_PUBLIC_URL": "support.example.com", "MAX_WEBHOOK_BODY_BYTES": "-1"}
    del environment["TABLE_NAME"]
    with pytest.raises(SettingsError) as error:
        load_settings(environment)
    message = str(error.value)
    assert "TABLE_NAME" in message and "SWITCHBOARD_PUBLIC_URL" in message and "MAX_WEBHOOK_BODY_BYTES" in message


@pytest.mark.parametrize(
    ("value", "masked"),
    [("+14155550100", "***0100"), ("+442079460958", "***0958"), ("12345", "***"), ("", ""), (None, "")],
)
def test_phone_numbers_are_masked(value, masked):
    assert mask_phone(value) == masked


def test_email_addresses_are_masked():
    assert mask_email("jane.doe@example.com") == "***@example.com"
    assert mask_email('"a@b"@example.com') == "***@example.com"
    assert mask_email("broken") == "***"


BASE = {"TABLE_NAME": "t-table", "QUARANTINE_BUCKET": "q-bucket", "SWITCHBOARD_PUBLIC_URL": "https://x.example", "TWILIO_AUTH_TOKEN_PARAMETER": "/p"}


def test_a_sender_with_default_delivery_and_no_accounts_refuses_naming_each_one():
    settings = load_settings(BASE)
    with pytest.raises(SettingsError) as refused:
        settings.require_delivery()
    message = str(refused.value)
    for needed in ("TWILIO_ACCOUNT_SID is required with SMS_DELIVERY=twilio", "TWILIO_SENDER is required with SMS_DELIVERY=twilio",
                   "SUPPORT_EMAIL_ADDRESS is required with EMAIL_DELIVERY=ses", "X_SUPPORT_ACCOUNT is required with X_DELIVERY=api"):
        assert needed in message


def test_complete_or_explicitly_off_delivery_starts():
    complete = {**BASE, "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_SENDER": "+14155550100", "SUPPORT_EMAIL_ADDRESS": "support@acme.example", "X_DELIVERY": "off"}
    load_settings(complete).require_delivery()
    load_settings({**BASE, "SMS_DELIVERY": "outbox", "EMAIL_DELIVERY": "off", "X_DELIVERY": "off"}).require_delivery()
    with pytest.raises(SettingsError, match="SMS_DELIVERY"):
        load_settings({**BASE, "SMS_DELIVERY": "sometimes"})
