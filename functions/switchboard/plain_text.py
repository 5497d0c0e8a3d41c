"""Text from outside (incident titles, display names, subjects) made safe for one line.

An email header, a TwiML element or a page line takes one line of printable text: a
line break in a header is either an injected header or, in Python's email package, a
ValueError that sends every notice of that incident to the dead-letter queue; a control
character makes TwiML invalid XML. So every such value passes through `one_line` on its
way in (incident titles, display names) and again where it goes out (email headers).
"""

from __future__ import annotations

import unicodedata

# Control, format (zero-width, bidi overrides) and line/paragraph separator characters.
_UNPRINTABLE = ("Cc", "Cf", "Zl", "Zp")


def one_line(text: str | None) -> str:
    """The text on one line: unprintable characters become spaces, runs of spaces one."""
    if not text:
        return ""
    spaced = "".join(" " if unicodedata.category(char) in _UNPRINTABLE else char for char in text)
    return " ".join(spaced.split())


def has_unprintable(text: str) -> bool:
    """Whether the text holds a line break or another control or format character."""
    return any(unicodedata.category(char) in _UNPRINTABLE for char in text)
