"""template.yaml passes `sam validate --lint` and `sam build` (infra/sam-check.sh).

No Docker and no AWS account: the script installs the SAM CLI from PyPI into a cached
virtual environment (once), and `sam build` fetches the functions' requirements from PyPI.
Both tests share one run of the script, which builds into a pytest temp dir.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT_TIMEOUT = 600  # seconds; the first run also installs the SAM CLI (~1 min here)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(SCRIPT_TIMEOUT + 60)]


@dataclass
class SamCheck:
    returncode: int
    output: str
    build_dir: Path
    left_in_repo: list[str]


@pytest.fixture(scope="module")
def sam_check(tmp_path_factory: pytest.TempPathFactory) -> SamCheck:
    # sam writes build.toml next to the build dir, so give it a dir of its own.
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    watched = [".aws-sam", "samconfig.toml", "samconfig.yaml", "build"]
    before = {name for name in watched if (REPO_ROOT / name).exists()}
    proc = subprocess.run(
        ["bash", "infra/sam-check.sh"],
        cwd=REPO_ROOT,
        env={**os.environ, "SAM_BUILD_DIR": str(build_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    after = {name for name in watched if (REPO_ROOT / name).exists()}
    return SamCheck(proc.returncode, proc.stdout, build_dir, sorted(after - before))


def test_sam_validate_lint_and_build_pass(sam_check: SamCheck) -> None:
    assert sam_check.returncode == 0, f"infra/sam-check.sh failed:\n{sam_check.output}"
    assert sam_check.left_in_repo == [], f"sam left {sam_check.left_in_repo} in the repo"


def test_built_function_holds_the_switchboard_package(sam_check: SamCheck) -> None:
    assert sam_check.returncode == 0, f"infra/sam-check.sh failed:\n{sam_check.output}"
    assert (sam_check.build_dir / "template.yaml").is_file(), sam_check.output
    function_dir = sam_check.build_dir / "SmsWebhookFunction"
    assert function_dir.is_dir(), f"no {function_dir}:\n{sam_check.output}"
    listing = sorted(p.name for p in function_dir.iterdir())
    assert (function_dir / "switchboard" / "__init__.py").is_file(), listing
    assert (function_dir / "switchboard" / "handlers" / "sms_webhook.py").is_file(), listing
    # functions/requirements.txt was installed alongside it
    assert (function_dir / "twilio").is_dir(), listing
