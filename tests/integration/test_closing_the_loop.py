"""The loop closed end to end, through the interfaces people use: a customer writes at
night and hears when the team is back; an agent answers and resolves from the CLI; the
customer is asked how we did, rates 4 by SMS, and the report counts it.

The functions run on the real clock, so "night" is made from it: the business hours are
09:00-17:00 in a time zone where it is now about 03:00.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from conftest_helpers import drain_outbox, put_on_call, route_message, run_cli, unique_number
from local_stack.send import twilio_sms_form
from switchboard.models import ConversationStatus, Identity, IdentityKind, MessageKind

pytestmark = pytest.mark.integration


def zone_where_it_is_night(now: datetime) -> str:
    """A fixed-offset zone in which `now` is between 03:00 and 04:00 (tz database: Etc/GMT-3 is UTC+3)."""
    offset = (3 - now.astimezone(timezone.utc).hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


def sms_team_row(local) -> dict:
    shown = run_cli(["report", "--since", "1d", "--json"], local.cli_env())
    assert shown.returncode == 0, shown.stderr
    rows = {row["channel"]: row for row in json.loads(shown.stdout)["channels"]}
    return rows.get("sms", {"satisfaction_responses": 0, "satisfaction_mean": None, "satisfaction_asked": 0})


def test_a_customer_who_writes_at_night_is_acknowledged_answered_asked_and_counted(local):
    put_on_call("Mon-Sun 09:00-17:00", zone_where_it_is_night(datetime.now(timezone.utc)))
    number = unique_number()
    form = twilio_sms_form(number, "My account is locked and I have a demo in the morning")
    assert local.post_sms(form).status_code == 200
    conversation_id = local.conversations().find_identity(Identity(IdentityKind.PHONE, number), consistent=True).conversation_id
    route_message(conversation_id, form["MessageSid"])
    (ack,) = [m for m in drain_outbox() if m["to"] == number]
    assert ack["purpose"] == "acknowledgement" and "We are away right now" in ack["body"] and "at 09:00" in ack["body"]

    env = {**local.cli_env(), "SWITCHBOARD_AGENT": "ana"}
    answered = run_cli(["conversations", "reply", conversation_id, "Unlocked: you are good for the demo."], env)
    assert answered.returncode == 0, answered.stderr
    resolved = run_cli(["conversations", "resolve", conversation_id], env)
    assert resolved.returncode == 0 and "asked how we did" in resolved.stdout, resolved.stderr
    to_customer = {m["purpose"]: m for m in drain_outbox() if m["to"] == number}
    assert to_customer["customer_reply"]["body"] == "Unlocked: you are good for the demo."
    assert to_customer["satisfaction"]["body"].startswith("How did we do? Reply 1 (poor) to 5 (great).")

    before = sms_team_row(local)
    rated = local.post_sms(twilio_sms_form(number, "4"))
    assert rated.status_code == 200 and "we have your 4 out of 5" in rated.text
    summary = local.conversations().get_conversation(conversation_id)
    assert summary.status is ConversationStatus.RESOLVED and summary.rating.score == 4
    assert [m.kind for m in summary.messages] == [
        MessageKind.MESSAGE, MessageKind.ACKNOWLEDGEMENT, MessageKind.MESSAGE, MessageKind.SATISFACTION_QUESTION, MessageKind.RATING,
    ]
    assert summary.first_response_seconds is not None, "the answer, not the acknowledgement, was the first response"

    after = sms_team_row(local)
    assert after["satisfaction_responses"] == before["satisfaction_responses"] + 1
    total_before = (before["satisfaction_mean"] or 0) * before["satisfaction_responses"]
    assert after["satisfaction_mean"] * after["satisfaction_responses"] == pytest.approx(total_before + 4)
