"""DynamoDB Local: AWS's own local DynamoDB, fetched from the npm registry and cached.

The npm package amplify-dynamodb-simulator ships DynamoDB Local's jar under emulator/,
so `npm pack` of a pinned version fetches it without Docker or an AWS download.
DYNAMODB_LOCAL_JAR may point at a DynamoDBLocal.jar the user already has.

It is started through java/LoopbackDynamoDBLocal.java, compiled once per machine, so it
listens on 127.0.0.1 only (DynamoDB Local itself has no option for that). A Java without
a compiler (a JRE) starts it as it comes, on every interface, and says so in its log.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from local_stack.paths import cache_dir
from local_stack.processes import StartError, start_process

SIMULATOR_PACKAGE = "amplify-dynamodb-simulator"
SIMULATOR_VERSION = "2.9.30"
# The parallel collector: G1, the JVM's default on this kind of machine, costs DynamoDB
# Local about a fifth more CPU per write (25 vs 31 ms for an inbound message's transaction,
# measured on 2 cores); the heap stays as small as it was.
JVM_OPTIONS = ("-XX:+UseParallelGC", "-Xmx256m")
LAUNCHER = Path(__file__).with_name("java") / "LoopbackDynamoDBLocal.java"
ALL_INTERFACES_WARNING = "warning: no javac here (a JRE), so DynamoDB Local listens on every interface, not only 127.0.0.1"


def ensure_jar() -> Path:
    """The path of DynamoDBLocal.jar, downloading it once per machine."""
    configured = os.environ.get("DYNAMODB_LOCAL_JAR")
    if configured:
        jar = Path(configured)
        if not jar.is_file():
            raise StartError(f"DYNAMODB_LOCAL_JAR={configured} is not a file")
        return jar
    target = cache_dir() / "dynamodb-local" / SIMULATOR_VERSION
    jar = target / "DynamoDBLocal.jar"
    if jar.is_file():
        return jar
    npm = shutil.which("npm")
    if not npm:
        raise StartError("npm is needed once to fetch DynamoDB Local (or set DYNAMODB_LOCAL_JAR)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        print(f"fetching DynamoDB Local ({SIMULATOR_PACKAGE}@{SIMULATOR_VERSION}) into {target} ...", flush=True)
        packed = subprocess.run(
            [npm, "pack", f"{SIMULATOR_PACKAGE}@{SIMULATOR_VERSION}", "--silent", "--pack-destination", scratch],
            cwd=scratch, capture_output=True, text=True, check=False,
        )
        if packed.returncode != 0:
            raise StartError(f"npm pack {SIMULATOR_PACKAGE}@{SIMULATOR_VERSION} failed:\n{packed.stderr}")
        archive = Path(scratch) / packed.stdout.strip().splitlines()[-1]
        unpacked = Path(scratch) / "unpacked"
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/emulator/")]
            tar.extractall(unpacked, members=members, filter="data")
        # Rename into place last, so an interrupted download never looks complete.
        os.replace(unpacked / "package" / "emulator", target)
    return jar


def command(jar: Path, db_path: Path, port: int) -> list[str]:
    java = shutil.which("java")
    if not java:
        raise StartError("Java 17 or newer is needed for DynamoDB Local (apt-get install openjdk-17-jdk-headless)")
    launcher = loopback_launcher(jar)
    main = ["-cp", f"{jar}{os.pathsep}{launcher}", LAUNCHER.stem] if launcher else ["-jar", str(jar)]
    return [
        java, *JVM_OPTIONS, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        *main,
        # One database for every access key and region: the CLI and the functions share it.
        "-sharedDb", "-dbPath", str(db_path), "-port", str(port), "-disableTelemetry",
    ]


def loopback_launcher(jar: Path) -> Path | None:
    """The directory of the compiled launcher (compiled on first use, per source and jar),
    or None when there is no javac."""
    javac = shutil.which("javac")
    if not javac:
        return None
    digest = hashlib.sha256(LAUNCHER.read_bytes() + str(jar.resolve()).encode()).hexdigest()[:16]
    target = cache_dir() / "dynamodb-local" / f"launcher-{digest}"
    if (target / f"{LAUNCHER.stem}.class").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="launcher-", dir=target.parent))
    compiled = subprocess.run([javac, "-cp", str(jar), "-d", str(scratch), str(LAUNCHER)], capture_output=True, text=True)
    if compiled.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise StartError(f"could not compile {LAUNCHER.name}: {compiled.stderr.strip()}")
    try:
        os.replace(scratch, target)  # another process may have won: theirs is the same
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def start(db_path: Path, port: int, log_path: Path):
    import boto3

    db_path.mkdir(parents=True, exist_ok=True)
    client = boto3.client(
        "dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )
    argv = command(ensure_jar(), db_path, port)
    if "-jar" in argv:
        with open(log_path, "a") as log:
            print(ALL_INTERFACES_WARNING, file=log)
        print(ALL_INTERFACES_WARNING, file=sys.stderr)
    return start_process(
        argv, log_path,
        ready=lambda: client.list_tables(Limit=1) is not None, name="DynamoDB Local",
        cwd=db_path,  # it writes a metadata file into its working directory
    )
