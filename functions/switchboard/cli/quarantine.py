"""The `switchboard quarantine` commands: the requests Switchboard refused, with their reasons."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from switchboard.cli.environment import data_environment, required_env
from switchboard.cli.output import format_table, print_json


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    import boto3

    from switchboard.store.quarantine import QuarantineStore

    day = datetime.strptime(args.day, "%Y-%m-%d") if args.day else None
    with data_environment(args.stack):
        store = QuarantineStore(boto3.client("s3"), required_env("QUARANTINE_BUCKET"))
        records, older = store.page(day, limit=args.limit, before=args.before)
    more = f"older: switchboard quarantine list --before {older}" + (f" --day {args.day}" if args.day else "")
    if args.json:
        print_json(records)
        if older:
            print(more, file=sys.stderr)
        return 0
    if not records:
        print("no rejected requests")
        return 0
    rows = [[r["received_at"][:19], str(r["status"]), r["route"], r["reason"][:60] + (" (sampled)" if r.get("sampled") else ""), r["key"]] for r in records]
    print(format_table(rows, ["RECEIVED (UTC)", "STATUS", "ROUTE", "REASON", "KEY (for replay)"]))
    if older:
        print(more)
    return 0


def cmd_quarantine_replay(args: argparse.Namespace) -> int:
    """Hand a request we failed to store (a 503) to its function again; exactly once."""
    import boto3

    from local_stack.template import Template
    from switchboard.cli.errors import EXIT_NOT_FOUND, EXIT_USAGE, CliError
    from switchboard.cli.functions import invoke_function
    from switchboard.replay import NotReplayable, replay_event
    from switchboard.store.quarantine import QuarantineStore

    with data_environment(args.stack):
        record = QuarantineStore(boto3.client("s3"), required_env("QUARANTINE_BUCKET")).get(args.key)
    if record is None:
        raise CliError(f"no kept request {args.key!r} (see `switchboard quarantine list`)", EXIT_NOT_FOUND)
    try:
        event = replay_event(record)
    except NotReplayable as why:
        raise CliError(f"{args.key} cannot be replayed: {why}", EXIT_USAGE) from None
    routes = {route.route_key: route.function_id for route in Template().http_routes()}
    if record["route"] not in routes:
        raise CliError(f"{args.key}: no function serves {record['route']} in template.yaml", EXIT_USAGE)
    result = invoke_function(args.stack, routes[record["route"]], event)
    status = result.get("statusCode", 200) if isinstance(result, dict) else 200
    if args.json:
        print_json({"key": args.key, "function": routes[record["route"]], "status": status, "body": (result or {}).get("body")})
    else:
        print(f"{args.key}: {routes[record['route']]} answered {status}")
    return 0 if status < 400 else 1


# ---- parser ----------------------------------------------------------------------------


def add_parsers(commands: Any, data_options: Any) -> None:
    quarantine = commands.add_parser("quarantine", help="requests Switchboard refused").add_subparsers(dest="action", required=True, metavar="ACTION")
    rejected = quarantine.add_parser("list", help="refused requests with their reasons, newest first")
    rejected.add_argument("--day", metavar="YYYY-MM-DD", help="only this day (UTC)")
    rejected.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    rejected.add_argument("--before", metavar="KEY", help="only those older than this key (the last one of the previous page, printed after it)")
    data_options(rejected)
    rejected.set_defaults(run=cmd_quarantine_list)
    replay = quarantine.add_parser(
        "replay",
        help="hand a request we failed to store (kept with 503) to its function again; a replay of one stored since changes nothing",
    )
    replay.add_argument("key", metavar="KEY", help="the kept request's key (from `quarantine list`)")
    data_options(replay)
    replay.set_defaults(run=cmd_quarantine_replay)
