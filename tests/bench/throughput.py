#!/usr/bin/env python3
"""(c) Inbound SMS/s through `switchboard local up`, and (d) the local stack's resident memory.

(c) `switchboard local up` run as a user runs it, 1 and 8 concurrent keep-alive clients
    posting signed SMS webhooks, next to DynamoDB Local's raw put_item rate (before and
    after, the better used); client latency, the gateway's own time per request, CPU per
    message; then a check that every message is stored exactly once and all were 200.
(d) VmRSS of `switchboard local up` and all its descendants, sampled during (c) and after.
Then the stop: SIGINT as Ctrl-C would send, exit 0 within 15 s, nothing left behind.

    .venv/bin/python tests/bench/throughput.py [--quick] [--messages N] [--keep]   # = run.py --only c
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from common import SMS_PATH, SWITCHBOARD, Tracked, cpu_line, cpu_snapshot, descendants, free_port, label, port_open, rss_kib, tail
from report import Report, Row, at_least, at_most, block, mib, percentile, say

THROUGHPUT_RATIO_TARGET = 0.5
MEMORY_TARGET_BYTES = 1 << 30
STOP_TIMEOUT_S = 15.0
STACK_START_TIMEOUT_S = 120.0
SEND_PHASE_DEADLINE_S = 90.0  # a safety net: a phase stops sending after this long
# The stage's throttle (ApiRateLimit 100/s, bursts of 200) would answer 8 clients with 429s:
# raised to the account's default quotas, so the figure is what the functions sustain.
THROTTLE_OVERRIDES = ("ApiRateLimit=10000", "ApiBurstLimit=5000")
SETTLE_TIMEOUT_S = 60.0  # for the stream's work (acknowledgements) to finish before counting


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
            [SWITCHBOARD, "local", "up", "--port", str(self.port), "--parameter-overrides", *THROTTLE_OVERRIDES],
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


def _local_client(dynamodb_port: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "dynamodb", endpoint_url=f"http://127.0.0.1:{dynamodb_port}", region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local", config=Config(max_pool_connections=16),
    )


def _timed_writes(write: Callable[[str], None], count: int, warmup: int, cpu: Callable[[], dict[str, float]], unit: str) -> tuple[float, float, str, str]:
    """(1-client calls/s, 8-thread calls/s, and their CPU lines) of `write(key)` calls."""
    for index in range(warmup):  # unmeasured: the JIT of DynamoDB Local warms up
        write(f"warm-{index}")
    cpu_before, started = cpu(), time.perf_counter()
    for index in range(count):
        write(f"seq-{index}")
    seconds = time.perf_counter() - started
    sequential, sequential_cpu = count / seconds, cpu_line(cpu_before, cpu(), seconds, count, unit)

    counter = itertools.count().__next__

    def worker() -> None:
        while (index := counter()) < count:
            write(f"par-{index}")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(8)]
    cpu_before, started = cpu(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    seconds = time.perf_counter() - started
    return sequential, count / seconds, sequential_cpu, cpu_line(cpu_before, cpu(), seconds, count, unit)


def raw_put_rates(dynamodb_port: int, count: int, warmup: int, tag: str, cpu: Callable[[], dict[str, float]]) -> tuple[float, float, str, str]:
    """Single put_item calls/s into a throwaway table: one client sequentially, then 8 threads."""
    client = _local_client(dynamodb_port)
    table = f"bench-raw-put-{tag}-{os.getpid()}"
    client.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    try:
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2})
        payload = {"S": "x" * 100}
        return _timed_writes(
            lambda key: client.put_item(TableName=table, Item={"pk": {"S": key}, "body": payload, "n": {"N": "1"}}),
            count, warmup, cpu, "put",
        )
    finally:
        with contextlib.suppress(Exception):
            client.delete_table(TableName=table)


def raw_transaction_rates(dynamodb_port: int, count: int, warmup: int, cpu: Callable[[], dict[str, float]]) -> tuple[float, float, str, str]:
    """TransactWriteItems calls/s of a known customer's SMS's shape (store/conversations.py
    append_message: the remembered route's ConditionCheck, the MessageSid claim, the message,
    the conversation's summary moving in the ByActivity index) into a throwaway table with
    the template's keys, index and stream: what DynamoDB Local itself allows that write."""
    client = _local_client(dynamodb_port)
    table = f"bench-raw-transaction-{os.getpid()}"
    strings = [{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "activity_pk", "activity_sk")]
    client.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=strings,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "ByActivity", "Projection": {"ProjectionType": "ALL"},
            "KeySchema": [{"AttributeName": "activity_pk", "KeyType": "HASH"}, {"AttributeName": "activity_sk", "KeyType": "RANGE"}],
        }],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    try:
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2})
        client.put_item(TableName=table, Item={"pk": {"S": "IDENTITY#phone#+14155550100"}, "sk": {"S": "IDENTITY"}, "conversation_id": {"S": "c"}})
        body = {"S": "x" * 160}

        def write(key: str) -> None:
            conversation = f"CONV#{hash(key) % 200}"
            client.transact_write_items(TransactItems=[
                {"ConditionCheck": {
                    "TableName": table, "Key": {"pk": {"S": "IDENTITY#phone#+14155550100"}, "sk": {"S": "IDENTITY"}},
                    "ConditionExpression": "conversation_id = :c", "ExpressionAttributeValues": {":c": {"S": "c"}},
                }},
                {"Put": {"TableName": table, "Item": {"pk": {"S": f"PROVIDER#twilio#{key}"}, "sk": {"S": "PROVIDER"}}, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": table, "Item": {"pk": {"S": conversation}, "sk": {"S": f"MSG#{key}"}, "body": body}}},
                {"Update": {
                    "TableName": table, "Key": {"pk": {"S": conversation}, "sk": {"S": "CONVERSATION"}},
                    "UpdateExpression": "SET activity_pk = :p, activity_sk = :a, preview = :b ADD message_count :one",
                    "ExpressionAttributeValues": {":p": {"S": "ACTIVITY"}, ":a": {"S": f"{time.time():.6f}#{conversation}"}, ":b": body, ":one": {"N": "1"}},
                }},
            ])

        return _timed_writes(write, count, warmup, cpu, "transaction")
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


@dataclass(frozen=True)
class Stored:
    inbound: int  # the customers' messages
    outbound: int  # ours: the acknowledgements the router sends new customers
    conversations: int
    message_count_sum: int


def settled_counts(dynamodb_port: int, table: str) -> Stored:
    """stored_counts once two Scans a second apart agree: the router (fed by the table's
    stream) writes acknowledgements for a while after the last request was answered."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    previous = stored_counts(dynamodb_port, table)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        current = stored_counts(dynamodb_port, table)
        if current == previous:
            return current
        previous = current
    return previous


def stored_counts(dynamodb_port: int, table: str) -> Stored:
    """Message items by direction, conversation items and the sum of message_count, by a Scan."""
    client = _local_client(dynamodb_port)
    inbound = outbound = conversations = total = 0
    pages = client.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression="#t, message_count, direction", ExpressionAttributeNames={"#t": "type"},
    )
    for page in pages:
        for item in page["Items"]:
            kind = item.get("type", {}).get("S")
            if kind == "message":
                if item.get("direction", {}).get("S") == "inbound":
                    inbound += 1
                else:
                    outbound += 1
            elif kind == "conversation":
                conversations += 1
                total += int(item.get("message_count", {}).get("N", "0"))
    return Stored(inbound, outbound, conversations, total)


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
        say(
            f"starting `switchboard local up --port {up.port} --parameter-overrides {' '.join(THROTTLE_OVERRIDES)}`"
            f" with SWITCHBOARD_LOCAL_DIR={up.state_dir} (output in {up.log_path.name}) ..."
        )
        say("  (the API's throttle raised from its default 100/s: this measures the functions, not the stage's limit)")
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
        say(f"  raw TransactWriteItems of a known customer's SMS's shape ({raw_count} calls, 1 client, then 8 threads) ...")
        raw_transaction = raw_transaction_rates(dynamodb_port, raw_count, raw_warmup, lambda: cpu_snapshot(root_pid))
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
        say(f"  raw TransactWriteItems, the SMS webhook's write     {raw_transaction[0]:8.1f} calls/s 1 client, {raw_transaction[1]:.1f} with 8 threads")
        say(f"      1 client: {raw_transaction[2]}")
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
            same_shape = raw_transaction[0] if clients == 1 else raw_transaction[1]
            report.add(Row(
                "(c)", f"gateway ({clients} client{'s' if clients > 1 else ''}) vs its own write alone (raw TransactWriteItems, {'1 client' if clients == 1 else '8 threads'})",
                f"{phase.rate / same_shape:.2f} × {same_shape:.0f}", None, informational=True,
            ))

        # Verify: every 200 stored exactly once, through the CLI as a user would, and by a Scan.
        expected = warm.ok + sum(phase.ok for _, phase in phases)
        expected_conversations = warm_customers + 2 * customers if warm.ok >= warm_customers else None
        say()
        say(f"  verifying: expecting {expected} customers' messages stored ({warm.ok} warm-up + {' + '.join(str(p.ok) for _, p in phases)}) ...")
        checks = []
        stored = None
        try:
            stored = settled_counts(int(state["dynamodb_port"]), table)
            good = stored.inbound == expected and stored.message_count_sum == stored.inbound + stored.outbound and (
                expected_conversations is None or stored.conversations == expected_conversations
            )
            checks.append(good)
            say(
                f"    Scan of {table}: {stored.inbound} customers' messages, {stored.outbound} of ours (acknowledgements),"
                f" {stored.conversations} conversations (expected {expected_conversations}),"
                f" Σ message_count = {stored.message_count_sum}  {'ok' if good else '! MISMATCH'}"
            )
        except Exception as error:
            checks.append(False)
            say(f"    Scan failed: {error}")
        try:
            listed = subprocess.run(
                [SWITCHBOARD, "conversations", "list", "--json", "--limit", "100000"],
                env=up.env, cwd=tmp, capture_output=True, text=True, timeout=120,
            )
            if listed.returncode != 0:
                raise RuntimeError(f"exit {listed.returncode}: {listed.stderr.strip()[-500:]}")
            conversations = json.loads(listed.stdout)
            cli_total = sum(int(c["message_count"]) for c in conversations)
            good = stored is not None and cli_total == stored.message_count_sum
            checks.append(good)
            say(f"    `switchboard conversations list --json`: {len(conversations)} conversations, Σ message_count = {cli_total}  {'ok' if good else '! MISMATCH'}")
        except Exception as error:
            checks.append(False)
            say(f"    `switchboard conversations list --json` failed: {error}")
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


if __name__ == "__main__":
    import run

    sys.exit(run.main(["--only", "c", *sys.argv[1:]]))
