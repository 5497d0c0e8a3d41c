"""How DynamoDB Local is started: through the loopback launcher when Java can compile it."""

from __future__ import annotations

import shutil
from local_stack import dynamodb_local


def test_without_javac_it_starts_as_it_comes_and_the_warning_says_so(monkeypatch, tmp_path):
    real_which = shutil.which
    monkeypatch.setattr(dynamodb_local.shutil, "which", lambda name: None if name == "javac" else real_which(name) or f"/usr/bin/{name}")
    argv = dynamodb_local.command(tmp_path / "DynamoDBLocal.jar", tmp_path / "db", 8000)
    assert "-jar" in argv and dynamodb_local.LAUNCHER.stem not in argv
    assert "every interface" in dynamodb_local.ALL_INTERFACES_WARNING
