#!/usr/bin/env python3
"""(b) DynamoDB API calls per inbound message, each handler in-process on its real event shape.

Counted by a botocore `before-call` hook (and HTTP attempts by `before-send`) on DynamoDB
Local + moto started in-process: SMS (new customer cold and warm, known customer, a
duplicate MessageSid), email (new and known sender, a reply, a redelivery), voice (the
first callback of a new and a known caller, the later ones informational) and X (per
mention of one poll, the checkpoint excluded).

    .venv/bin/python tests/bench/store_calls.py   # = run.py --only b
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

from common import SMS_PATH, free_port, tail
from report import Report, Row, at_most, block, say

ROUND_TRIP_TARGET = 2


class CallCounter:
    """DynamoDB API calls (before-call) and HTTP attempts (before-send, includes retries)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.sends = 0
        self.active = False

    def before_call(self, model: Any = None, **_: Any) -> None:
        if self.active:
            self.calls.append(model.name if model is not None else "?")

    def before_send(self, **_: Any) -> None:
        if self.active:
            self.sends += 1

    @contextlib.contextmanager
    def counting(self) -> Iterator["CallCounter"]:
        self.calls, self.sends, self.active = [], 0, True
        try:
            yield self
        finally:
            self.active = False


def figure_b(report: Report, tmp: Path, cleanups: contextlib.ExitStack) -> None:
    block("(b) DynamoDB round trips per inbound message on each channel (handlers invoked in-process)")
    target = f"≤ {ROUND_TRIP_TARGET} DynamoDB calls"
    try:
        _figure_b(report, tmp, cleanups)
    except KeyboardInterrupt:
        raise
    except Exception as error:
        traceback.print_exc()
        report.error("(b)", f"new/known customer {target}", error)


def _figure_b(report: Report, tmp: Path, cleanups: contextlib.ExitStack) -> None:
    import boto3
    from twilio.request_validator import RequestValidator

    from local_stack.gateway import api_gateway_event
    from local_stack.invoke import invoke
    from local_stack.send import twilio_sms_form
    from local_stack.stack import LocalStack

    state_dir = tmp / "in-process-stack"
    public_url = f"http://127.0.0.1:{free_port()}"  # only signed over; nothing listens there
    say(f"starting DynamoDB Local + moto in {state_dir} ...")
    stack = LocalStack(state_dir=state_dir, public_url=public_url)
    started = time.perf_counter()
    cleanups.callback(stack.stop)
    stack.start()
    say(f"  up in {time.perf_counter() - started:.1f} s")
    os.environ.update(stack.function_environment())

    # Registered on the default session before the handler creates its client (lazily,
    # on its first request); clients copy the session's event hooks when created.
    counter = CallCounter()
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", counter.before_call)
    boto3.DEFAULT_SESSION.events.register("before-send.dynamodb", counter.before_send)

    routes = [r for r in stack.template.http_routes() if r.path == SMS_PATH and r.method in ("POST", "ANY")]
    if not routes:
        raise RuntimeError(f"template.yaml has no POST {SMS_PATH} route")
    route = routes[0]
    spec = stack.template.functions()[route.function_id]
    validator = RequestValidator(stack.auth_token)
    host = public_url.removeprefix("http://")

    def event_for(form: dict[str, str]) -> dict[str, Any]:
        body = urlencode(form).encode("utf-8")
        headers = [
            ("Host", host),
            ("User-Agent", "TwilioProxy/1.1"),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", validator.compute_signature(public_url + SMS_PATH, form)),
            ("Content-Length", str(len(body))),
        ]
        return api_gateway_event(route, "POST", SMS_PATH, headers, body, "127.0.0.1", {})

    # The function's own output (powertools logs, EMF metrics) goes to a file, not here.
    function_log_path = tmp / "in-process-function-stdout.log"
    function_log = open(function_log_path, "w")
    cleanups.callback(function_log.close)

    def run(name: str, form: dict[str, str]) -> tuple[str, list[str], int, int]:
        event = event_for(form)
        with counter.counting(), contextlib.redirect_stdout(function_log):
            result = invoke(spec, event)
        status = int(result.get("statusCode", 0)) if isinstance(result, dict) else 0
        return name, list(counter.calls), counter.sends, status

    alice, bob = "+14155550101", "+14155550102"
    results = [run("new customer (cold start: import, secret, client)", twilio_sms_form(alice, "hello, first message"))]
    results.append(run("new customer", twilio_sms_form(bob, "hi, my invoice looks wrong")))
    known_reps = 5
    last_form = None
    for index in range(known_reps):
        last_form = twilio_sms_form(bob, f"follow-up {index + 1}")
        results.append(run(f"known customer (#{index + 1})", last_form))
    assert last_form is not None
    results.append(run("duplicate (same MessageSid again)", last_form))

    say(f"handler: {spec.handler}  (function {spec.logical_id}); function output in {function_log_path.name}")
    say(f"  {'message':<52} {'calls':>5} {'http':>5}  {'status':>6}  operations")
    for name, calls, sends, status in results:
        say(f"  {name:<52} {len(calls):>5} {sends:>5}  {status:>6}  {', '.join(calls)}")
    function_log.flush()
    bad = [(name, status) for name, _, _, status in results if status != 200]
    if bad:
        say(f"  ! non-200 responses: {bad}; see {function_log_path}:\n{tail(function_log_path)}")
    if any(not calls and status == 200 for _, calls, _, status in results):
        raise RuntimeError("a message was stored without any DynamoDB call counted: the handler's client was created before the counter was registered")

    # Check what was stored (not counted: the counter is inactive now).
    from switchboard.store.conversations import ConversationStore

    store = ConversationStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    counts = sorted(c.message_count for c in store.list_conversations(limit=10))
    expected = sorted([1, 1 + known_reps])
    say(f"  stored: {len(counts)} conversations with message counts {counts} (expected {expected})" + ("" if counts == expected else "  ! MISMATCH"))
    if counts != expected:
        report.add(Row("(b)", "messages stored as sent", f"counts {counts}", False, f"expected {expected}"))

    def row(label_: str, picked: list[tuple[str, list[str], int, int]], judged: bool = True) -> None:
        worst = max(picked, key=lambda r: len(r[1]))
        calls = len(worst[1])
        measured = f"{calls} ({', '.join(worst[1]) or '-'})"
        if any(r[3] != 200 for r in picked):
            measured += " non-200!"
        if not judged:
            report.add(Row("(b)", label_, measured, None, informational=True))
            return
        met, miss = at_most(calls, ROUND_TRIP_TARGET, " call(s)", "{:.0f}")
        met = met and all(r[3] == 200 for r in picked)
        report.add(Row("(b)", f"{label_} ≤ {ROUND_TRIP_TARGET} DynamoDB calls", measured, met, miss))

    row("new customer", [results[0], results[1]])
    row("known customer", results[2:2 + known_reps])
    row("duplicate MessageSid (no target)", [results[-1]], judged=False)

    _channel_round_trips(report, stack, counter, function_log)
    stack.stop()
    say("  stopped the in-process stack")


def _channel_round_trips(report: Report, stack: Any, counter: CallCounter, function_log: Any) -> None:
    """(b) for email, voicemail and X: DynamoDB calls per inbound message, each handler in-process."""
    import boto3

    from local_stack import fake_x
    from local_stack.gateway import api_gateway_event
    from local_stack.invoke import invoke
    from local_stack.send import new_call_sid, new_ses_message_id, ses_receipt_event, voicemail_requests
    from local_stack.stack import LOCAL_SUPPORT_EMAIL, LOCAL_X_ACCOUNT_ID
    from switchboard.store.mail import MailStore
    from twilio.request_validator import RequestValidator
    import responses

    functions = stack.template.functions()
    mail = MailStore(boto3.client("s3"), os.environ["MAIL_BUCKET"], "inbound/")
    rows: list[tuple[str, str, list[str], bool]] = []  # channel, case, calls, judged

    def counted(function_id: str, event: Any) -> tuple[list[str], Any]:
        with counter.counting(), contextlib.redirect_stdout(function_log):
            result = invoke(functions[function_id], event)
        return list(counter.calls), result

    # Email: a new sender, the same sender again, a reply threaded by In-Reply-To, a redelivery.
    def email(sender: str, subject: str, message_id: str, in_reply_to: str | None = None) -> bytes:
        reply = f"In-Reply-To: <{in_reply_to}>\r\nReferences: <{in_reply_to}>\r\n" if in_reply_to else ""
        return (
            f"From: Bench <{sender}>\r\nTo: {LOCAL_SUPPORT_EMAIL}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n{reply}"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nMy invoice looks wrong.\r\n"
        ).encode()

    def send_email(raw: bytes, ses_id: str | None = None) -> list[str]:
        ses_id = ses_id or new_ses_message_id()
        mail.put_raw(ses_id, raw)
        calls, result = counted("EmailFunction", ses_receipt_event(raw, ses_id, [LOCAL_SUPPORT_EMAIL], received_at=datetime.now(timezone.utc)))
        if result["messages"][0]["status"] not in ("stored", "duplicate"):
            raise RuntimeError(f"email not stored: {result}")
        return calls

    send_email(email("warm@bench.example", "warm-up", "warm@bench"))  # cold start, not counted
    rows.append(("email", "new customer", send_email(email("ann@bench.example", "hello", "m1@bench")), True))
    rows.append(("email", "known customer", send_email(email("ann@bench.example", "again", "m2@bench")), True))
    rows.append(("email", "reply threaded by In-Reply-To", send_email(email("ann@bench.example", "Re: hello", "m3@bench", "m1@bench")), True))
    redelivered = new_ses_message_id()
    send_email(email("ann@bench.example", "dup", "m4@bench"), redelivered)
    rows.append(("email", "duplicate SES delivery (no target)", send_email(email("ann@bench.example", "dup", "m4@bench"), redelivered), False))

    # Voicemail: the first callback of a call stores the message; later ones add their part.
    validator = RequestValidator(stack.auth_token)
    routes = {route.path: route for route in stack.template.http_routes()}

    def voice_event(path_and_query: str, form: dict[str, str]) -> dict[str, Any]:
        path, _, query = path_and_query.partition("?")
        body = urlencode(form).encode()
        headers = [("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", validator.compute_signature(stack.public_url + path_and_query, form))]
        return api_gateway_event(routes[path], "POST", path_and_query, headers, body, "127.0.0.1", {})

    def call(caller: str) -> list[tuple[str, list[str]]]:
        out = []
        for path, form in voicemail_requests(caller, new_call_sid(), text="please call back", duration=9):
            calls, result = counted("VoiceWebhookFunction", voice_event(path, form))
            if result["statusCode"] != 200:
                raise RuntimeError(f"{path}: {result}")
            out.append((path.split("?")[0].rsplit("/", 1)[-1], calls))
        return out

    call("+14155550190")  # cold start
    first = call("+14155550191")
    again = call("+14155550191")
    rows.append(("voice", f"new caller: first callback ({first[1][0]})", first[1][1], True))
    rows.append(("voice", f"known caller: first callback ({again[1][0]})", again[1][1], True))
    for name, calls in again[2:]:
        rows.append(("voice", f"later callback ({name}) adds its part", calls, False))

    # X: one poll with three mentions from new authors and one from a known author.
    def poll(mentions: list[dict[str, Any]]) -> list[str]:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as x_api:
            fake_x.register(x_api, LOCAL_X_ACCOUNT_ID, [fake_x.mentions_page(mentions)])
            calls, summary = counted("XMentionsFunction", {"source": "aws.scheduler"})
        if summary["stored"] != len(mentions):
            raise RuntimeError(f"mentions not stored: {summary}")
        return calls

    now = datetime.now(timezone.utc)

    def mention(author: str, minutes: int) -> dict[str, Any]:
        moment = now + timedelta(seconds=minutes)
        return fake_x.mention(str(fake_x.new_tweet_id(moment)), "@support help", author, f"user{author[-3:]}", "Bench", moment)

    poll([mention("700000000000000100", 1)])  # cold start and first checkpoint
    calls = poll([mention("700000000000000101", 2), mention("700000000000000102", 3), mention("700000000000000100", 4)])
    # A poll reads the checkpoint first and moves it last; what lies between is the mentions'.
    if calls[0] != "GetItem" or calls[-1] != "UpdateItem":
        raise RuntimeError(f"unexpected poll calls: {calls}")
    per_mention = (len(calls) - 2) / 3
    rows.append(("x", "per mention (3 in one poll; checkpoint read + write per poll excluded)", calls, True))

    say()
    say("  other channels (calls per inbound message; voice's later callbacks and duplicates are informational):")
    for channel, case, calls, judged in rows:
        say(f"  {channel:<6} {case:<58} {len(calls) if channel != 'x' else per_mention:>5}  {', '.join(calls)}")
    for channel, case, calls, judged in rows:
        count = per_mention if channel == "x" else len(calls)
        measured = f"{count:g} ({', '.join(calls) if channel != 'x' else f'{len(calls)} calls for the poll'})"
        if not judged:
            report.add(Row("(b)", f"{channel}: {case}", measured, None, informational=True))
            continue
        met, miss = at_most(count, ROUND_TRIP_TARGET, " call(s)", "{:.0f}")
        report.add(Row("(b)", f"{channel}: {case} ≤ {ROUND_TRIP_TARGET} DynamoDB calls", measured, met, miss))


if __name__ == "__main__":
    import run

    sys.exit(run.main(["--only", "b", *sys.argv[1:]]))
