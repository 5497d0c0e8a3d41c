"""Text from HTML: readable plain text from an HTML body, rendered from BeautifulSoup's
tree (imported when first needed: it costs tens of milliseconds of cold start)."""

from __future__ import annotations

import re

from switchboard.channels.mime.text import normalise_text


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
    return html_to_text_with_defects(html, [])


def html_to_text_with_defects(html: str, defects: list[str]) -> str:
    """html_to_text, noting in defects when the markup had to be stripped instead."""
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
