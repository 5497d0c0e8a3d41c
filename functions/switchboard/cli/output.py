"""How commands print their result: a table or lines for a person, JSON with --json."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def emit(args: argparse.Namespace, document: Any, text: str) -> None:
    """The command's result: JSON with --json, else one line for a person."""
    if args.json:
        print_json(document)
    else:
        print(text)


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def format_table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) if rows else len(headers[i]) for i in range(len(headers))]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths)).rstrip()]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)
