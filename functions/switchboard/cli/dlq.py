"""The `switchboard dlq` commands: what failed every retry, and giving it another go.

Each dead-letter queue holds one kind of failure, and is redriven its own way:

| name    | queue                  | holds                                   | redrive                                  |
|---------|------------------------|-----------------------------------------|------------------------------------------|
| outbox  | OutboxDeadLetterQueue  | pages, answers, confirmations unsent    | back onto OutboxQueue (sent once: keyed) |
| notices | NoticeDeadLetterQueue  | incident notices unsent                 | back onto NoticeQueue (claimed once)     |
| inbound | InboundDeadLetterQueue | emails EmailFunction failed on          | EmailFunction again, with the SES event  |
| router  | RouterDeadLetterQueue  | stream batches the router failed on     | the batch's records, read from the stream, to RouterFunction; past the stream's 24 h, the latest message of each conversation that still waits |
| fanout  | FanoutDeadLetterQueue  | stream batches the fan-out failed on    | the same, to NoticeFanoutFunction; past 24 h, every fan-out job since the batch not done |

A redriven message leaves its dead-letter queue only once its redrive succeeded; every
target is idempotent, so a redrive that stops halfway can simply be run again.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, Callable

from switchboard.cli.environment import data_environment
from switchboard.cli.errors import EXIT_USAGE, CliError
from switchboard.cli.output import format_table, print_json


@dataclass(frozen=True)
class DeadLetters:
    queue: str  # the dead-letter queue's logical id
    target: str  # the source queue's, or the function's
    kind: str  # "queue" | "async" | "stream"


QUEUES = {
    "outbox": DeadLetters("OutboxDeadLetterQueue", "OutboxQueue", "queue"),
    "notices": DeadLetters("NoticeDeadLetterQueue", "NoticeQueue", "queue"),
    "inbound": DeadLetters("InboundDeadLetterQueue", "EmailFunction", "async"),
    "router": DeadLetters("RouterDeadLetterQueue", "RouterFunction", "stream"),
    "fanout": DeadLetters("FanoutDeadLetterQueue", "NoticeFanoutFunction", "stream"),
}


def cmd_dlq_list(args: argparse.Namespace) -> int:
    import boto3

    with data_environment(args.stack):
        sqs = boto3.client("sqs")  # made here: the environment says where the queues are
        if not args.queue:
            counts = {name: _count(sqs, _queue_url(args.stack, spec.queue)) for name, spec in QUEUES.items()}
            if args.json:
                print_json(counts)
            else:
                print(format_table([[name, QUEUES[name].queue, str(count)] for name, count in counts.items()], ["NAME", "QUEUE", "MESSAGES"]))
            return 0
        spec = _spec(args.queue)
        messages = _peek(sqs, _queue_url(args.stack, spec.queue), args.limit)
    summaries = [{"id": m["MessageId"], "received": int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0)), **_summary(spec, m["Body"])} for m in messages]
    if args.json:
        print_json(summaries)
        return 0
    if not summaries:
        print(f"{args.queue}: empty")
        return 0
    print(format_table([[s["id"][:12], s["what"][:90]] for s in summaries], ["MESSAGE", "WHAT FAILED"]))
    return 0


def cmd_dlq_redrive(args: argparse.Namespace) -> int:
    import boto3

    spec = _spec(args.queue)
    with data_environment(args.stack):
        sqs = boto3.client("sqs")
        url = _queue_url(args.stack, spec.queue)
        handle = _redriver(spec, args.stack, sqs)
        moved = failed = 0
        for message in _receive_all(sqs, url, args.limit):
            try:
                handle(message["Body"])
            except Exception as error:  # it stays in the queue: say why, go on with the rest
                failed += 1
                print(f"{message['MessageId']}: not redriven: {error}")
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    print(f"{args.queue}: {moved} redriven, {failed} left in {spec.queue}")
    return 0 if not failed else 1


# ---- where, and how -------------------------------------------------------------------


def _spec(name: str) -> DeadLetters:
    if name not in QUEUES:
        raise CliError(f"no dead-letter queue {name!r}; they are: {', '.join(QUEUES)}", EXIT_USAGE)
    return QUEUES[name]


def _queue_url(stack_name: str | None, logical_id: str) -> str:
    from switchboard.cli.environment import physical_id

    return physical_id(stack_name, logical_id)  # a queue's physical id is its URL


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


def _peek(sqs: Any, url: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` messages, left where they are (visible again at once)."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(max(1, limit // 10) + 2):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]).get("Messages", [])
        if not batch:
            break
        seen.update({m["MessageId"]: m for m in batch})
        if len(seen) >= limit:
            break
    return list(seen.values())[:limit]


def _receive_all(sqs: Any, url: str, limit: int):
    """Messages to redrive, hidden for 5 minutes while this runs (a failed one comes back)."""
    taken = 0
    while taken < limit:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, limit - taken), VisibilityTimeout=300).get("Messages", [])
        if not batch:
            return
        for message in batch:
            taken += 1
            yield message


def _summary(spec: DeadLetters, body: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        return {"what": f"not JSON: {body[:60]!r}"}
    if spec.kind == "queue":
        where = f"{document.get('channel')} to {document.get('to')}"
        return {"what": f"{document.get('purpose')} {where}: {str(document.get('body', ''))[:50]!r}", "message": document}
    context = document.get("requestContext", {})
    error = (document.get("responsePayload") or {}).get("errorMessage") or document.get("responseContext", {}).get("functionError", "")
    if spec.kind == "async":
        mail = ((document.get("requestPayload") or {}).get("Records") or [{}])[0].get("ses", {}).get("mail", {})
        return {"what": f"email {mail.get('messageId')} from {mail.get('source')}: {context.get('condition')} {error}".strip(), "failure": document}
    batch = document.get("DDBStreamBatchInfo", {})
    what = f"{batch.get('batchSize')} stream records from {batch.get('approximateArrivalOfFirstRecord')}: {context.get('condition')} {error}".strip()
    return {"what": what, "failure": document}


def _redriver(spec: DeadLetters, stack_name: str | None, sqs: Any) -> Callable[[str], None]:
    from switchboard.cli.functions import invoke_function

    if spec.kind == "queue":
        target = _queue_url(stack_name, spec.target)
        return lambda body: sqs.send_message(QueueUrl=target, MessageBody=body)
    if spec.kind == "async":
        def again(body: str) -> None:
            payload = json.loads(body).get("requestPayload")
            if payload is None:
                raise ValueError("the failure record holds no event")
            invoke_function(stack_name, spec.target, payload)

        return again

    def replay_batch(body: str) -> None:
        from switchboard.cli.stream_batch import StreamTrimmed, stream_event, unfinished_fanouts_event, waiting_unpaged_event

        batch = json.loads(body)["DDBStreamBatchInfo"]
        try:
            event = stream_event(batch, spec.target)
        except StreamTrimmed:
            # Past the stream's 24 hours; what it held is in the table: redo what is undone.
            since = batch.get("approximateArrivalOfFirstRecord")
            if spec.target == "RouterFunction":
                print(f"the stream no longer holds this batch: paging the conversations that still wait since {since}")
                event = waiting_unpaged_event(batch)
            else:
                print(f"the stream no longer holds this batch: resuming the fan-outs not done since {since}")
                event = unfinished_fanouts_event(batch)
        if not event["Records"]:
            return  # none of the batch's records is one the function takes
        result = invoke_function(stack_name, spec.target, event)
        if isinstance(result, dict) and result.get("batchItemFailures"):
            raise RuntimeError(f"{spec.target} failed again on {len(result['batchItemFailures'])} records")

    return replay_batch


# ---- parser ----------------------------------------------------------------------------


def add_parsers(commands: Any, data_options: Any) -> None:
    dlq = commands.add_parser("dlq", help="messages that failed every retry (dead-letter queues), and redriving them").add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = dlq.add_parser("list", help="how many each queue holds; with a NAME, what they are")
    listing.add_argument("queue", nargs="?", metavar="NAME", help=f"one of {', '.join(QUEUES)}")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    data_options(listing)
    listing.set_defaults(run=cmd_dlq_list)
    redrive = dlq.add_parser("redrive", help="give a queue's messages another go; each leaves the queue once it succeeded")
    redrive.add_argument("queue", metavar="NAME", help=f"one of {', '.join(QUEUES)}")
    redrive.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    data_options(redrive)
    redrive.set_defaults(run=cmd_dlq_redrive)
