"""Attachments: every leaf that is not the body, with its filename (RFC 2231 or raw
UTF-8), content type, decoded content (its size) and whether it is shown inline."""

from __future__ import annotations

import email.errors
import re
from email.message import Message

from switchboard.channels.mime.charsets import clean
from switchboard.channels.mime.defects import add_defects
from switchboard.channels.mime.message import safely
from switchboard.channels.mime.parts import Leaf
from switchboard.channels.mime.results import ParsedAttachment


def _payload_bytes(part: Message, where: str, defects: list[str]) -> bytes:
    """A leaf's decoded content; for message/* parts, the embedded message's bytes."""
    payload = part.get_payload()
    if isinstance(payload, list):  # message/rfc822, message/delivery-status
        chunks = []
        for embedded in payload:
            try:
                chunks.append(embedded.as_bytes(policy=part.policy.clone(refold_source="none")))
            except Exception as error:
                defects.append(f"{where}: embedded message unreadable ({type(error).__name__})")
        return b"\n".join(chunks)
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return b""
    if any(isinstance(defect, email.errors.InvalidBase64LengthDefect) for defect in part.defects):
        # The email package hands back the still-encoded text here: decode the whole groups.
        data = _decode_base64_prefix(part.get_payload())
    return data


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def _decode_base64_prefix(encoded: str) -> bytes:
    import base64  # only for this rare repair

    alphabet_only = _NOT_BASE64.sub(b"", encoded.encode("ascii", "replace"))
    return base64.b64decode(alphabet_only[: len(alphabet_only) // 4 * 4])


def attachment(leaf: Leaf, number: int, defects: list[str], root: Message) -> ParsedAttachment:
    part = leaf.part
    filename = clean(str(safely(part.get_filename, None) or "")).strip() or None
    where = f"attachment {filename!r}" if filename else f"attachment {number} ({leaf.content_type})"
    if filename and "\ufffd" in filename:
        defects.append(f"{where}: invalid bytes in the filename replaced")
    content = _payload_bytes(part, where, defects)
    if part is not root:  # the message's own defects are reported once, at the end
        add_defects(defects, where, part.defects)
    content_id = _content_id(part)
    disposition = safely(part.get_content_disposition, None)
    return ParsedAttachment(
        filename=filename,
        content_type=leaf.content_type,
        content=content,
        inline=content_id is not None and disposition != "attachment",
        content_id=content_id,
    )


def _content_id(part: Message) -> str | None:
    value = safely(lambda: part.get("Content-ID"), None)
    if value is None:
        return None
    return clean(str(value)).strip().strip("<>").strip() or None
