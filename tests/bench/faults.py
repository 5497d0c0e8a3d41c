#!/usr/bin/env python3
"""(j) Inbound SMS with the store failing: 1,000 signed webhooks while 10% of DynamoDB
requests answer 500, Twilio retrying as our URLs ask (#rc=3: 3 more tries on a 5xx).

The faults are injected below the SDK (botocore's before-send: the request never reaches
DynamoDB Local, a 500 InternalServerError comes back), so the clients' own retries, the
webhook's 503 and the quarantine all run as they would in AWS. Printed: how many messages
were stored once, stored twice, lost, and still answered 503 after Twilio's last try;
then the time to drain those with `quarantine replay`'s code, the store healthy again.
A second, shorter run fails 60% of requests, so that Twilio gives up on some.

    .venv/bin/python tests/bench/faults.py [--quick] [--messages N]   # = run.py --only j
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from common import SMS_PATH, free_port
from report import Report, Row, block, say

FAULT_RATE = 0.10
OUTAGE_RATE = 0.60  # a second run: most requests fail, so Twilio gives up on some
TWILIO_RETRIES = 3  # the rc=3 of our webhook URLs


class InjectedFaults:
    """A 500 for a share of DynamoDB requests, before they are sent."""

    def __init__(self, rate: float, seed: int = 7) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.on = False
        self.injected = 0
        self.sent = 0

    def before_send(self, request: Any = None, **_: Any) -> Any:
        if not self.on:
            return None
        self.sent += 1
        if self.random.random() >= self.rate:
            return None
        self.injected += 1
        from botocore.awsrequest import AWSResponse

        class Raw:
            def stream(self, **_: Any):
                yield b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected fault"}'

        return AWSResponse(request.url, 500, {"Content-Type": "application/x-amz-json-1.0"}, Raw())


def figure_j(report: Report, tmp: Path, cleanups: contextlib.ExitStack, messages: int) -> None:
    block(f"(j) {messages} inbound SMS while {FAULT_RATE:.0%} of DynamoDB requests fail (500), Twilio retrying 5xx up to {TWILIO_RETRIES} times")
    try:
        _figure_j(report, tmp, cleanups, messages)
    except KeyboardInterrupt:
        raise
    except Exception as error:
        traceback.print_exc()
        report.error("(j)", "0 lost, 0 duplicated", error)


def _figure_j(report: Report, tmp: Path, cleanups: contextlib.ExitStack, messages: int) -> None:
    import boto3
    from twilio.request_validator import RequestValidator

    from local_stack.gateway import api_gateway_event
    from local_stack.invoke import invoke
    from local_stack.send import twilio_sms_form
    from local_stack.stack import LocalStack

    state_dir = tmp / "faults-stack"
    public_url = f"http://127.0.0.1:{free_port()}"
    stack = LocalStack(state_dir=state_dir, public_url=public_url)
    cleanups.callback(stack.stop)
    stack.start()
    os.environ.update(stack.function_environment())
    faults = InjectedFaults(FAULT_RATE)
    boto3.setup_default_session()  # the function's clients, made after this, carry the hook
    boto3.DEFAULT_SESSION.events.register("before-send.dynamodb", faults.before_send)

    (route,) = [r for r in stack.template.http_routes() if r.path == SMS_PATH]
    spec = stack.template.functions()[route.function_id]
    validator = RequestValidator(stack.auth_token)
    function_log = open(tmp / "faults-function-stdout.log", "w")
    cleanups.callback(function_log.close)

    def post(form: dict[str, str]) -> int:
        body = urlencode(form).encode()
        headers = [("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", validator.compute_signature(public_url + SMS_PATH, form))]
        with contextlib.redirect_stdout(function_log):
            result = invoke(spec, api_gateway_event(route, "POST", SMS_PATH, headers, body, "127.0.0.1", {}))
        return int(result.get("statusCode", 0))

    post(twilio_sms_form("+14155559999", "warm-up"))  # the cold start, without faults
    from switchboard.replay import replay_event
    from switchboard.store.conversations import ConversationStore
    from switchboard.store.quarantine import QuarantineStore

    conversations = ConversationStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    quarantine = QuarantineStore(boto3.client("s3"), os.environ["QUARANTINE_BUCKET"])

    def tally(forms: list[dict[str, str]]) -> tuple[int, int, int]:
        once = twice = lost = 0
        for form in forms:
            claim = conversations.find_claim("twilio", form["MessageSid"])
            if claim is None:
                lost += 1
                continue
            copies = [m.body for m in conversations.get_conversation(claim[0].conversation_id).messages].count(form["Body"])
            once += copies == 1
            twice += copies > 1
        return once, twice, lost

    def phase(name: str, rate: float, count: int, first_number: int) -> tuple[int, int, int, float]:
        forms = [twilio_sms_form(f"+1415556{first_number + index:04d}", f"{name} message {index}") for index in range(count)]
        faults.rate, faults.sent, faults.injected, faults.on = rate, 0, 0, True
        attempts = first_try_503 = 0
        final: dict[str, int] = {}
        started = time.perf_counter()
        for form in forms:
            for attempt in range(1 + TWILIO_RETRIES):
                attempts += 1
                status = post(form)
                if status < 500:
                    break
                first_try_503 += attempt == 0
            final[form["MessageSid"]] = status
        elapsed = time.perf_counter() - started
        faults.on = False
        gave_up = {sid for sid, status in final.items() if status >= 500}
        once, twice, missing = tally(forms)
        to_replay = [r for r in quarantine.list(limit=100_000) if r["status"] == 503 and any(sid in r["body"] for sid in gave_up)]
        replay_started = time.perf_counter()
        replayed_ok = 0
        for record in to_replay:
            with contextlib.redirect_stdout(function_log):
                replayed_ok += int(invoke(spec, replay_event(record)).get("statusCode", 0)) < 300
        drain = time.perf_counter() - replay_started
        once_after, twice_after, lost_after = tally(forms)
        say(f"  {name}: {count} SMS, {rate:.0%} of DynamoDB requests failing ({faults.injected} of {faults.sent} failed)")
        say(f"    webhook attempts {attempts} in {elapsed:.1f} s; 503 on the first try {first_try_503}; still 503 after Twilio's last try {len(gave_up)}")
        say(f"    after Twilio's retries: stored once {once}, twice {twice}, not stored {missing}")
        say(f"    replayed from the quarantine: {len(to_replay)} requests, {replayed_ok} answered 200, in {drain:.2f} s")
        say(f"    in the end: stored once {once_after}, twice {twice_after}, lost {lost_after}")
        return twice_after, lost_after, len(gave_up), drain

    twice, lost, gave_up, _ = phase("flaky store", FAULT_RATE, messages, 0)
    outage_count = max(10, messages // 10)
    outage_twice, outage_lost, outage_gave_up, drain = phase("store mostly down", OUTAGE_RATE, outage_count, messages)
    report.add(Row("(j)", f"{messages} SMS, {FAULT_RATE:.0%} store faults: 0 duplicated, 0 lost", f"{twice} duplicated, {lost} lost", twice == 0 and lost == 0))
    report.add(Row("(j)", f"answered 503 after Twilio's {TWILIO_RETRIES} retries", f"{gave_up} of {messages}", None, informational=True))
    report.add(Row("(j)", f"{outage_count} SMS, {OUTAGE_RATE:.0%} faults: 0 duplicated, 0 lost after replay", f"{outage_twice} duplicated, {outage_lost} lost", outage_twice == 0 and outage_lost == 0))
    report.add(Row("(j)", "time to drain the quarantine with replay", f"{outage_gave_up} in {drain:.2f} s", None, informational=True))


if __name__ == "__main__":
    import argparse
    import tempfile

    from common import REPO_ROOT

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--messages", type=int, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT / "infra"))
    sys.path.insert(0, str(REPO_ROOT / "functions"))
    report = Report()
    with tempfile.TemporaryDirectory(prefix="switchboard-faults-") as tmp, contextlib.ExitStack() as cleanups:
        figure_j(report, Path(tmp), cleanups, args.messages or (100 if args.quick else 1000))
    report.print_summary()
    sys.exit(1 if report.errors else 0)
