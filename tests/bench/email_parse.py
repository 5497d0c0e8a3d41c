#!/usr/bin/env python3
"""Email parsing speed: every tests/fixtures/mime/*.eml (the shared MIME corpus) through parse_email.

    .venv/bin/python tests/bench/email_parse.py                  # 200 parses per file
    .venv/bin/python tests/bench/email_parse.py --iterations 1000

Prints the median and 90th percentile of one parse per file and over all parses (ms),
with the load average, since a busy machine moves the figures. Target: overall median
≤ 5 ms. The first parse of the run (lazy imports of bs4 and mailparser_reply, regex
compilation) is timed separately as "first": a cold Lambda pays it once.
`run(iterations)` returns the same figures for another script; `figure_e` prints them as
run.py's block (e) and adds its row to the summary.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import traceback
from pathlib import Path

from report import Report, Row, at_most, block, percentile, say

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT / "tests" / "fixtures" / "mime"
TARGET_MEDIAN_MS = 5.0



def _parse_email():
    """The parser, imported when a run starts (a failed import is then a figure not measured)."""
    try:
        from switchboard.channels.mime import parse_email
    except ImportError:  # not installed with `pip install -e`: use the source tree
        sys.path.insert(0, str(REPO_ROOT / "functions"))
        from switchboard.channels.mime import parse_email
    return parse_email


def _figures(timings_ms: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(timings_ms),
        "p90_ms": percentile(timings_ms, 0.9),
        "parses": len(timings_ms),
    }


def run(iterations: int = 200) -> dict:
    """Parse each corpus file `iterations` times, interleaved (file 1, 2, ..., 1, 2 ...)
    so that drift on a shared machine spreads over all files alike.

    Returns {"first_parse_ms", "files": {name: {median_ms, p90_ms, parses}},
    "overall": {median_ms, p90_ms, parses}, "worst_file", "target_median_ms", "met"}.
    """
    paths = sorted(CORPUS.glob("*.eml"))
    if not paths:
        raise SystemExit(f"no .eml files in {CORPUS}")
    messages = {path.name: path.read_bytes() for path in paths}
    parse_email = _parse_email()

    started = time.perf_counter()
    parse_email(next(iter(messages.values())))
    first_parse_ms = (time.perf_counter() - started) * 1000

    timings: dict[str, list[float]] = {name: [] for name in messages}
    for _ in range(iterations):
        for name, raw in messages.items():
            started = time.perf_counter()
            parse_email(raw)
            timings[name].append((time.perf_counter() - started) * 1000)

    files = {name: _figures(values) for name, values in timings.items()}
    overall = _figures([value for values in timings.values() for value in values])
    worst = max(files, key=lambda name: files[name]["median_ms"])
    return {
        "first_parse_ms": first_parse_ms,
        "files": files,
        "overall": overall,
        "worst_file": worst,
        "target_median_ms": TARGET_MEDIAN_MS,
        "met": overall["median_ms"] <= TARGET_MEDIAN_MS,
    }


def figure_e(report: Report, iterations: int) -> None:
    block(f"(e) Email parse time per message over the MIME corpus, tests/fixtures/mime ({iterations} parses of each file)")
    target = f"median ≤ {TARGET_MEDIAN_MS} ms per message"
    try:
        figures = run(iterations)
        overall = figures["overall"]
        for name, numbers in figures["files"].items():
            say(f"  {name:<66} median {numbers['median_ms']:6.2f} ms   p90 {numbers['p90_ms']:6.2f} ms")
        say(f"  {'all files':<66} median {overall['median_ms']:6.2f} ms   p90 {overall['p90_ms']:6.2f} ms")
        met, miss = at_most(overall["median_ms"], TARGET_MEDIAN_MS, " ms")
        report.add(Row("(e)", f"email parse {target}", f"{overall['median_ms']:.2f} ms (p90 {overall['p90_ms']:.2f})", met, miss))
    except Exception as error:
        traceback.print_exc()
        report.error("(e)", target, error)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", "-n", type=int, default=200, help="parses per file (200)")
    args = parser.parse_args()

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    result = run(args.iterations)
    print(f"first parse (lazy imports, regex compilation): {result['first_parse_ms']:.1f} ms")
    width = max(len(name) for name in result["files"])
    print(f"{'file':<{width}}  {'median ms':>9}  {'p90 ms':>7}")
    for name, figures in result["files"].items():
        print(f"{name:<{width}}  {figures['median_ms']:>9.3f}  {figures['p90_ms']:>7.3f}")
    overall = result["overall"]
    print(f"{'overall':<{width}}  {overall['median_ms']:>9.3f}  {overall['p90_ms']:>7.3f}")
    print(f"worst file (by median): {result['worst_file']}")
    verdict = "met" if result["met"] else "MISSED"
    print(f"target: median ≤ {result['target_median_ms']} ms per message: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
