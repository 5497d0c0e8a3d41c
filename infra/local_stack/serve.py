"""`make run`: the local stack and the gateway in the foreground until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from local_stack.drivers import Drivers
from local_stack.gateway import Gateway
from local_stack.paths import LOCAL_DIR
from local_stack.send import LOCAL_SUPPORT_NUMBER
from local_stack.stack import LOCAL_SUPPORT_EMAIL, LOCAL_X_USERNAME, LocalStack, default_public_url, running_state
from switchboard.channels.twilio_webhook import retried


def serve(port: int, state_dir: Path = LOCAL_DIR, overrides: dict[str, str] | None = None) -> int:
    """overrides: template parameters over the local stack's values (already checked)."""
    running = running_state(state_dir)
    if running is not None:
        print(
            f"a local stack is already running on {state_dir} (process {running['pid']}, "
            f"http://127.0.0.1:{running['gateway_port']}); stop it first, or give this one its own "
            "SWITCHBOARD_LOCAL_DIR", file=sys.stderr,
        )
        return 1
    public_url = default_public_url(port)
    stack = LocalStack(state_dir, public_url=public_url, overrides=overrides)
    try:  # take the port first: a busy port should fail before anything starts
        gateway = Gateway(stack.http_routes(), stack.template.functions(), port=port)
    except OSError as error:
        print(f"cannot serve on port {port}: {error.strerror}; choose another with PORT=<port> make run", file=sys.stderr)
        return 1
    # SIGTERM stops as cleanly as Ctrl-C does, from the first moment.
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"starting the local stack (data in {state_dir}) ...", flush=True)
    try:
        stack.start()
    except KeyboardInterrupt:
        gateway.server.server_close()
        print("\nstopped while starting", flush=True)
        return 130
    drivers = None
    try:
        os.environ.update(stack.function_environment())
        drivers = Drivers(stack.template, stack.resolver(), only=_driven(stack)).start()
        stack.write_state(gateway.port)
        _print_banner(stack, gateway, public_url, drivers)
        try:
            gateway.serve_forever()
        except KeyboardInterrupt:
            print("\nstopping ...", flush=True)
        finally:
            gateway.stop()
    finally:
        if drivers is not None:
            drivers.stop()
        stack.stop()
    print("stopped: gateway, drivers, moto, DynamoDB Local", flush=True)
    return 0


# X is not reachable from the local stack: its poller runs on `local send mention`.
NOT_DRIVEN_LOCALLY = {"XMentionsFunction"}


def _driven(stack: LocalStack) -> list[str]:
    """The functions whose streams, queues and schedules run in the background locally."""
    return [function_id for function_id in stack.template.functions() if function_id not in NOT_DRIVEN_LOCALLY]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print_banner(stack: LocalStack, gateway: Gateway, public_url: str, drivers: Drivers) -> None:
    assert stack.endpoints is not None
    lines = [
        "",
        f"Switchboard is serving template.yaml's routes on http://127.0.0.1:{gateway.port}",
        "",
    ]
    lines += [
        f"  {route.method:<6} {route.path:<32} → {route.function_id}" + ("  (IAM: SigV4-signed requests only)" if route.authorization == "AWS_IAM" else "")
        for route in gateway.routes
    ]
    lines += ["", "and drives:"] + [f"  {line}" for line in drivers.describe()]
    if stack.overrides:
        lines += ["", "parameters overridden: " + ", ".join(f"{name}={value}" for name, value in stack.overrides.items())]
    lines += [
        "",
        f"Twilio signatures are checked against: {public_url}  (set SWITCHBOARD_PUBLIC_URL to change)",
        f"Twilio webhook for the number's messages: {retried(public_url + '/webhooks/twilio/sms')}",
        f"  (the #fragment makes Twilio retry timeouts and 5xx; calls: {retried(public_url + '/webhooks/twilio/voice')})",
        f"Local Twilio auth token: {stack.state_dir / 'twilio-auth-token'} (or TWILIO_AUTH_TOKEN)",
        f"DynamoDB Local: http://127.0.0.1:{stack.endpoints.dynamodb_port}  data: {stack.state_dir / 'dynamodb'}",
        f"moto (S3, SQS, SES, SSM): http://127.0.0.1:{stack.endpoints.moto_port}",
        "",
        "Send test messages from another terminal:",
        '  .venv/bin/switchboard local send sms --from +14155550100 "Hi, my invoice looks wrong"',
        "  .venv/bin/switchboard local send email tests/fixtures/mime/talon_apple_mail_reply_quoted.eml",
        '  .venv/bin/switchboard local send voicemail --from +14155550100 "Please call me back"',
        '  .venv/bin/switchboard local send mention --handle jane_doe "is the API down?"',
        "  .venv/bin/switchboard conversations list",
        '  .venv/bin/switchboard incidents open "Elevated API errors" -m "We are investigating."',
        "  .venv/bin/switchboard local send statuspage tests/fixtures/statuspage/incident_created_investigating.json",
        f"Status page: http://127.0.0.1:{gateway.port}/status",
        "",
        f"(the support number is {LOCAL_SUPPORT_NUMBER}, the support address {LOCAL_SUPPORT_EMAIL},",
        f" the X account @{LOCAL_X_USERNAME}; Ctrl-C stops everything)",
        "",
    ]
    print("\n".join(lines), flush=True)
    sys.stdout.flush()
