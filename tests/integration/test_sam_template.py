"""template.yaml passes `sam validate --lint` and `sam build` (infra/sam-check.sh), and the
artifacts it builds are what Lambda should run: our package and the locked dependencies,
with bytecode Python uses from a read-only directory, and nothing no function imports.

No Docker and no AWS account: the script installs the SAM CLI from PyPI into a cached
virtual environment (once), and `sam build` fetches the functions' requirements from PyPI.
Two builds: the template's own (arm64 wheels, as deployed) and one with this machine's
wheels, which it can import.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker

from lambda_artifact import (
    BUILD_TIMEOUT, Build, botocore_fingerprint, handler_environment, host_wheel_arch, load_build_artifacts, run_probe, sam_build,
)
from local_stack.template import Template

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_BUILD_BYTES = 300 * 1000 * 1000  # issue 14's target for the whole build, unzipped
HOST_FUNCTION = "SmsWebhookFunction"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2 * BUILD_TIMEOUT + 60)]


build_artifacts = load_build_artifacts()


@pytest.fixture(scope="module")
def deployed_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Build, list[str]]:
    # sam writes build.toml next to the build dir, so give it a dir of its own.
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    watched = [".aws-sam", "samconfig.toml", "samconfig.yaml", "build"]
    before = {name for name in watched if (REPO_ROOT / name).exists()}
    build = sam_build(build_dir)
    after = {name for name in watched if (REPO_ROOT / name).exists()}
    assert build.returncode == 0, f"infra/sam-check.sh failed:\n{build.output}"
    return build, sorted(after - before)


@pytest.fixture(scope="module")
def build(deployed_build: tuple[Build, list[str]]) -> Build:
    return deployed_build[0]


@pytest.fixture(scope="module")
def host_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The same build with this machine's wheels, copied read-only as Lambda mounts it."""
    assert sys.version_info[:2] == build_artifacts.RUNTIME, f"the tests' Python must be the runtime's {build_artifacts.RUNTIME} to import the artifact"
    # One function is enough: every function's artifact is the same package (checked above).
    built = sam_build(tmp_path_factory.mktemp("sam-host") / "build", host_wheel_arch(), only=HOST_FUNCTION)
    assert built.returncode == 0, f"infra/sam-check.sh failed:\n{built.output}"
    read_only = tmp_path_factory.mktemp("read-only") / "build"
    shutil.copytree(built.directory, read_only)
    for path in read_only.rglob("*"):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return Build(read_only, 0, built.output)


def files(root: Path) -> dict[str, bytes]:
    """Every file's bytes; a .pyc by name only (marshal's output varies between two
    compilations of one source, with reference counts)."""
    return {str(path.relative_to(root)): b"" if path.suffix == ".pyc" else path.read_bytes() for path in root.rglob("*") if path.is_file()}


def python_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*.py") if "__pycache__" not in path.parts]


def test_sam_validate_lint_and_build_pass_and_leave_nothing_in_the_repo(deployed_build: tuple[Build, list[str]]) -> None:
    build, left_in_repo = deployed_build
    assert left_in_repo == [], f"sam left {left_in_repo} in the repo"
    assert (build.directory / "template.yaml").is_file(), build.output


def test_each_function_holds_our_package_without_the_cli_and_nothing_else(build: Build) -> None:
    functions = Template().functions()
    for logical_id, spec in functions.items():
        artifact = build.function_dir(logical_id)
        assert sorted(p.name for p in artifact.iterdir()) == ["switchboard"], logical_id
        handler_file = artifact / (spec.handler.rpartition(".")[0].replace(".", "/") + ".py")
        assert handler_file.is_file(), f"{logical_id}: no {handler_file}"
        for unshipped in build_artifacts.NOT_SHIPPED_CODE:
            assert not (artifact / unshipped).exists(), f"{logical_id} ships {unshipped}"
        assert files(artifact) == files(build.function_dir(HOST_FUNCTION)), f"{logical_id}: every function ships the same package"
    assert (REPO_ROOT / "functions" / "switchboard" / "cli").is_dir()  # the CLI exists; it just does not ship
    built = Template(build.directory / "template.yaml")
    assert built.document["Globals"]["Function"]["Layers"] == [{"Ref": "DependenciesLayer"}]
    assert {props.get("Layers") for props in built.of_type("AWS::Serverless::Function").values()} == {None}


def test_every_shipped_source_file_has_bytecode_the_runtime_uses_unchecked(build: Build) -> None:
    sources = python_files(build.directory)
    assert len(sources) > 1000, "the layer and the functions hold the sources"
    missing, checked = [], []
    magic = importlib.util.MAGIC_NUMBER
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-{build_artifacts.RUNTIME[0]}{build_artifacts.RUNTIME[1]}.pyc"
        if not pyc.is_file():
            missing.append(source)
            continue
        header = pyc.read_bytes()[:8]
        # PEP 552: flags 0b01 = hash-based, not checked against the source.
        if header[:4] != magic or int.from_bytes(header[4:8], "little") != 0b01:
            checked.append(pyc)
    assert missing == [], f"{len(missing)} sources without bytecode, e.g. {missing[:3]}"
    assert checked == [], f"{len(checked)} .pyc files Python would check or reject, e.g. {checked[:3]}"


def test_the_layer_holds_the_locked_dependencies_for_arm64_except_the_unshipped(build: Build) -> None:
    lock = (REPO_ROOT / "functions" / "requirements.txt").read_text()
    runtime = {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
               "platform_system": "Linux", "platform_machine": "aarch64", "implementation_name": "cpython"}
    locked = {}
    for name, version, marker in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)(?: ; ([^\\]*))? \\$", lock, re.MULTILINE):
        if not marker or Marker(marker).evaluate(runtime):
            locked[build_artifacts.canonical(name)] = version
    installed = {}
    for dist_info in build.layer_dir.glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[build_artifacts.canonical(name)] = version
    expected = {name: version for name, version in locked.items() if name not in build_artifacts.NOT_SHIPPED}
    assert installed == expected
    extensions = list(build.layer_dir.rglob("*.so"))
    assert extensions and all("aarch64" in path.name for path in extensions), [p.name for p in extensions if "aarch64" not in p.name]
    assert not (build.layer_dir / "bin").exists()
    models = {path.name for path in (build.layer_dir / "botocore" / "data").iterdir() if path.is_dir()}
    assert models == build_artifacts.BOTOCORE_SERVICES


def test_no_shipped_module_imports_what_is_not_shipped(build: Build) -> None:
    names = "|".join(re.escape(name.replace("-", "_")) for name in build_artifacts.NOT_SHIPPED)
    code_names = "|".join(re.escape(path.replace("/", ".")) for path in build_artifacts.NOT_SHIPPED_CODE)
    pattern = re.compile(rf"^\s*(?:import|from)\s+(?:{names}|{code_names})\b", re.MULTILINE)
    # twilio's and tweepy's asyncio clients: the modules that need them, imported by nothing we ship.
    asyncio_clients = [build.layer_dir / "twilio" / "http" / "async_http_client.py", build.layer_dir / "tweepy" / "asynchronous"]
    assert all(path.exists() for path in asyncio_clients), "an asyncio client moved: check what imports aiohttp now"
    offenders = [
        path for path in python_files(build.directory)
        if not any(path == client or client in path.parents for client in asyncio_clients)
        and pattern.search(path.read_text(errors="replace"))
    ]
    assert offenders == []


def test_the_layers_trimmed_botocore_reads_as_the_full_one_for_the_operations_kept(host_build: Build) -> None:
    """endpoints.json keeps only our services, their models only the operations the functions
    call, without documentation (build_artifacts.keep_botocore_models): every operation kept,
    every shape it reaches, every region and endpoint botocore makes of them, and a request
    built to the last byte, are the same as from the venv's untrimmed botocore."""
    import botocore

    services = sorted(build_artifacts.BOTOCORE_SERVICES)
    full = botocore_fingerprint(Path(botocore.__file__).parents[1], services)
    trimmed = botocore_fingerprint(host_build.layer_dir, services)
    data = host_build.layer_dir / "botocore" / "data"
    assert (data / "endpoints.json").stat().st_size < 100_000 and not list(data.glob("*/*/service-2.json.gz"))
    for service in services:
        assert full[service].pop("documented") and not trimmed[service].pop("documented"), service
        assert full[service]["endpoints"]["cn-north-1"].endswith(".amazonaws.com.cn"), "the check covers every partition"
        kept = build_artifacts.BOTOCORE_OPERATIONS[service]
        assert set(trimmed[service]["operations"]) == kept and len(full[service]["operations"]) > len(kept), service
        full[service]["operations"] = {name: operation for name, operation in full[service]["operations"].items() if name in kept}
        full[service]["shapes"] = {name: shape for name, shape in full[service]["shapes"].items() if name in trimmed[service]["shapes"]}
        assert trimmed[service] == full[service], service


def test_the_whole_build_fits_in_300_mb(build: Build) -> None:
    assert build.size_bytes() <= MAX_BUILD_BYTES, f"{build.size_bytes() / 1e6:.0f} MB"


def test_each_handler_imports_from_a_read_only_artifact_compiling_nothing(host_build: Build, tmp_path: Path) -> None:
    modules = {}
    for logical_id, spec in Template().functions().items():
        modules.setdefault(spec.handler.rpartition(".")[0], logical_id)
    task = host_build.function_dir(HOST_FUNCTION)
    for module, logical_id in modules.items():
        probe = run_probe(task, host_build.layer_dir, module, handler_environment(logical_id))
        assert probe.compiled == [], f"{module}: compiled {probe.compiled[:5]}"
        shipped_anyway = set(probe.modules) & {name.replace("-", "_") for name in build_artifacts.NOT_SHIPPED}
        assert not shipped_anyway and "local_stack" not in probe.modules, module

    # Every client the functions can make finds its botocore model in the trimmed layer.
    logical_id = HOST_FUNCTION
    code = ("import sys; sys.path[:0] = sys.argv[1:3]; from switchboard.store import clients; "
            "print(sorted(getattr(clients, name)().meta.service_model.service_name for name in sys.argv[3:]))")
    services = sorted(build_artifacts.BOTOCORE_SERVICES)
    made = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code, str(host_build.function_dir(logical_id)), str(host_build.layer_dir),
                           *services], env=handler_environment(logical_id), capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr[-2000:]
    assert made.stdout.strip() == str(services)

    # The check can fail: the same import without the bytecode compiles every module.
    task, layer = tmp_path / "task", tmp_path / "layer"
    shutil.copytree(host_build.function_dir(logical_id), task, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(host_build.layer_dir, layer, ignore=shutil.ignore_patterns("__pycache__"))
    probe = run_probe(task, layer, "switchboard.handlers.sms_webhook", handler_environment(logical_id))
    assert len(probe.compiled) > 100 and any("/botocore/" in path for path in probe.compiled)
