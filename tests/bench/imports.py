#!/usr/bin/env python3
"""(a) Cold start as deployed: what `sam build` makes, imported and run as Lambda runs it.

1. `sam build` (infra/sam-check.sh) twice: with the template's arm64 wheels (what deploys:
   its sizes, unzipped and zipped) and with this machine's wheels (what can run here).
2. Each handler module's cold import from its artifact (a fresh `python -I -S -B` with only
   the function's directory and the layer on sys.path, as /var/task and /opt/python),
   interleaved with a bare `import boto3` from the virtual environment's compiled
   site-packages; medians and their ratio; and SmsWebhookFunction's import from a copy
   without bytecode, as the artifacts were before they carried it.
3. A cold first response: a fresh interpreter imports the handler from the artifact and
   serves one real event (a new customer's SMS, email, call) against the local stack,
   next to a reference handler that imports boto3 and does one PutItem there.
4. The imports beyond boto3's under `-X importtime`, by module and by package: what to trim.

    .venv/bin/python tests/bench/imports.py [--quick]   # = run.py --only a
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import traceback
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

from common import PYTHON, REPO_ROOT, free_port
from report import Report, Row, at_most, block, say

sys.path.insert(0, str(REPO_ROOT / "tests"))
from lambda_artifact import Build, handler_environment, host_wheel_arch, run_probe, sam_build  # noqa: E402

IMPORT_RATIO_TARGET = 1.3
FIRST_RESPONSE_RATIO_TARGET = 1.5
BUILD_BYTES_TARGET = 300 * 1000 * 1000

# The reference for a cold first response: boto3 imported, one PutItem, nothing else.
REFERENCE_HANDLER = '''
import os, uuid
import boto3
from botocore.config import Config

dynamodb = boto3.client("dynamodb", config=Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 2}))


def handler(event, context):
    dynamodb.put_item(TableName=os.environ["TABLE_NAME"], Item={"pk": {"S": "bench#" + uuid.uuid4().hex}, "sk": {"S": "reference"}})
    return {"statusCode": 200}
'''


def handler_modules() -> dict[str, list[str]]:
    """Module → the template functions whose Handler lives in it."""
    from local_stack.template import Template

    modules: dict[str, list[str]] = {}
    for logical_id, spec in Template().functions().items():
        modules.setdefault(spec.handler.rpartition(".")[0], []).append(logical_id)
    return modules


@cache
def venv_site_packages() -> str:
    """Where the virtual environment's boto3 lives (pip compiled it there)."""
    code = "import boto3, pathlib; print(pathlib.Path(boto3.__file__).parents[1])"
    return subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def time_venv_boto3(env: dict[str, str]) -> float:
    """`import boto3` from the virtual environment's site-packages (compiled by pip), in an
    interpreter started as the handlers' is: `-I -S -B`, that one directory on sys.path.

    Not through `site`: the venv's `.pth` files (our editable install's finder) import
    re, enum, pathlib, urllib.parse and ~40 more before the timer starts, a head start
    of 10-15 ms that neither Lambda's boto3 nor the handlers get."""
    code = f"import sys, time; sys.path[:0] = [{venv_site_packages()!r}]; t=time.perf_counter(); import boto3; print(time.perf_counter()-t)"
    done = subprocess.run([PYTHON, "-I", "-S", "-B", "-c", code], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"import boto3 failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def print_sizes(report: Report, build: Build, scratch: Path, what: str) -> None:
    layer = build.directory / "DependenciesLayer"
    functions = [path for path in build.artifact_dirs() if path != layer]
    total = build.size_bytes()
    function_sizes = [build.size_bytes(path) for path in functions]
    say(f"  {what}: {len(functions)} functions + DependenciesLayer, {mb(total)} unzipped in all")
    say(f"    DependenciesLayer {mb(build.size_bytes(layer))}; each function {mb(min(function_sizes))}-{mb(max(function_sizes))}")
    heaviest = sorted(((build.size_bytes(p), p.name) for p in build.layer_dir.iterdir() if p.is_dir() and not p.name.endswith(".dist-info")), reverse=True)[:6]
    say("    heaviest in the layer (sources + bytecode): " + ", ".join(f"{name} {mb(size)}" for size, name in heaviest))
    layer_zip = build.zipped_bytes(layer, scratch)
    function_zips = [build.zipped_bytes(path, scratch) for path in functions]
    say(f"    what a deploy uploads (each artifact zipped): layer {mb(layer_zip)} + functions {len(functions)} x {mb(statistics.median(function_zips))} = {mb(layer_zip + sum(function_zips))}")
    met, miss = at_most(total / 1e6, BUILD_BYTES_TARGET / 1e6, " MB", "{:.0f}")
    report.add(Row("(a)", "whole build ≤ 300 MB unzipped", f"{mb(total)} (upload {mb(layer_zip + sum(function_zips))})", met, miss))


def figure_a(report: Report, tmp: Path, base_env: dict[str, str], reps: int, tree_runs: int, first_response_reps: int = 5) -> None:
    block(f"(a) Cold start as deployed: the `sam build` artifacts, each import in a fresh interpreter ({reps} interleaved runs)")
    try:
        started = time.perf_counter()
        deployed = sam_build(tmp / "sam-arm64" / "build")
        if deployed.returncode != 0:
            raise RuntimeError(f"sam build (arm64) failed:\n{deployed.output[-3000:]}")
        host = sam_build(tmp / "sam-host" / "build", host_wheel_arch())
        if host.returncode != 0:
            raise RuntimeError(f"sam build ({host_wheel_arch()}) failed:\n{host.output[-3000:]}")
        say(f"  two `sam build`s (arm64 as deployed, {host_wheel_arch()} to run here) in {time.perf_counter() - started:.0f} s")
        print_sizes(report, deployed, tmp, "as deployed (arm64)")
    except Exception as error:
        traceback.print_exc()
        report.error("(a)", "sam build", error)
        return
    cold_imports(report, host, tmp, base_env, reps)
    try:
        first_responses(report, host, tmp, base_env, first_response_reps)
    except Exception as error:
        traceback.print_exc()
        report.error("(a)", f"first response ≤ {FIRST_RESPONSE_RATIO_TARGET} × reference", error)
    try:
        heaviest_imports(host, base_env, tree_runs)
    except Exception as error:
        traceback.print_exc()
        report.error("(a)", "imports beyond boto3", error)


def cold_imports(report: Report, build: Build, tmp: Path, base_env: dict[str, str], reps: int) -> None:
    say()
    say("  cold import from the artifact (python -I -S -B; function dir + layer on sys.path) vs `import boto3` from compiled site-packages")
    for module, functions in handler_modules().items():
        target = f"{module.rsplit('.', 1)[-1]} import ≤ {IMPORT_RATIO_TARGET} × boto3"
        try:
            env = {**base_env, **handler_environment(functions[0])}
            task = build.function_dir(functions[0])
            compiled = run_probe(task, build.layer_dir, module, env).compiled  # also warms the page cache
            time_venv_boto3(env)
            boto3_times, handler_times = [], []
            for _ in range(reps):
                boto3_times.append(time_venv_boto3(env))
                handler_times.append(run_probe(task, build.layer_dir, module, env, audit=False).import_seconds)
            b, h = statistics.median(boto3_times), statistics.median(handler_times)
            ratio = h / b
            say(f"    {module:<44} {h * 1000:6.1f} ms vs boto3 {b * 1000:6.1f} ms = {ratio:.2f} ×   (min {min(handler_times) * 1000:.0f}, max {max(handler_times) * 1000:.0f}; compiled at import: {len(compiled)} files)")
            met, miss = at_most(ratio, IMPORT_RATIO_TARGET, " ×")
            if compiled:
                met, miss = False, f"compiled {len(compiled)} files at import"
            report.add(Row("(a)", target, f"{ratio:.2f} × ({h * 1000:.0f} vs {b * 1000:.0f} ms)", met, miss))
        except Exception as error:
            traceback.print_exc()
            report.error("(a)", target, error)

    # boto3 from the layer, as the functions import it, next to the compiled site-packages'.
    env = {**base_env, **handler_environment("SmsWebhookFunction")}
    layer_times, venv_times = [], []
    for _ in range(reps):
        layer_times.append(run_probe(build.function_dir("SmsWebhookFunction"), build.layer_dir, "boto3", env, audit=False).import_seconds)
        venv_times.append(time_venv_boto3(env))
    say(f"    `import boto3` from the layer {statistics.median(layer_times) * 1000:.0f} ms vs from the compiled site-packages {statistics.median(venv_times) * 1000:.0f} ms (medians of {reps})")

    # Before this build carried bytecode: the same artifact without __pycache__.
    module, functions = "switchboard.handlers.sms_webhook", handler_modules()["switchboard.handlers.sms_webhook"]
    task, layer = tmp / "no-bytecode" / "task", tmp / "no-bytecode" / "layer"
    shutil.copytree(build.function_dir(functions[0]), task, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(build.layer_dir, layer, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**base_env, **handler_environment(functions[0])}
    times = [run_probe(task, layer, module, env, audit=False).import_seconds for _ in range(max(3, reps // 3))]
    say(f"    for comparison, {module} from the same artifact without its bytecode: {statistics.median(times) * 1000:.0f} ms (median of {len(times)})")
    shutil.rmtree(tmp / "no-bytecode")


@dataclass
class FirstResponse:
    logical_id: str
    module: str
    describe: str
    event_for: Any  # () -> a new real event for a new customer
    ok: Any  # result -> bool


def first_responses(report: Report, build: Build, tmp: Path, base_env: dict[str, str], reps: int) -> None:
    from twilio.request_validator import RequestValidator

    from local_stack.gateway import api_gateway_event
    from local_stack.send import new_call_sid, new_ses_message_id, ses_receipt_event, twilio_sms_form, voicemail_requests
    from local_stack.stack import LOCAL_SUPPORT_EMAIL, LocalStack

    say()
    say(f"  cold first response: a fresh interpreter imports the handler from the artifact and serves one real event against the local stack ({reps} runs, interleaved with the reference)")
    public_url = f"http://127.0.0.1:{free_port()}"  # only signed over; nothing listens there
    stack = LocalStack(state_dir=tmp / "first-response-stack", public_url=public_url)
    stack.start()
    try:
        os.environ.update(stack.endpoints.environment())
        import boto3

        mail_bucket = stack.resolver().names["MailBucket"]
        s3 = boto3.client("s3")
        validator = RequestValidator(stack.auth_token)
        routes = {route.path: route for route in stack.template.http_routes()}
        numbers = iter(range(10_000))

        def twilio_event(path_and_query: str, form: dict[str, str]) -> dict[str, Any]:
            path = path_and_query.partition("?")[0]
            body = urlencode(form).encode()
            headers = [("Host", public_url.removeprefix("http://")), ("Content-Type", "application/x-www-form-urlencoded"),
                       ("X-Twilio-Signature", validator.compute_signature(public_url + path_and_query, form))]
            return api_gateway_event(routes[path], "POST", path_and_query, headers, body, "127.0.0.1", {})

        def new_number() -> str:
            return f"+1415555{next(numbers):04d}"

        def sms_event() -> dict[str, Any]:
            return twilio_event("/webhooks/twilio/sms", twilio_sms_form(new_number(), "hello, my invoice looks wrong"))

        def email_event() -> dict[str, Any]:
            ses_id, sender = new_ses_message_id(), f"{uuid.uuid4().hex[:10]}@bench.example"
            raw = (f"From: Bench <{sender}>\r\nTo: {LOCAL_SUPPORT_EMAIL}\r\nSubject: invoice\r\nMessage-ID: <{ses_id}@bench>\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n\r\nMy invoice looks wrong.\r\n").encode()
            s3.put_object(Bucket=mail_bucket, Key=f"inbound/{ses_id}", Body=raw)
            return ses_receipt_event(raw, ses_id, [LOCAL_SUPPORT_EMAIL], received_at=datetime.now(timezone.utc))

        def call_event() -> dict[str, Any]:
            path, form = next(iter(voicemail_requests(new_number(), new_call_sid(), text="please call back", duration=9)))
            return twilio_event(path, form)

        cases = [
            FirstResponse("SmsWebhookFunction", "switchboard.handlers.sms_webhook", "a new customer's SMS", sms_event, lambda r: r.get("statusCode") == 200),
            FirstResponse("EmailFunction", "switchboard.handlers.email_inbound", "a new customer's email", email_event, lambda r: r["messages"][0]["status"] == "stored"),
            FirstResponse("VoiceWebhookFunction", "switchboard.handlers.voice_webhook", "a new caller's first callback", call_event, lambda r: r.get("statusCode") == 200),
        ]
        reference_dir = tmp / "reference-function"
        reference_dir.mkdir(exist_ok=True)
        (reference_dir / "reference_handler.py").write_text(REFERENCE_HANDLER)
        for case in cases:
            target = f"{case.logical_id} first response ≤ {FIRST_RESPONSE_RATIO_TARGET} × reference"
            try:
                env = {**base_env, **handler_environment(case.logical_id, public_url), **stack.endpoints.environment()}
                ours, reference = [], []
                for index in range(reps + 1):  # the first of each: page cache and table warm-up, not counted
                    probe = run_probe(build.function_dir(case.logical_id), build.layer_dir, case.module, env, "handler", case.event_for(), case.logical_id, audit=False)
                    if not case.ok(probe.result):
                        raise RuntimeError(f"{case.logical_id} did not store the event: {str(probe.result)[:500]}")
                    ref = run_probe(reference_dir, build.layer_dir, "reference_handler", env, "handler", {}, "ReferenceFunction", audit=False)
                    if index:
                        ours.append(probe)
                        reference.append(ref)
                o = statistics.median(p.wall_seconds for p in ours)
                r = statistics.median(p.wall_seconds for p in reference)
                ratio = o / r
                say(f"    {case.logical_id:<22} {case.describe:<30} {o * 1000:6.0f} ms (import {statistics.median(p.import_seconds for p in ours) * 1000:.0f}, "
                    f"serve {statistics.median(p.serve_seconds for p in ours) * 1000:.0f}) vs reference {r * 1000:.0f} ms "
                    f"(import {statistics.median(p.import_seconds for p in reference) * 1000:.0f}, PutItem {statistics.median(p.serve_seconds for p in reference) * 1000:.0f}) = {ratio:.2f} ×")
                met, miss = at_most(ratio, FIRST_RESPONSE_RATIO_TARGET, " ×")
                report.add(Row("(a)", target, f"{ratio:.2f} × ({o * 1000:.0f} vs {r * 1000:.0f} ms)", met, miss))
            except Exception as error:
                traceback.print_exc()
                report.error("(a)", target, error)
        say("    (wall time from starting the interpreter to the handler's answer, both from the same layer's boto3; the")
        say("    handler's first event also reads its secret from SSM and creates its clients, as on Lambda)")
    finally:
        stack.stop()


# ---- what the imports cost beyond boto3's ------------------------------------------------


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    depth: int
    children: list["ImportNode"] = field(default_factory=list)


def import_tree(build: Build, logical_id: str, module: str, env: dict[str, str]) -> list[ImportNode]:
    """`-X importtime` of one fresh interpreter importing from the artifact, as a forest of import nodes."""
    code = f"import sys; sys.path[:0] = [{str(build.function_dir(logical_id))!r}, {str(build.layer_dir)!r}]; import {module}"
    done = subprocess.run([PYTHON, "-I", "-S", "-B", "-X", "importtime", "-c", code], env=env, capture_output=True, text=True, timeout=120)
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


def heaviest_imports(build: Build, base_env: dict[str, str], tree_runs: int) -> None:
    say()
    say(f"  imports beyond boto3's, from the artifact under -X importtime (which inflates them; median of {tree_runs} run(s)):")
    for module, functions in handler_modules().items():
        env = {**base_env, **handler_environment(functions[0])}
        boto3_modules = {node.name for _ in range(tree_runs) for node in walk(import_tree(build, functions[0], "boto3", env))}
        runs = [import_tree(build, functions[0], module, env) for _ in range(tree_runs)]
        beyond = median_costs([cost_beyond(run, boto3_modules) for run in runs])
        by_package: dict[str, float] = defaultdict(float)
        for name, (self_us, _, _) in beyond.items():
            by_package[name.split(".")[0]] += self_us
        top = sorted(by_package.items(), key=lambda item: -item[1])[:5]
        say(f"    {module.rsplit('.', 1)[-1]:<20} {len(beyond):4d} modules, {sum(v[0] for v in beyond.values()) / 1000:5.0f} ms: "
            + ", ".join(f"{package} {us / 1000:.0f}" for package, us in top))


if __name__ == "__main__":
    import run

    sys.exit(run.main(["--only", "a", *sys.argv[1:]]))
