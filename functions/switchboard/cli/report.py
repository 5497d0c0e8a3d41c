"""The `switchboard report` command: per channel and for the team, first responses (median,
p90, share within the channel's target), conversations resolved and how long they took,
the follow-ups promised, and satisfaction (ratings, share of 4-5, mean). Queries only (the activity and ByDue indexes), never a Scan."""

from __future__ import annotations

import argparse
from typing import Any

from switchboard.cli.environment import data_environment, open_conversation_store, required_env
from switchboard.cli.errors import EXIT_USAGE, CliError
from switchboard.cli.output import format_table, print_json, when
from switchboard.models import to_json_dict

# At most this many conversations active in the period are read: a report past it says so.
MAX_CONVERSATIONS = 100_000


def cmd_report(args: argparse.Namespace) -> int:
    import boto3

    from switchboard.conversations.report import FollowUp, parse_since, report
    from switchboard.models import utc_now
    from switchboard.oncall.config import load_config
    from switchboard.oncall.schedule import open_seconds
    from switchboard.store.oncall import OncallStore
    from switchboard.store.pages import PageStatus, PageStore

    now = utc_now()
    try:
        since = parse_since(args.since, now)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    with data_environment(args.stack):
        client, table = boto3.client("dynamodb"), required_env("TABLE_NAME")
        store = open_conversation_store()
        conversations = store.list_conversations(limit=MAX_CONVERSATIONS, active_since=since)
        config = load_config(OncallStore(client, table))
        policy = config.policy
        promised = PageStore(client, table).follow_ups()
        channels = {c.conversation_id: c.channel.value for c in conversations}
        missing = [page.conversation_id for page in promised if page.conversation_id not in channels]
        channels.update({c.conversation_id: c.channel.value for c in store.get_conversations(missing)})
    follow_ups = [FollowUp(channels.get(page.conversation_id, "unknown"), page.status != PageStatus.SNOOZED) for page in promised]
    figures = report(conversations, since, policy.first_response_target, follow_ups,
                     waited_in_hours=lambda start, end: open_seconds(config.schedule, start, end))
    if args.json:
        print_json({"since": to_json_dict(since), "until": to_json_dict(now), "channels": [to_json_dict(f) for f in figures],
                    "truncated": len(conversations) >= MAX_CONVERSATIONS})
        return 0
    print(f"From {when(since)} to {when(now)} UTC")
    if not figures:
        print("no conversations in that period")
        return 0

    def minutes(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / 60:.1f} min"

    def hours(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / 3600:.1f} h"

    def within(f) -> str:  # minutes in business hours, as the acknowledgement promises
        target = f" of {f.first_response_target_minutes} min" if f.first_response_target_minutes else ""
        return "-" if f.within_target_share is None else f"{f.within_target_share:.0%}{target}"

    def satisfaction(f) -> list[str]:
        if not f.satisfaction_responses:
            return [f"0 of {f.satisfaction_asked}", "-", "-"]
        return [f"{f.satisfaction_responses} of {f.satisfaction_asked}", f"{f.satisfaction_good_share:.0%}", f"{f.satisfaction_mean:.1f}"]

    rows = [
        [f.channel, str(f.conversations), str(f.answered), minutes(f.first_response_median_seconds), minutes(f.first_response_p90_seconds),
         within(f), str(f.resolved), hours(f.resolution_median_seconds), str(f.follow_ups_due), str(f.follow_ups_overdue),
         *satisfaction(f)]
        for f in figures
    ]
    print(format_table(rows, ["CHANNEL", "CONVERSATIONS", "ANSWERED", "FIRST RESPONSE p50", "p90", "WITHIN TARGET",
                              "RESOLVED", "TO RESOLVE p50", "FOLLOW-UPS DUE", "OVERDUE", "RATED", "RATED 4-5", "MEAN"]))
    if len(conversations) >= MAX_CONVERSATIONS:
        print(f"(the first {MAX_CONVERSATIONS:,} conversations active in the period only: shorten --since)")
    return 0


# ---- parser ----------------------------------------------------------------------------


def add_parsers(commands: Any, data_options: Any) -> None:
    report_command = commands.add_parser(
        "report", help="first responses (median, p90, within target), resolutions, follow-ups and satisfaction, per channel and for the team",
    )
    report_command.add_argument("--since", default="7d", help="7d, 24h, 90m, 2w or a date (default 7d)")
    data_options(report_command)
    report_command.set_defaults(run=cmd_report)
