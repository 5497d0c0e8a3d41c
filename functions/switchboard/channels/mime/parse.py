"""parse_email(): raw email bytes (RFC 5322 / MIME) → ParsedEmail, the one entry point.

The message is read with the email package (message.py), then each stage in turn: the
sender and other headers, the MIME tree and its body part, the body as text, the new words
apart from the quoted history, the attachments, and whether a machine wrote it.
"""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message

from switchboard.channels.mime.attachments import attachment
from switchboard.channels.mime.automated import automated
from switchboard.channels.mime.body import body_text
from switchboard.channels.mime.defects import add_defects
from switchboard.channels.mime.headers import (
    addresses,
    date,
    get_header,
    message_ids,
    sender,
    subject,
)
from switchboard.channels.mime.message import content_type_of, parse_policy
from switchboard.channels.mime.new_text import new_text
from switchboard.channels.mime.parts import (
    body_alternatives,
    find_body,
    leaf_parts,
    recover_multipart,
)
from switchboard.channels.mime.results import ParsedAttachment, ParsedEmail, UnreadableEmail


def parse_email(raw: bytes) -> ParsedEmail:
    """Decode a raw email. UnreadableEmail, and no other exception, when nothing usable
    is in it; whatever is merely malformed comes back with notes in `defects`."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse_email takes bytes, not {type(raw).__name__}")
    data = bytes(raw).removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if not data:
        raise UnreadableEmail("empty input")
    try:
        return _parse(data)
    except UnreadableEmail:
        raise
    except RecursionError:  # the email package's parser recurses per nesting level
        raise UnreadableEmail("MIME parts nested too deeply to read") from None
    except Exception as error:  # a bug here must still be a clear answer, not a crash
        raise UnreadableEmail(f"internal error: {type(error).__name__}: {error}") from error


def _parse(data: bytes) -> ParsedEmail:
    msg = message_from_bytes(data, policy=parse_policy())
    if not msg.keys():
        raise UnreadableEmail("not an email: no header lines")
    defects: list[str] = []
    sender_address, sender_name = sender(msg, defects)

    tree = msg
    if content_type_of(msg).startswith("multipart/") and not msg.is_multipart():
        tree = recover_multipart(msg, defects) or msg
    text, body_source, attachments = _read_parts(tree, defects)
    # After the parts: decoding a single-part message's body adds to the message's defects.
    add_defects(defects, "", msg.defects)

    reply_to = addresses(get_header(msg, "Reply-To", defects))
    message_id = message_ids(get_header(msg, "Message-ID", defects))
    in_reply_to = message_ids(get_header(msg, "In-Reply-To", defects))
    return ParsedEmail(
        message_id=message_id[0] if message_id else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=tuple(message_ids(get_header(msg, "References", defects))),
        sender_address=sender_address,
        sender_name=sender_name,
        reply_to=reply_to[0][0] if reply_to else None,
        to=tuple(address for address, _ in addresses(get_header(msg, "To", defects))),
        cc=tuple(address for address, _ in addresses(get_header(msg, "Cc", defects))),
        subject=subject(msg, defects),
        date=date(msg, defects),
        text=text,
        new_text=new_text(text),
        body_source=body_source,
        attachments=tuple(attachments),
        automated=automated(msg, sender_address, defects),
        defects=tuple(dict.fromkeys(defects)),
    )


def _read_parts(tree: Message, defects: list[str]) -> tuple[str, str, list[ParsedAttachment]]:
    """(text, body_source, attachments) from the MIME tree."""
    leaves = leaf_parts(tree, defects)
    body = find_body(tree, leaves)
    text, body_source, body_parts = "", "none", set()
    if body is not None:
        # A text/plain part that turns out to be HTML is still a "text/plain" body.
        text, body_source = body_text(body, defects, tree), body.content_type
        body_parts = body_alternatives(body, leaves)
    others = (leaf for leaf in leaves if id(leaf.part) not in body_parts)
    attachments = [attachment(leaf, n, defects, tree) for n, leaf in enumerate(others, 1)]
    return text, body_source, attachments
