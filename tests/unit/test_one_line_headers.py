"""Line breaks and control characters from outside never reach an email header or TwiML: pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser

import pytest

from switchboard.channels.email_outbound import build_email
from switchboard.errors import PermanentSendFailure
from switchboard.incident_model import Impact, IncidentUpdate, UpdateStatus, open_incident
from switchboard.incidents.notices import notice_message
from switchboard.models import Channel, OutboundMessage, OutboundPurpose
from switchboard.plain_text import has_unprintable, one_line
from switchboard.settings import SettingsError, load_settings

T0 = datetime(2030, 5, 6, 7, 8, tzinfo=timezone.utc)
INJECTED = "API down\r\nBcc: victim@bigcorp.example\r\n\r\nFree money"


@pytest.mark.parametrize(
    "text, line",
    [
        (INJECTED, "API down Bcc: victim@bigcorp.example Free money"),
        ("tab\tand\u2028separator\u200bzero-width", "tab and separator zero-width"),
        ("  plain  ", "plain"),
        (None, ""),
    ],
)
def test_one_line(text, line):
    assert one_line(text) == line and not has_unprintable(one_line(text))


def test_an_incident_title_is_one_line_from_the_start():
    update = IncidentUpdate("u1", UpdateStatus.INVESTIGATING, "Looking into it", T0)
    assert open_incident("inc1", INJECTED, Impact.MAJOR, ("api",), update).title == one_line(INJECTED)


def test_a_title_stored_with_a_line_break_still_makes_one_clean_notice_email():
    """Before: Python's email package raised on the header, and every notice went to the DLQ."""
    update = IncidentUpdate("u1", UpdateStatus.INVESTIGATING, "Looking into it", T0)
    incident = open_incident("inc1", "API down", Impact.MAJOR, ("api",), update)
    stored_before = replace(incident, title=INJECTED)
    message = notice_message("email", "reader@customer.example", "tok", "Acme\r\nX-Evil: 1", stored_before, update, "https://status.example")
    raw = build_email(message, "support@acme.example", "Acme\r\nX-Evil: 1")
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert "Bcc" not in parsed and "X-Evil" not in parsed
    assert "\n" not in str(parsed["Subject"]) and "API down Bcc: victim@bigcorp.example" in str(parsed["Subject"])
    assert parsed["From"].addresses[0].display_name == "Acme X-Evil: 1"


def test_an_address_with_a_line_break_is_a_permanent_failure_not_a_retry():
    message = OutboundMessage(Channel.EMAIL, "reader@customer.example\r\nBcc: x@y.example", "hi", OutboundPurpose.CUSTOMER_REPLY, "k1", email={"subject": "Hi"})
    with pytest.raises(PermanentSendFailure, match="line break"):
        build_email(message, "support@acme.example")


@pytest.mark.parametrize("variable", ["BRAND_NAME", "VOICE_GREETING_OPEN", "VOICE_GREETING_CLOSED"])
def test_settings_that_reach_headers_or_twiml_refuse_control_characters(variable):
    environment = {"TABLE_NAME": "t-table", "QUARANTINE_BUCKET": "q-bucket", "SWITCHBOARD_PUBLIC_URL": "https://x.example", "TWILIO_AUTH_TOKEN_PARAMETER": "/p"}
    assert load_settings({**environment, variable: "Acme support"})
    with pytest.raises(SettingsError, match=variable):
        load_settings({**environment, variable: "Acme\rsupport"})
