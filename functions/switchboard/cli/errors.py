"""How a command fails: CliError, and the exit codes main returns (0 done, 1 error, 2 usage, 3 not found)."""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_NOT_FOUND = 3


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
