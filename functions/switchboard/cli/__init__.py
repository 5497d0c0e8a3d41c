"""The `switchboard` command: read the stream, and run the functions on the local stack.

Data commands use the local stack by default (the running `make run`, or one started
for the command on the same data) and a deployed stack with --stack NAME.

One module per command group (conversations, customers, oncall, incidents, report,
quarantine, local) holds its runners and its sub-parsers (add_parsers); parser.py puts
them under one parser. Below them, shared by all: errors.py (CliError, exit codes),
output.py (tables, --json), environment.py (the stack the data is on) and
references.py (a customer named by id or identity).
"""

from __future__ import annotations

import sys
from typing import Sequence

from switchboard.cli.errors import CliError
from switchboard.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CliError as error:
        print(f"switchboard: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        return 130
