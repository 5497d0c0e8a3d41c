"""The benchmark's output: one block per figure, then the summary table of its targets.

Shared by every figure script (run.py prints the summary). Also the one percentile helper
the figures take their p50/p90/p99 from.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def block(title: str) -> None:
    print()
    print("=" * 88)
    print(title)
    print("=" * 88, flush=True)


def say(text: str = "") -> None:
    print(text, flush=True)


@dataclass
class Row:
    figure: str
    target: str
    measured: str
    met: bool | None  # None: not measured (error) or informational
    miss: str = ""
    informational: bool = False


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def error(self, figure: str, target: str, error: BaseException) -> None:
        self.errors.append(figure)
        self.rows.append(Row(figure, target, "ERROR", None, f"{type(error).__name__}: {error}"[:60]))

    def print_summary(self) -> None:
        block("Summary")
        if not self.rows:
            say("nothing measured")
            return
        headers = ["fig", "target", "measured", "met", "missed by"]
        table = [
            [r.figure, r.target, r.measured, "info" if r.informational else ("n/a" if r.met is None else ("yes" if r.met else "NO")), r.miss]
            for r in self.rows
        ]
        widths = [max(len(headers[i]), *(len(row[i]) for row in table)) for i in range(len(headers))]
        say("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
        say("  ".join("-" * w for w in widths))
        for row in table:
            say("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        judged = [r for r in self.rows if not r.informational]
        met = sum(1 for r in judged if r.met)
        say()
        say(f"{met} of {len(judged)} targets met" + (f"; not measured: {', '.join(sorted(set(self.errors)))}" if self.errors else ""))


def at_most(value: float, limit: float, unit: str = "", fmt: str = "{:.2f}") -> tuple[bool, str]:
    if value <= limit:
        return True, ""
    return False, f"over by {fmt.format(value - limit)}{unit} ({(value / limit - 1) * 100:.0f}% over)"


def at_least(value: float, limit: float, unit: str = "", fmt: str = "{:.1f}") -> tuple[bool, str]:
    if value >= limit:
        return True, ""
    return False, f"short by {fmt.format(limit - value)}{unit} ({(1 - value / limit) * 100:.0f}% short)"


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def percentile(values: list[float], fraction: float, nearest_rank: bool = False) -> float:
    """The value at `fraction` of the sorted values; nan when there are none.

    By default the one at index int(fraction × n) (figure (c)'s latencies, figure (e)'s
    parse times); nearest_rank: the round(fraction × n)-th smallest (figure (f)'s delays).
    """
    if not values:
        return float("nan")
    ordered = sorted(values)
    if nearest_rank:
        return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered))) - 1))]
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
