"""Where the local stack keeps data (in the clone) and downloads (outside it)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
# Data of `make run`: survives restarts, ignored by git.
LOCAL_DIR = Path(os.environ.get("SWITCHBOARD_LOCAL_DIR", REPO_ROOT / ".local"))


def cache_dir() -> Path:
    """Downloads shared by every clone and CI run on this machine."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "switchboard"
