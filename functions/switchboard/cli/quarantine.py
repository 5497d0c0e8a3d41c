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
    rows = [[r["received_at"][:19], str(r["status"]), r["route"], r["reason"][:70] + (" (sampled)" if r.get("sampled") else "")] for r in records]
    print(format_table(rows, ["RECEIVED (UTC)", "STATUS", "ROUTE", "REASON"]))
    if older:
        print(more)
    return 0


# ---- parser ----------------------------------------------------------------------------


def add_parsers(commands: Any, data_options: Any) -> None:
    quarantine = commands.add_parser("quarantine", help="requests Switchboard refused").add_subparsers(dest="action", required=True, metavar="ACTION")
    rejected = quarantine.add_parser("list", help="refused requests with their reasons, newest first")
    rejected.add_argument("--day", metavar="YYYY-MM-DD", help="only this day (UTC)")
    rejected.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    rejected.add_argument("--before", metavar="KEY", help="only those older than this key (the last one of the previous page, printed after it)")
    data_options(rejected)
    rejected.set_defaults(run=cmd_quarantine_list)
