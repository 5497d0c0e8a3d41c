"""The body: the part chosen as the body, decoded in its charset, as plain text (from
HTML, format=flowed or plain text)."""

from __future__ import annotations

import re
from email.message import Message

from switchboard.channels.mime.charsets import decode_bytes
from switchboard.channels.mime.defects import add_defects
from switchboard.channels.mime.html_text import html_to_text_with_defects
from switchboard.channels.mime.message import content_param
from switchboard.channels.mime.parts import Leaf
from switchboard.channels.mime.text import normalise_text


def body_text(body: Leaf, defects: list[str], root: Message) -> str:
    """The body part as normalised plain text."""
    part, where = body.part, f"body ({body.content_type})"
    data = part.get_payload(decode=True)
    if part is not root:  # decoding added any base64 defects; the root's come at the end
        add_defects(defects, where, part.defects)
    data = data if isinstance(data, bytes) else b""
    text = decode_bytes(data, content_param(part, "charset"), where, defects)
    if body.content_type == "text/html" or _looks_like_html(text):
        return html_to_text_with_defects(text, defects)
    if content_param(part, "format").lower() == "flowed":
        text = _unflow(text, delete_space=content_param(part, "delsp").lower() == "yes")
    return normalise_text(text)


def _unflow(text: str, delete_space: bool) -> str:
    """RFC 3676 format=flowed: a line ending in a space goes on with the next line."""
    lines: list[str] = []
    paragraph: list[str] = []
    paragraph_depth = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:].removeprefix(" ")  # space-stuffing
        soft_break = content.endswith(" ") and content != "-- "
        if soft_break and delete_space:
            content = content[:-1]
        if paragraph and depth != paragraph_depth:  # a flowed line must not change depth
            lines.append(_quoted(paragraph_depth, "".join(paragraph)))
            paragraph = []
        paragraph.append(content)
        paragraph_depth = depth
        if not soft_break:
            lines.append(_quoted(depth, "".join(paragraph)))
            paragraph = []
    if paragraph:
        lines.append(_quoted(paragraph_depth, "".join(paragraph)))
    return "\n".join(lines)


def _quoted(depth: int, text: str) -> str:
    return f"{'>' * depth} {text}" if depth else text


_HTML_START = re.compile(
    r"\s*<(?:!doctype\s+html|html|head|body|div|p|br|table|span|a\s|font|meta)\b", re.IGNORECASE
)
_HTML_TAG = re.compile(r"</(?:div|p|html|body|span|table|td|a|font)>|<br\s*/?>", re.IGNORECASE)


def _looks_like_html(text: str) -> bool:
    """A text/plain part that is really HTML: some senders mislabel their HTML part."""
    head = text[:2000]
    return bool(_HTML_START.match(head) and _HTML_TAG.search(head))
