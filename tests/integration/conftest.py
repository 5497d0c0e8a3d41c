"""The local stack for integration tests: started once per run on free ports, in a temp dir."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import boto3
import pytest
import requests
from twilio.request_validator import RequestValidator

from conftest_helpers import unique_number
from local_stack.gateway import Gateway
from local_stack.processes import free_port
from local_stack.send import TWILIO_SMS_PATH, twilio_sms_form
from local_stack.stack import LocalStack
from switchboard.store.conversations import ConversationStore
from switchboard.store.quarantine import QuarantineStore


@dataclass
class LocalEnvironment:
    stack: LocalStack
    gateway: Gateway
    public_url: str
    state_dir: Path

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}"

    @property
    def auth_token(self) -> str:
        return self.stack.auth_token

    def conversations(self) -> ConversationStore:
        return ConversationStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])

    def quarantine(self) -> QuarantineStore:
        return QuarantineStore(boto3.client("s3"), os.environ["QUARANTINE_BUCKET"])

    def sign(self, form: dict[str, str], path: str = TWILIO_SMS_PATH) -> str:
        return RequestValidator(self.auth_token).compute_signature(self.public_url + path, form)

    def post_sms(self, form: dict[str, str], *, signature: str | None = "sign", headers: dict[str, str] | None = None, body: bytes | None = None) -> requests.Response:
        """POST to the SMS webhook through the gateway, signed like Twilio unless told otherwise."""
        sent_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "sign":
            signature = self.sign(form)
        if signature is not None:
            sent_headers["X-Twilio-Signature"] = signature
        sent_headers.update(headers or {})
        data = body if body is not None else urlencode(form).encode("utf-8")
        return requests.post(self.gateway_url + TWILIO_SMS_PATH, data=data, headers=sent_headers, timeout=60)

    def cli_env(self) -> dict[str, str]:
        """Environment for a `switchboard` subprocess that attaches to this stack."""
        return {**os.environ, "SWITCHBOARD_LOCAL_DIR": str(self.state_dir)}


@pytest.fixture(scope="session")
def local(tmp_path_factory: pytest.TempPathFactory):
    state_dir = tmp_path_factory.mktemp("local-stack")
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    stack = LocalStack(state_dir, public_url=public_url).start()
    os.environ.update(stack.function_environment())
    # Deployed, a call rings the agents in business hours: here every call goes to voicemail
    # unless a test switches live answering on (test_live_calls.py), so that no test's
    # outcome depends on the time of day it runs at.
    os.environ["LIVE_ANSWERING"] = "never"
    gateway = Gateway(stack.template.http_routes(), stack.template.functions(), port=port).start_in_thread()
    stack.write_state(gateway.port)
    try:
        yield LocalEnvironment(stack, gateway, public_url, state_dir)
    finally:
        gateway.stop()
        stack.stop()


@pytest.fixture
def sms_form():
    """A fresh inbound SMS form from a new customer number each time."""
    def make(sender: str | None = None, body: str = "Hello, my invoice looks wrong", **kwargs) -> dict[str, str]:
        return twilio_sms_form(sender or unique_number(), body, **kwargs)

    return make



# ---- IAM: every call the functions made, checked against their roles as deployed ----------

_CALLS_BY_FUNCTION: dict[str, list] = {}


@pytest.fixture(scope="session", autouse=True)
def every_aws_call_is_recorded():
    """Record each AWS call a function makes during the suite (tests/iam_grants.py);
    pytest_sessionfinish below fails the run when a role would refuse one in AWS."""
    from iam_grants import every_call

    with every_call() as calls:
        yield
        _CALLS_BY_FUNCTION.update(calls)


def pytest_sessionfinish(session, exitstatus):
    if not _CALLS_BY_FUNCTION:
        return  # no integration test ran
    from iam_grants import not_in_the_layer, refused

    problems = [problem for function_id, calls in sorted(_CALLS_BY_FUNCTION.items()) for problem in refused(function_id, calls)]
    problems += not_in_the_layer(_CALLS_BY_FUNCTION)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    counted = sum(len(set(calls)) for calls in _CALLS_BY_FUNCTION.values())
    if not problems:
        reporter.write_line(f"IAM: {counted} distinct calls of {len(_CALLS_BY_FUNCTION)} functions, each granted by the function's own role"
                            " and its operation kept in the layer's botocore")
        return
    reporter.write_line(f"IAM: {len(problems)} calls the functions' roles would refuse in AWS (template.yaml Policies),"
                        " or whose operation the layer's botocore lacks (functions/build_artifacts.py BOTOCORE_OPERATIONS):", red=True)
    for problem in problems:
        reporter.write_line(f"  {problem}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
