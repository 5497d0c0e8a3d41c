#!/usr/bin/env python3
"""Switchboard benchmarks: prints figures (a)-(i), then a summary of the targets.

    make bench                                    # or: .venv/bin/python tests/bench/run.py
    .venv/bin/python tests/bench/run.py --quick   # small counts, a smoke test
    .venv/bin/python tests/bench/run.py --messages 2000 --keep

(a) import time of each handler module next to a bare `import boto3`
(b) DynamoDB calls per inbound SMS on the hot path (in-process, counted by botocore events)
(c) inbound SMS/s through `switchboard local up` next to DynamoDB Local's raw put_item rate
(d) resident memory of the whole local stack during and after (c)
(e) email parse time; (f) stored → page latency; (g) SMS per burst (tests/bench/paging.py)
(h) incident notice fan-out: time and memory for 10,000 subscribers (tests/bench/notices.py)
(i) notice pacing: the schedule the default rates imply, and the busiest second of a real run

Everything runs on 127.0.0.1 in a temporary directory (never the repo's .local/), and
everything started here is stopped here, also on Ctrl-C, SIGTERM or an error. Missed
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
import traceback
from pathlib import Path

from common import REPO_ROOT, Tracked, clean_environment, stop_own_children
from imports import figure_a
from report import Report, Row, at_most, block, say
from store_calls import figure_b
from throughput import figure_c_d

EMAIL_PARSE_TARGET_MS = 5.0


# ---- (e) email parsing -------------------------------------------------------------------


def figure_e(report: Report, iterations: int) -> None:
    block(f"(e) Email parse time per message over the MIME corpus, tests/fixtures/mime ({iterations} parses of each file)")
    target = f"median ≤ {EMAIL_PARSE_TARGET_MS} ms per message"
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from email_parse import run as parse_run

        figures = parse_run(iterations)
        overall = figures["overall"]
        for name, numbers in figures["files"].items():
            say(f"  {name:<66} median {numbers['median_ms']:6.2f} ms   p90 {numbers['p90_ms']:6.2f} ms")
        say(f"  {'all files':<66} median {overall['median_ms']:6.2f} ms   p90 {overall['p90_ms']:6.2f} ms")
        met, miss = at_most(overall["median_ms"], EMAIL_PARSE_TARGET_MS, " ms")
        report.add(Row("(e)", f"email parse {target}", f"{overall['median_ms']:.2f} ms (p90 {overall['p90_ms']:.2f})", met, miss))
    except Exception as error:
        traceback.print_exc()
        report.error("(e)", target, error)


# ---- (f) stored → page latency and (g) SMS per burst ---------------------------------------


def figure_f_g(report: Report, messages: int, burst_size: int) -> None:
    block(f"(f) stored → page latency ({messages} messages at 10/s) and (g) SMS to the on-call agent per {burst_size}-message burst")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from paging import run as paging_run

    try:
        f = paging_run("f", messages, burst_size)
        say(f"  {f['paged']}/{f['messages']} paged; stored → page in the outbox p50 {f['p50_s']:.3f} s, p99 {f['p99_s']:.3f} s, max {f['max_s']:.3f} s")
        met, miss = at_most(f["p50_s"], 1.0, " s", "{:.3f}")
        report.add(Row("(f)", "stored → page p50 ≤ 1 s", f"{f['p50_s']:.3f} s", met and f["paged"] == f["messages"], miss))
        met, miss = at_most(f["p99_s"], 2.0, " s", "{:.3f}")
        report.add(Row("(f)", "stored → page p99 ≤ 2 s", f"{f['p99_s']:.3f} s", met and f["paged"] == f["messages"], miss))
    except Exception as error:
        traceback.print_exc()
        report.error("(f)", "stored → page latency", error)
    try:
        g = paging_run("g", messages, burst_size)
        say(f"  burst of {g['messages']}: {g['sms']} SMS ({g['pages']} page, {g['digests']} digests); {g['tracked']} conversations tracked by a page")
        met, miss = at_most(g["sms"], 10, " SMS", "{:.0f}")
        report.add(Row("(g)", f"≤ 10 SMS per {burst_size}-message burst, all tracked", f"{g['sms']} SMS, {g['tracked']} tracked", met and g["tracked"] == g["messages"], miss))
    except Exception as error:
        traceback.print_exc()
        report.error("(g)", "SMS per burst", error)


# ---- (h) notice fan-out and (i) pacing ----------------------------------------------------


def figure_h(report: Report, small: int, large: int, stock: int) -> None:
    block(f"(h) Fan-out of one incident update to {small:,} and {large:,} subscribers into the notice queue (NoticeFanoutFunction on the local stack)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import notices

    target_s, target_mib = notices.FANOUT_TARGET_S, notices.FANOUT_MEMORY_TARGET_MIB
    say("  the local stack's moto has its SQS fix (infra/local_stack/moto_main.py: moto 5.2.5 counts every queued message on each SendMessage);")
    say(f"  the last run ({stock:,} subscribers) is on moto as released" if stock else "  (no run on stock moto)")
    runs = []
    try:
        for count in (small, large):
            say(f"  N = {count:,}: a LocalStack of its own, seeding, the timed fan-out, then a second one under tracemalloc ...")
            runs.append(notices.run_fanout(count))
            for line in notices.fanout_lines(runs[-1]):
                say("  " + line)
    except Exception as error:
        traceback.print_exc()
        report.error("(h)", f"notices queued ≤ {target_s:.0f} s; fan-out peak ≤ {target_mib:.0f} MiB", error)
    if runs and runs[-1]["count"] == large:
        f = runs[-1]
        complete = f["in_queue"] == f["queued"] == large and not f["errors"]
        met, miss = at_most(f["to_queued_s"], target_s, " s")
        report.add(Row("(h)", f"{large:,} notices queued ≤ {target_s:.0f} s", f"{f['to_queued_s']:.1f} s = {f['queued'] / f['to_queued_s']:.0f}/s" + ("" if complete else " (INCOMPLETE)"), met and complete, miss))
        peak_mib = max(max(r["maxrss_kib"], r["rss_peak_kib"]) for r in runs) / 1024
        met, miss = at_most(peak_mib, target_mib, " MiB", "{:.0f}")
        growth = ", ".join(f"+{r['traced_growth_kib'] / 1024:.1f} at {r['count']:,}" for r in runs)
        report.add(Row("(h)", f"fan-out peak memory ≤ {target_mib:.0f} MiB (ru_maxrss)", f"{peak_mib:.0f} MiB; Python peak MiB {growth}", met, miss))
    if stock:
        try:
            say(f"  N = {stock:,} on stock moto ...")
            a = notices.run_fanout(stock, stock_moto=True)
            for line in notices.fanout_lines(a):
                say("  " + line)
            report.add(Row("(h)", f"{stock:,} notices queued on stock moto", f"{a['to_queued_s']:.1f} s = {a['queued'] / a['to_queued_s']:.0f}/s", None, informational=True))
        except Exception as error:
            traceback.print_exc()
            report.error("(h)", "notices queued on stock moto", error)


def figure_i(report: Report, numbers: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import notices

    block(f"(i) Notice pacing: the send schedule the default rates imply, and {numbers} SMS sent by two senders at SMS_RATE_PER_SECOND={notices.PACING_RATE:g}")
    try:
        for line in notices.schedule_lines():
            say("  " + line)
    except Exception as error:
        traceback.print_exc()
        report.error("(i)", "the schedule of the default rates", error)
    target = "busiest one-second window ≤ rate"
    try:
        p = notices.run_pacing(numbers)
        for line in notices.pacing_lines(p):
            say("  " + line)
        complete = p["sent"] == p["numbers"] and not p["problems"]
        met, miss = at_most(p["busiest"], p["rate"], " sends", "{:.0f}")
        report.add(Row("(i)", f"{target} ({p['rate']:g}/s)", f"{p['busiest']} sends" + ("" if complete else f" (only {p['sent']}/{p['numbers']} sent)"), met and complete, miss))
        report.add(Row("(i)", "achieved SMS rate", f"{p['numbers'] / p['span_s']:.2f}/s of {p['rate']:g}/s" if p["span_s"] else "n/a", None, informational=True))
    except Exception as error:
        traceback.print_exc()
        report.error("(i)", target, error)


# ---- main -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=None, metavar="N", help="messages per throughput run (default 1000; 60 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test of every figure")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data) and print its path")
    parser.add_argument("--only", choices=["a", "b", "c", "e", "f", "h", "i"], action="append", help="run only these figures (c includes d, f includes g); repeatable")
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
    only = set(args.only or ["a", "b", "c", "e", "f", "h", "i"])
    report = Report()
    tracked = Tracked()
    interrupted = False
    say(f"Switchboard benchmark — {time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, temp dir {tmp}")
    say(f"options: messages={args.messages}{' quick' if args.quick else ''}; import runs={reps}; raw put_item calls={raw_count}")
    say("load average before starting: " + " ".join(f"{load:.2f}" for load in os.getloadavg()) + " (other work on this machine skews every figure)")
    try:
        if "a" in only:
            figure_a(report, tmp, base_env, reps, tree_runs)
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
