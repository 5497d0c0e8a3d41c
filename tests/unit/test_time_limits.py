"""Every outside call ends before its function's Timeout, as template.yaml configures each one."""

from __future__ import annotations

import pytest

from local_stack.stack import LOCAL_PARAMETERS
from local_stack.template import Resolver, Template
from switchboard.settings import load_settings
from switchboard.webhooks import RESERVE_SECONDS

TEMPLATE = Template()
RESOLVER = Resolver(TEMPLATE, {"PublicUrl": "https://support.example.com", **LOCAL_PARAMETERS})
# Functions that call Twilio or X in an invocation, besides AWS.
PROVIDER_CALLERS = {"SenderFunction", "NoticeSenderFunction", "XMentionsFunction"}


def settings_of(function_id: str):
    spec = TEMPLATE.functions()[function_id]
    environment = {name: str(RESOLVER.resolve(value)) for name, value in spec.environment.items()}
    return load_settings({"TWILIO_AUTH_TOKEN_PARAMETER": "/p", **environment}), spec


@pytest.mark.parametrize("function_id", sorted(TEMPLATE.functions()))
def test_one_stalled_call_ends_with_time_left_to_answer(function_id):
    settings, spec = settings_of(function_id)
    budget = settings.aws_call_budget_seconds
    assert settings.aws_connect_timeout_seconds and settings.aws_read_timeout_seconds, "botocore's 60 s defaults would outlast it"
    if spec.events_of_type("HttpApi"):
        assert budget + RESERVE_SECONDS <= spec.timeout, f"{function_id}: {budget} s + {RESERVE_SECONDS} s reserve > Timeout {spec.timeout} s"
    if function_id in PROVIDER_CALLERS:
        assert budget + settings.provider_timeout_seconds < spec.timeout
    assert budget < spec.timeout


def test_the_budget_counts_every_attempt_and_the_backoff_between():
    settings = load_settings({"TABLE_NAME": "t-table", "QUARANTINE_BUCKET": "q-bucket", "SWITCHBOARD_PUBLIC_URL": "https://x.example", "TWILIO_AUTH_TOKEN_PARAMETER": "/p",
                              "AWS_CONNECT_TIMEOUT_SECONDS": "2", "AWS_READ_TIMEOUT_SECONDS": "3", "AWS_MAX_ATTEMPTS": "3"})
    assert settings.aws_call_budget_seconds == 3 * (2 + 3) + 2


def test_every_client_carries_the_limits(monkeypatch):
    from switchboard.settings import get_settings
    from switchboard.store import clients

    for name, value in {"TABLE_NAME": "t-table", "QUARANTINE_BUCKET": "q-bucket", "SWITCHBOARD_PUBLIC_URL": "https://x.example",
                        "TWILIO_AUTH_TOKEN_PARAMETER": "/p", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    from switchboard.settings import _ssm

    makers = (clients.dynamodb, clients.s3, clients.sqs, clients.ses, clients.ssm, _ssm)
    try:
        for make in makers:
            make.cache_clear()
        # powertools' SSM provider takes our SSM client, not one of its own.
        assert _ssm().client is clients.ssm()
        for make in makers[:-1]:
            config = make().meta.config
            assert (config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]) == (1, 1, 2)
    finally:
        for make in makers:
            make.cache_clear()
        get_settings.cache_clear()
