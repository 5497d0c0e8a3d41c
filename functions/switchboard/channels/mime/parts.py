"""The MIME tree: its leaf parts in order (walked without recursion), a multipart
reread when its declared boundary is not the one used, and which leaf is the body."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message

from switchboard.channels.mime.defects import add_defects
from switchboard.channels.mime.message import content_type_of, safely


@dataclass(slots=True)
class Leaf:
    """A leaf part of the MIME tree, with its content type."""

    part: Message
    content_type: str
    alternative: Message | None  # the nearest multipart/alternative around it


def leaf_parts(root: Message, defects: list[str]) -> list[Leaf]:
    """Leaf parts in document order, walked without recursion (hostile nesting is deep).
    message/* parts are leaves: a forwarded email is one attachment."""
    leaves: list[Leaf] = []
    stack: list[tuple[Message, Message | None]] = [(root, None)]
    while stack:
        part, alternative = stack.pop()
        content_type = content_type_of(part)
        if not (content_type.startswith("multipart/") and part.is_multipart()):
            leaves.append(Leaf(part, content_type, alternative))
            continue
        if part is not root:
            add_defects(defects, content_type, part.defects)
        if content_type == "multipart/alternative":
            alternative = part
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        stack.extend((child, alternative) for child in reversed(children))
    return leaves


_BOUNDARY_LINE = re.compile(r"^--([^\s]{1,200}?)(?:--)?[ \t]*$", re.MULTILINE)


def recover_multipart(msg: Message, defects: list[str]) -> Message | None:
    """A multipart whose declared boundary never appears: its body reparsed with the
    boundary its lines actually use. None when no line looks like a boundary."""
    payload = msg.get_payload()
    if not isinstance(payload, str):
        return None
    found = _BOUNDARY_LINE.search(payload)
    if found is None:
        return None
    boundary = found.group(1)
    container = (
        f'Content-Type: {content_type_of(msg)}; boundary="{boundary}"\n\n'.encode()
        + payload.encode("utf-8", "surrogateescape")
    )
    recovered = message_from_bytes(container, policy=msg.policy)
    if not recovered.is_multipart():
        return None
    defects.append(f"declared boundary not used, parts read with boundary {boundary!r}")
    return recovered


def find_body(tree: Message, leaves: list[Leaf]) -> Leaf | None:
    """The body: text/plain preferred, else HTML, as the email package chooses it."""
    if not tree.is_multipart() and content_type_of(tree).startswith("multipart/"):
        # No parts could be found at all: the raw body is the best text there is.
        return Leaf(tree, "text/plain", None)
    body = safely(lambda: tree.get_body(preferencelist=("plain", "html")), None)
    return next((leaf for leaf in leaves if leaf.part is body), None)


def body_alternatives(body: Leaf, leaves: list[Leaf]) -> set[int]:
    """ids of the body and of its other versions (the HTML twin of a text/plain body):
    the rest of the leaves are attachments."""
    found = {id(body.part)}
    if body.alternative is not None:
        for leaf in leaves:
            if (
                leaf.alternative is body.alternative
                and leaf.content_type.startswith("text/")
                and not safely(leaf.part.is_attachment, True)
            ):
                found.add(id(leaf.part))
    return found
