"""The artifacts `sam build` makes, built and run as Lambda runs them: by the artifact test
(tests/integration/test_sam_template.py) and benchmark (a) (tests/bench/imports.py).

Lambda's Python starts with the function's directory (/var/task) and the layer's (/opt/python)
on sys.path, both read-only. `run_probe` starts a fresh interpreter the same way: `-I -S`
(no site-packages, no PYTHON* variables), `-B` (no bytecode written), and only those two
directories added; an audit hook records every source file Python compiles.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
LAYER = "DependenciesLayer"
BUILD_TIMEOUT = 600  # seconds; the first run also installs the SAM CLI (~1 min here)

# Runs inside the fresh interpreter: argv = function dir, layer dir, module, handler attribute
# or "-", "audit" or "time". With a handler, it reads {"event": ..., "function": ...} from
# stdin and serves it once. "time" leaves the audit hook out: it costs a call per event.
PROBE = r"""
import json, sys, time
task, layer, module, handler, mode = sys.argv[1:6]
sys.path[:0] = [task, layer]
compiled = []
def audit(event, args):
    if event == "compile" and isinstance(args[1], str) and args[1].endswith(".py"):
        compiled.append(args[1])
if mode == "audit":
    sys.addaudithook(audit)
request = json.loads(sys.stdin.read()) if handler != "-" else None
t0 = time.perf_counter()
handler_module = __import__(module, fromlist=["_"])
imported = time.perf_counter()
result = None
if request is not None:
    class Context:
        function_name = request["function"]
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + function_name
        aws_request_id = "bench-request"
        function_version = "$LATEST"
        log_group_name = "/aws/lambda/" + function_name
        log_stream_name = "bench"
        def get_remaining_time_in_millis(self):
            return max(0, int((10 - (time.perf_counter() - imported)) * 1000))
    result = getattr(handler_module, handler)(request["event"], Context())
served = time.perf_counter()
print("PROBE " + json.dumps({
    "import_seconds": imported - t0,
    "serve_seconds": served - imported,
    "compiled": compiled,
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
    "result": result,
}, default=str), flush=True)
"""


# Runs inside a fresh interpreter: argv = a directory holding botocore, then service names.
# Prints what botocore makes of each service's data, documentation aside: every shape and
# operation, the available regions, and the endpoint a client resolves in each partition.
BOTOCORE_FINGERPRINT = r"""
import json, sys
sys.path[:0] = sys.argv[1:2]
import botocore.session
session = botocore.session.get_session()
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"]
def name(shape):
    return shape.name if shape is not None else None
def shape_of(shape):
    described = {"type": shape.type_name, "serialization": shape.serialization, "metadata": shape.metadata}
    if shape.type_name == "structure":
        described["members"] = {key: [name(member), member.serialization] for key, member in shape.members.items()}
    if shape.type_name == "list":
        described["member"] = [name(shape.member), shape.member.serialization]
    if shape.type_name == "map":
        described["map"] = [name(shape.key), name(shape.value)]
    return described
# One request per service, built to the last byte and stopped before it is sent: the
# endpoint rule set, the client context parameters and the serializer all run.
REQUESTS = {"dynamodb": ("get_item", {"TableName": "table", "Key": {"pk": {"S": "x"}}}), "s3": ("get_object", {"Bucket": "bucket", "Key": "key"}),
            "ses": ("send_raw_email", {"RawMessage": {"Data": b"Subject: x"}}),
            "sqs": ("send_message", {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": "x"}),
            "ssm": ("get_parameter", {"Name": "/switchboard/x", "WithDecryption": True})}
class Built(Exception):
    pass
def stop(request, **_):
    raise Built(request.method + " " + request.url + " " + str(sorted(request.headers.keys())) + " " + str(request.body))
def request_of(service, region):
    client = session.create_client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    client.meta.events.register("before-send", stop)
    operation, parameters = REQUESTS[service]
    try:
        getattr(client, operation)(**parameters)
    except Built as built:
        return str(built).replace(client.meta.config.user_agent or "", "")
    return None
found = {}
for service in sys.argv[2:]:
    model = session.get_service_model(service)
    found[service] = {
        "metadata": model.metadata,
        "shapes": {shape: shape_of(model.shape_for(shape)) for shape in model.shape_names},
        "operations": {op: [name(o.input_shape), name(o.output_shape), [name(e) for e in o.error_shapes], o.http, o.metadata,
                            o.auth_type, sorted(o.context_parameters and [p.name for p in o.context_parameters] or [])]
                       for op in model.operation_names for o in [model.operation_model(op)]},
        "regions": session.get_available_regions(service),
        "endpoints": {region: session.create_client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x").meta.endpoint_url
                      for region in REGIONS},
        "client_context": [[p.name, p.type] for p in model.client_context_parameters],
        "requests": {region: request_of(service, region) for region in REGIONS},
        "documented": any(model.operation_model(op).documentation for op in model.operation_names),
    }
print(json.dumps(found, default=str, sort_keys=True))
"""


def botocore_fingerprint(site: Path, services: list[str]) -> dict[str, Any]:
    """What botocore found in `site` reads as, per service (BOTOCORE_FINGERPRINT)."""
    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", BOTOCORE_FINGERPRINT, str(site), *services],
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_EC2_METADATA_DISABLED": "true"},
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"botocore from {site} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


@dataclass
class Build:
    directory: Path
    returncode: int
    output: str

    @property
    def layer_dir(self) -> Path:
        return self.directory / LAYER / "python"

    def function_dir(self, logical_id: str) -> Path:
        return self.directory / logical_id

    def artifact_dirs(self) -> list[Path]:
        return sorted(path for path in self.directory.iterdir() if path.is_dir())

    def size_bytes(self, path: Path | None = None) -> int:
        """Unzipped bytes (file sizes), as Lambda counts against its 250 MB limit."""
        root = path or self.directory
        return sum(file.stat().st_size for file in root.rglob("*") if file.is_file() and not file.is_symlink())

    def zipped_bytes(self, artifact: Path, scratch: Path) -> int:
        """What `sam deploy` uploads for one artifact: its directory, deflated into a zip."""
        archive = scratch / f"{artifact.name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for file in sorted(artifact.rglob("*")):
                if file.is_file():
                    zipped.write(file, file.relative_to(artifact))
        size = archive.stat().st_size
        archive.unlink()
        return size


def load_build_artifacts() -> Any:
    """functions/build_artifacts.py (what the artifacts hold), loaded by path: it is a
    script beside the package, not part of it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_artifacts", REPO_ROOT / "functions" / "build_artifacts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def host_wheel_arch() -> str:
    return {"arm64": "aarch64"}.get(platform.machine(), platform.machine())


def sam_build(build_dir: Path, wheel_arch: str | None = None, only: str | None = None) -> Build:
    """infra/sam-check.sh (sam validate --lint, then sam build) into build_dir; wheel_arch
    picks the dependencies' wheels (default: the template's arm64); `only` builds that one
    function (and its layer) without validating again."""
    env = {**os.environ, "SAM_BUILD_DIR": str(build_dir)}
    if wheel_arch:
        env["WHEEL_ARCH"] = wheel_arch
    if only:
        env["SAM_CHECK_VALIDATE"] = "0"
    done = subprocess.run(["bash", "infra/sam-check.sh", *([only] if only else [])], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=BUILD_TIMEOUT)
    return Build(build_dir, done.returncode, done.stdout)


@dataclass
class ProbeResult:
    wall_seconds: float  # from starting the interpreter to its answer (not its exit)
    import_seconds: float
    serve_seconds: float
    compiled: list[str]
    modules: list[str]
    result: Any


def run_probe(task_dir: Path, layer_dir: Path, module: str, env: dict[str, str], handler: str | None = None,
              event: Any = None, function_name: str = "Function", audit: bool = True,
              python: str = sys.executable) -> ProbeResult:
    """Import `module` from a function's artifact (task_dir) and the layer in a fresh
    interpreter; with `handler`, also serve `event` once, as a cold start's first
    invocation does. `audit` records what Python compiles (and costs a little time)."""
    args = [python, "-I", "-S", "-B", "-c", PROBE, str(task_dir), str(layer_dir), module, handler or "-", "audit" if audit else "time"]
    stdin = json.dumps({"event": event, "function": function_name}) if handler else ""
    started = time.perf_counter()
    wall, found = None, None
    with tempfile.TemporaryFile("w+") as errors, subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env, text=True
    ) as process:
        process.stdin.write(stdin)
        process.stdin.close()
        for line in process.stdout:  # the answer, timed when it arrives: Lambda keeps the process
            if line.startswith("PROBE "):
                wall = time.perf_counter() - started
                found = json.loads(line.removeprefix("PROBE "))
        returncode = process.wait(timeout=120)
        errors.seek(0)
        stderr = errors.read()
    if returncode != 0 or found is None:
        raise RuntimeError(f"{module} from {task_dir} failed ({returncode}):\n{stderr[-3000:]}")
    return ProbeResult(wall, found["import_seconds"], found["serve_seconds"], found["compiled"], found["modules"], found["result"])


def handler_environment(logical_id: str, public_url: str = "http://127.0.0.1:3000") -> dict[str, str]:
    """The function's environment as the local stack gives it, plus a region and dummy
    credentials: enough to import the handler (which reads its settings at import)."""
    from local_stack.stack import LOCAL_PARAMETERS
    from local_stack.template import Resolver, Template

    template = Template()
    spec = template.functions()[logical_id]
    resolver = Resolver(template, {"PublicUrl": public_url, **LOCAL_PARAMETERS})
    resolved = {name: str(resolver.resolve(value)) for name, value in spec.environment.items()}
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        **resolved,
    }
