"""Small helpers for tests (importable: tests/ is on sys.path)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable


def wait_for_quarantine(local, matches: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
    """The quarantined request that matches, polling briefly (S3 writes are synchronous, but be kind)."""
    deadline = time.monotonic() + timeout
    while True:
        records = local.quarantine().list(datetime.now(timezone.utc), limit=10_000)
        found = [record for record in records if matches(record)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching quarantined request among {len(records)}")
        time.sleep(0.2)
