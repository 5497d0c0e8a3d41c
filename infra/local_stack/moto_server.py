"""Local S3, SQS, SES and SSM endpoints from moto's server mode (in memory)."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from local_stack.processes import start_process


def start(port: int, log_path: Path):
    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=1) as response:
            return response.status == 200

    return start_process(
        # moto.server with SQS sends that stay fast in deep queues (moto_main.py says why).
        [sys.executable, str(Path(__file__).with_name("moto_main.py")), "-H", "127.0.0.1", "-p", str(port)],
        log_path, ready=ready, name="moto server",
    )
