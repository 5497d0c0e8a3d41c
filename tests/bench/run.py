#!/usr/bin/env python3
"""Switchboard benchmarks: prints figures (a)-(k), then a summary of the targets.

    make bench                                    # or: .venv/bin/python tests/bench/run.py
    .venv/bin/python tests/bench/run.py --quick   # small counts, a smoke test
    .venv/bin/python tests/bench/run.py --messages 2000 --keep

(a) cold start as deployed: the `sam build` artifacts' sizes, cold imports next to `import boto3`, cold first responses (imports.py)
(b) DynamoDB calls per inbound SMS on the hot path (in-process, counted by botocore events) (store_calls.py)
(c) inbound SMS/s through `switchboard local up` next to DynamoDB Local's raw put_item rate (throughput.py)
(d) resident memory of the whole local stack during and after (c) (throughput.py)
(e) email parse time (email_parse.py); (f) stored → page latency; (g) SMS per burst (paging.py)
(h) incident notice fan-out: time and memory for 10,000 subscribers (notices.py)
(i) notice pacing: the schedule the default rates imply, and the busiest second of a real run (notices.py)
(j) inbound SMS with 10% (then 60%) of DynamoDB requests failing: stored once, duplicated, lost, replay (faults.py)
(k) `switchboard report` over 10,000 conversations: Queries only, its time (report_time.py)
(l) an agent's conversation page over 200 messages: server time, one Query (agent_page.py)
(m) putting a call through: the TwiML answer time of each step of the hunt (live_calls.py)

This script is the runner: the options, the temporary directory and clean environment,
the order of the figures, the cleanup and the summary; each figure lives in the script
named above (in tests/bench/), the output helpers in report.py, the process helpers in
common.py. Everything runs on 127.0.0.1 in a temporary directory (never the repo's .local/),
and everything started here is stopped here, also on Ctrl-C, SIGTERM or an error. Missed
targets do not change the exit status; a figure that could not be measured does (1).
See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from agent_page import figure_l
from common import REPO_ROOT, Tracked, clean_environment, stop_own_children
from email_parse import figure_e
from faults import figure_j
from imports import figure_a
from live_calls import figure_m
from notices import figure_h, figure_i
from paging import figure_f_g
from report import Report, say
from report_time import figure_k
from store_calls import figure_b
from throughput import figure_c_d


# ---- main -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=None, metavar="N", help="messages per throughput run (default 1000; 60 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test of every figure")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data) and print its path")
    parser.add_argument("--only", choices=["a", "b", "c", "e", "f", "h", "i", "j", "k", "l", "m"], action="append", help="run only these figures (c includes d, f includes g); repeatable")
    args = parser.parse_args(argv)
    if args.messages is None:
        args.messages = 60 if args.quick else 1000
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    return args


_stopping = False


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C, SIGTERM, SIGHUP: stop once; later signals do not cut the cleanup short."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    global _stopping
    args = parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT / "infra"))  # local_stack, should the package not be installed
    sys.path.insert(0, str(REPO_ROOT / "functions"))
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    base_env = clean_environment(tmp)
    # This process too: no developer settings, no ~/.aws, no instance metadata.
    os.environ.clear()
    os.environ.update(base_env)

    reps = 3 if args.quick else 15
    tree_runs = 1 if args.quick else 3
    raw_count = 100 if args.quick else 1000
    raw_warmup = 100 if args.quick else 500
    warmup = 10 if args.quick else 50
    only = set(args.only or ["a", "b", "c", "e", "f", "h", "i", "j", "k", "l", "m"])
    report = Report()
    tracked = Tracked()
    interrupted = False
    say(f"Switchboard benchmark — {time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, temp dir {tmp}")
    say(f"options: messages={args.messages}{' quick' if args.quick else ''}; import runs={reps}; raw put_item calls={raw_count}")
    say("load average before starting: " + " ".join(f"{load:.2f}" for load in os.getloadavg()) + " (other work on this machine skews every figure)")
    try:
        if "a" in only:
            figure_a(report, tmp, base_env, reps, tree_runs, 2 if args.quick else 7)
        if "b" in only:
            with contextlib.ExitStack() as b_cleanups:
                figure_b(report, tmp, b_cleanups)
        if "e" in only:
            figure_e(report, 20 if args.quick else 200)
        if "f" in only:
            figure_f_g(report, 50 if args.quick else 500, 100 if args.quick else 1000)
        if "h" in only:
            figure_h(report, 200 if args.quick else 2000, 1000 if args.quick else 10_000, 200 if args.quick else 1000)
        if "i" in only:
            figure_i(report, 60 if args.quick else 300)
        if "j" in only:
            with contextlib.ExitStack() as j_cleanups:
                figure_j(report, tmp, j_cleanups, 100 if args.quick else 1000)
        if "k" in only:
            figure_k(report, 1000 if args.quick else 10_000)
        if "l" in only:
            figure_l(report, 200, 50 if args.quick else 200)
        if "m" in only:
            figure_m(report, 20 if args.quick else 100)
        if "c" in only:
            with contextlib.ExitStack() as cd_cleanups:
                figure_c_d(report, tmp, base_env, args.messages, raw_count, raw_warmup, warmup, tracked, cd_cleanups)
    except KeyboardInterrupt:
        interrupted = True
        say("\ninterrupted: everything started here has been stopped")
    finally:
        _stopping = True  # from here on, signals are ignored: the cleanup runs to its end
        try:
            stop_own_children(tracked)
        finally:
            if args.keep:
                say(f"kept {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    if interrupted:
        return 130
    report.print_summary()
    say(f"total time {time.perf_counter() - started:.0f} s")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
