"""Incident notice figures on the local stack: the fan-out's time and memory, and the pacing.

(h) N subscribers (two in three by SMS, one in three by email) are written straight into
    the table (BatchWriteItem, items shaped by the store's own `_subscriber_item`); an
    incident is opened through IncidentDesk, which writes the fan-out job; the local
    drivers hand the job's stream record to NoticeFanoutFunction (in this process, as
    `make run` does). Timed from opening the incident until the job is done and the
    notice queue holds N messages (ApproximateNumberOfMessages). The fan-out's memory:
    this interpreter's peak RSS (ru_maxrss: the handler, the drivers, the boto3 clients;
    DynamoDB Local and moto are processes of their own), its RSS sampled during the
    fan-out next to just before it, and, in a second fan-out of the same subscribers (so
    it does not slow the timed one), the peak of Python's own allocations (tracemalloc).
    Two counts: memory should not grow with the count. A third run, at a smaller count,
    uses moto as released, without the local stack's SQS fix (infra/local_stack/moto_main.py:
    stock moto 5.2.5 makes each send cost in proportion to the queue's depth).
(i) The send schedule template.yaml's default rates imply (pure: switchboard.pacing),
    then a real run: M SMS subscribers, SMS_RATE_PER_SECOND=20, the fan-out, and two
    senders, each its own interpreter as two concurrent Lambda executions are
    (NoticeSenderFunction's MaximumConcurrency is 2), invoking notice_handler on batches
    of up to 10 received from the notice queue. Every send's start time
    (NoticeStore.send_times) gives the busiest one-second window.

Each run is a fresh interpreter with a LocalStack of its own in a temporary directory,
removed afterwards: the functions read their settings once, at import.

Run alone: .venv/bin/python tests/bench/notices.py [--quick] [--subscribers 10000] [--small 2000] [--stock 1000] [--numbers 300]
(run.py calls `figure_h` and `figure_i`, which print blocks (h) and (i) and add their rows to the summary.)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from common import rss_kib
from report import Report, Row, at_most, block, mib, say

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULT_PREFIX = "NOTICES-RESULT "  # the child's figure, on its own line of stdout (handlers log there too)

FANOUT_TARGET_S = 30.0  # for 10,000 subscribers
FANOUT_MEMORY_TARGET_MIB = 256.0  # NoticeFanoutFunction's MemorySize
PACING_RATE = 20.0  # SMS per second in (i)'s real run
COMPONENT = "api"


# ---- helpers ------------------------------------------------------------------------------


def _paths() -> None:
    for sub in ("functions", "infra"):
        path = str(REPO_ROOT / sub)
        if path not in sys.path:
            sys.path.insert(0, path)


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def duration(seconds: float) -> str:
    """3725 → '1 h 2 min'; 750 → '12 min 30 s'; 9.5 → '9.5 s'."""
    if seconds >= 3600:
        minutes = round(seconds / 60)
        return f"{minutes // 60} h {minutes % 60} min"
    if seconds >= 60:
        whole = round(seconds)
        return f"{whole // 60} min {whole % 60} s"
    return f"{seconds:.1f} s"


class RssSampler(threading.Thread):
    """This process's VmRSS every `interval` seconds, until stopped: the peak of a phase."""

    def __init__(self, interval: float = 0.01) -> None:
        super().__init__(name="rss sampler", daemon=True)
        self.interval = interval
        self.peak = rss_kib(os.getpid())
        self.samples = 0
        self._finished = threading.Event()

    def run(self) -> None:
        while not self._finished.is_set():
            self.peak = max(self.peak, rss_kib(os.getpid()))
            self.samples += 1
            self._finished.wait(self.interval)

    def stop(self) -> int:
        self._finished.set()
        self.join()
        self.peak = max(self.peak, rss_kib(os.getpid()))
        return self.peak


class CallTimer:
    """Time per AWS operation (before-call → after-call: serializing, HTTP, parsing)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.durations: dict[str, list[float]] = defaultdict(list)

    def before(self, context: dict | None = None, **_: Any) -> None:
        if context is not None:
            context["bench_started"] = time.perf_counter()

    def after(self, model: Any = None, context: dict | None = None, **_: Any) -> None:
        started = (context or {}).pop("bench_started", None)
        if started is None or model is None:
            return
        name = f"{model.service_model.service_name} {model.name}"
        took = time.perf_counter() - started
        self.seconds[name] += took
        self.calls[name] += 1
        self.durations[name].append(took)

    def table(self) -> dict[str, list[float]]:
        return {name: [self.calls[name], round(self.seconds[name], 4)] for name in sorted(self.seconds, key=lambda n: -self.seconds[n])}


@contextlib.contextmanager
def _stack() -> Iterator[Any]:
    """DynamoDB Local + moto with template.yaml's resources, in a temporary directory of its own."""
    from local_stack.stack import LocalStack

    state_dir = Path(tempfile.mkdtemp(prefix="switchboard-bench-notices-"))
    stack = LocalStack(state_dir, public_url="http://127.0.0.1:9")
    try:
        stack.start()
        os.environ.update(stack.function_environment())
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def _subscriber(n: int) -> Any:
    from switchboard.models import iso_utc
    from switchboard.store.subscribers import Subscriber

    channel = "email" if n % 3 == 2 else "sms"
    address = f"subscriber-{n:06d}@customer.example" if channel == "email" else f"+1415{7}{n:06d}"
    return Subscriber(channel=channel, address=address, components=(), token=secrets.token_urlsafe(18), source="bench", created_at=iso_utc(datetime.now(timezone.utc)))


def _seed(client: Any, table: str, count: int, workers: int = 4) -> float:
    """`count` subscribers written 25 at a time (BatchWriteItem); returns the seconds it took."""
    from switchboard.store.dynamo import to_item
    from switchboard.store.subscribers import _subscriber_item

    def write(start: int) -> None:
        request = {table: [{"PutRequest": {"Item": to_item(_subscriber_item(_subscriber(n)))}} for n in range(start, min(count, start + 25))]}
        for _ in range(20):
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if not request:
                return
            time.sleep(0.05)
        raise RuntimeError("BatchWriteItem kept items unprocessed")

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(write, range(0, count, 25)))
    return time.perf_counter() - started


def _queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _fan_out_now(drivers: Any, notices: Any, update_id: str, deadline_s: float) -> Any:
    """Drain the stream into the fan-out until the job is done (the record may take a moment to show)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        drivers.drain(timeout=max(1.0, deadline - time.monotonic()))
        job = notices.job(update_id)
        if job is not None and job.done:
            return job
        time.sleep(0.02)
    raise TimeoutError(f"the fan-out job {update_id} was not done after {deadline_s:.0f} s")


# ---- (h) fan-out ------------------------------------------------------------------------------

# moto 5.2.5 builds a queue's whole attribute dict for every SendMessage (only to read
# ContentBasedDeduplication), and three of those attributes count the queue's messages one
# by one: each send costs time in proportion to the messages already queued, so 10,000
# notices take O(N²): about 20 minutes, extrapolated from 1,000 (11 s), where SQS answers
# in milliseconds whatever the depth. (h) runs its moto with the attributes computed per key, on access;
# `--stock-moto` runs moto as it is.


def _use_stock_moto() -> None:
    """Make LocalStack.start run moto as released, without infra/local_stack/moto_main.py's
    fix (this benchmark's stacks only), to show what the fix is worth."""
    import urllib.request

    from local_stack import moto_server
    from local_stack.processes import start_process

    def start(port: int, log_path: Path) -> Any:
        def ready() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=1) as response:
                return response.status == 200

        return start_process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log_path, ready=ready, name="moto server (stock)")

    moto_server.start = start


def fanout(count: int, stock_moto: bool = False, weigh: bool = True, deadline_s: float = 1200.0) -> dict[str, Any]:
    """(h), in this (fresh) interpreter: seed, open an incident, fan out, time it and weigh it.

    weigh: then fan out a second incident under tracemalloc (Python's own allocations).
    """
    import gc
    import tracemalloc

    import boto3

    from local_stack.drivers import Drivers

    if stock_moto:
        _use_stock_moto()
    with _stack() as stack:
        table, queue_url = os.environ["TABLE_NAME"], os.environ["NOTICE_QUEUE_URL"]
        # The benchmark's own clients come from a session of their own: the timing hooks
        # below, on the default session, then see only the function's calls.
        mine = boto3.session.Session()
        dynamodb, sqs = mine.client("dynamodb"), mine.client("sqs")
        from switchboard.incident_model import Component, Impact
        from switchboard.incidents.service import IncidentDesk
        from switchboard.store.incidents import IncidentStore
        from switchboard.store.notices import NoticeStore

        incidents, notices = IncidentStore(dynamodb, table), NoticeStore(dynamodb, table)
        incidents.put_component(Component(COMPONENT, "Public API"))
        seed_seconds = _seed(dynamodb, table, count)

        timer = CallTimer()
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call", timer.before)
        boto3.DEFAULT_SESSION.events.register("after-call", timer.after)
        importlib.import_module("switchboard.handlers.notice_fanout")  # the cold start, before the baseline

        desk = IncidentDesk(incidents, notices)
        devnull = open(os.devnull, "w")
        drivers = Drivers(stack.template, stack.resolver(), only=["NoticeFanoutFunction"], log=devnull)
        drivers.connect()  # the stream is read from here on (LATEST)

        def open_incident(title: str) -> str:
            change = desk.open(title, Impact.MAJOR, (COMPONENT,), "We are investigating errors on the API.", datetime.now(timezone.utc))
            return change.incident.updates[0].update_id

        gc.collect()
        rss_before, maxrss_before = rss_kib(os.getpid()), _maxrss_kib()
        sampler = RssSampler()
        sampler.start()
        started = time.perf_counter()
        job = _fan_out_now(drivers, notices, open_incident("Elevated API error rates"), deadline_s)
        done_at = time.perf_counter()
        rss_peak = sampler.stop()
        rss_after, maxrss = rss_kib(os.getpid()), _maxrss_kib()
        # Polled once the job is done: each poll makes moto count the queue's messages.
        depth = _queue_depth(sqs, queue_url)
        while depth < job.queued and time.perf_counter() - started < deadline_s:
            time.sleep(0.05)
            depth = _queue_depth(sqs, queue_url)
        queued_at = time.perf_counter()
        invocations = drivers.invocations_of("NoticeFanoutFunction")
        batch_ms = timer.durations.get("sqs SendMessageBatch", [])
        result = {
            "count": count,
            "stock_moto": stock_moto,
            "seed_s": seed_seconds,
            "queued": job.queued,
            "skipped": job.skipped,
            "in_queue": depth,
            "to_done_s": done_at - started,
            "to_queued_s": queued_at - started,
            "invocations": len(invocations),
            "handler_s": sum(i.elapsed_ms for i in invocations) / 1000,
            "errors": [i.error for i in invocations if i.error],
            "rss_before_kib": rss_before,
            "rss_peak_kib": rss_peak,
            "rss_after_kib": rss_after,
            "rss_samples": sampler.samples,
            "maxrss_before_kib": maxrss_before,
            "maxrss_kib": maxrss,
            "calls": timer.table(),
            "batch_ms_first": _mean(batch_ms[:10]) * 1000,
            "batch_ms_last": _mean(batch_ms[-10:]) * 1000,
        }

        # The same fan-out again (a second incident: its own job) under tracemalloc, for the
        # peak of Python's own allocations. Not timed: tracemalloc slows every allocation.
        if weigh:
            gc.collect()
            tracemalloc.start()
            second = open_incident("Elevated API error rates, again")
            tracemalloc.reset_peak()
            traced_before = tracemalloc.get_traced_memory()[0]
            _fan_out_now(drivers, notices, second, deadline_s)
            result["traced_growth_kib"] = (tracemalloc.get_traced_memory()[1] - traced_before) // 1024
            tracemalloc.stop()
        devnull.close()
        return result


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


# ---- (i) pacing --------------------------------------------------------------------------------


def schedule_lines(count: int = 10_000) -> list[str]:
    """What the default rates (template.yaml's parameters) imply for `count` notices per channel."""
    _paths()
    from local_stack.stack import LOCAL_PARAMETERS
    from local_stack.template import Template
    from switchboard.pacing import busiest_window, gap, schedule

    defaults = Template().parameter_defaults()
    lines = []
    rates = {}
    for channel, parameter, noun in (("sms", "SmsRatePerSecond", "SMS"), ("email", "EmailRatePerSecond", "emails"), ("x", "XRatePerSecond", "X DMs")):
        rate = float(defaults[parameter])
        rates[channel] = rate
        times = schedule(count, rate)
        window = max(1.0, 1 / rate)  # below 1/s, "at most N a second" means one per 1/N seconds
        lines.append(
            f"{count:,} {noun} at {rate:g}/s ({parameter} default): one every {gap(rate):.3f} s,"
            f" the last starts after {duration(times[-1])}; busiest {window:g}-s window {busiest_window(times, window)} (≤ {rate * window:g})"
        )
    sms, email = (count * 2 + 2) // 3, count // 3
    slowest = max(((sms - 1) * gap(rates["sms"]), "SMS"), ((email - 1) * gap(rates["email"]), "email"))
    lines.append(
        f"(h)'s mix of {count:,} ({sms:,} SMS + {email:,} emails; each channel has its own pacer): the last starts after"
        f" {duration(slowest[0])} ({slowest[1]} is the long pole)"
    )
    local = ", ".join(f"{name} {value}" for name, value in LOCAL_PARAMETERS.items() if name.endswith("RatePerSecond"))
    lines.append(f"(the local stack, `make run`, overrides {local}: infra/local_stack/stack.py LOCAL_PARAMETERS)")
    return lines


def _sender(stop_when_idle_s: float) -> int:
    """One notice sender (its own interpreter, as one Lambda execution): receive, invoke, delete."""
    import boto3

    from local_stack.invoke import LambdaContext
    from local_stack.template import Template
    from switchboard.handlers.sender import notice_handler

    from switchboard.store.pacer import PacerStore

    # Count the send slots this sender takes: slots taken - notices sent = slots given up late.
    reserve, taken = PacerStore.reserve, []
    PacerStore.reserve = lambda self, *a, **k: taken.append(1) or reserve(self, *a, **k)
    spec = Template().functions()["NoticeSenderFunction"]
    sqs, url = boto3.client("sqs"), os.environ["NOTICE_QUEUE_URL"]
    arn = f"arn:aws:sqs:us-east-1:123456789012:{url.rsplit('/', 1)[1]}"
    idle_since = time.monotonic()
    handled = 0
    while time.monotonic() - idle_since < stop_when_idle_s:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]).get("Messages", [])
        if not messages:
            continue
        records = [
            {
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": {k: v for k, v in m.get("Attributes", {}).items() if k in ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")},
                "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1",
            }
            for m in messages
        ]
        response = notice_handler({"Records": records}, LambdaContext(spec.logical_id, spec.memory, spec.timeout))
        failed = {failure["itemIdentifier"] for failure in (response or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        handled += len(done)
        idle_since = time.monotonic()
    print(RESULT_PREFIX + json.dumps({"handled": handled, "slots": len(taken)}), flush=True)
    return handled


def pacing(numbers: int, rate: float, senders: int = 2) -> dict[str, Any]:
    """(i), in this (fresh) interpreter: fan out to `numbers` SMS subscribers, send with `senders` senders."""
    import boto3

    from local_stack.drivers import Drivers

    with _stack() as stack:
        os.environ["SMS_RATE_PER_SECOND"] = f"{rate:g}"  # before any handler module is imported
        from switchboard.incident_model import Component, Impact
        from switchboard.incidents.service import IncidentDesk
        from switchboard.pacing import busiest_window, gap
        from switchboard.store.incidents import IncidentStore
        from switchboard.store.notices import NoticeStore
        from switchboard.store.subscribers import SubscriberStore

        client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
        incidents, notices, subscribers = IncidentStore(client, table), NoticeStore(client, table), SubscriberStore(client, table)
        incidents.put_component(Component(COMPONENT, "Public API"))
        now = datetime.now(timezone.utc)
        for n in range(numbers):
            subscribers.subscribe("sms", f"+1415{8}{n:06d}", (), "bench", now)
        devnull = open(os.devnull, "w")
        drivers = Drivers(stack.template, stack.resolver(), only=["NoticeFanoutFunction"], log=devnull)
        drivers.connect()
        change = IncidentDesk(incidents, notices).open("Elevated API error rates", Impact.MAJOR, (COMPONENT,), "We are investigating errors on the API.", now)
        update_id = change.incident.updates[0].update_id
        job = _fan_out_now(drivers, notices, update_id, 120.0)
        devnull.close()

        expected_s = numbers * gap(rate)
        logs = Path(stack.state_dir) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        processes = []
        started = time.time()
        try:
            for index in range(senders):
                log = open(logs / f"sender-{index}.log", "w")
                processes.append((subprocess.Popen([sys.executable, __file__, "--sender"], stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)), log))
            deadline = time.monotonic() + expected_s * 2 + 60
            while time.monotonic() < deadline and any(p.poll() is None for p, _ in processes):
                if notices.counts(update_id)["sent"] >= numbers:
                    break
                time.sleep(0.25)
            finished = time.time()
        finally:
            for process, log in processes:  # they stop by themselves once the queue stays empty
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.terminate()
                    process.wait(10)
                log.close()
        problems = []
        slots = 0
        for index, (process, _) in enumerate(processes):
            text = (logs / f"sender-{index}.log").read_text(errors="replace")
            if process.returncode not in (0, -signal.SIGTERM) or "Traceback" in text:
                problems.append(f"sender {index}: exit {process.returncode}; " + text[-1500:])
            slots += sum(json.loads(line[len(RESULT_PREFIX):])["slots"] for line in text.splitlines() if line.startswith(RESULT_PREFIX))
        counts = notices.counts(update_id)
        times = sorted(notices.send_times(update_id))
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        # Slots no send used: a late sender gives its slot up (pacing.still_on_time), or both
        # senders were between sends (claiming the next notice, bookkeeping, the next batch).
        unused = sum(round((b - a) / gap(rate)) - 1 for a, b in zip(times, times[1:]) if b - a > 1.5 * gap(rate))
        return {
            "numbers": numbers,
            "rate": rate,
            "senders": senders,
            "queued": job.queued,
            "counts": counts,
            "sent": len(times),
            "busiest": busiest_window(times) if times else 0,
            "span_s": span,
            "unused_slots": unused,
            "slots_taken": slots,
            "wall_s": finished - started,
            "expected_s": (numbers - 1) * gap(rate),
            "gap_s": gap(rate),
            "problems": problems,
        }


# ---- runs in fresh interpreters, and what to print ------------------------------------------------


def _child(arguments: list[str], timeout: float) -> dict[str, Any]:
    process = subprocess.Popen([sys.executable, __file__, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except BaseException:  # a timeout, Ctrl-C, SIGTERM: the child stops its stack on SIGTERM
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        raise
    found = [line[len(RESULT_PREFIX):] for line in out.splitlines() if line.startswith(RESULT_PREFIX)]
    if process.returncode != 0 or not found:
        raise RuntimeError(f"notices figure ({' '.join(arguments)}) failed (exit {process.returncode}):\n{err[-3000:]}")
    return json.loads(found[-1])


def run_fanout(count: int, stock_moto: bool = False) -> dict[str, Any]:
    return _child(["--only", "h", "--subscribers", str(count), *(["--stock-moto"] if stock_moto else [])], timeout=1800)


def run_pacing(numbers: int, rate: float = PACING_RATE) -> dict[str, Any]:
    return _child(["--only", "i", "--numbers", str(numbers), "--rate", str(rate)], timeout=1800)


def _calls_line(calls: dict[str, list[float]], of_s: float) -> str:
    total = sum(seconds for _, seconds in calls.values())
    parts = [f"{name} {calls_:.0f} × {seconds / calls_ * 1000:.1f} ms = {seconds:.2f} s" for name, (calls_, seconds) in calls.items() if calls_]
    return f"{'; '.join(parts)}; AWS calls {total:.2f} s of {of_s:.2f} s"


def fanout_lines(f: dict[str, Any]) -> list[str]:
    count = f["count"]
    lines = [
        f"N = {count:,} subscribers (2/3 SMS, 1/3 email; seeded in {f['seed_s']:.1f} s){', STOCK moto' if f['stock_moto'] else ''}:"
        f" {f['queued']:,} notices queued, {f['in_queue']:,} in the notice queue{'' if f['in_queue'] == f['queued'] == count else ' ! NOT ALL'}",
        f"    {f['to_queued_s']:.2f} s from opening the incident to all in the queue ({f['to_done_s']:.2f} s to the job done)"
        f" = {f['queued'] / f['to_queued_s']:.0f} notices/s; {f['invocations']} invocation(s) of NoticeFanoutFunction, {f['handler_s']:.2f} s"
        + (f"; ERRORS: {'; '.join(f['errors'])[:300]}" if f["errors"] else ""),
        f"    where the fan-out's time goes: {_calls_line(f['calls'], f['to_done_s'])}"
        f"; SendMessageBatch first 10 {f['batch_ms_first']:.1f} ms, last 10 {f['batch_ms_last']:.1f} ms",
    ]
    if "traced_growth_kib" in f:
        lines.append(
            f"    memory: peak RSS of the fan-out's interpreter (ru_maxrss) {mib(f['maxrss_kib'])} ({mib(f['maxrss_before_kib'])} before the fan-out);"
            f" RSS {mib(f['rss_before_kib'])} before → peak {mib(f['rss_peak_kib'])} during → {mib(f['rss_after_kib'])} after"
            f" (+{(f['rss_peak_kib'] - f['rss_before_kib']) / 1024:.1f} MiB); Python allocations' peak in a second fan-out (tracemalloc) +{f['traced_growth_kib'] / 1024:.1f} MiB"
        )
    return lines


def pacing_lines(p: dict[str, Any]) -> list[str]:
    counts = p["counts"]
    achieved = p["numbers"] / p["span_s"] if p["span_s"] else float("nan")
    lines = [
        f"SMS_RATE_PER_SECOND={p['rate']:g}, {p['senders']} senders (separate interpreters), {p['numbers']} SMS subscribers: {p['queued']} queued,"
        f" {p['sent']} sent in {p['wall_s']:.1f} s (notice counts {counts})",
        f"    first → last send start {p['span_s']:.2f} s (the schedule implies {p['expected_s']:.2f} s: one every {p['gap_s'] * 1000:.1f} ms);"
        f" achieved {p['numbers']}/{p['span_s']:.2f} s = {achieved:.2f}/s; {p['unused_slots']} slots unused, of which"
        f" {p['slots_taken'] - p['sent']} taken and given up late, the rest passed while both senders were between sends (claim, bookkeeping, next batch);"
        f" busiest one-second window {p['busiest']} sends (rate {p['rate']:g})",
    ]
    lines += [f"    ! {problem}" for problem in p["problems"]]
    return lines


# ---- run.py's blocks ----------------------------------------------------------------------------


def figure_h(report: Report, small: int, large: int, stock: int) -> None:
    block(f"(h) Fan-out of one incident update to {small:,} and {large:,} subscribers into the notice queue (NoticeFanoutFunction on the local stack)")
    target_s, target_mib = FANOUT_TARGET_S, FANOUT_MEMORY_TARGET_MIB
    say("  the local stack's moto has its SQS fix (infra/local_stack/moto_main.py: moto 5.2.5 counts every queued message on each SendMessage);")
    say(f"  the last run ({stock:,} subscribers) is on moto as released" if stock else "  (no run on stock moto)")
    runs = []
    try:
        for count in (small, large):
            say(f"  N = {count:,}: a LocalStack of its own, seeding, the timed fan-out, then a second one under tracemalloc ...")
            runs.append(run_fanout(count))
            for line in fanout_lines(runs[-1]):
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
            a = run_fanout(stock, stock_moto=True)
            for line in fanout_lines(a):
                say("  " + line)
            report.add(Row("(h)", f"{stock:,} notices queued on stock moto", f"{a['to_queued_s']:.1f} s = {a['queued'] / a['to_queued_s']:.0f}/s", None, informational=True))
        except Exception as error:
            traceback.print_exc()
            report.error("(h)", "notices queued on stock moto", error)


def figure_i(report: Report, numbers: int) -> None:
    block(f"(i) Notice pacing: the send schedule the default rates imply, and {numbers} SMS sent by two senders at SMS_RATE_PER_SECOND={PACING_RATE:g}")
    try:
        for line in schedule_lines():
            say("  " + line)
    except Exception as error:
        traceback.print_exc()
        report.error("(i)", "the schedule of the default rates", error)
    target = "busiest one-second window ≤ rate"
    try:
        p = run_pacing(numbers)
        for line in pacing_lines(p):
            say("  " + line)
        complete = p["sent"] == p["numbers"] and not p["problems"]
        met, miss = at_most(p["busiest"], p["rate"], " sends", "{:.0f}")
        report.add(Row("(i)", f"{target} ({p['rate']:g}/s)", f"{p['busiest']} sends" + ("" if complete else f" (only {p['sent']}/{p['numbers']} sent)"), met and complete, miss))
        report.add(Row("(i)", "achieved SMS rate", f"{p['numbers'] / p['span_s']:.2f}/s of {p['rate']:g}/s" if p["span_s"] else "n/a", None, informational=True))
    except Exception as error:
        traceback.print_exc()
        report.error("(i)", target, error)


_stopping = False


def _interrupted(signum: int, frame: object) -> None:
    """Ctrl-C, SIGTERM, SIGHUP: stop once; later signals do not cut the cleanup (stack.stop) short."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=None, help="subscribers of (h)'s larger run (default 10000; 1000 with --quick)")
    parser.add_argument("--small", type=int, default=None, help="subscribers of (h)'s smaller run (default 2000; 200 with --quick)")
    parser.add_argument("--stock", type=int, default=None, help="subscribers of (h)'s run on stock moto (default 1000; 200 with --quick; 0: none)")
    parser.add_argument("--stock-moto", action="store_true", help="with --only h: moto as released, without the local stack's SQS fix (slow: see infra/local_stack/moto_main.py)")
    parser.add_argument("--numbers", type=int, default=None, help="SMS subscribers sent to in (i) (default 300; 60 with --quick)")
    parser.add_argument("--rate", type=float, default=PACING_RATE, help=f"SMS per second in (i)'s real run (default {PACING_RATE:g})")
    parser.add_argument("--quick", action="store_true", help="small counts")
    parser.add_argument("--only", choices=["h", "i"], help="one run of one figure, in this process (prints it as JSON)")
    parser.add_argument("--sender", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _paths()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupted)  # stop the stack on the way out
    if args.sender:
        _sender(stop_when_idle_s=3.0)
        return 0
    large = args.subscribers or (1000 if args.quick else 10_000)
    small = args.small or (200 if args.quick else 2000)
    stock = args.stock if args.stock is not None else (200 if args.quick else 1000)
    numbers = args.numbers or (60 if args.quick else 300)
    if args.only:
        figure = fanout(large, stock_moto=args.stock_moto, weigh=not args.stock_moto) if args.only == "h" else pacing(numbers, args.rate)
        print(RESULT_PREFIX + json.dumps(figure), flush=True)
        return 0
    print("(h) fan-out of one incident update to its subscribers, into the notice queue")
    for count, stock_moto in ((small, False), (large, False), *([(stock, True)] if stock else [])):
        for line in fanout_lines(run_fanout(count, stock_moto)):
            print("  " + line, flush=True)
    print("(i) the send schedule the default rates imply, and a real paced run")
    for line in schedule_lines():
        print("  " + line)
    for line in pacing_lines(run_pacing(numbers, args.rate)):
        print("  " + line, flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: everything started here has been stopped", file=sys.stderr)
        sys.exit(130)
