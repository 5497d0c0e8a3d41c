"""What `sam build` puts in each artifact (template.yaml: `BuildMethod: makefile`, functions/Makefile).

    python3.12 build_artifacts.py layer    ARTIFACTS_DIR   # DependenciesLayer: the locked dependencies
    python3.12 build_artifacts.py function ARTIFACTS_DIR   # each function: the switchboard package

Lambda imports from a read-only /var/task and /opt, where Python can neither find nor write
bytecode, so a module without a .pyc is compiled on every cold start (4x the import time of
a compiled boto3). Both artifacts therefore carry .pyc files compiled here, by the runtime's
own Python, with `--invalidation-mode unchecked-hash`: Python uses them without comparing
mtimes (which a zip does not keep) and without writing anything.

The dependencies live in one layer, built once for all 14 functions, instead of a copy in
each (1.3 GB per build), with botocore's models for the services the functions call
only, without their documentation; each function holds only our package, without the CLI.
"""

from __future__ import annotations

import compileall
import gzip
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent
# template.yaml's Runtime: the bytecode's format is this Python's (tests/unit/test_artifacts.py).
RUNTIME = (3, 12)
# template.yaml's Architectures; WHEEL_ARCH=x86_64 builds an artifact this machine can import
# (tests/bench/imports.py measures one).
DEFAULT_WHEEL_ARCH = "aarch64"
# Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34): any manylinux wheel up to that.
MANYLINUX_TAGS = ("manylinux_2_34", "manylinux_2_28", "manylinux2014")
# In the lock only because twilio declares them for its asyncio client
# (twilio.http.async_http_client; tweepy.asynchronous uses them too), which no function
# imports: 11 MB not shipped. tests/integration/test_sam_template.py proves nothing else
# imports them.
NOT_SHIPPED = frozenset({
    "aiohappyeyeballs", "aiohttp", "aiohttp-retry", "aiosignal", "attrs",
    "frozenlist", "multidict", "propcache", "yarl",
})
# Our code that no function imports: the command-line tool and its helpers.
NOT_SHIPPED_CODE = ("switchboard/cli",)
# The AWS operations the functions call, by the service of each client they make
# (switchboard/store/clients.py). botocore ships the models of all 400+ services (26 MB),
# and a cold start's first client lists every one of their directories to find its own;
# a client's first creation parses its whole model (SSM's: 144 operations for our one).
# Tests keep this true: the services match clients.py, every action a function's role
# grants is kept, and every call a function makes during the integration suite is kept.
BOTOCORE_OPERATIONS: dict[str, frozenset[str]] = {
    "dynamodb": frozenset({"BatchGetItem", "DeleteItem", "GetItem", "PutItem", "Query", "TransactWriteItems", "UpdateItem"}),
    "s3": frozenset({"GetObject", "ListObjectsV2", "PutObject"}),
    "ses": frozenset({"SendRawEmail"}),
    "sqs": frozenset({"ChangeMessageVisibility", "SendMessage", "SendMessageBatch"}),
    "ssm": frozenset({"GetParameter"}),
}
BOTOCORE_SERVICES = frozenset(BOTOCORE_OPERATIONS)
# Mappings in a botocore model whose keys are names (a member may be called "documentation").
MODEL_NAME_MAPS = frozenset({"operations", "shapes", "members"})
# Kept whole: botocore reads each client context parameter's documentation (model.py).
MODEL_KEPT_WHOLE = frozenset({"clientContextParams"})


class BuildError(Exception):
    pass


def shipped_requirements(lock: str) -> str:
    """The hash-pinned lock without the NOT_SHIPPED entries (each entry: a pin, its hashes, its comments)."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock)
    names = [canonical(re.split(r"[=<>~!; \\]", entry, maxsplit=1)[0]) for entry in entries]
    kept = [entry for entry, name in zip(entries, names) if name not in NOT_SHIPPED]
    missing = NOT_SHIPPED - set(names)
    if missing:
        # A dependency change dropped them: keep the list true rather than silently stale.
        raise BuildError(f"NOT_SHIPPED names packages the lock no longer holds: {', '.join(sorted(missing))}")
    return "\n".join(kept)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def compile_bytecode(directory: Path) -> None:
    if not compileall.compile_dir(
        str(directory), quiet=1, workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    ):
        raise BuildError(f"compileall failed in {directory}")


def build_layer(artifacts: Path) -> None:
    arch = os.environ.get("WHEEL_ARCH") or DEFAULT_WHEEL_ARCH
    target = artifacts / "python"  # where Lambda puts a Python layer on sys.path (/opt/python)
    with tempfile.TemporaryDirectory() as work:
        requirements = Path(work) / "requirements.txt"
        requirements.write_text(shipped_requirements((SOURCE / "requirements.txt").read_text()))
        platforms = [arg for tag in MANYLINUX_TAGS for arg in ("--platform", f"{tag}_{arch}")]
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--root-user-action=ignore", "--require-hashes", "--no-deps", "--only-binary=:all:", "--no-compile",
            "--implementation", "cp", "--python-version", f"{RUNTIME[0]}.{RUNTIME[1]}", *platforms,
            "--target", str(target), "-r", str(requirements),
        ]
        if subprocess.run(command).returncode != 0:
            raise BuildError("pip could not install functions/requirements.txt (its output is above)")
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing runs them
    keep_botocore_models(target / "botocore" / "data", BOTOCORE_OPERATIONS)
    compile_bytecode(target)


def keep_botocore_models(data: Path, operations: dict[str, frozenset[str]]) -> None:
    """botocore's data for the named services' operations only, read as fast as a first client can.

    A cold start's first client parses endpoints.json (1.2 MB: every service's endpoints in
    every partition) and its service model (SSM's is 950 KB, three quarters documentation)
    with an OrderedDict per object: 40 ms of a 65 ms first client. So: every other service's
    directory goes, endpoints.json keeps the named services' entries (and every partition's
    regions), and each service-2.json.gz becomes a service-2.json of the named operations and
    the shapes they reach, without documentation (SSM's: 2 KB); paginators and waiters keep
    what names those operations, and the examples go.
    """
    services = frozenset(operations)
    missing = services - {path.name for path in data.iterdir() if path.is_dir()}
    if missing:
        raise BuildError(f"botocore has no model for {', '.join(sorted(missing))}")
    for path in data.iterdir():
        if path.is_dir() and path.name not in services:
            shutil.rmtree(path)
    endpoint_prefixes = set()  # endpoints.json names a service by its prefix (SES: "email")
    for compressed in data.glob("*/*/service-2.json.gz"):
        service = compressed.parent.parent.name
        model = json.loads(gzip.decompress(compressed.read_bytes()))
        endpoint_prefixes.add(model["metadata"]["endpointPrefix"])
        model = only_operations(model, operations[service])
        compressed.with_name("service-2.json").write_text(json.dumps(without_documentation(model), separators=(",", ":")))
        compressed.unlink()
        _keep_named_operations(compressed.with_name("paginators-1.json"), "pagination", operations[service])
        _keep_named_operations(compressed.with_name("waiters-2.json"), "waiters", operations[service])
        compressed.with_name("examples-1.json").unlink(missing_ok=True)
    endpoints_file = data / "endpoints.json"
    endpoints = json.loads(endpoints_file.read_text())
    for partition in endpoints["partitions"]:
        partition["services"] = {name: entry for name, entry in partition["services"].items() if name in endpoint_prefixes}
    endpoints_file.write_text(json.dumps(endpoints, separators=(",", ":")))


def only_operations(model: dict, kept: frozenset[str]) -> dict:
    """A service model with the kept operations and every shape they reach (inputs, outputs,
    errors, and the members of those, all the way down)."""
    unknown = kept - set(model["operations"])
    if unknown:
        raise BuildError(f"{model['metadata']['serviceId']} has no operation {', '.join(sorted(unknown))}")
    operations = {name: operation for name, operation in model["operations"].items() if name in kept}
    reached: set[str] = set()
    waiting = [name for operation in operations.values() for name in _shape_names(operation)]
    while waiting:
        name = waiting.pop()
        if name not in reached:
            reached.add(name)
            waiting.extend(_shape_names(model["shapes"][name]))
    shapes = {name: shape for name, shape in model["shapes"].items() if name in reached}
    return {**model, "operations": operations, "shapes": shapes}


def _shape_names(node: object) -> list[str]:
    """The shapes a part of a model refers to: each {"shape": name} in it."""
    if isinstance(node, list):
        return [name for value in node for name in _shape_names(value)]
    if not isinstance(node, dict):
        return []
    own = [node["shape"]] if isinstance(node.get("shape"), str) else []
    # A member may be called "shape" too: only a string under "shape" is a reference.
    return own + [name for key, value in node.items() if not (key == "shape" and isinstance(value, str)) for name in _shape_names(value)]


def _keep_named_operations(path: Path, section: str, kept: frozenset[str]) -> None:
    """Paginators (keyed by operation) and waiters (each naming its operation) for the kept operations."""
    if not path.exists():
        return
    document = json.loads(path.read_text())
    entries = document.get(section, {})
    document[section] = {
        name: entry for name, entry in entries.items()
        if (name if section == "pagination" else entry.get("operation")) in kept
    }
    path.write_text(json.dumps(document, separators=(",", ":")))


def without_documentation(node: object, keys_are_names: bool = False) -> object:
    """A botocore model without its "documentation" strings (help text, unused at runtime)."""
    if isinstance(node, list):
        return [without_documentation(value) for value in node]
    if not isinstance(node, dict):
        return node
    return {
        key: value if key in MODEL_KEPT_WHOLE and not keys_are_names
        else without_documentation(value, keys_are_names=not keys_are_names and key in MODEL_NAME_MAPS)
        for key, value in node.items()
        if keys_are_names or key != "documentation"
    }


def build_function(artifacts: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(SOURCE / "switchboard", artifacts / "switchboard", ignore=ignore, dirs_exist_ok=True)
    for path in NOT_SHIPPED_CODE:
        shutil.rmtree(artifacts / path)
    compile_bytecode(artifacts)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"layer", "function"}:
        print("usage:\n" + "\n".join(__doc__.strip().splitlines()[2:4]), file=sys.stderr)
        return 2
    if sys.version_info[:2] != RUNTIME:
        print(f"build_artifacts: Python {RUNTIME[0]}.{RUNTIME[1]} (the functions' runtime) must compile their bytecode; "
              f"this is {sys.version.split()[0]} ({sys.executable}). Put python{RUNTIME[0]}.{RUNTIME[1]} on PATH or set PYTHON.",
              file=sys.stderr)
        return 2
    artifacts = Path(argv[1])
    artifacts.mkdir(parents=True, exist_ok=True)
    try:
        (build_layer if argv[0] == "layer" else build_function)(artifacts)
    except BuildError as error:
        print(f"build_artifacts: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
