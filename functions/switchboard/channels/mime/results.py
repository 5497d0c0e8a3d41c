"""What parse_email gives back: ParsedEmail (with its ParsedAttachments), or
UnreadableEmail when nothing usable is in the input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class UnreadableEmail(Exception):
    """Nothing usable in the input: empty, not an email, or no sender address at all."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedAttachment:
    """A leaf part that is not the body text: a file, an inline image, a forwarded email."""

    filename: str | None
    content_type: str
    content: bytes
    inline: bool  # has a Content-ID and is not disposition "attachment": shown in the HTML
    content_id: str | None

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class ParsedEmail:
    """What an inbound email says, decoded (see parse_email)."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    sender_address: str
    sender_name: str | None
    reply_to: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    date: datetime | None
    text: str  # the whole body as plain text
    new_text: str  # what the sender just wrote, without the quoted history
    body_source: str  # "text/plain", "text/html" or "none"
    attachments: tuple[ParsedAttachment, ...]
    automated: str | None  # why a machine wrote it, or None for a person
    defects: tuple[str, ...]
