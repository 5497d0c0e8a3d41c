"""Errors that cross rooms: each carries what the edge needs to answer."""

from __future__ import annotations


class RejectedRequest(Exception):
    """Bad input: answered with a 4xx and a reason, kept in quarantine, never stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class PermanentSendFailure(Exception):
    """A provider refused a send that no retry can fix: the caller records it, never retries."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"{reason} (Twilio error {code})" if code else reason)
        self.code = code
        self.reason = reason


class CredentialsRefused(Exception):
    """A provider refused our credentials (Twilio's 401): the token may have been rotated."""
