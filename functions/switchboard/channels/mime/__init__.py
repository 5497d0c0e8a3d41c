"""Raw email bytes (RFC 5322 / MIME) → ParsedEmail. Pure: no AWS, no clock.

parse_email() never raises anything but UnreadableEmail: a malformed message gives what
could be read, plus `defects`, short notes on what could not. The standard library's
`email` package (policy.default) does the MIME work. Only the standard library is
imported at module level: BeautifulSoup (HTML bodies) and mailparser_reply (quoted
history) are imported where first needed, since they cost tens of milliseconds of cold
start and many messages need neither.
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import Message
from functools import lru_cache

from switchboard.channels.mime.attachments import attachment
from switchboard.channels.mime.automated import automated
from switchboard.channels.mime.charsets import decode_bytes
from switchboard.channels.mime.defects import add_defects
from switchboard.channels.mime.headers import (
    addresses,
    date,
    get_header,
    message_ids,
    sender,
    subject,
)
from switchboard.channels.mime.message import content_param, content_type_of, parse_policy
from switchboard.channels.mime.parts import (
    body_alternatives,
    find_body,
    Leaf,
    leaf_parts,
    recover_multipart,
)
from switchboard.channels.mime.results import ParsedAttachment, ParsedEmail, UnreadableEmail
from switchboard.channels.mime.text import normalise_text


# --------------------------------------------------------------------------- body text


def _body_text(body: Leaf, defects: list[str], root: Message) -> str:
    """The body part as normalised plain text."""
    part, where = body.part, f"body ({body.content_type})"
    data = part.get_payload(decode=True)
    if part is not root:  # decoding added any base64 defects; the root's come at the end
        add_defects(defects, where, part.defects)
    data = data if isinstance(data, bytes) else b""
    text = decode_bytes(data, content_param(part, "charset"), where, defects)
    if body.content_type == "text/html" or _looks_like_html(text):
        return _html_to_text(text, defects)
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


# --------------------------------------------------------------------------- HTML

# Never shown. <head> is not skipped as a whole: with an unclosed <head> the standard
# library's parser nests the entire body inside it.
_HIDDEN_TAGS = frozenset({"script", "style", "title", "template", "xml"})
# A blank line around paragraphs, a line break around other blocks.
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre", "hr", "dl"}
)
_LINE_TAGS = frozenset(
    {
        "div", "li", "tr", "blockquote", "dt", "dd", "address", "article", "aside", "section",
        "header", "footer", "nav", "form", "fieldset", "figure", "figcaption", "center", "main",
        "caption", "tbody", "thead", "tfoot", "body",
    }
)
_WHITESPACE = re.compile(r"\s+")


class _TextWriter:
    """Rendered text. A block boundary is owed newlines, paid before the next text, so
    nested blocks never stack up blank lines; a <br> always adds one."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.words: list[str] = []  # the text alone, for reading a link's text
        self.owed_newlines = 0
        self.quote_depth = 0  # inside <blockquote>: lines start with "> "
        self.preformatted = 0  # inside <pre>: whitespace kept
        self.bullet = False  # a <li> waiting for its first text

    def block(self, newlines: int) -> None:
        if self.chunks and not self.bullet:
            self.owed_newlines = max(self.owed_newlines, newlines)

    def line_break(self) -> None:
        self.owed_newlines += 1

    def write(self, text: str) -> None:
        at_line_start = self.owed_newlines > 0 or not self.chunks
        if not self.preformatted:
            text = _WHITESPACE.sub(" ", text)
            if at_line_start or self.chunks[-1].endswith(" "):
                text = text.lstrip(" ")
        if not text:
            return
        if at_line_start:
            if self.chunks:
                self.chunks.append("\n" * self.owed_newlines)
            self.chunks.append("> " * self.quote_depth + ("- " if self.bullet else ""))
            self.owed_newlines, self.bullet = 0, False
        self.chunks.append(text)
        self.words.append(text)

    def text(self) -> str:
        return "".join(self.chunks)


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML body: no scripts, styles or comments; blocks on
    their own lines; links keep their text (and show the URL when the text hides it)."""
    return _html_to_text(html, [])


def _html_to_text(html: str, defects: list[str]) -> str:
    try:
        return normalise_text(_render_html(html))
    except Exception as error:  # the stdlib parser rejects some markup: strip the tags
        import html as html_entities

        defects.append(f"HTML not parseable ({type(error).__name__}), tags stripped")
        return normalise_text(html_entities.unescape(_TAG.sub(" ", html)))


_TAG = re.compile(r"<[^>]*>")


def _render_html(html: str) -> str:
    from bs4 import BeautifulSoup, NavigableString, Tag  # imported when first needed

    writer = _TextWriter()
    # (node, leaving, where the link text starts): a stack, since hostile HTML nests deeply.
    stack: list[tuple[object, bool, int]] = [(BeautifulSoup(html, "html.parser"), False, 0)]
    while stack:
        node, leaving, link_start = stack.pop()
        if isinstance(node, NavigableString):
            if type(node) is NavigableString:  # not a comment, doctype, CDATA ...
                writer.write(str(node))
        elif isinstance(node, Tag):
            name = (node.name or "").lower()
            if leaving:
                _leave_tag(writer, node, name, link_start)
            elif name not in _HIDDEN_TAGS:
                stack.append((node, True, len(writer.words)))
                stack.extend((child, False, 0) for child in reversed(node.contents))
                _enter_tag(writer, name)
    return writer.text()


def _enter_tag(writer: _TextWriter, name: str) -> None:
    if name == "br":
        writer.line_break()
    elif name in _PARAGRAPH_TAGS:
        writer.block(2)
    elif name in _LINE_TAGS:
        writer.block(1)
    elif name in ("td", "th"):
        writer.write(" ")
    if name == "li":
        writer.bullet = True
    elif name == "blockquote":
        writer.quote_depth += 1
    elif name == "pre":
        writer.preformatted += 1


def _leave_tag(writer: _TextWriter, node: object, name: str, link_start: int) -> None:
    if name == "a":
        href = node.get("href")  # type: ignore[attr-defined]
        if isinstance(href, str):
            writer.write(_link_suffix(href, "".join(writer.words[link_start:])))
    elif name == "blockquote":
        writer.quote_depth = max(0, writer.quote_depth - 1)
    elif name == "pre":
        writer.preformatted = max(0, writer.preformatted - 1)
    if name in _PARAGRAPH_TAGS:
        writer.block(2)
    elif name in _LINE_TAGS:
        writer.block(1)


def _link_suffix(href: str, link_text: str) -> str:
    """" (url)" after a link whose text does not already show where it goes."""
    href = href.strip()
    if not href.lower().startswith(("http://", "https://")):
        return ""  # mailto:, tel:, cid:, anchors: the text says enough
    shown = link_text.strip().rstrip("/")
    bare = href.rstrip("/")
    if not shown or shown in (bare, bare.split("://", 1)[1]):
        return ""
    return f" ({href})"


# --------------------------------------------------------------------------- new text

# Languages whose reply headers ("On … wrote:", "Am … schrieb …:", "Von:/Gesendet:")
# are recognised. Each costs a little per message and on first use; "it" and "pl" are
# left out because their one-line "A:"/"Do:" header patterns split ordinary text.
REPLY_LANGUAGES = ("en", "de", "fr", "es", "nl", "ja")
# The reply parser's "On … wrote:" patterns take time quadratic in a line's length
# (0.1 s for one 2,000-character line starting with "On"; a paragraph converted from
# HTML is one line). So it reads only the top of the text, where the newest words are,
# with every line cut short: reply headers are short lines.
REPLY_SCAN_LIMIT = 16_000
REPLY_LINE_LIMIT = 200
# Left at the end of a forward's note: Gmail's "---------- Forwarded message ---------"
# (in any language), Apple Mail's "Begin forwarded message:".
_FORWARD_MARKER = re.compile(
    r"^[ \t]*(?:-{3,}[ \t]*[^\W\d_][^\n]{0,60}?-{3,}"
    r"|Begin forwarded message:|Anfang der weitergeleiteten Nachricht:)[ \t]*\Z",
    re.MULTILINE | re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _reply_parser():  # -> mailparser_reply.EmailReplyParser
    from mailparser_reply import EmailReplyParser  # imported when first needed

    return EmailReplyParser(languages=list(REPLY_LANGUAGES))


def _new_text(text: str) -> str:
    """What the sender just wrote: text minus the quoted history; all of text when
    nothing would be left."""
    if not text:
        return ""
    scanned = "\n".join(line[:REPLY_LINE_LIMIT] for line in text[:REPLY_SCAN_LIMIT].split("\n"))
    replies = _reply_parser().read(scanned).replies
    if replies and (len(replies) > 1 or len(text) <= REPLY_SCAN_LIMIT):
        latest = _with_original_lines(text, replies[0].full_body)
    else:  # no reply header near the top of a long text
        latest = text
    latest = normalise_text(_without_quoted_lines(latest))
    return normalise_text(_FORWARD_MARKER.sub("", latest)) or text


def _with_original_lines(text: str, reply: str) -> str:
    """The sender's own lines for the reply the parser found: it saw them cut short and
    stripped (indentation lost), and it drops separator lines. All of text when they
    cannot be matched up."""
    wanted = reply.split("\n")
    kept: list[str] = []
    for line in text.split("\n"):
        if len(kept) == len(wanted):
            break
        if line[:REPLY_LINE_LIMIT].strip() == wanted[len(kept)]:
            kept.append(line)
    return "\n".join(kept) if len(kept) == len(wanted) else text


def _without_quoted_lines(text: str) -> str:
    """Without ">" lines (bottom-posted and interleaved replies), nor the "… wrote:" line
    before a trailing quote in a language the reply parser does not know."""
    lines = text.split("\n")
    quoted = [line.lstrip().startswith(">") for line in lines]
    if not any(quoted):
        return text
    unquoted = [i for i, line in enumerate(lines) if line.strip() and not quoted[i]]
    last = unquoted[-1] if unquoted else None
    attribution = None
    if last is not None and any(quoted[last:]) and lines[last].rstrip().endswith((":", "：")):
        attribution = last
    return "\n".join(line for i, line in enumerate(lines) if not quoted[i] and i != attribution)


# --------------------------------------------------------------------------- parse


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
        new_text=_new_text(text),
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
        text, body_source = _body_text(body, defects, tree), body.content_type
        body_parts = body_alternatives(body, leaves)
    others = (leaf for leaf in leaves if id(leaf.part) not in body_parts)
    attachments = [attachment(leaf, n, defects, tree) for n, leaf in enumerate(others, 1)]
    return text, body_source, attachments
