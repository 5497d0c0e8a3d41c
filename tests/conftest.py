"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# A developer's own settings must not leak into the tests.
for name in ("TWILIO_AUTH_TOKEN", "SWITCHBOARD_PUBLIC_URL", "PORT", "SWITCHBOARD_LOCAL_DIR"):
    os.environ.pop(name, None)

sys.path.insert(0, str(REPO_ROOT / "tests"))
