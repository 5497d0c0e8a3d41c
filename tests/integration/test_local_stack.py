"""The local stack itself: persistence across restarts, failures that lose nothing, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest_helpers import run_cli, wait_for_quarantine
from local_stack.paths import REPO_ROOT

pytestmark = pytest.mark.integration

SWITCHBOARD = [sys.executable, "-m", "switchboard.cli"]


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
    found = local.conversations().find_claim("twilio", before["MessageSid"])
    assert found is not None, "a message stored before the restart is gone"
    assert local.conversations().find_claim("twilio", during["MessageSid"]) is None

    # Twilio's retry after the outage is stored, once.
    assert local.post_sms(during).status_code == 200
    conversation = local.conversations().get_conversation(found[0].conversation_id)
    assert [m.body for m in conversation.messages] == ["before the restart", "while DynamoDB is down"]


def test_cli_lists_and_shows_the_stream_as_json_and_as_tables(local, sms_form):
    form = sms_form(body="Where is my order?", media=[("https://api.twilio.com/m/ME1", "image/png")])
    assert local.post_sms(form).status_code == 200
    route, message_id = local.conversations().find_claim("twilio", form["MessageSid"])
    conversation_id = route.conversation_id
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
        "media": [{"url": "https://api.twilio.com/m/ME1", "content_type": "image/png", "filename": None, "size": None}],
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
    assert stored["sender"] == "***0100"
    assert "+14155550100" not in result.stdout + result.stderr
    assert sample["headers"]["x-twilio-signature"]

    # The data stayed in the state dir: a second command sees it.
    listed = run_cli(["conversations", "list", "--json"], env)
    assert [c["customer_identity"]["value"] for c in json.loads(listed.stdout)] == ["+14155550100"]


def test_local_invoke_runs_the_voice_and_email_sample_events(tmp_path):
    env = {**_clean_env(), "SWITCHBOARD_LOCAL_DIR": str(tmp_path)}

    voice = run_cli(["local", "invoke", "VoiceWebhookFunction", "--event", "events/voice_webhook.json"], env)
    assert voice.returncode == 0, voice.stderr
    response = json.loads(voice.stdout[voice.stdout.rindex('{\n  "statusCode"'):])
    assert response["statusCode"] == 200 and "<Record " in response["body"]

    email = run_cli(["local", "invoke", "EmailFunction", "--event", "events/email_inbound.json"], env)
    assert email.returncode == 0, email.stderr
    result = json.loads(email.stdout[email.stdout.rindex('{\n  "disposition"'):])
    assert result["messages"][0]["status"] == "stored"
    listed = json.loads(run_cli(["conversations", "list", "--json"], env).stdout)
    assert [c["last_message_preview"][:25] for c in listed] == ["Invoice shows two charges"]


def test_local_invoke_names_the_functions_when_one_is_unknown(tmp_path):
    result = run_cli(["local", "invoke", "NoSuchFunction", "--event", "events/sms_webhook.json"], {**_clean_env(), "SWITCHBOARD_LOCAL_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "SmsWebhookFunction" in result.stderr


def _clean_env():
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TABLE_NAME", "QUARANTINE_BUCKET", "SWITCHBOARD_", "TWILIO_"))}


def _local_up(tmp_path, port, *options):
    env = {**_clean_env(), "SWITCHBOARD_LOCAL_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(SWITCHBOARD + ["local", "up", "--port", str(port), *options], env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _servers_using(path) -> list[int]:
    """Pids of processes whose command line names this state dir (DynamoDB Local's -dbPath)."""
    from pathlib import Path

    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(path).encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            pass
    return pids


def test_local_up_serves_until_ctrl_c_and_stops_everything(tmp_path):
    import signal
    import time

    import requests

    from local_stack.processes import free_port

    port = free_port()
    # A webhook burst of 40 (the default is 200), refilled at 1 a second: enough for this test's requests.
    process = _local_up(tmp_path, port, "--parameter-overrides", "ApiBurstLimit=40", "ApiRateLimit=1")
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / "stack.json").exists():
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
            time.sleep(0.2)
        env = {**_clean_env(), "SWITCHBOARD_LOCAL_DIR": str(tmp_path)}
        sent = run_cli(["local", "send", "sms", "--from", "+14155550199", "Hello from the test"], env)
        assert sent.returncode == 0 and sent.stdout.startswith("200 "), sent.stdout + sent.stderr
        listed = run_cli(["conversations", "list", "--json"], env)
        assert [c["last_message_preview"] for c in json.loads(listed.stdout)] == ["Hello from the test"]
        assert requests.post(f"http://127.0.0.1:{port}/webhooks/twilio/sms", timeout=10).status_code == 415
        assert _servers_using(tmp_path)

        # The whole loop through the drivers: a customer's SMS pages the on-call agent
        # (stream → router → outbox queue → sender → local outbox); the agent answers by SMS.
        agent = "+14155550188"
        for command in (["oncall", "agents", "add", "Ana", "--phone", agent], ["oncall", "rotation", "set", "--agents", "ana", "--handoff", "Mon 00:00", "--business-hours", "always"]):
            done = run_cli(command, env)
            assert done.returncode == 0, done.stderr
        sent = run_cli(["local", "send", "sms", "--from", "+14155550177", "My order never arrived"], env)
        assert sent.returncode == 0, sent.stderr
        page = _wait_for_outbox(env, agent)
        assert "My order never arrived" in page["body"] and page["body"].startswith("[")
        code = page["body"][1:page["body"].index("]")]
        answered = run_cli(["local", "send", "sms", "--from", agent, f"{code} It ships today, sorry!"], env)
        assert answered.returncode == 0 and "Sent to" in answered.stdout, answered.stdout
        assert _wait_for_outbox(env, "+14155550177")["body"] == "It ships today, sorry!"

        # The overridden throttle is the gateway's: 50 more requests find the bucket empty.
        statuses = [requests.post(f"http://127.0.0.1:{port}/webhooks/twilio/sms", timeout=10).status_code for _ in range(50)]
        assert 429 in statuses and set(statuses) == {415, 429}
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"http://127.0.0.1:{port}" in output and "POST   /webhooks/twilio/sms" in output
    assert "parameters overridden: ApiBurstLimit=40, ApiRateLimit=1" in output
    assert "stopped: gateway, drivers, moto, DynamoDB Local" in output
    assert _servers_using(tmp_path) == []


def _wait_for_outbox(env, to: str, timeout: float = 30) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        listed = run_cli(["local", "outbox", "--to", to, "--json"], env)
        assert listed.returncode == 0, listed.stderr
        found = json.loads(listed.stdout)
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"nothing sent to {to} within {timeout} s"
        time.sleep(0.5)


def test_ctrl_c_while_starting_leaves_nothing_running(tmp_path):
    import signal
    import time

    from local_stack.processes import free_port

    process = _local_up(tmp_path, free_port())
    deadline = time.monotonic() + 30
    while not (tmp_path / "dynamodb").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # DynamoDB Local is starting now
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode in (0, 130)
    time.sleep(0.5)
    assert _servers_using(tmp_path) == []


def test_local_up_refuses_a_busy_port_clearly(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        process = _local_up(tmp_path, busy.getsockname()[1])
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "choose another with PORT=" in output


def _wait_for_stack(process, tmp_path, timeout: float = 90) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not (tmp_path / "stack.json").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.2)


def _still_running(processes, timeout: float) -> list:
    """Those of `processes` still running after up to `timeout` seconds (a zombie has ended)."""
    import time

    import psutil

    def running(process) -> bool:
        try:
            return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    deadline = time.monotonic() + timeout
    while (left := [p for p in processes if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="servers end with their owner on Linux; elsewhere the next start stops them")
def test_local_up_killed_with_sigkill_takes_its_servers_with_it(tmp_path):
    import psutil

    from local_stack.processes import free_port

    process = _local_up(tmp_path, free_port())
    try:
        _wait_for_stack(process, tmp_path)
        servers = psutil.Process(process.pid).children(recursive=True)
        commands = [" ".join(server.cmdline()) for server in servers]
        assert any("DynamoDBLocal.jar" in c for c in commands) and any("moto_main.py" in c for c in commands), commands
    finally:
        process.kill()  # no shutdown code runs
        process.communicate(timeout=30)
    assert _still_running(servers, timeout=10) == []
    assert _servers_using(tmp_path) == []


def test_the_next_start_stops_servers_a_dead_owner_left_running(tmp_path):
    """An owner that died where its servers outlived it (not Linux, or a server that ignored
    SIGTERM): the next command that starts the stack on the same data stops them first."""
    import psutil

    # The owner starts a stand-in server outside die_with_parent, records it, and exits
    # without stopping it.
    owner = subprocess.run([sys.executable, "-c", (
        "import subprocess, sys\n"
        "from pathlib import Path\n"
        "from local_stack.stale_stacks import ServerRecord\n"
        "server = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True,\n"
        "                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"ServerRecord(Path({str(tmp_path)!r})).write({{'DynamoDB Local': server}})\n"
        "print(server.pid)\n"
    )], capture_output=True, text=True, check=True, cwd=REPO_ROOT, timeout=30)
    left_running = psutil.Process(int(owner.stdout))
    assert _still_running([left_running], timeout=0) == [left_running]

    listed = run_cli(["conversations", "list", "--json"], {**_clean_env(), "SWITCHBOARD_LOCAL_DIR": str(tmp_path)})
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    assert "left running by process" in listed.stderr and f"DynamoDB Local (pid {left_running.pid})" in listed.stderr
    assert _still_running([left_running], timeout=10) == []
    assert list((tmp_path / "pids").glob("*.json")) == []  # its own record went with it


def test_a_second_local_up_on_the_same_data_is_refused_while_the_first_runs(tmp_path):
    import signal

    from local_stack.processes import free_port

    first_port = free_port()
    first = _local_up(tmp_path, first_port)
    try:
        _wait_for_stack(first, tmp_path)
        second = _local_up(tmp_path, free_port())
        output, _ = second.communicate(timeout=60)
        assert second.returncode == 1
        assert f"already running on {tmp_path}" in output and f"http://127.0.0.1:{first_port}" in output
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert first.returncode == 0


def test_dynamodb_local_and_moto_listen_on_the_loopback_address_only(local):
    """Nobody else on the network can read or write the local table, bucket or queues."""
    import psutil

    ports = {"DynamoDB Local": local.stack.endpoints.dynamodb_port, "moto": local.stack.endpoints.moto_port}
    listening = [c for c in psutil.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    for name, port in ports.items():
        addresses = {c.laddr.ip for c in listening if c.laddr.port == port}
        assert addresses, f"{name} is not listening on {port}"
        assert addresses <= {"127.0.0.1", "::ffff:127.0.0.1"}, f"{name} listens on {addresses}"


def test_a_stalled_store_is_answered_503_inside_the_functions_timeout_and_loses_nothing(local, sms_form):
    """DynamoDB Local paused: the webhook's calls time out, it answers 503 with Retry-After
    before Lambda would end it, keeps the request, and Twilio's retry is stored once."""
    import time

    from local_stack.template import Template

    timeout = Template().functions()["SmsWebhookFunction"].timeout
    form = sms_form(body="sent while the store stalls")
    with local.stack.dynamodb_frozen():
        started = time.monotonic()
        response = local.post_sms(form)
        elapsed = time.monotonic() - started
    assert response.status_code == 503 and response.headers["Retry-After"], response.text
    assert elapsed < timeout, f"answered after {elapsed:.1f} s; Lambda would have ended it at {timeout} s"
    wait_for_quarantine(local, lambda r: r["status"] == 503 and form["MessageSid"] in r["body"])
    assert local.post_sms(form).status_code == 200, "Twilio's retry"
    assert local.post_sms(form).status_code == 200, "and its duplicate"
    found = local.conversations().find_claim("twilio", form["MessageSid"])
    messages = local.conversations().get_conversation(found[0].conversation_id).messages
    assert [m.body for m in messages].count("sent while the store stalls") == 1


def test_a_request_kept_during_an_outage_is_replayed_once_from_the_quarantine(local, sms_form):
    form = sms_form(body="kept while DynamoDB was down")
    local.stack.stop_dynamodb()
    try:
        assert local.post_sms(form).status_code == 503
    finally:
        local.stack.start_dynamodb()
    kept = wait_for_quarantine(local, lambda r: r["status"] == 503 and form["MessageSid"] in r["body"])
    env = local.cli_env()

    replayed = run_cli(["quarantine", "replay", kept["key"], "--json"], env)
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["status"] == 200 and json.loads(replayed.stdout)["function"] == "SmsWebhookFunction"
    assert run_cli(["quarantine", "replay", kept["key"]], env).returncode == 0, "a second replay is a no-op, not an error"
    found = local.conversations().find_claim("twilio", form["MessageSid"])
    bodies = [m.body for m in local.conversations().get_conversation(found[0].conversation_id).messages]
    assert bodies.count("kept while DynamoDB was down") == 1

    forged = sms_form(body="forged")
    assert local.post_sms(forged, signature="forged").status_code == 403
    refused = wait_for_quarantine(local, lambda r: r["status"] == 403 and forged["MessageSid"] in r["body"])
    again = run_cli(["quarantine", "replay", refused["key"]], env)
    assert again.returncode == 2 and "would be again" in again.stderr
    assert run_cli(["quarantine", "replay", "rejected/nope.json"], env).returncode == 3
