"""What several figures share besides the report: the interpreter and the `switchboard` CLI
they run, an environment without the developer's settings, the SMS webhook path, ports,
and the processes they start (process trees, CPU time, resident memory, leftovers, logs).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path

from report import say

REPO_ROOT = Path(__file__).resolve().parents[2]
_VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PYTHON if _VENV_PYTHON.exists() else Path(sys.executable))
SWITCHBOARD = str(Path(PYTHON).parent / "switchboard")

# A developer's settings must not reach the benchmark (nor real AWS).
_SCRUBBED = ("TWILIO_AUTH_TOKEN", "SWITCHBOARD_PUBLIC_URL", "SWITCHBOARD_LOCAL_DIR", "PORT", "TABLE_NAME", "QUARANTINE_BUCKET", "TWILIO_AUTH_TOKEN_PARAMETER", "DEFAULT_PHONE_REGION")
_SCRUBBED_PREFIXES = ("AWS_", "POWERTOOLS_")

SMS_PATH = "/webhooks/twilio/sms"  # the route figures (b) and (c) post to


# ---- environment and processes ---------------------------------------------------------


def clean_environment(tmp: Path) -> dict[str, str]:
    """os.environ without the developer's Switchboard/AWS settings, isolated from ~/.aws."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith(_SCRUBBED_PREFIXES)}
    env.update({
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def free_port() -> int:
    from local_stack.processes import free_port as _free_port

    return _free_port()


def port_open(port: int) -> bool:
    from local_stack.processes import port_open as _port_open

    return _port_open(port)


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, starttime) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rfind(")") + 2:].split()
    return int(rest[1]), int(rest[19])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads) so far."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rfind(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(root: int) -> dict[str, float]:
    """CPU seconds of a process tree, by label, and of this benchmark process."""
    found = {}
    for pid in [root, *descendants(root)]:
        seconds = cpu_seconds(pid)
        if seconds is not None:
            found[label(pid, root)] = seconds
    found["this benchmark (HTTP clients)"] = cpu_seconds(os.getpid()) or 0.0
    return found


def cpu_line(before: dict[str, float], after: dict[str, float], wall: float, count: int, unit: str) -> str:
    used = {name: after[name] - before.get(name, 0.0) for name in after}
    parts = [
        f"{name.split(' [')[0]} {seconds / wall * 100:.0f}% = {seconds / count * 1000:.1f} ms/{unit}"
        for name, seconds in sorted(used.items(), key=lambda item: -item[1]) if seconds > 0
    ]
    return f"CPU (% of one core): {'; '.join(parts)}; total {sum(used.values()) / wall * 100:.0f}% of {os.cpu_count() * 100}%"


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat:
                children[stat[0]].append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return 0  # a zombie has no VmRSS line


def label(pid: int, root: int | None = None) -> str:
    try:
        argv = [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return f"pid {pid}"
    joined = " ".join(argv)
    if "DynamoDBLocal" in joined:
        name = "DynamoDB Local (java)"
    elif "moto.server" in joined:
        name = "moto server"
    elif pid == root or ("switchboard" in joined and "local" in argv and "up" in argv):
        name = "switchboard local up"
    else:
        name = Path(argv[0]).name if argv else "?"
    return f"{name} [pid {pid}]"


class Tracked:
    """Processes we caused to exist, remembered by (pid, starttime) so a recycled pid is never hit."""

    def __init__(self) -> None:
        self.known: dict[int, tuple[int, str]] = {}

    def remember(self, pids: list[int], root: int | None = None) -> None:
        for pid in pids:
            stat = _stat(pid)
            if stat and pid not in self.known:
                self.known[pid] = (stat[1], label(pid, root))

    def alive(self) -> list[int]:
        return [pid for pid, (start, _) in self.known.items() if (_stat(pid) or (0, -1))[1] == start and rss_kib(pid) != 0]

    def stop_leftovers(self, why: str) -> list[str]:
        leftovers = self.alive()
        names = [self.known[pid][1] for pid in leftovers]
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            for pid in leftovers:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.alive():
                time.sleep(0.1)
            leftovers = self.alive()
            if not leftovers:
                break
        if names:
            say(f"  ! stopped leftover processes ({why}): {', '.join(names)}")
        return names


def stop_own_children(tracked: Tracked) -> None:
    """Last resort: anything this process started (directly or not) that is still running."""
    tracked.remember(descendants(os.getpid()))
    tracked.stop_leftovers("still running at exit")


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
