"""(l) The conversation page an agent opens from a page SMS, over a conversation of 200
messages across channels: the server's time per GET, and the DynamoDB calls it makes.

A LocalStack of its own holds one customer (an email address and a phone), a conversation
of 200 messages (every tenth one ours, some with attachments), its page, the on-call
agent and a link issued to them; AgentPagesFunction's handler serves `GET /c/<token>` in
this process (its event as the local gateway makes it), 20 warm-up requests then 200
timed ones, every DynamoDB call counted by operation (a Scan fails the figure).

Run alone: .venv/bin/python tests/bench/agent_page.py [--messages 200] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from report import Report, Row, at_most, block, percentile, say

REPO_ROOT = Path(__file__).resolve().parents[2]
P99_TARGET_MS = 200.0


def _seed(messages: int, now: datetime) -> str:
    """The customer, the conversation, its page, Ana and her link: the link's token."""
    import boto3

    from switchboard.link_tokens import new_token, token_digest
    from switchboard.models import iso_utc
    from switchboard.oncall.config import add_agent, load_config
    from switchboard.oncall.schedule import Agent
    from switchboard.store import keys
    from switchboard.store.agent_access import AgentAccessStore, Grant
    from switchboard.store.dynamo import to_item
    from switchboard.store.oncall import OncallStore

    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    store = OncallStore(client, table)
    add_agent(store, load_config(store), Agent("ana", "Ana Lima", "+14155550100"), now - timedelta(days=1))
    conversation_id, customer_id = "01BENCHPAGECONVERSATION000", "01BENCHPAGECUSTOMER0000000"
    started = now - timedelta(hours=messages)
    email = {"kind": "email", "value": "grace@customer.example", "display_name": "Grace Hopper"}
    phone = {"kind": "phone", "value": "+14155550111"}
    items = [
        {**keys.customer_key(customer_id), "type": "customer", "customer_id": customer_id, "display_name": "Grace Hopper",
         "identities": {"email#grace@customer.example": email, "phone#+14155550111": phone}, "conversation_ids": [conversation_id],
         "current_conversation_id": conversation_id, "created_at": iso_utc(started)},
        {**keys.conversation_key(conversation_id), "type": "conversation", "conversation_id": conversation_id, "customer_id": customer_id,
         "customer_name": "Grace Hopper", "customer_identity": email, "channel": "email", "status": "waiting_on_us",
         "created_at": iso_utc(started), "last_activity_at": iso_utc(now), "waiting_since": iso_utc(now - timedelta(minutes=20)),
         "message_count": messages, "last_message_preview": "still waiting", "short_code": "42",
         "reply_to": {"channel": "email", "address": "grace@customer.example", "subject": "Refund"}},
        {**keys.page_key(conversation_id), "type": "page", "conversation_id": conversation_id, "code": "42", "status": "open",
         "opened_at": iso_utc(now - timedelta(minutes=20)), "round": 0, "level": 0, "recipients": ["ana"], "agents": ["ana"], "policy": {},
         "paged_at": {"ana": iso_utc(now - timedelta(minutes=20))}},
    ]
    for n in range(messages):
        at = started + timedelta(hours=n)
        ours = n % 10 == 9
        channel = "email" if n % 2 else "sms"
        message = {
            **keys.message_key(conversation_id, f"01BENCHMESSAGE{n:012d}"), "type": "message", "message_id": f"01BENCHMESSAGE{n:012d}",
            "conversation_id": conversation_id, "customer_id": customer_id, "channel": channel,
            "direction": "outbound" if ours else "inbound", "kind": "message", "provider": "agent-reply" if ours else "bench",
            "provider_id": f"bench-{n}", "sender": {"kind": "agent", "value": "ana", "display_name": "Ana Lima"} if ours else (email if channel == "email" else phone),
            "received_at": iso_utc(at), "body": f"Message {n}: " + "the invoice shows two charges for one order, please look into it. " * 4,
        }
        if channel == "email":
            message["subject"] = "Refund"
        if n % 25 == 3:
            message["media"] = [{"url": f"s3://{os.environ.get('MAIL_BUCKET', 'mail')}/attachments/bench/{n}.pdf", "content_type": "application/pdf",
                                 "filename": f"receipt-{n}.pdf", "size": 20480}]
        items.append(message)
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": to_item(item)}} for item in items[start:start + 25]]
        while requests:
            requests = client.batch_write_item(RequestItems={table: requests}).get("UnprocessedItems", {}).get(table, [])
    token = new_token()
    AgentAccessStore(client, table).put_link(token_digest(token), Grant("ana", now, now + timedelta(hours=24), conversation_id))
    return token


def _event(token: str) -> dict:
    from local_stack.gateway import api_gateway_event
    from local_stack.template import Route

    route = Route("GET", "/c/{token}", "AgentPagesFunction")
    return api_gateway_event(route, "GET", f"/c/{token}", [("Host", "127.0.0.1:3000"), ("Accept", "text/html")], b"", "127.0.0.1", {"token": token})


def measure(messages: int, requests: int) -> dict:
    from local_stack.invoke import invoke
    from local_stack.stack import LocalStack
    from local_stack.template import Template

    now = datetime.now(timezone.utc)
    stack = LocalStack(state_dir=Path(tempfile.mkdtemp(prefix="agent-page-bench-")))
    stack.start()
    try:
        os.environ.update({**stack.function_environment(), **stack.endpoints.environment()})
        token = _seed(messages, now)
        spec = Template().functions()["AgentPagesFunction"]
        event = _event(token)
        for _ in range(20):  # warm: the import, the clients, DynamoDB Local's JIT
            answer = invoke(spec, event)
        if answer["statusCode"] != 200:
            raise RuntimeError(f"the page answered {answer['statusCode']}: {answer['body'][:500]}")
        from switchboard.store import clients

        calls: Counter = Counter()
        clients.dynamodb().meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            answer = invoke(spec, event)
            times.append((time.perf_counter() - started) * 1000)
        size = len(answer["body"].encode())
        shown = answer["body"].count('<li class="msg ')
    finally:
        stack.stop()
    return {"times": times, "calls": {name: count / requests for name, count in calls.items()}, "size": size, "shown": shown}


def figure_l(report: Report, messages: int, requests: int) -> None:
    block(f"(l) An agent's conversation page over {messages} messages: server time per GET /c/<token> ({requests} requests, in-process, local stack)")
    target = f"conversation page of {messages} messages p99 ≤ {P99_TARGET_MS:.0f} ms, one Query, no Scan"
    try:
        m = measure(messages, requests)
    except Exception as error:
        traceback.print_exc()
        report.error("(l)", target, error)
        return
    times = m["times"]
    p50, p99 = statistics.median(times), percentile(times, 0.99)
    say(f"  p50 {p50:.1f} ms, p90 {percentile(times, 0.9):.1f} ms, p99 {p99:.1f} ms, max {max(times):.1f} ms; page {m['size'] / 1024:.0f} KB, {m['shown']} messages shown")
    say("  DynamoDB calls per request: " + ", ".join(f"{name} {count:g}" for name, count in sorted(m["calls"].items())))
    met, miss = at_most(p99, P99_TARGET_MS, " ms", "{:.1f}")
    if m["calls"].get("Scan") or m["calls"].get("Query", 0) > 1:
        met, miss = False, f"{m['calls'].get('Query', 0):g} Query, {m['calls'].get('Scan', 0):g} Scan per request"
    report.add(Row("(l)", target, f"p99 {p99:.1f} ms (p50 {p50:.1f})", met, miss))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    sys.path[:0] = [str(REPO_ROOT / "infra"), str(REPO_ROOT / "functions")]
    args = parser.parse_args()
    result = Report()
    figure_l(result, args.messages, args.requests)
    result.print_summary()
