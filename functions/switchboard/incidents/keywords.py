"""SMS keywords: opting out, opting back in, help, and subscribing to incident notices.

Carrier rules (CTIA, and Twilio's Advanced Opt-Out) name the words; they count only as
the whole message, in any case, so "Please stop the outage!" is a customer's message,
not an opt-out. Pure: the webhook decides what to do with the keyword.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class KeywordKind(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    SUBSCRIBE = "subscribe"


OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
SUBSCRIBE_WORD = "SUBSCRIBE"

# Phones add a trailing full stop or exclamation mark; quotes come from copy and paste.
_TRIM = re.compile(r"^[\s\"'“”‘’]+|[\s\"'“”‘’.!]+$")


@dataclass(frozen=True)
class Keyword:
    kind: KeywordKind
    word: str  # as recognised, upper case: "STOP"
    components: tuple[str, ...] = ()  # SUBSCRIBE api dashboard → ("api", "dashboard")


def parse_keyword(text: str) -> Keyword | None:
    """The keyword a whole SMS is, or None for an ordinary message."""
    words = _TRIM.sub("", text or "").split()
    if not words:
        return None
    first = words[0].upper()
    if first == SUBSCRIBE_WORD:
        # "SUBSCRIBE" alone is every component; names after it limit the subscription.
        return Keyword(KeywordKind.SUBSCRIBE, first, tuple(dict.fromkeys(word.lower().strip(",") for word in words[1:] if word.strip(","))))
    if len(words) != 1:
        return None
    if first in OPT_OUT_WORDS:
        return Keyword(KeywordKind.OPT_OUT, first)
    if first in OPT_IN_WORDS:
        return Keyword(KeywordKind.OPT_IN, first)
    if first in HELP_WORDS:
        return Keyword(KeywordKind.HELP, first)
    return None
