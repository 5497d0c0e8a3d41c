#!/usr/bin/env python3
"""Switchboard benchmarks: prints figures (a)-(i), then a summary of the targets.

    make bench                                    # or: .venv/bin/python tests/bench/run.py
    .venv/bin/python tests/bench/run.py --quick   # small counts, a smoke test
    .venv/bin/python tests/bench/run.py --messages 2000 --keep

(a) import time of each handler module next to a bare `import boto3`
(b) DynamoDB calls per inbound SMS on the hot path (in-process, counted by botocore events)
(c) inbound SMS/s through `switchboard local up` next to DynamoDB Local's raw put_item rate
(d) resident memory of the whole local stack during and after (c)
(e) email parse time; (f) stored → page latency; (g) SMS per burst (tests/bench/paging.py)
(h) incident notice fan-out: time and memory for 10,000 subscribers (tests/bench/notices.py)
(i) notice pacing: the schedule the default rates imply, and the busiest second of a real run

Everything runs on 127.0.0.1 in a temporary directory (never the repo's .local/), and
everything started here is stopped here, also on Ctrl-C, SIGTERM or an error. Missed
targets do not change the exit status; a figure that could not be measured does (1).
See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

from common import PYTHON, REPO_ROOT, SMS_PATH, SWITCHBOARD, Tracked, clean_environment, cpu_line, cpu_snapshot, descendants, free_port, label, port_open, rss_kib, stop_own_children, tail
from report import Report, Row, at_least, at_most, block, mib, percentile, say

# The environment the handler modules read at import (figure a).
IMPORT_ENV = {
    "TABLE_NAME": "Table",
    "QUARANTINE_BUCKET": "b-u-c",
    "SWITCHBOARD_PUBLIC_URL": "http://127.0.0.1:3000",
    "TWILIO_AUTH_TOKEN_PARAMETER": "/switchboard/twilio/auth-token",
    "AWS_DEFAULT_REGION": "us-east-1",
    # What the email and X functions require beyond the globals (template.yaml sets them).
    "MAIL_BUCKET": "mail-bucket",
    "X_SUPPORT_ACCOUNT": "1500000000000000001:switchboardhq",
    # What the stream- and queue-driven functions require (template.yaml sets them).
    "OUTBOX_QUEUE_URL": "http://127.0.0.1:9/000000000000/OutboxQueue",
    "NOTICE_QUEUE_URL": "http://127.0.0.1:9/000000000000/NoticeQueue",
}

IMPORT_RATIO_TARGET = 1.3
ROUND_TRIP_TARGET = 2
EMAIL_PARSE_TARGET_MS = 5.0
THROUGHPUT_RATIO_TARGET = 0.5
MEMORY_TARGET_BYTES = 1 << 30
STOP_TIMEOUT_S = 15.0
STACK_START_TIMEOUT_S = 120.0
SEND_PHASE_DEADLINE_S = 90.0  # a safety net: a phase stops sending after this long


# ---- (a) import time ------------------------------------------------------------------


def handler_modules() -> dict[str, list[str]]:
    """Module → the template functions whose Handler lives in it."""
    from local_stack.template import Template

    modules: dict[str, list[str]] = {}
    for logical_id, spec in Template().functions().items():
        modules.setdefault(spec.handler.rpartition(".")[0], []).append(logical_id)
    return modules


def time_import(module: str, env: dict[str, str], cwd: Path) -> float:
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    done = subprocess.run([PYTHON, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"import {module} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    depth: int
    children: list["ImportNode"] = field(default_factory=list)


def import_tree(module: str, env: dict[str, str], cwd: Path) -> list[ImportNode]:
    """`-X importtime` of one fresh interpreter, as a forest of import nodes (in import order)."""
    done = subprocess.run([PYTHON, "-X", "importtime", "-c", f"import {module}"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"import {module} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    # Children are printed before their parent, one level deeper.
    pending: list[ImportNode] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3:
            continue
        raw_name = parts[2].rstrip()
        depth = (len(raw_name) - len(raw_name.lstrip()) - 1) // 2
        node = ImportNode(raw_name.strip(), int(parts[0]), int(parts[1]), depth)
        while pending and pending[-1].depth > depth:
            node.children.insert(0, pending.pop())
        pending.append(node)
    return pending


def walk(nodes: list[ImportNode]) -> Iterator[ImportNode]:
    for node in nodes:
        yield node
        yield from walk(node.children)


def cost_beyond(nodes: list[ImportNode], baseline: set[str]) -> dict[str, tuple[int, int, int]]:
    """name → (own self µs, µs spent importing it and its subtree outside `baseline`, depth).

    A module's cumulative time includes boto3's own import when it is the one that
    pulls boto3 in; only what boto3 does not import itself is counted here.
    """
    costs: dict[str, tuple[int, int, int]] = {}

    def extra(node: ImportNode) -> int:
        total = (0 if node.name in baseline else node.self_us) + sum(extra(child) for child in node.children)
        if node.name not in baseline:
            costs[node.name] = (node.self_us, total, node.depth)
        return total

    for node in nodes:
        extra(node)
    return costs


def median_costs(runs: list[dict[str, tuple[int, int, int]]]) -> dict[str, tuple[float, float, int]]:
    names = set().union(*runs)
    merged = {}
    for name in names:
        present = [run[name] for run in runs if name in run]
        merged[name] = (statistics.median(p[0] for p in present), statistics.median(p[1] for p in present), present[0][2])
    return merged


def figure_a(report: Report, tmp: Path, base_env: dict[str, str], reps: int, tree_runs: int) -> None:
    block(f"(a) Import time: each handler module next to a bare `import boto3` (fresh interpreters, {reps} interleaved runs each)")
    target = f"handler import ≤ {IMPORT_RATIO_TARGET} × boto3"
    try:
        modules = handler_modules()
    except Exception as error:
        traceback.print_exc()
        report.error("(a)", target, error)
        return
    env = {**base_env, **IMPORT_ENV}
    cwd = tmp
    for module, functions in modules.items():
        try:
            # One unmeasured import each first: .pyc files written, files in the page cache.
            time_import("boto3", env, cwd)
            time_import(module, env, cwd)
            boto3_times, handler_times = [], []
            for _ in range(reps):
                boto3_times.append(time_import("boto3", env, cwd))
                handler_times.append(time_import(module, env, cwd))
            b, h = statistics.median(boto3_times), statistics.median(handler_times)
            ratio = h / b
            say(f"handler module: {module}  (functions: {', '.join(functions)})")
            for name, times in (("import boto3", boto3_times), (f"import {module}", handler_times)):
                say(f"  {name:<48} median {statistics.median(times) * 1000:7.1f} ms   min {min(times) * 1000:7.1f}   max {max(times) * 1000:7.1f}   (n={len(times)})")
            paired = statistics.median(hh / bb for hh, bb in zip(handler_times, boto3_times))
            say(f"  ratio handler / boto3 (medians)                    {ratio:.2f} ×   (target ≤ {IMPORT_RATIO_TARGET})")
            say(f"  cross-checks: median of paired ratios {paired:.2f} ×; ratio of minimums {min(handler_times) / min(boto3_times):.2f} ×")
            met, miss = at_most(ratio, IMPORT_RATIO_TARGET, " ×")
            report.add(Row("(a)", f"{module.rsplit('.', 1)[-1]} import ≤ {IMPORT_RATIO_TARGET} × boto3", f"{ratio:.2f} × ({h * 1000:.0f} vs {b * 1000:.0f} ms)", met, miss))

            boto3_modules = {node.name for _ in range(tree_runs) for node in walk(import_tree("boto3", env, cwd))}
            handler_runs = [import_tree(module, env, cwd) for _ in range(tree_runs)]
            beyond = median_costs([cost_beyond(run, boto3_modules) for run in handler_runs])
            total_modules = statistics.median(len({node.name for node in walk(run)}) for run in handler_runs)
            say()
            say(f"  imports beyond boto3's: {len(beyond)} modules ({total_modules:.0f} in all vs {len(boto3_modules)} for boto3),")
            say(f"  {sum(v[0] for v in beyond.values()) / 1000:.0f} ms of self time under -X importtime (which inflates it; median of {tree_runs} run(s))")
            say("  top by time beyond boto3 (the module and what it pulls in that boto3 does not; nested")
            say("  entries are included in their parents, depth shown by indent):")
            say(f"    {'beyond ms':>9} {'self ms':>8}  module")
            top = sorted((item for item in beyond.items() if item[0] != module), key=lambda item: -item[1][1])[:12]
            for name, (self_us, cumulative_us, depth) in top:
                say(f"    {cumulative_us / 1000:9.1f} {self_us / 1000:8.1f}  {'  ' * min(depth, 8)}{name}")
            by_package: dict[str, list[tuple[float, str]]] = defaultdict(list)
            for name, (self_us, _, _) in beyond.items():
                by_package[name.split(".")[0]].append((self_us, name))
            say("  self time by top-level package (beyond boto3):")
            for package, entries in sorted(by_package.items(), key=lambda item: -sum(e[0] for e in item[1]))[:10]:
                heaviest = ", ".join(f"{n} {us / 1000:.1f}" for us, n in sorted(entries, reverse=True)[:3])
                say(f"    {sum(e[0] for e in entries) / 1000:9.1f} ms  {package:<22} {len(entries):3d} modules; heaviest: {heaviest}")
        except Exception as error:
            traceback.print_exc()
            report.error("(a)", f"{module.rsplit('.', 1)[-1]} {target}", error)


# ---- (b) DynamoDB round trips per inbound SMS ---------------------------------------------


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


# ---- (e) email parsing -------------------------------------------------------------------


def figure_e(report: Report, iterations: int) -> None:
    block(f"(e) Email parse time per message over the MIME corpus, tests/fixtures/mime ({iterations} parses of each file)")
    target = f"median ≤ {EMAIL_PARSE_TARGET_MS} ms per message"
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from email_parse import run as parse_run

        figures = parse_run(iterations)
        overall = figures["overall"]
        for name, numbers in figures["files"].items():
            say(f"  {name:<66} median {numbers['median_ms']:6.2f} ms   p90 {numbers['p90_ms']:6.2f} ms")
        say(f"  {'all files':<66} median {overall['median_ms']:6.2f} ms   p90 {overall['p90_ms']:6.2f} ms")
        met, miss = at_most(overall["median_ms"], EMAIL_PARSE_TARGET_MS, " ms")
        report.add(Row("(e)", f"email parse {target}", f"{overall['median_ms']:.2f} ms (p90 {overall['p90_ms']:.2f})", met, miss))
    except Exception as error:
        traceback.print_exc()
        report.error("(e)", target, error)


# ---- (f) stored → page latency and (g) SMS per burst ---------------------------------------


def figure_f_g(report: Report, messages: int, burst_size: int) -> None:
    block(f"(f) stored → page latency ({messages} messages at 10/s) and (g) SMS to the on-call agent per {burst_size}-message burst")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from paging import run as paging_run

    try:
        f = paging_run("f", messages, burst_size)
        say(f"  {f['paged']}/{f['messages']} paged; stored → page in the outbox p50 {f['p50_s']:.3f} s, p99 {f['p99_s']:.3f} s, max {f['max_s']:.3f} s")
        met, miss = at_most(f["p50_s"], 1.0, " s", "{:.3f}")
        report.add(Row("(f)", "stored → page p50 ≤ 1 s", f"{f['p50_s']:.3f} s", met and f["paged"] == f["messages"], miss))
        met, miss = at_most(f["p99_s"], 2.0, " s", "{:.3f}")
        report.add(Row("(f)", "stored → page p99 ≤ 2 s", f"{f['p99_s']:.3f} s", met and f["paged"] == f["messages"], miss))
    except Exception as error:
        traceback.print_exc()
        report.error("(f)", "stored → page latency", error)
    try:
        g = paging_run("g", messages, burst_size)
        say(f"  burst of {g['messages']}: {g['sms']} SMS ({g['pages']} page, {g['digests']} digests); {g['tracked']} conversations tracked by a page")
        met, miss = at_most(g["sms"], 10, " SMS", "{:.0f}")
        report.add(Row("(g)", f"≤ 10 SMS per {burst_size}-message burst, all tracked", f"{g['sms']} SMS, {g['tracked']} tracked", met and g["tracked"] == g["messages"], miss))
    except Exception as error:
        traceback.print_exc()
        report.error("(g)", "SMS per burst", error)


# ---- (h) notice fan-out and (i) pacing ----------------------------------------------------


def figure_h(report: Report, small: int, large: int, stock: int) -> None:
    block(f"(h) Fan-out of one incident update to {small:,} and {large:,} subscribers into the notice queue (NoticeFanoutFunction on the local stack)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import notices

    target_s, target_mib = notices.FANOUT_TARGET_S, notices.FANOUT_MEMORY_TARGET_MIB
    say("  the local stack's moto has its SQS fix (infra/local_stack/moto_main.py: moto 5.2.5 counts every queued message on each SendMessage);")
    say(f"  the last run ({stock:,} subscribers) is on moto as released" if stock else "  (no run on stock moto)")
    runs = []
    try:
        for count in (small, large):
            say(f"  N = {count:,}: a LocalStack of its own, seeding, the timed fan-out, then a second one under tracemalloc ...")
            runs.append(notices.run_fanout(count))
            for line in notices.fanout_lines(runs[-1]):
                say("  " + line)
    except Exception as error:
        traceback.print_exc()
        report.error("(h)", f"notices queued ≤ {target_s:.0f} s; fan-out peak ≤ {target_mib:.0f} MiB", error)
    if runs and runs[-1]["count"] == large:
        f = runs[-1]
        complete = f["in_queue"] == f["queued"] == large and not f["errors"]
        met, miss = at_most(f["to_queued_s"], target_s, " s")
        report.add(Row("(h)", f"{large:,} notices queued ≤ {target_s:.0f} s", f"{f['to_queued_s']:.1f} s = {f['queued'] / f['to_queued_s']:.0f}/s" + ("" if complete else " (INCOMPLETE)"), met and complete, miss))
        peak_mib = max(max(r["maxrss_kib"], r["rss_peak_kib"]) for r in runs) / 1024
        met, miss = at_most(peak_mib, target_mib, " MiB", "{:.0f}")
        growth = ", ".join(f"+{r['traced_growth_kib'] / 1024:.1f} at {r['count']:,}" for r in runs)
        report.add(Row("(h)", f"fan-out peak memory ≤ {target_mib:.0f} MiB (ru_maxrss)", f"{peak_mib:.0f} MiB; Python peak MiB {growth}", met, miss))
    if stock:
        try:
            say(f"  N = {stock:,} on stock moto ...")
            a = notices.run_fanout(stock, stock_moto=True)
            for line in notices.fanout_lines(a):
                say("  " + line)
            report.add(Row("(h)", f"{stock:,} notices queued on stock moto", f"{a['to_queued_s']:.1f} s = {a['queued'] / a['to_queued_s']:.0f}/s", None, informational=True))
        except Exception as error:
            traceback.print_exc()
            report.error("(h)", "notices queued on stock moto", error)


def figure_i(report: Report, numbers: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import notices

    block(f"(i) Notice pacing: the send schedule the default rates imply, and {numbers} SMS sent by two senders at SMS_RATE_PER_SECOND={notices.PACING_RATE:g}")
    try:
        for line in notices.schedule_lines():
            say("  " + line)
    except Exception as error:
        traceback.print_exc()
        report.error("(i)", "the schedule of the default rates", error)
    target = "busiest one-second window ≤ rate"
    try:
        p = notices.run_pacing(numbers)
        for line in notices.pacing_lines(p):
            say("  " + line)
        complete = p["sent"] == p["numbers"] and not p["problems"]
        met, miss = at_most(p["busiest"], p["rate"], " sends", "{:.0f}")
        report.add(Row("(i)", f"{target} ({p['rate']:g}/s)", f"{p['busiest']} sends" + ("" if complete else f" (only {p['sent']}/{p['numbers']} sent)"), met and complete, miss))
        report.add(Row("(i)", "achieved SMS rate", f"{p['numbers'] / p['span_s']:.2f}/s of {p['rate']:g}/s" if p["span_s"] else "n/a", None, informational=True))
    except Exception as error:
        traceback.print_exc()
        report.error("(i)", target, error)


# ---- (c) throughput and (d) memory ---------------------------------------------------


class LocalUp:
    """`switchboard local up` as a user runs it, in a temporary state dir."""

    def __init__(self, tmp: Path, base_env: dict[str, str], tracked: Tracked) -> None:
        self.state_dir = tmp / "local-up"
        self.log_path = tmp / "local-up.log"
        self.port = free_port()
        self.env = {**base_env, "SWITCHBOARD_LOCAL_DIR": str(self.state_dir), "PORT": str(self.port)}
        self.tracked = tracked
        self.process: subprocess.Popen | None = None
        self.state: dict[str, Any] = {}
        self.stop_result: tuple[int | None, float, bool] | None = None

    def start(self) -> dict[str, Any]:
        log = open(self.log_path, "wb")
        # Its own session: a Ctrl-C in the terminal reaches us, and we stop it in order.
        self.process = subprocess.Popen(
            [SWITCHBOARD, "local", "up", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.state_dir.parent, start_new_session=True,
        )
        log.close()
        self.tracked.remember([self.process.pid])
        deadline = time.monotonic() + STACK_START_TIMEOUT_S
        state_file = self.state_dir / "stack.json"
        while time.monotonic() < deadline:
            self.tracked.remember(descendants(self.process.pid), self.process.pid)
            if self.process.poll() is not None:
                raise RuntimeError(f"`switchboard local up` exited with {self.process.returncode}:\n{tail(self.log_path)}")
            if state_file.exists():
                with contextlib.suppress(ValueError, OSError):
                    state = json.loads(state_file.read_text())
                    if state.get("gateway_port") and port_open(int(state["gateway_port"])):
                        self.state = state
                        self.tracked.remember(descendants(self.process.pid), self.process.pid)
                        return state
            time.sleep(0.1)
        raise RuntimeError(f"`switchboard local up` not ready within {STACK_START_TIMEOUT_S:.0f} s:\n{tail(self.log_path)}")

    def stop(self) -> tuple[int | None, float, bool]:
        """SIGINT as Ctrl-C would: (exit code or None on timeout, seconds, printed 'stopped:')."""
        if self.stop_result is not None or self.process is None:
            return self.stop_result or (None, 0.0, False)
        if self.process.poll() is None:
            self.tracked.remember(descendants(self.process.pid), self.process.pid)
        started = time.monotonic()
        code: int | None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                code = self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                code = None
        else:
            code = self.process.returncode
        seconds = time.monotonic() - started
        if code is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        printed = "stopped:" in self.log_path.read_text(errors="replace") if self.log_path.exists() else False
        self.stop_result = (code, seconds, printed)
        return self.stop_result


class MemorySampler(threading.Thread):
    """VmRSS of a process tree every `interval` seconds: peak of the total, and per process."""

    def __init__(self, root: int, tracked: Tracked, interval: float = 0.5) -> None:
        super().__init__(name="memory-sampler", daemon=True)
        self.root = root
        self.tracked = tracked
        self.interval = interval
        self.halt = threading.Event()
        self.peak_total = 0
        self.peak_snapshot: dict[str, int] = {}
        self.peak_by_process: dict[str, int] = {}
        self.samples = 0

    def snapshot(self) -> dict[str, int]:
        pids = [self.root, *descendants(self.root)]
        self.tracked.remember(pids[1:], self.root)
        found = {}
        for pid in pids:
            kib = rss_kib(pid)
            if kib:
                found[label(pid, self.root)] = kib
        return found

    def run(self) -> None:
        while not self.halt.is_set():
            self.record(self.snapshot())
            self.halt.wait(self.interval)

    def record(self, snapshot: dict[str, int]) -> None:
        self.samples += 1
        total = sum(snapshot.values())
        if total > self.peak_total:
            self.peak_total, self.peak_snapshot = total, snapshot
        for name, kib in snapshot.items():
            self.peak_by_process[name] = max(kib, self.peak_by_process.get(name, 0))

    def stop(self) -> None:
        self.halt.set()
        if self.is_alive():
            self.join(5)


@dataclass
class Phase:
    name: str
    sent: int
    seconds: float
    statuses: dict[str, int]
    latencies_ms: list[float]
    reconnects: int
    stopped_early: bool

    @property
    def ok(self) -> int:
        return self.statuses.get("200", 0)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def signed_requests(first_customer: int, customers: int, count: int, public_url: str, token: str, tag: str) -> list[tuple[bytes, dict[str, str]]]:
    """`count` signed SMS webhooks from `customers` numbers, round robin (new, then known)."""
    from twilio.request_validator import RequestValidator

    from local_stack.send import twilio_sms_form

    validator = RequestValidator(token)
    built = []
    for index in range(count):
        customer = first_customer + index % customers
        form = twilio_sms_form(f"+1415555{customer:04d}", f"{tag} message {index} from customer {customer}: my invoice looks wrong")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(public_url + SMS_PATH, form),
            "User-Agent": "TwilioProxy/1.1",
        }
        built.append((urlencode(form).encode("utf-8"), headers))
    return built


def send(port: int, name: str, requests: list[tuple[bytes, dict[str, str]]], clients: int, deadline_s: float = SEND_PHASE_DEADLINE_S) -> Phase:
    """POST every request with `clients` threads, each on its own keep-alive connection."""
    next_index = itertools.count().__next__  # atomic under the GIL
    statuses: list[str | None] = [None] * len(requests)
    latencies: list[float | None] = [None] * len(requests)
    reconnects = [0] * clients
    halt = threading.Event()

    def worker(slot: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while not halt.is_set():
                index = next_index()
                if index >= len(requests):
                    return
                body, headers = requests[index]
                started = time.perf_counter()
                status = "no response"
                for attempt in range(2):  # one reconnect; a resent webhook is only a duplicate
                    try:
                        connection.request("POST", SMS_PATH, body=body, headers=headers)
                        response = connection.getresponse()
                        response.read()
                        status = str(response.status)
                        if response.will_close:
                            connection.close()
                        break
                    except (http.client.HTTPException, OSError) as error:
                        connection.close()
                        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                        reconnects[slot] += 1
                        status = f"{type(error).__name__}"
                statuses[index] = status
                latencies[index] = (time.perf_counter() - started) * 1000
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(slot,), name=f"client-{slot}", daemon=True) for slot in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stopped_early = False
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
                if time.perf_counter() - started > deadline_s and not halt.is_set():
                    halt.set()
                    stopped_early = True
    finally:
        halt.set()
        for thread in threads:
            thread.join(65)
    seconds = time.perf_counter() - started
    counted: dict[str, int] = defaultdict(int)
    for status in statuses:
        if status is not None:
            counted[status] += 1
    done = [latency for latency in latencies if latency is not None]
    return Phase(name, len(done), seconds, dict(counted), done, sum(reconnects), stopped_early)



def raw_put_rates(dynamodb_port: int, count: int, warmup: int, tag: str, cpu: Callable[[], dict[str, float]]) -> tuple[float, float, str, str]:
    """Single put_item calls/s into a throwaway table: one client sequentially, then 8 threads."""
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "dynamodb", endpoint_url=f"http://127.0.0.1:{dynamodb_port}", region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local", config=Config(max_pool_connections=16),
    )
    table = f"bench-raw-put-{tag}-{os.getpid()}"
    client.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    try:
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2})
        payload = {"S": "x" * 100}

        def put(key: str) -> None:
            client.put_item(TableName=table, Item={"pk": {"S": key}, "body": payload, "n": {"N": "1"}})

        for index in range(warmup):  # unmeasured: the JIT of DynamoDB Local warms up
            put(f"warm-{index}")
        cpu_before, started = cpu(), time.perf_counter()
        for index in range(count):
            put(f"seq-{index}")
        seconds = time.perf_counter() - started
        sequential, sequential_cpu = count / seconds, cpu_line(cpu_before, cpu(), seconds, count, "put")

        threads_n = 8
        counter = itertools.count().__next__

        def worker() -> None:
            while (index := counter()) < count:
                put(f"par-{index}")

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(threads_n)]
        cpu_before, started = cpu(), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
        seconds = time.perf_counter() - started
        return sequential, count / seconds, sequential_cpu, cpu_line(cpu_before, cpu(), seconds, count, "put")
    finally:
        with contextlib.suppress(Exception):
            client.delete_table(TableName=table)


def gateway_times(log_path: Path) -> list[float]:
    """The gateway's own per-request milliseconds for the SMS route, from its log lines.

    Its stderr lines may be glued to the function's stdout lines (same file), so they
    are searched for anywhere, not only at line starts.
    """
    pattern = re.compile(r"POST " + re.escape(SMS_PATH) + r" \S+ \S+ \d{3} (\d+) ms")
    try:
        return [float(found[1]) for found in pattern.finditer(log_path.read_text(errors="replace"))]
    except OSError:
        return []


def stored_counts(dynamodb_port: int, table: str) -> tuple[int, int, int]:
    """(message items, conversation items, sum of message_count) by a Scan of the table."""
    import boto3

    client = boto3.session.Session().client(
        "dynamodb", endpoint_url=f"http://127.0.0.1:{dynamodb_port}", region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )
    messages = conversations = total = 0
    for page in client.get_paginator("scan").paginate(TableName=table, ProjectionExpression="#t, message_count", ExpressionAttributeNames={"#t": "type"}):
        for item in page["Items"]:
            kind = item.get("type", {}).get("S")
            if kind == "message":
                messages += 1
            elif kind == "conversation":
                conversations += 1
                total += int(item.get("message_count", {}).get("N", "0"))
    return messages, conversations, total


def figure_c_d(report: Report, tmp: Path, base_env: dict[str, str], messages: int, raw_count: int, raw_warmup: int, warmup: int, tracked: Tracked, cleanups: contextlib.ExitStack) -> None:
    block(f"(c) Throughput: inbound SMS/s through `switchboard local up` ({messages} messages per run) vs raw DynamoDB Local put_item")
    targets_c = [f"gateway ({n} client{'s' if n > 1 else ''}) ≥ {THROUGHPUT_RATIO_TARGET} × raw put_item (1 client)" for n in (1, 8)]
    up = LocalUp(tmp, base_env, tracked)
    sampler: MemorySampler | None = None

    def stop_sampler() -> None:
        if sampler is not None:
            sampler.stop()

    cleanups.callback(tracked.stop_leftovers, "after `switchboard local up` stopped")
    cleanups.callback(up.stop)
    cleanups.callback(stop_sampler)
    idle: dict[str, int] = {}
    after: dict[str, int] = {}
    try:
        say(f"starting `switchboard local up --port {up.port}` with SWITCHBOARD_LOCAL_DIR={up.state_dir} (output in {up.log_path.name}) ...")
        started = time.perf_counter()
        state = up.start()
        assert up.process is not None
        say(f"  up in {time.perf_counter() - started:.1f} s: gateway :{state['gateway_port']}, DynamoDB Local :{state['dynamodb_port']}, moto :{state['moto_port']}, public_url {state['public_url']}")
        from local_stack.stack import local_auth_token
        from local_stack.template import Template, local_table_name

        token = local_auth_token(up.state_dir)
        table = local_table_name(next(iter(Template().tables())))
        gateway_port = int(state["gateway_port"])

        sampler = MemorySampler(up.process.pid, tracked)
        idle = sampler.snapshot()
        sampler.start()

        customers = max(1, min(200, messages // 5))
        warm_customers = max(1, min(20, warmup))
        say(f"  {customers} distinct customers per run (each sends ~{messages / customers:.0f} messages: the first is a new customer, the rest known)")
        say(f"  signing {warmup + 2 * messages} requests ...")
        warm_requests = signed_requests(100, warm_customers, warmup, state["public_url"], token, "warm-up")
        runs = [
            (1, signed_requests(1000, customers, messages, state["public_url"], token, "one-client")),
            (8, signed_requests(5000, customers, messages, state["public_url"], token, "eight-clients")),
        ]
        warm = send(gateway_port, "warm-up", warm_requests, 4)
        say(f"  warm-up: {warm.sent} messages in {warm.seconds:.1f} s (not counted), statuses {warm.statuses}")

        # Raw put_item before and after the gateway runs (drift, JIT warm-up); the better is used.
        dynamodb_port = int(state["dynamodb_port"])
        say(f"  raw put_item ({raw_count} calls into a throwaway table, 1 client, then 8 threads) before the gateway runs ...")
        root_pid = up.process.pid
        raw_before = raw_put_rates(dynamodb_port, raw_count, raw_warmup, "before", lambda: cpu_snapshot(root_pid))
        phases = []
        cpu_lines: dict[int, str] = {}
        for clients, requests in runs:
            say(f"  gateway, {clients} client{'s' if clients > 1 else ''}: {len(requests)} messages ...")
            cpu_before = cpu_snapshot(root_pid)
            phase = send(gateway_port, f"{clients} client{'s' if clients > 1 else ''}", requests, clients)
            phases.append((clients, phase))
            cpu_lines[clients] = cpu_line(cpu_before, cpu_snapshot(root_pid), phase.seconds, max(1, phase.sent), "msg")
        say("  raw put_item again, after the gateway runs ...")
        raw_after = raw_put_rates(dynamodb_port, raw_count, raw_warmup // 4, "after", lambda: cpu_snapshot(root_pid))
        raw_one, raw_one_cpu = max((raw_before[0], raw_before[2]), (raw_after[0], raw_after[2]))
        raw_eight, raw_eight_cpu = max((raw_before[1], raw_before[3]), (raw_after[1], raw_after[3]))
        time.sleep(2.0)  # let the stack settle before the "after" memory sample
        sampler.stop()
        after = sampler.snapshot()
    except KeyboardInterrupt:
        raise
    except Exception as error:
        traceback.print_exc()
        say(f"--- tail of {up.log_path} ---\n{tail(up.log_path)}")
        for target in targets_c:
            report.error("(c)", target, error)
        phases = []
        raw_one = raw_eight = 0.0
    else:
        say()
        say(f"  raw DynamoDB Local put_item, 1 client sequential   {raw_one:8.1f} calls/s  (before {raw_before[0]:.1f}, after {raw_after[0]:.1f}; the better is used)")
        say(f"      {raw_one_cpu}")
        say(f"  raw DynamoDB Local put_item, 8 threads             {raw_eight:8.1f} calls/s  (before {raw_before[1]:.1f}, after {raw_after[1]:.1f})")
        say(f"      {raw_eight_cpu}")
        all_ok = True
        # The gateway logs its own time per request (request read → response written), in
        # completion order: warm-up first, then each run. The gap to the client's latency
        # is time spent outside the function and the gateway's code (TCP, queueing).
        server_ms = gateway_times(up.log_path)
        offsets = list(itertools.accumulate([warm.sent] + [phase.sent for _, phase in phases]))
        for (clients, phase), start in zip(phases, offsets):
            p50, p95, p99 = (percentile(phase.latencies_ms, f) for f in (0.50, 0.95, 0.99))
            say(
                f"  gateway, {phase.name:<10} {phase.sent:5d} msgs in {phase.seconds:6.2f} s = {phase.rate:7.1f} msg/s"
                f"   client latency p50 {p50:.1f} / p95 {p95:.1f} / p99 {p99:.1f} ms"
            )
            own = server_ms[start:start + phase.sent]
            if own:
                found = "" if len(server_ms) == offsets[-1] else f"; {len(server_ms)} of {offsets[-1]} log lines found, so approximate"
                say(f"      gateway-measured time per request p50 {percentile(own, 0.5):.0f} / p95 {percentile(own, 0.95):.0f} ms (from its log{found})")
            say(f"      {cpu_lines[clients]}")
            say(
                f"      statuses {phase.statuses}; reconnects {phase.reconnects}"
                f"; × raw 1-client {phase.rate / raw_one:.2f}; × raw 8-thread {phase.rate / raw_eight:.2f}"
                + ("; STOPPED EARLY at the phase deadline" if phase.stopped_early else "")
            )
            ok = phase.ok == phase.sent
            all_ok = all_ok and ok
            ratio = phase.rate / raw_one
            met, miss = at_least(ratio, THROUGHPUT_RATIO_TARGET, " ×", "{:.2f}")
            needed = THROUGHPUT_RATIO_TARGET * raw_one
            if not met:
                miss += f"; {phase.rate:.0f} < {needed:.0f} msg/s"
            measured = f"{phase.rate:.0f} msg/s = {ratio:.2f} × {raw_one:.0f}"
            if not ok:
                measured += f" (only {phase.ok}/{phase.sent} were 200)"
            if phase.stopped_early:
                measured += f" (deadline: {phase.sent}/{messages} sent)"
            report.add(Row("(c)", f"gateway ({clients} client{'s' if clients > 1 else ''}) ≥ {THROUGHPUT_RATIO_TARGET} × raw put (1 client)", measured, met and ok, miss))
            report.add(Row("(c)", f"gateway ({clients} client{'s' if clients > 1 else ''}) vs raw put (8 threads)", f"{phase.rate / raw_eight:.2f} × {raw_eight:.0f}", None, informational=True))

        # Verify: every 200 stored exactly once, through the CLI as a user would, and by a Scan.
        expected = warm.ok + sum(phase.ok for _, phase in phases)
        expected_conversations = warm_customers + 2 * customers if warm.ok >= warm_customers else None
        say()
        say(f"  verifying: expecting {expected} messages stored ({warm.ok} warm-up + {' + '.join(str(p.ok) for _, p in phases)}) ...")
        checks = []
        try:
            listed = subprocess.run(
                [SWITCHBOARD, "conversations", "list", "--json", "--limit", "100000"],
                env=up.env, cwd=tmp, capture_output=True, text=True, timeout=120,
            )
            if listed.returncode != 0:
                raise RuntimeError(f"exit {listed.returncode}: {listed.stderr.strip()[-500:]}")
            conversations = json.loads(listed.stdout)
            cli_total = sum(int(c["message_count"]) for c in conversations)
            good = cli_total == expected
            checks.append(good)
            say(f"    `switchboard conversations list --json`: {len(conversations)} conversations, Σ message_count = {cli_total}  {'ok' if good else '! MISMATCH'}")
        except Exception as error:
            checks.append(False)
            say(f"    `switchboard conversations list --json` failed: {error}")
        try:
            message_items, conversation_items, summed = stored_counts(int(state["dynamodb_port"]), table)
            good = message_items == expected == summed and (expected_conversations is None or conversation_items == expected_conversations)
            checks.append(good)
            say(
                f"    Scan of {table}: {message_items} message items, {conversation_items} conversations"
                f" (expected {expected_conversations}), Σ message_count = {summed}  {'ok' if good else '! MISMATCH'}"
            )
        except Exception as error:
            checks.append(False)
            say(f"    Scan failed: {error}")
        all_200 = all(phase.ok == phase.sent for _, phase in phases) and warm.ok == warm.sent
        say(f"    all responses 200: {'yes' if all_200 else 'NO'}")
        early = [f"{phase.sent}/{messages}" for _, phase in phases if phase.stopped_early]
        good = all(checks) and all_200 and all_ok
        report.add(Row(
            "(c)", "every message stored exactly once, all 200",
            ("yes" if good else "NO") + (f" (runs stopped at the deadline after {', '.join(early)})" if early else ""), good,
        ))
        errors_in_log = tail(up.log_path, 100000).count("Traceback")
        if errors_in_log:
            say(f"    ! {errors_in_log} tracebacks in {up.log_path}")

    # ---- (d) memory -------------------------------------------------------------------
    block("(d) Resident memory (VmRSS) of the local stack: `switchboard local up` and all its descendants")
    if sampler is None or not sampler.samples:
        report.error("(d)", "stack RSS < 1 GiB", RuntimeError("no samples (the stack did not start)"))
    else:
        names = sorted(set(idle) | set(sampler.peak_by_process) | set(after))
        say(f"  {sampler.samples} samples every {sampler.interval} s during (c)")
        say(f"  {'process':<44} {'idle':>9} {'peak during (c)':>16} {'at total peak':>14} {'after (c)':>10}")
        for name in names:
            cells = [idle.get(name), sampler.peak_by_process.get(name), sampler.peak_snapshot.get(name), after.get(name)]
            say(f"  {name:<44} " + " ".join(f"{(mib(c) if c else '-'):>{w}}" for c, w in zip(cells, (9, 16, 14, 10))))
        totals = [sum(idle.values()), None, sampler.peak_total, sum(after.values())]
        say(f"  {'total':<44} " + " ".join(f"{(mib(c) if c else '-'):>{w}}" for c, w in zip(totals, (9, 16, 14, 10))))
        limit_kib = MEMORY_TARGET_BYTES // 1024
        for when, kib in (("peak during (c)", sampler.peak_total), ("after (c)", sum(after.values()))):
            if not kib:
                continue
            met, miss = at_most(kib / 1024, limit_kib / 1024, " MiB", "{:.0f}")
            report.add(Row("(d)", f"stack RSS {when} < 1 GiB", mib(kib), met and kib < limit_kib, miss))

    # ---- stopping ---------------------------------------------------------------------
    block("Stopping `switchboard local up` with SIGINT (as Ctrl-C would)")
    if up.process is None:
        say("  (it never started)")
        return
    code, seconds, printed = up.stop()
    say(f"  exit code {code if code is not None else 'none: still running after the timeout (terminated)'} after {seconds:.1f} s; printed \"stopped:\": {'yes' if printed else 'NO'}")
    stopped_lines = [line for line in tail(up.log_path, 50).splitlines() if line.startswith(("stopping", "stopped:"))]
    for line in stopped_lines:
        say(f"    | {line}")
    leftovers = tracked.stop_leftovers("after `switchboard local up` exited")
    good = code == 0 and seconds <= STOP_TIMEOUT_S and printed and not leftovers
    miss = []
    if code is None:
        miss.append(f"did not exit within {STOP_TIMEOUT_S:.0f} s")
    elif code != 0:
        miss.append(f"exit code {code}")
    if not printed:
        miss.append('no "stopped:"')
    if leftovers:
        miss.append(f"left running: {', '.join(leftovers)}")
    report.add(Row("stop", f"SIGINT: exit 0 within {STOP_TIMEOUT_S:.0f} s, prints \"stopped:\"", f"exit {code} in {seconds:.1f} s", good, "; ".join(miss)))


# ---- main -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=None, metavar="N", help="messages per throughput run (default 1000; 60 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test of every figure")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data) and print its path")
    parser.add_argument("--only", choices=["a", "b", "c", "e", "f", "h", "i"], action="append", help="run only these figures (c includes d, f includes g); repeatable")
    args = parser.parse_args(argv)
    if args.messages is None:
        args.messages = 60 if args.quick else 1000
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    return args


_stopping = False


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C, SIGTERM, SIGHUP: stop once; later signals do not cut the cleanup short."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    global _stopping
    args = parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT / "infra"))  # local_stack, should the package not be installed
    sys.path.insert(0, str(REPO_ROOT / "functions"))
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    base_env = clean_environment(tmp)
    # This process too: no developer settings, no ~/.aws, no instance metadata.
    os.environ.clear()
    os.environ.update(base_env)

    reps = 3 if args.quick else 15
    tree_runs = 1 if args.quick else 3
    raw_count = 100 if args.quick else 1000
    raw_warmup = 100 if args.quick else 500
    warmup = 10 if args.quick else 50
    only = set(args.only or ["a", "b", "c", "e", "f", "h", "i"])
    report = Report()
    tracked = Tracked()
    interrupted = False
    say(f"Switchboard benchmark — {time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, temp dir {tmp}")
    say(f"options: messages={args.messages}{' quick' if args.quick else ''}; import runs={reps}; raw put_item calls={raw_count}")
    say("load average before starting: " + " ".join(f"{load:.2f}" for load in os.getloadavg()) + " (other work on this machine skews every figure)")
    try:
        if "a" in only:
            figure_a(report, tmp, base_env, reps, tree_runs)
        if "b" in only:
            with contextlib.ExitStack() as b_cleanups:
                figure_b(report, tmp, b_cleanups)
        if "e" in only:
            figure_e(report, 20 if args.quick else 200)
        if "f" in only:
            figure_f_g(report, 50 if args.quick else 500, 100 if args.quick else 1000)
        if "h" in only:
            figure_h(report, 200 if args.quick else 2000, 1000 if args.quick else 10_000, 200 if args.quick else 1000)
        if "i" in only:
            figure_i(report, 60 if args.quick else 300)
        if "c" in only:
            with contextlib.ExitStack() as cd_cleanups:
                figure_c_d(report, tmp, base_env, args.messages, raw_count, raw_warmup, warmup, tracked, cd_cleanups)
    except KeyboardInterrupt:
        interrupted = True
        say("\ninterrupted: everything started here has been stopped")
    finally:
        _stopping = True  # from here on, signals are ignored: the cleanup runs to its end
        try:
            stop_own_children(tracked)
        finally:
            if args.keep:
                say(f"kept {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    if interrupted:
        return 130
    report.print_summary()
    say(f"total time {time.perf_counter() - started:.0f} s")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
