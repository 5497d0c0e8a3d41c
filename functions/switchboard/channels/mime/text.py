"""Plain text in the one shape every stage gives back: Unix line endings, no trailing
blanks, at most one blank line in a row."""

from __future__ import annotations

import re


_BLANK_LINES = re.compile(r"\n{3,}")


def normalise_text(text: str) -> str:
    """\\n line endings, no trailing blanks, at most one blank line in a row, stripped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()
