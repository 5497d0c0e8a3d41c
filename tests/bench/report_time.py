"""(k) `switchboard report` over 10,000 conversations on the local stack: Queries only.

A LocalStack of its own is seeded with N conversations active in the last week (SMS,
email, voice and X; most answered, half resolved, of those most asked how we did and
half of them rated) and 50 promised follow-ups; then the
report's reads and figures (what `cmd_report` does: the activity index, the on-call
policy, the ByDue index) are timed in this process, 5 runs, counting every DynamoDB call
by operation (a Scan would fail the figure); then once through the `switchboard report`
command itself, a fresh interpreter, as a user runs it.

Run alone: .venv/bin/python tests/bench/report_time.py [--conversations 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from report import Report, Row, at_most, block, say

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORT_TARGET_S = 5.0  # a team's week, answered while they wait at a terminal
CHANNELS = ("sms", "email", "voice", "x")


def _seed(count: int, now: datetime) -> float:
    """`count` conversation summaries, as the store writes them, and 50 snoozed pages."""
    import boto3

    from switchboard.models import iso_utc
    from switchboard.store import keys
    from switchboard.store.dynamo import to_item

    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    started = time.perf_counter()
    items = []
    for n in range(count):  # spread over the last six days
        created = now - timedelta(hours=1, minutes=(n * 7) % (6 * 24 * 60))
        active = created + timedelta(minutes=30)
        conversation_id = f"bench{n:08d}"
        item = {
            **keys.conversation_key(conversation_id), "type": "conversation", "conversation_id": conversation_id,
            "customer_id": f"customer{n:08d}", "customer_name": f"Customer {n}",
            "customer_identity": {"kind": "phone", "value": f"+1415{n:07d}"}, "channel": CHANNELS[n % 4],
            "status": "resolved" if n % 2 else "waiting_on_customer", "created_at": iso_utc(created), "last_activity_at": iso_utc(active),
            "message_count": 3, "last_message_preview": "my invoice shows two charges", "reply_to": {"channel": CHANNELS[n % 4], "address": f"+1415{n:07d}"},
            keys.ACTIVITY_PK: keys.ACTIVITY_PARTITION, keys.ACTIVITY_SK: keys.activity_sort_key(iso_utc(active), conversation_id),
        }
        if n % 10:  # nine in ten answered
            item.update(first_response_seconds=60 + (n * 37) % 3600, first_response_at=iso_utc(created + timedelta(minutes=5)))
        if n % 2:
            item["resolved_at"] = iso_utc(active)
            if n % 10 and CHANNELS[n % 4] != "x":  # answered, resolved: asked how we did
                item.update(surveyed_at=iso_utc(active), survey_message_id=f"q{n}")
                if n % 8 == 1:  # half of them answer
                    item["rating"] = {"score": 1 + n % 5, "channel": "sms", "at": iso_utc(active + timedelta(minutes=2))}
        items.append(item)
        if n < 50:
            items.append({
                **keys.page_key(conversation_id), "type": "page", "conversation_id": conversation_id, "code": str(1000 + n), "status": "snoozed",
                "opened_at": iso_utc(created), "round": 0, "level": 0, "recipients": [], "policy": {},
                "next_escalation_at": iso_utc(now + timedelta(hours=3)), keys.DUE_PK: keys.DUE_PARTITION,
                keys.DUE_SK: f"{iso_utc(now + timedelta(hours=3))}#{conversation_id}",
            })
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": to_item(item)}} for item in items[start:start + 25]]
        while requests:
            unprocessed = client.batch_write_item(RequestItems={table: requests}).get("UnprocessedItems", {})
            requests = unprocessed.get(table, [])
    return time.perf_counter() - started


def _report_once(now: datetime) -> tuple[float, Counter, list]:
    """What cmd_report reads and computes, timed, with every DynamoDB call counted."""
    import boto3

    from switchboard.conversations.report import FollowUp, parse_since, report
    from switchboard.oncall.config import load_config
    from switchboard.oncall.schedule import open_seconds
    from switchboard.store.conversations import ConversationStore
    from switchboard.store.oncall import OncallStore
    from switchboard.store.pages import PageStatus, PageStore

    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    calls: Counter = Counter()
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
    started = time.perf_counter()
    since = parse_since("7d", now)
    store = ConversationStore(client, table)
    conversations = store.list_conversations(limit=100_000, active_since=since)
    config = load_config(OncallStore(client, table))
    promised = PageStore(client, table).follow_ups()
    channels = {c.conversation_id: c.channel.value for c in conversations}
    follow_ups = [FollowUp(channels.get(p.conversation_id, "unknown"), p.status != PageStatus.SNOOZED) for p in promised]
    figures = report(conversations, since, config.policy.first_response_target, follow_ups,
                     waited_in_hours=lambda start, end: open_seconds(config.schedule, start, end))
    return time.perf_counter() - started, calls, figures


def measure(count: int) -> dict:
    from local_stack.stack import LocalStack

    now = datetime.now(timezone.utc)
    stack = LocalStack(state_dir=Path(tempfile.mkdtemp(prefix="report-bench-")))
    stack.start()
    stack.write_state(None)  # the command attaches to this stack, as to a running `make run`
    try:
        os.environ.update({**stack.function_environment(), **stack.endpoints.environment()})
        seed_s = _seed(count, now)
        runs = [_report_once(now) for _ in range(5)]
        env = {**os.environ, **stack.endpoints.environment(), "SWITCHBOARD_LOCAL_DIR": str(stack.state_dir)}
        started = time.perf_counter()
        done = subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "switchboard"), "report", "--since", "7d", "--json"],
                              env=env, capture_output=True, text=True, timeout=300)
        command_s = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"switchboard report failed ({done.returncode}): {done.stderr[-2000:]}")
    finally:
        stack.stop()
    seconds = [run[0] for run in runs]
    team = next(f for f in runs[-1][2] if f.channel == "team")
    return {"count": count, "seed_s": seed_s, "median_s": statistics.median(seconds), "max_s": max(seconds),
            "calls": dict(runs[-1][1]), "command_s": command_s, "team": team}


def figure_k(report: Report, count: int) -> None:
    block(f"(k) `switchboard report` over {count:,} conversations active in the last week (local stack, Queries only)")
    target = f"report over {count:,} conversations ≤ {REPORT_TARGET_S:.0f} s, no Scan"
    try:
        k = measure(count)
    except Exception as error:
        traceback.print_exc()
        report.error("(k)", target, error)
        return
    team = k["team"]
    say(f"  seeded {k['count']:,} conversations and 50 follow-ups in {k['seed_s']:.1f} s")
    say(f"  reads and figures: median {k['median_s']:.2f} s of 5 runs (max {k['max_s']:.2f} s); DynamoDB calls per run: "
        + ", ".join(f"{name} {n}" for name, n in sorted(k["calls"].items())))
    say(f"  the command as a user runs it (a fresh interpreter, --json): {k['command_s']:.2f} s")
    say(f"  team row: {team.conversations:,} conversations, {team.answered:,} answered, {team.within_target_share or 0:.0%} within target,"
        f" {team.resolved:,} resolved, {team.follow_ups_due} follow-ups due,"
        f" {team.satisfaction_responses:,} ratings of {team.satisfaction_asked:,} asked (mean {team.satisfaction_mean or 0:.1f})")
    scanned = k["calls"].get("Scan", 0)
    met, miss = at_most(k["median_s"], REPORT_TARGET_S, " s", "{:.2f}")
    if scanned:
        met, miss = False, f"{scanned} Scan calls"
    report.add(Row("(k)", target, f"{k['median_s']:.2f} s ({k['command_s']:.1f} s as a command)", met, miss))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    sys.path[:0] = [str(REPO_ROOT / "infra"), str(REPO_ROOT / "functions")]
    args = parser.parse_args()
    result = Report()
    figure_k(result, args.conversations)
    result.print_summary()
