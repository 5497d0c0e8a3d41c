"""`switchboard local up --parameter-overrides`: template parameters for one local run,
checked as CloudFormation checks them, reaching the functions' environment and the
gateway's throttles."""

import pytest

from local_stack.stack import LOCAL_PARAMETERS, LocalStack
from local_stack.template import Template
from switchboard.cli import main

TEMPLATE = Template()


def test_overrides_the_template_accepts_are_kept_as_given():
    assert TEMPLATE.parameter_overrides(["LiveAnswering=always", "ApiRateLimit=1000", "BrandName=Acme = Co"]) == {
        "LiveAnswering": "always", "ApiRateLimit": "1000", "BrandName": "Acme = Co",
    }


@pytest.mark.parametrize(
    ("pair", "reason"),
    [
        ("LiveAnswering", "is NAME=VALUE"),
        ("=always", "is NAME=VALUE"),
        ("LiveAnswerng=always", "declares no such parameter"),
        ("LiveAnswering=sometimes", "must be one of always, business_hours, never"),
        ("ApiRateLimit=0", "must be from 1 to 10000"),
        ("ApiRateLimit=lots", "must be a number"),
        ("SmsRatePerSecond=fast", "must match"),
    ],
)
def test_an_override_cloudformation_would_refuse_is_refused_with_the_reason(pair, reason):
    with pytest.raises(ValueError, match=reason):
        TEMPLATE.parameter_overrides([pair])


def test_the_cli_refuses_a_bad_override_before_starting_anything(capsys):
    assert main(["local", "up", "--parameter-overrides", "ApiBurstLimit=9999999"]) == 2
    assert "ApiBurstLimit=9999999: must be from 1 to 5000" in capsys.readouterr().err


def test_the_public_url_is_not_a_local_override_because_signatures_are_checked_against_it(capsys):
    assert main(["local", "up", "--parameter-overrides", "PublicUrl=https://support.example.com"]) == 2
    error = capsys.readouterr().err
    assert "PublicUrl: the local stack takes its public URL from SWITCHBOARD_PUBLIC_URL" in error


def test_the_api_throttle_is_the_parameters_and_an_override_changes_it(tmp_path):
    defaults = TEMPLATE.parameter_defaults()
    sms_route = "POST /webhooks/twilio/sms"
    default_throttle = {route.route_key: route.throttle for route in LocalStack(tmp_path).http_routes()}[sms_route]
    assert (default_throttle.rate_per_second, default_throttle.burst) == (float(defaults["ApiRateLimit"]), int(defaults["ApiBurstLimit"]))

    stack = LocalStack(tmp_path, overrides={"ApiRateLimit": "2500", "ApiBurstLimit": "3000"})
    routes = {route.route_key: route.throttle for route in stack.http_routes()}
    assert (routes[sms_route].rate_per_second, routes[sms_route].burst) == (2500.0, 3000)
    # A route with throttles of its own keeps them.
    public = {route.route_key: route.throttle for route in LocalStack(tmp_path).http_routes()}["POST /status/subscribe"]
    assert routes["POST /status/subscribe"] == public and public.rate_per_second < 2500


def test_overrides_reach_the_functions_environment_over_the_local_values(tmp_path):
    assert LocalStack(tmp_path).function_environment()["LIVE_ANSWERING"] == TEMPLATE.parameter_defaults()["LiveAnswering"]
    stack = LocalStack(tmp_path, overrides={"LiveAnswering": "always", "SmsDelivery": "twilio"})
    environment = stack.function_environment()
    assert environment["LIVE_ANSWERING"] == "always"
    assert LOCAL_PARAMETERS["SmsDelivery"] == "outbox" and stack.parameters["SmsDelivery"] == "twilio"
