"""`switchboard oncall`: agents, the rotation and overrides, stored in the local stack's table."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from conftest_helpers import run_cli, unique_number
from switchboard.store import keys
from switchboard.store.dynamo import to_item, to_values

pytestmark = pytest.mark.integration


@pytest.fixture
def oncall(local):
    """A CLI runner on an empty on-call configuration (the partition is shared by the run)."""
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    items = client.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=to_values({":pk": keys.ONCALL_PK}))["Items"]
    for item in items:
        client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    env = local.cli_env()

    def cli(*args: str, ok: bool = True):
        done = run_cli(["oncall", *args], env)
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    return cli


def show(oncall, at: str) -> dict:
    return json.loads(oncall("show", "--at", at, "--json").stdout)


def test_a_weekly_rotation_hands_off_at_local_time_across_daylight_saving(oncall):
    ana, ben = unique_number(), unique_number()
    oncall("agents", "add", "Ana Lima", "--phone", ana, "--email", "Ana@Example.com")
    oncall("agents", "add", "Ben Okafor", "--phone", ben.replace("+1", "1-").replace("5555", "555-5"))  # any readable form
    oncall("rotation", "set", "--agents", "ana-lima,ben-okafor", "--handoff", "Mon 09:00", "--every", "1w", "--starts", "2026-10-19", "--time-zone", "Europe/Berlin")

    assert show(oncall, "2026-10-19T08:59")["on_call"]["agent_id"] is None  # before the first handoff
    first = show(oncall, "2026-10-19T09:00")["on_call"]
    assert first["agent_id"] == "ana-lima" and first["agent"]["phone"] == ana
    # Berlin leaves summer time on 2026-10-25: Ben's shift still starts Monday 09:00 local (08:00Z, not 07:00Z).
    ben_shift = show(oncall, "2026-10-26T09:00")["on_call"]
    assert ben_shift["agent_id"] == "ben-okafor" and ben_shift["agent"]["phone"] == ben
    assert ben_shift["starts_at"] == "2026-10-26T08:00:00.000Z"
    assert show(oncall, "2026-10-26T08:59+01:00")["on_call"]["agent_id"] == "ana-lima"

    document = show(oncall, "2026-10-21T12:00")
    assert [s["agent_id"] for s in document["next"][:3]] == ["ben-okafor", "ana-lima", "ben-okafor"]
    assert {a["agent_id"]: a["email"] for a in document["agents"]} == {"ana-lima": "ana@example.com", "ben-okafor": None}

    table = oncall("show", "--at", "2026-10-21T12:00").stdout
    assert "On call at Wed 2026-10-21 12:00 CEST: Ana Lima" in table and "Ben Okafor" in table


def iso(moment: datetime) -> str:
    """An instant as `--from`/`--to`/`--at` take it: ISO 8601 with its UTC offset."""
    return moment.astimezone(timezone.utc).isoformat(timespec="minutes")


def test_an_override_wins_inside_its_window_only_and_can_be_removed(oncall):
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    oncall("agents", "add", "Ana", "--phone", unique_number())
    oncall("agents", "add", "Cy", "--phone", unique_number())
    oncall("rotation", "set", "--agents", "ana", "--handoff", "Mon 09:00", "--time-zone", "America/New_York")
    starts, ends = now + timedelta(days=2), now + timedelta(days=5)  # upcoming, placed relative to now
    added = json.loads(oncall("override", "add", "cy", "--from", iso(starts), "--to", iso(ends), "--note", "holiday cover", "--json").stdout)
    assert show(oncall, iso(starts - timedelta(minutes=1)))["on_call"]["agent_id"] == "ana"
    inside = show(oncall, iso(starts + timedelta(days=1)))["on_call"]
    assert (inside["agent_id"], inside["source"], inside["override_id"]) == ("cy", "override", added["override_id"])
    assert show(oncall, iso(ends))["on_call"]["agent_id"] == "ana"  # the window ends at its end

    refused = oncall("agents", "remove", "cy", ok=False)
    assert refused.returncode == 1 and "overrides" in refused.stderr and added["override_id"] in refused.stderr
    oncall("override", "remove", added["override_id"])
    assert show(oncall, iso(starts + timedelta(days=1)))["on_call"]["agent_id"] == "ana"
    missing = oncall("override", "remove", added["override_id"], ok=False)
    assert missing.returncode == 1 and "no override" in missing.stderr


def test_an_agent_with_a_current_override_stays_and_one_with_only_past_overrides_can_go(oncall):
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    oncall("agents", "add", "Ana", "--phone", unique_number())
    oncall("agents", "add", "Cy", "--phone", unique_number())
    oncall("agents", "add", "Dee", "--phone", unique_number())
    oncall("rotation", "set", "--agents", "ana", "--handoff", "Mon 09:00", "--time-zone", "America/New_York")
    oncall("override", "add", "cy", "--from", iso(now - timedelta(hours=1)), "--to", iso(now + timedelta(days=1)))
    oncall("override", "add", "dee", "--from", iso(now - timedelta(days=6)), "--to", iso(now - timedelta(days=3)))
    oncall("override", "add", "dee", "--from", iso(now - timedelta(days=2)), "--to", iso(now - timedelta(minutes=1)))

    refused = oncall("agents", "remove", "cy", ok=False)
    assert refused.returncode == 1 and "current or future overrides" in refused.stderr
    oncall("agents", "remove", "dee")  # every override of Dee's has ended
    document = json.loads(oncall("show", "--json").stdout)
    assert sorted(a["agent_id"] for a in document["agents"]) == ["ana", "cy"]


def test_bad_changes_are_refused_with_the_reason_and_change_nothing(oncall):
    phone = unique_number()
    oncall("agents", "add", "Ana", "--phone", phone)
    taken = oncall("agents", "add", "Impostor", "--phone", phone, ok=False)
    assert taken.returncode == 1 and f"{phone} is already the phone of agent ana" in taken.stderr
    unknown = oncall("rotation", "set", "--agents", "ana,zed", "--handoff", "Mon 09:00", ok=False)
    assert unknown.returncode == 1 and "zed" in unknown.stderr
    bad_day = oncall("rotation", "set", "--agents", "ana", "--handoff", "Funday 09:00", ok=False)
    assert bad_day.returncode == 2
    wrong_start = oncall("rotation", "set", "--agents", "ana", "--handoff", "Mon 09:00", "--starts", "2026-11-24", ok=False)
    assert wrong_start.returncode == 2 and "Tuesday" in wrong_start.stderr
    backwards = oncall("override", "add", "ana", "--from", "2026-12-02T09:00", "--to", "2026-12-01T09:00", ok=False)
    assert backwards.returncode == 1
    oncall("rotation", "set", "--agents", "ana", "--handoff", "Mon 09:00")
    in_use = oncall("agents", "remove", "ana", ok=False)
    assert in_use.returncode == 1 and "rotation" in in_use.stderr
    document = json.loads(oncall("show", "--json").stdout)
    assert [a["agent_id"] for a in document["agents"]] == ["ana"] and document["schedule"]["overrides"] == []


def test_an_agents_phone_is_marked_on_its_identity_and_a_customer_on_it_keeps_both(local, oncall, sms_form):
    phone = unique_number()
    # The number wrote in as a customer before becoming an agent's.
    assert local.post_sms(sms_form(phone, "hello from a customer")).status_code == 200
    oncall("agents", "add", "Dee", "--phone", phone)
    client = boto3.client("dynamodb")
    item = client.get_item(TableName=os.environ["TABLE_NAME"], Key=to_item(keys.identity_key("phone", phone)), ConsistentRead=True)["Item"]
    assert item["agent_id"]["S"] == "dee" and "customer_id" in item
    # Changing the agent's number moves the mark.
    new_phone = unique_number()
    oncall("agents", "add", "Dee", "--id", "dee", "--phone", new_phone)
    old = client.get_item(TableName=os.environ["TABLE_NAME"], Key=to_item(keys.identity_key("phone", phone)), ConsistentRead=True)["Item"]
    assert "agent_id" not in old and "customer_id" in old
    # The store keeps the mark when a customer is created on an agent-only identity.
    from switchboard.conversations.inbound import record_inbound
    from switchboard.models import Channel, Identity, IdentityKind, InboundMessage

    first = InboundMessage(Channel.SMS, "test", f"agent-phone-{new_phone}", Identity(IdentityKind.PHONE, new_phone), datetime.now(timezone.utc), body="hi")
    assert record_inbound(first, local.conversations()).new_customer
    merged = client.get_item(TableName=os.environ["TABLE_NAME"], Key=to_item(keys.identity_key("phone", new_phone)), ConsistentRead=True)["Item"]
    assert merged["agent_id"]["S"] == "dee" and "customer_id" in merged


def test_the_escalation_policy_is_set_validated_and_shown(oncall):
    default = json.loads(oncall("show", "--json").stdout)["policy"]
    assert [level["target"] for level in default["levels"]] == ["schedule", "everyone"]
    oncall("agents", "add", "Ana", "--phone", unique_number())
    saved = json.loads(oncall("policy", "set", "--level", "schedule:5", "--level", "agent:ana:10", "--level", "everyone:15", "--repeat", "2", "--json").stdout)
    assert [level["wait_minutes"] for level in saved["levels"]] == [5, 10, 15] and saved["repeat"] == 2
    shown = oncall("show").stdout
    assert "Escalation: schedule:5, then agent:ana:10, then everyone:15" in shown
    unknown = oncall("policy", "set", "--level", "agent:zed:5", ok=False)
    assert unknown.returncode == 1 and "zed" in unknown.stderr
    garbage = oncall("policy", "set", "--level", "sometimes", ok=False)
    assert garbage.returncode == 2
