"""The customer's new words apart from the quoted history: mail-parser-reply finds the
reply headers (imported when first needed); ">" lines and forward markers go too."""

from __future__ import annotations

import re
from functools import lru_cache

from switchboard.channels.mime.text import normalise_text


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


def new_text(text: str) -> str:
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
