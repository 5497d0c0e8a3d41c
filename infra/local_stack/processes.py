"""Starting and stopping the local stack's servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable


# Each server runs under this launcher, so it ends when the process that started it does.
DIE_WITH_PARENT = Path(__file__).with_name("die_with_parent.py")


class StartError(RuntimeError):
    """A local server did not come up; the message says where its log is."""


def free_port() -> int:
    """A port nothing listens on now (tests run side by side without colliding)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_process(command: list[str], log_path: Path, ready: Callable[[], bool], name: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.Popen:
    """Start a server, wait until `ready()` says it answers, or fail with its log.

    The server ends with this process, even one killed outright (die_with_parent.py).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    guarded = [sys.executable, "-I", str(DIE_WITH_PARENT), str(os.getpid()), *command]
    # Its own process group, so Ctrl-C in a terminal reaches us first and we stop it in order.
    process = subprocess.Popen(guarded, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=cwd)
    log.close()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StartError(f"{name} exited with {process.returncode}; see {log_path}:\n{_tail(log_path)}")
            try:
                if ready():
                    return process
            except Exception:
                pass
            time.sleep(0.1)
        raise StartError(f"{name} did not answer within {timeout:.0f}s; see {log_path}:\n{_tail(log_path)}")
    except BaseException:
        # Failed, timed out or interrupted (Ctrl-C): never leave the server behind,
        # it runs in its own session where a terminal's Ctrl-C does not reach it.
        stop_process(process)
        raise


def stop_process(process: subprocess.Popen | None, timeout: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
