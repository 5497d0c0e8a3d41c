"""Paging figures on the local stack: stored → page latency, and SMS per 1,000-message burst.

(f) 500 customer messages are stored one after another (record_inbound, in-process); the
    table's stream drives RouterFunction through the local drivers, as `make run` does;
    each page's time in the outbox queue (SQS SentTimestamp) minus its message's stored
    time is the latency. Bundling is switched off here (window 0, no cap) so every
    message gets its own page to time.
(g) 1,000 messages from 1,000 customers within one minute, with the default bundling
    (2-minute window, 5 SMS per 15 minutes), then the escalation tick every minute for
    5 minutes: how many SMS reach the on-call agent, and whether all 1,000 conversations
    are tracked by a page.

Run alone: .venv/bin/python tests/bench/paging.py [--messages 500] [--burst 1000]
(run.py calls `figure_f_g`, which prints block (f)/(g) and adds their rows to the summary.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path

from report import Report, Row, at_most, block, percentile, say

REPO_ROOT = Path(__file__).resolve().parents[2]


def _team(agent_phone: str) -> None:
    import boto3

    from switchboard.models import utc_now
    from switchboard.oncall.config import add_agent, load_config, set_rotation
    from switchboard.oncall.schedule import Agent
    from switchboard.store.oncall import OncallStore

    store = OncallStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    add_agent(store, load_config(store), Agent("ana", "Ana", agent_phone), utc_now())
    set_rotation(store, load_config(store), agent_ids=("ana",), handoff_time=clock(0), length_days=7, starts_on=date(2026, 1, 5), time_zone="UTC", business_hours="always")


def _store(n: int, tag: str, at: datetime | None = None) -> tuple[str, float]:
    """One customer's first message; returns its conversation id and when it was stored."""
    from switchboard.conversations.inbound import record_inbound
    from switchboard.models import Channel, Identity, IdentityKind, InboundMessage
    from switchboard.store import clients
    from switchboard.store.conversations import ConversationStore

    store = ConversationStore(clients.dynamodb(), os.environ["TABLE_NAME"])
    number = f"+1415{5 if tag == 'f' else 6}{n:06d}"
    message = InboundMessage(Channel.SMS, "bench", f"{tag}-{n}", Identity(IdentityKind.PHONE, number), at or datetime.now(timezone.utc), body=f"message {n}: my invoice is wrong")
    result = record_inbound(message, store)
    return result.conversation_id, time.time()


def _outbox() -> list[tuple[dict, float]]:
    """Everything in the outbox queue with its SentTimestamp (seconds), drained."""
    import json

    import boto3

    sqs, url = boto3.client("sqs"), os.environ["OUTBOX_QUEUE_URL"]
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["SentTimestamp"]).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append((json.loads(message["Body"]), int(message["Attributes"]["SentTimestamp"]) / 1000))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def latency(messages: int, rate: float) -> dict[str, float]:
    """(f): stored → page in the outbox queue, through the stream driver, `rate` messages a second."""
    from local_stack.drivers import Drivers

    stack = _started()
    try:
        os.environ.update({"BUNDLING_WINDOW_SECONDS": "0", "PAGE_CAP_PER_15_MINUTES": "999"})
        _team("+14155550999")
        drivers = Drivers(stack.template, stack.resolver(), only=["RouterFunction"], log=open(os.devnull, "w")).start()
        try:
            stored = {}
            started = time.monotonic()
            for n in range(messages):  # a steady stream of new customers, not one burst
                time.sleep(max(0.0, started + n / rate - time.monotonic()))
                conversation_id, at = _store(n, "f")
                stored[conversation_id] = at
            deadline = time.monotonic() + 120
            paged: dict[str, float] = {}
            while len(paged) < messages and time.monotonic() < deadline:
                paged.update({body["conversation_id"]: sent for body, sent in _outbox() if body["purpose"] == "page"})
                time.sleep(0.2)
        finally:
            drivers.stop()
        delays = [paged[c] - stored[c] for c in stored if c in paged]
        return {
            "messages": messages,
            "rate_per_s": rate,
            "paged": len(delays),
            "p50_s": statistics.median(delays) if delays else float("nan"),
            "p99_s": percentile(delays, 0.99, nearest_rank=True) if delays else float("nan"),
            "max_s": max(delays) if delays else float("nan"),
        }
    finally:
        stack.stop()
        shutil.rmtree(stack.state_dir, ignore_errors=True)


def burst(count: int) -> dict[str, int]:
    """(g): SMS to the on-call agent for `count` customers writing within one minute."""
    import boto3

    from local_stack.drivers import Drivers
    from switchboard.oncall.router import switchboard_from, tick
    from switchboard.settings import get_settings, load_settings
    from switchboard.store.pages import PageStore

    stack = _started()
    try:
        for name in ("BUNDLING_WINDOW_SECONDS", "PAGE_CAP_PER_15_MINUTES"):
            os.environ.pop(name, None)
        get_settings.cache_clear()
        _team("+14155550998")
        drivers = Drivers(stack.template, stack.resolver(), only=["RouterFunction"], log=open(os.devnull, "w")).start()
        start = datetime.now(timezone.utc)
        try:
            conversations = [_store(n, "g")[0] for n in range(count)]
            pages = PageStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and pages.get_page(conversations[-1]) is None:
                time.sleep(0.5)
        finally:
            drivers.stop()
        board = switchboard_from(load_settings())
        for minute in range(1, 6):
            tick(start + timedelta(minutes=minute, seconds=1), board)
        sms = [body for body, _ in _outbox() if body["to"] == "+14155550998"]
        tracked = sum(pages.get_page(c) is not None for c in conversations)
        return {"messages": count, "sms": len(sms), "pages": sum(b["purpose"] == "page" for b in sms), "digests": sum(b["purpose"] == "digest" for b in sms), "tracked": tracked}
    finally:
        stack.stop()
        shutil.rmtree(stack.state_dir, ignore_errors=True)


def _started():
    from local_stack.stack import LocalStack

    state_dir = Path(tempfile.mkdtemp(prefix="switchboard-bench-paging-"))
    stack = LocalStack(state_dir, public_url="http://127.0.0.1:9")
    stack.start()
    os.environ.update(stack.function_environment())
    return stack


def run(only: str, messages: int, burst_size: int, rate: float = 10.0) -> dict:
    """One figure in a fresh interpreter: the functions read their settings once, at import,
    and (f) and (g) need different bundling settings."""
    import json
    import subprocess

    done = subprocess.run(
        [sys.executable, __file__, "--only", only, "--messages", str(messages), "--burst", str(burst_size), "--rate", str(rate), "--json"],
        capture_output=True, text=True, timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"paging figure ({only}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def figure_f_g(report: Report, messages: int, burst_size: int) -> None:
    block(f"(f) stored → page latency ({messages} messages at 10/s) and (g) SMS to the on-call agent per {burst_size}-message burst")
    try:
        f = run("f", messages, burst_size)
        say(f"  {f['paged']}/{f['messages']} paged; stored → page in the outbox p50 {f['p50_s']:.3f} s, p99 {f['p99_s']:.3f} s, max {f['max_s']:.3f} s")
        met, miss = at_most(f["p50_s"], 1.0, " s", "{:.3f}")
        report.add(Row("(f)", "stored → page p50 ≤ 1 s", f"{f['p50_s']:.3f} s", met and f["paged"] == f["messages"], miss))
        met, miss = at_most(f["p99_s"], 2.0, " s", "{:.3f}")
        report.add(Row("(f)", "stored → page p99 ≤ 2 s", f"{f['p99_s']:.3f} s", met and f["paged"] == f["messages"], miss))
    except Exception as error:
        traceback.print_exc()
        report.error("(f)", "stored → page latency", error)
    try:
        g = run("g", messages, burst_size)
        say(f"  burst of {g['messages']}: {g['sms']} SMS ({g['pages']} page, {g['digests']} digests); {g['tracked']} conversations tracked by a page")
        met, miss = at_most(g["sms"], 10, " SMS", "{:.0f}")
        report.add(Row("(g)", f"≤ 10 SMS per {burst_size}-message burst, all tracked", f"{g['sms']} SMS, {g['tracked']} tracked", met and g["tracked"] == g["messages"], miss))
    except Exception as error:
        traceback.print_exc()
        report.error("(g)", "SMS per burst", error)


def main() -> int:
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=500, help="messages timed for (f) (default 500)")
    parser.add_argument("--burst", type=int, default=1000, help="messages in the burst of (g) (default 1000)")
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second for (f) (default 10)")
    parser.add_argument("--only", choices=["f", "g"], help="one figure, in this process")
    parser.add_argument("--json", action="store_true", help="print the figure as JSON")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT / "infra"))
    sys.path.insert(0, str(REPO_ROOT / "functions"))
    if args.only:
        figure = latency(args.messages, args.rate) if args.only == "f" else burst(args.burst)
        print(json.dumps(figure) if args.json else figure)
        return 0
    f = run("f", args.messages, args.burst, args.rate)
    print(f"(f) stored → page in the outbox, {f['rate_per_s']:g} messages/s: {f['paged']}/{f['messages']} paged; p50 {f['p50_s']:.3f} s, p99 {f['p99_s']:.3f} s, max {f['max_s']:.3f} s")
    g = run("g", args.messages, args.burst)
    print(f"(g) {g['messages']} messages in a burst → {g['sms']} SMS ({g['pages']} page, {g['digests']} digests); {g['tracked']} conversations tracked by a page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
