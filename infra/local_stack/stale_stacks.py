"""A local stack whose owner died without stopping it is stopped by the next start.

Each process that starts servers on a state dir (`switchboard local up`, or a command
that starts the stack for itself) records them in `<state dir>/pids/<its pid>.json`,
with the start time of each process so a recycled pid is never mistaken for ours.
On Linux the servers already end with their owner (die_with_parent.py); this is the
portable second line, and it also covers a server that ignored the signal.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

PIDS_DIR = "pids"


@dataclass(frozen=True)
class RecordedProcess:
    name: str
    pid: int
    started: float  # psutil's create_time(): seconds since the epoch

    @classmethod
    def of(cls, name: str, pid: int) -> "RecordedProcess":
        return cls(name, pid, psutil.Process(pid).create_time())

    def running(self) -> psutil.Process | None:
        """The process, if this very process is still running (not a reused pid)."""
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.started) < 0.5 and process.status() != psutil.STATUS_ZOMBIE:
                return process
        except psutil.Error:
            pass
        return None


class ServerRecord:
    """This process's servers on one state dir, kept on disk while they run."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / PIDS_DIR / f"{os.getpid()}.json"
        self.owner = RecordedProcess.of("owner", os.getpid())

    def write(self, servers: dict[str, subprocess.Popen | None]) -> None:
        running = [RecordedProcess.of(name, p.pid) for name, p in servers.items() if p is not None and p.poll() is None]
        if not running:
            self.remove()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"owner": vars(self.owner), "servers": [vars(server) for server in running]}
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps(document, indent=2) + "\n")
        os.replace(scratch, self.path)  # never a half-written record

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def stop_stale_stacks(state_dir: Path, timeout: float = 10) -> list[str]:
    """Stop the servers of every owner on state_dir that has died; one line per owner stopped."""
    stopped: list[str] = []
    for path in sorted((state_dir / PIDS_DIR).glob("*.json")):
        try:
            document = json.loads(path.read_text())
            owner = RecordedProcess(**document["owner"])
            servers = [RecordedProcess(**server) for server in document["servers"]]
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # unreadable: nothing we could act on safely
            continue
        if owner.running() is not None:
            continue
        alive = [(server, process) for server in servers if (process := server.running()) is not None]
        for _, process in alive:
            process.terminate()
        _, survivors = psutil.wait_procs([process for _, process in alive], timeout=timeout)
        for process in survivors:
            process.kill()
        psutil.wait_procs(survivors, timeout=timeout)
        path.unlink(missing_ok=True)
        if alive:
            names = ", ".join(f"{server.name} (pid {server.pid})" for server, _ in alive)
            stopped.append(f"stopped a local stack on {state_dir} left running by process {owner.pid}, which ended without stopping it: {names}")
    return stopped
