"""The local stack itself: persistence across restarts, failures that lose nothing, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest_helpers import wait_for_quarantine
from local_stack.paths import REPO_ROOT

pytestmark = pytest.mark.integration

SWITCHBOARD = [sys.executable, "-m", "switchboard.cli"]


def run_cli(args, env, timeout=120):
    return subprocess.run(SWITCHBOARD + args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def test_data_survives_a_dynamodb_restart_and_an_outage_loses_nothing(local, sms_form):
    before = sms_form(body="before the restart")
    assert local.post_sms(before).status_code == 200
    during = sms_form(before["From"], "while DynamoDB is down")

    local.stack.stop_dynamodb()
    try:
        response = local.post_sms(during)
    finally:
        local.stack.start_dynamodb()

    # Unavailable storage is a retryable 503, never a 500, and the request is kept.
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    wait_for_quarantine(local, lambda r: r["status"] == 503 and during["MessageSid"] in r["body"])
    found = local.conversations().message_ids_for_provider_id("twilio", before["MessageSid"])
    assert found is not None, "a message stored before the restart is gone"
    assert local.conversations().message_ids_for_provider_id("twilio", during["MessageSid"]) is None

    # Twilio's retry after the outage is stored, once.
    assert local.post_sms(during).status_code == 200
    conversation = local.conversations().get_conversation(found[0])
    assert [m.body for m in conversation.messages] == ["before the restart", "while DynamoDB is down"]


def test_cli_lists_and_shows_the_stream_as_json_and_as_tables(local, sms_form):
    form = sms_form(body="Where is my order?", media=[("https://api.twilio.com/m/ME1", "image/png")])
    assert local.post_sms(form).status_code == 200
    conversation_id, message_id = local.conversations().message_ids_for_provider_id("twilio", form["MessageSid"])
    env = local.cli_env()

    listed = run_cli(["conversations", "list", "--json", "--limit", "1000"], env)
    assert listed.returncode == 0, listed.stderr
    summary = next(c for c in json.loads(listed.stdout) if c["conversation_id"] == conversation_id)
    assert summary["customer_identity"]["value"] == form["From"]
    assert summary["status"] == "waiting_on_us"
    assert summary["last_activity_at"].endswith("Z")

    shown = run_cli(["conversations", "show", conversation_id, "--json"], env)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    (message,) = detail["messages"]
    assert message == {
        **message,
        "message_id": message_id,
        "channel": "sms",
        "direction": "inbound",
        "body": "Where is my order?",
        "provider": "twilio",
        "provider_id": form["MessageSid"],
        "media": [{"url": "https://api.twilio.com/m/ME1", "content_type": "image/png"}],
    }
    assert message["sender"]["value"] == form["From"]
    assert message["received_at"].endswith("Z")

    table = run_cli(["conversations", "list"], env)
    assert conversation_id in table.stdout and "LAST ACTIVITY" in table.stdout
    readable = run_cli(["conversations", "show", conversation_id], env)
    assert "Where is my order?" in readable.stdout and "image/png" in readable.stdout

    missing = run_cli(["conversations", "show", "01NOSUCHCONVERSATION000000"], env)
    assert missing.returncode == 3 and "no conversation" in missing.stderr


def test_cli_lists_refused_requests(local, sms_form):
    form = sms_form()
    assert local.post_sms(form, signature=None).status_code == 403
    listed = run_cli(["quarantine", "list", "--json", "--limit", "1000"], local.cli_env())
    assert listed.returncode == 0, listed.stderr
    assert any(form["MessageSid"] in record["body"] and record["status"] == 403 for record in json.loads(listed.stdout))


def test_local_invoke_runs_the_sample_event_with_masked_structured_logs(tmp_path):
    env = {**_clean_env(), "SWITCHBOARD_LOCAL_DIR": str(tmp_path)}
    sample = json.loads((REPO_ROOT / "events" / "sms_webhook.json").read_text())

    result = run_cli(["local", "invoke", "SmsWebhookFunction", "--event", "events/sms_webhook.json"], env)

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{\"")]
    response = json.loads(result.stdout[result.stdout.rindex('{\n  "statusCode"'):])
    assert response["statusCode"] == 200
    stored = next(line for line in lines if line.get("message") == "message stored")
    assert stored["correlation_id"] == "SM1f0e3b5a2c9d4e6f8a7b6c5d4e3f2a1b"
    assert stored["sender"] == "+1415***0100"
    assert "+14155550100" not in result.stdout + result.stderr
    assert sample["headers"]["x-twilio-signature"]

    # The data stayed in the state dir: a second command sees it.
    listed = run_cli(["conversations", "list", "--json"], env)
    assert [c["customer_identity"]["value"] for c in json.loads(listed.stdout)] == ["+14155550100"]


def test_local_invoke_names_the_functions_when_one_is_unknown(tmp_path):
    result = run_cli(["local", "invoke", "NoSuchFunction", "--event", "events/sms_webhook.json"], {**_clean_env(), "SWITCHBOARD_LOCAL_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "SmsWebhookFunction" in result.stderr


def _clean_env():
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TABLE_NAME", "QUARANTINE_BUCKET", "SWITCHBOARD_", "TWILIO_"))}
