"""The `switchboard report` command: first-response time (median, p90) and conversations resolved, per channel."""

from __future__ import annotations

import argparse
from typing import Any

from switchboard.cli.environment import data_environment, open_conversation_store
from switchboard.cli.errors import EXIT_USAGE, CliError
from switchboard.cli.output import format_table, print_json, when
from switchboard.models import to_json_dict


def cmd_report(args: argparse.Namespace) -> int:
    from switchboard.conversations.report import parse_since, report
    from switchboard.models import utc_now

    now = utc_now()
    try:
        since = parse_since(args.since, now)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    with data_environment(args.stack):
        conversations = open_conversation_store().list_conversations(limit=100_000, active_since=since)
    figures = report(conversations, since)
    if args.json:
        print_json({"since": to_json_dict(since), "until": to_json_dict(now), "channels": [to_json_dict(f) for f in figures]})
        return 0
    print(f"From {when(since)} to {when(now)} UTC")
    if not figures:
        print("no conversations in that period")
        return 0

    def minutes(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / 60:.1f} min"

    rows = [
        [f.channel, str(f.conversations), str(f.answered), minutes(f.first_response_median_seconds), minutes(f.first_response_p90_seconds), str(f.resolved)]
        for f in figures
    ]
    print(format_table(rows, ["CHANNEL", "CONVERSATIONS", "ANSWERED", "FIRST RESPONSE p50", "p90", "RESOLVED"]))
    return 0


# ---- parser ----------------------------------------------------------------------------


def add_parsers(commands: Any, data_options: Any) -> None:
    report_command = commands.add_parser("report", help="first-response time (median, p90) and conversations resolved, per channel")
    report_command.add_argument("--since", default="7d", help="7d, 24h, 90m, 2w or a date (default 7d)")
    data_options(report_command)
    report_command.set_defaults(run=cmd_report)
