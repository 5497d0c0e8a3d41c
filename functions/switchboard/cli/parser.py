"""The top-level `switchboard` parser: each command group module adds its own sub-commands."""

from __future__ import annotations

import argparse

from switchboard.cli import conversations, customers, dlq, incidents, local, oncall, quarantine, report

# In the order `switchboard --help` lists them.
GROUPS = (conversations, customers, oncall, incidents, report, quarantine, dlq, local)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard: one conversation per customer, on every channel.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--json", action="store_true", help="print JSON instead of a table")
        command.add_argument("--stack", metavar="NAME", help="a deployed CloudFormation stack (default: the local stack)")

    for group in GROUPS:
        group.add_parsers(commands, data_options)
    return parser
