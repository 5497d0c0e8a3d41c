#!/usr/bin/env python3
"""(a) Import time of each handler module in template.yaml next to a bare `import boto3`.

Each import in a fresh interpreter, interleaved (boto3, handler, boto3, …) to cancel drift;
medians and their ratio. Then the imports beyond boto3's under `-X importtime`, by module
and by package: what to trim.

    .venv/bin/python tests/bench/imports.py [--quick]   # = run.py --only a
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from common import PYTHON
from report import Report, Row, at_most, block, say

# The environment the handler modules read at import (figure a).
IMPORT_ENV = {
    "TABLE_NAME": "Table",
    "QUARANTINE_BUCKET": "b-u-c",
    "SWITCHBOARD_PUBLIC_URL": "http://127.0.0.1:3000",
    "TWILIO_AUTH_TOKEN_PARAMETER": "/switchboard/twilio/auth-token",
    "AWS_DEFAULT_REGION": "us-east-1",
    # What the email and X functions require beyond the globals (template.yaml sets them).
    "MAIL_BUCKET": "mail-bucket",
    "X_SUPPORT_ACCOUNT": "1500000000000000001:switchboardhq",
    # What the stream- and queue-driven functions require (template.yaml sets them).
    "OUTBOX_QUEUE_URL": "http://127.0.0.1:9/000000000000/OutboxQueue",
    "NOTICE_QUEUE_URL": "http://127.0.0.1:9/000000000000/NoticeQueue",
    # The senders refuse to start without a complete delivery choice.
    "SMS_DELIVERY": "outbox",
    "EMAIL_DELIVERY": "outbox",
    "X_DELIVERY": "outbox",
}

IMPORT_RATIO_TARGET = 1.3


def handler_modules() -> dict[str, list[str]]:
    """Module → the template functions whose Handler lives in it."""
    from local_stack.template import Template

    modules: dict[str, list[str]] = {}
    for logical_id, spec in Template().functions().items():
        modules.setdefault(spec.handler.rpartition(".")[0], []).append(logical_id)
    return modules


def time_import(module: str, env: dict[str, str], cwd: Path) -> float:
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    done = subprocess.run([PYTHON, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"import {module} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    depth: int
    children: list["ImportNode"] = field(default_factory=list)


def import_tree(module: str, env: dict[str, str], cwd: Path) -> list[ImportNode]:
    """`-X importtime` of one fresh interpreter, as a forest of import nodes (in import order)."""
    done = subprocess.run([PYTHON, "-X", "importtime", "-c", f"import {module}"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"import {module} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    # Children are printed before their parent, one level deeper.
    pending: list[ImportNode] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3:
            continue
        raw_name = parts[2].rstrip()
        depth = (len(raw_name) - len(raw_name.lstrip()) - 1) // 2
        node = ImportNode(raw_name.strip(), int(parts[0]), int(parts[1]), depth)
        while pending and pending[-1].depth > depth:
            node.children.insert(0, pending.pop())
        pending.append(node)
    return pending


def walk(nodes: list[ImportNode]) -> Iterator[ImportNode]:
    for node in nodes:
        yield node
        yield from walk(node.children)


def cost_beyond(nodes: list[ImportNode], baseline: set[str]) -> dict[str, tuple[int, int, int]]:
    """name → (own self µs, µs spent importing it and its subtree outside `baseline`, depth).

    A module's cumulative time includes boto3's own import when it is the one that
    pulls boto3 in; only what boto3 does not import itself is counted here.
    """
    costs: dict[str, tuple[int, int, int]] = {}

    def extra(node: ImportNode) -> int:
        total = (0 if node.name in baseline else node.self_us) + sum(extra(child) for child in node.children)
        if node.name not in baseline:
            costs[node.name] = (node.self_us, total, node.depth)
        return total

    for node in nodes:
        extra(node)
    return costs


def median_costs(runs: list[dict[str, tuple[int, int, int]]]) -> dict[str, tuple[float, float, int]]:
    names = set().union(*runs)
    merged = {}
    for name in names:
        present = [run[name] for run in runs if name in run]
        merged[name] = (statistics.median(p[0] for p in present), statistics.median(p[1] for p in present), present[0][2])
    return merged


def figure_a(report: Report, tmp: Path, base_env: dict[str, str], reps: int, tree_runs: int) -> None:
    block(f"(a) Import time: each handler module next to a bare `import boto3` (fresh interpreters, {reps} interleaved runs each)")
    target = f"handler import ≤ {IMPORT_RATIO_TARGET} × boto3"
    try:
        modules = handler_modules()
    except Exception as error:
        traceback.print_exc()
        report.error("(a)", target, error)
        return
    env = {**base_env, **IMPORT_ENV}
    cwd = tmp
    for module, functions in modules.items():
        try:
            # One unmeasured import each first: .pyc files written, files in the page cache.
            time_import("boto3", env, cwd)
            time_import(module, env, cwd)
            boto3_times, handler_times = [], []
            for _ in range(reps):
                boto3_times.append(time_import("boto3", env, cwd))
                handler_times.append(time_import(module, env, cwd))
            b, h = statistics.median(boto3_times), statistics.median(handler_times)
            ratio = h / b
            say(f"handler module: {module}  (functions: {', '.join(functions)})")
            for name, times in (("import boto3", boto3_times), (f"import {module}", handler_times)):
                say(f"  {name:<48} median {statistics.median(times) * 1000:7.1f} ms   min {min(times) * 1000:7.1f}   max {max(times) * 1000:7.1f}   (n={len(times)})")
            paired = statistics.median(hh / bb for hh, bb in zip(handler_times, boto3_times))
            say(f"  ratio handler / boto3 (medians)                    {ratio:.2f} ×   (target ≤ {IMPORT_RATIO_TARGET})")
            say(f"  cross-checks: median of paired ratios {paired:.2f} ×; ratio of minimums {min(handler_times) / min(boto3_times):.2f} ×")
            met, miss = at_most(ratio, IMPORT_RATIO_TARGET, " ×")
            report.add(Row("(a)", f"{module.rsplit('.', 1)[-1]} import ≤ {IMPORT_RATIO_TARGET} × boto3", f"{ratio:.2f} × ({h * 1000:.0f} vs {b * 1000:.0f} ms)", met, miss))

            boto3_modules = {node.name for _ in range(tree_runs) for node in walk(import_tree("boto3", env, cwd))}
            handler_runs = [import_tree(module, env, cwd) for _ in range(tree_runs)]
            beyond = median_costs([cost_beyond(run, boto3_modules) for run in handler_runs])
            total_modules = statistics.median(len({node.name for node in walk(run)}) for run in handler_runs)
            say()
            say(f"  imports beyond boto3's: {len(beyond)} modules ({total_modules:.0f} in all vs {len(boto3_modules)} for boto3),")
            say(f"  {sum(v[0] for v in beyond.values()) / 1000:.0f} ms of self time under -X importtime (which inflates it; median of {tree_runs} run(s))")
            say("  top by time beyond boto3 (the module and what it pulls in that boto3 does not; nested")
            say("  entries are included in their parents, depth shown by indent):")
            say(f"    {'beyond ms':>9} {'self ms':>8}  module")
            top = sorted((item for item in beyond.items() if item[0] != module), key=lambda item: -item[1][1])[:12]
            for name, (self_us, cumulative_us, depth) in top:
                say(f"    {cumulative_us / 1000:9.1f} {self_us / 1000:8.1f}  {'  ' * min(depth, 8)}{name}")
            by_package: dict[str, list[tuple[float, str]]] = defaultdict(list)
            for name, (self_us, _, _) in beyond.items():
                by_package[name.split(".")[0]].append((self_us, name))
            say("  self time by top-level package (beyond boto3):")
            for package, entries in sorted(by_package.items(), key=lambda item: -sum(e[0] for e in item[1]))[:10]:
                heaviest = ", ".join(f"{n} {us / 1000:.1f}" for us, n in sorted(entries, reverse=True)[:3])
                say(f"    {sum(e[0] for e in entries) / 1000:9.1f} ms  {package:<22} {len(entries):3d} modules; heaviest: {heaviest}")
        except Exception as error:
            traceback.print_exc()
            report.error("(a)", f"{module.rsplit('.', 1)[-1]} {target}", error)


if __name__ == "__main__":
    import run

    sys.exit(run.main(["--only", "a", *sys.argv[1:]]))
