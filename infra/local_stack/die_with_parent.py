"""Run a server that ends when the process that started it ends, however that ends.

Usage: python die_with_parent.py PARENT_PID COMMAND [ARG ...]

The local stack's servers (DynamoDB Local, moto) run in their own session, so a
terminal's Ctrl-C reaches `switchboard local up` first and it stops them in order. If
`local up` is killed instead (SIGKILL, a closed terminal, the OOM killer), nothing would
stop them. On Linux, PR_SET_PDEATHSIG asks the kernel to send SIGTERM to this process when
its parent dies; the setting survives the exec below, so the server itself gets it.
The kernel means the parent *thread*: start servers from a thread that lives as long as
they should (the local stack starts them from the main thread).
Elsewhere the next start cleans up instead (local_stack.stale_stacks).

This runs as a separate program rather than as Popen's preexec_fn because preexec_fn is
unsafe while other threads run (the drivers' threads do).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.exit("usage: die_with_parent.py PARENT_PID COMMAND [ARG ...]")
    parent, command = int(argv[0]), argv[1:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died before the setting took effect: then it never fires.
    if os.getppid() != parent:
        sys.exit(f"the process that started this one ({parent}) has already ended")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
