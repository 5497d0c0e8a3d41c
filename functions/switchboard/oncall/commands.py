"""What an on-call agent texts to the support number, read into a command. Pure.

    12 ACK               claim conversation 12 (also "12 a", "12 ok", "ACK 12", "ack #12")
    12 RESOLVE           close it (also resolved, done, close, closed)
    12 TAKE              take it over from whoever it was paged to (also "take over", "mine")
    12 LATER 3h          page again then, unless someone answers first ("12 LATER tomorrow
                         09:00", "12 snooze 90m"; oncall/later.py reads the time)
    12 WAITING           it waits on the customer: resolved by itself without their reply
                         (also "wait", "pending")
    12 CALL              call the customer back through the support number: your phone
                         rings first (also "call back", "callback")
    12 your answer       send "your answer" to the customer, on the customer's channel
    HELP                 the short how-to (also "?", "info")

Choices made:
- The code comes first, then a separator: whitespace, or one of : , . - (or a Unicode
  dash or full-width colon/comma). "12ack" is not read: a code glued to a word is more
  likely a typo than a command. A separator followed by a digit ("12.5", "12,000") is
  not one either: that is a number, not a code and an answer.
- Codes are 1 to 6 digits and are normalized as numbers: "012" and "#12" and "[12]"
  (copied from a page) all mean "12".
- ACK, RESOLVE, TAKE, WAITING and CALL are the exact keyword alone after the code, in any case, with an
  optional trailing "." or "!" ("Ack." from iOS autocorrect) and a forgiven dash or
  colon before it ("12 - done"). Anything longer, such as "12 ack, and I refunded you",
  is an answer for the customer. The keyword may also come first: "ACK 12", "done 12".
- The answer is kept as typed: only the code, the first separator (a run of spaces, or
  one punctuation mark) and the surrounding whitespace are removed; line breaks inside
  it stay. So "12: thanks" answers "thanks", but "12 - thanks" answers "- thanks".
- An answer made only of punctuation ("12 ?", "12 ...") is not sent: it is read as a
  code with nothing to do, since no customer is helped by a lone "?".
- LATER (or SNOOZE, REMIND) is the first word after the code; the rest says when. "12 later"
  with nothing after it asks when, rather than sending "later" to the customer.
- HELP is the whole message; "12 help" is an answer to the customer like any other text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class CommandKind(StrEnum):
    ACK = "ack"
    REPLY = "reply"
    RESOLVE = "resolve"
    TAKE = "take"
    LATER = "later"
    WAITING = "waiting"
    CALL = "call"
    HELP = "help"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AgentCommand:
    kind: CommandKind
    code: str | None = None  # the conversation's short code, e.g. "12"
    text: str | None = None  # the answer, for REPLY; when, for LATER ("3h")
    problem: str | None = None  # for UNKNOWN: why it could not be read, shown with the help


HELP_TEXT = (
    'Switchboard: "12 ACK" claims, "12 your answer" answers, "12 RESOLVE" closes, "12 TAKE" takes, '
    '"12 LATER 3h" snoozes, "12 WAITING" waits, "12 CALL" calls. HELP'
)

ACK_WORDS = frozenset({"ack", "a", "ok"})
RESOLVE_WORDS = frozenset({"resolve", "resolved", "done", "close", "closed"})
TAKE_WORDS = frozenset({"take", "take over", "takeover", "mine"})
HELP_WORDS = frozenset({"help", "?", "info"})
LATER_WORDS = frozenset({"later", "snooze", "remind"})
WAITING_WORDS = frozenset({"waiting", "wait", "pending"})
CALL_WORDS = frozenset({"call", "call back", "callback"})

EMPTY_PROBLEM = "the message was empty"
NO_CODE_PROBLEM = "start with the conversation's number, e.g. 12 ACK"
TOO_LONG_PROBLEM = "conversation numbers have 1 to 6 digits, e.g. 12 ACK"

# ASCII, the Unicode dashes, full-width colon and comma.
SEPARATORS = ":,.-\u2010\u2011\u2012\u2013\u2014\u2015\uff1a\uff0c"
_SEPARATOR = f"[{re.escape(SEPARATORS)}]"
# "#12", "[12]" or "12", then the separator (or the end). Codes are matched on the text
# as typed so that the answer after them keeps every character.
_CODE_FIRST = re.compile(rf"#?\[?(\d{{1,6}})\]?(?:\s+|{_SEPARATOR}(?!\d)|$)")
_CODE_GLUED = re.compile(r"#?\[?(\d{1,6})\]?(?=[^\W\d_])")  # "12ack": letters right after
_TOO_LONG_CODE = re.compile(r"#?\[?\d{7}")  # a phone number or an order number, say
# "ACK 12", "done: #12", "take over 12": a keyword, then the code, and nothing else.
_KEYWORD_FIRST = re.compile(rf"([^\W\d_]+(?: [^\W\d_]+)?)(?:\s*{_SEPARATOR}\s*|\s+)#?\[?(\d{{1,6}})\]?[.!]?")
# Spaces and the invisible characters that phones and copy-paste put before a message.
_LEADING_BLANKS = re.compile("^[\\s\u200b\u200c\u200d\u2060\ufeff]+")


def parse_agent_sms(body: str) -> AgentCommand:
    """Read an agent's SMS; never raises: what cannot be read is UNKNOWN with a reason."""
    message = _LEADING_BLANKS.sub("", body or "").rstrip()
    if not message:
        return AgentCommand(CommandKind.UNKNOWN, problem=EMPTY_PROBLEM)
    if _is_help(message):
        return AgentCommand(CommandKind.HELP)
    return _code_first(message) or _keyword_first(message) or _unreadable(message)


def _code_first(message: str) -> AgentCommand | None:
    match = _CODE_FIRST.match(message)
    if not match:
        return None
    code = _normalize_code(match.group(1))
    rest = message[match.end():].strip()
    if not _has_content(rest):
        return AgentCommand(CommandKind.UNKNOWN, code=code, problem=_nothing_to_do(code))
    kind = _keyword_kind(rest)
    if kind is not None:
        return AgentCommand(kind, code=code)
    first, _, when = _plain(rest).partition(" ")
    if first.rstrip(":.,") in LATER_WORDS:
        if not when.strip():
            return AgentCommand(CommandKind.UNKNOWN, code=code, problem=f"say when, like {code} LATER 3h or {code} LATER tomorrow 09:00")
        return AgentCommand(CommandKind.LATER, code=code, text=when.strip())
    return AgentCommand(CommandKind.REPLY, code=code, text=rest)


def _keyword_first(message: str) -> AgentCommand | None:
    match = _KEYWORD_FIRST.fullmatch(_plain(message))
    if not match:
        return None
    kind = _keyword_kind(match.group(1))
    if kind is None:
        return None
    return AgentCommand(kind, code=_normalize_code(match.group(2)))


def _unreadable(message: str) -> AgentCommand:
    glued = _CODE_GLUED.match(message)
    if glued:
        code = _normalize_code(glued.group(1))
        problem = f"put a space after the number, e.g. {code} ACK"
        return AgentCommand(CommandKind.UNKNOWN, code=code, problem=problem)
    if _TOO_LONG_CODE.match(message):
        return AgentCommand(CommandKind.UNKNOWN, problem=TOO_LONG_PROBLEM)
    return AgentCommand(CommandKind.UNKNOWN, problem=NO_CODE_PROBLEM)


def _is_help(message: str) -> bool:
    plain = _plain(message)
    return plain in HELP_WORDS or plain.rstrip("?!.") in HELP_WORDS  # "help?", "Info."


def _keyword_kind(words: str) -> CommandKind | None:
    """ACK, RESOLVE, TAKE, WAITING or CALL when the words are exactly one of their keywords, else None.

    A dash or colon before the keyword is forgiven ("12 - done"), and one "." or "!" after.
    """
    keyword = _plain(words).lstrip(SEPARATORS + " ").rstrip(".!").rstrip()
    if keyword in ACK_WORDS:
        return CommandKind.ACK
    if keyword in RESOLVE_WORDS:
        return CommandKind.RESOLVE
    if keyword in TAKE_WORDS:
        return CommandKind.TAKE
    if keyword in WAITING_WORDS:
        return CommandKind.WAITING
    if keyword in CALL_WORDS:
        return CommandKind.CALL
    return None


def _plain(text: str) -> str:
    """Text folded for comparing keywords: full-width and compatibility forms, smart
    punctuation, invisible characters and case all made plain."""
    folded = unicodedata.normalize("NFKC", text)
    folded = "".join(char for char in folded if unicodedata.category(char) != "Cf")
    return " ".join(folded.split()).casefold()


def _has_content(text: str) -> bool:
    """True unless the text is only punctuation and spaces ("?", "...")."""
    return any(not unicodedata.category(char).startswith(("P", "Z", "Cc", "Cf")) for char in text)


def _normalize_code(digits: str) -> str:
    return str(int(digits))  # "012" -> "12"; int() also reads full-width and other scripts' digits


def _nothing_to_do(code: str) -> str:
    return f"say what to do with {code}: ACK, RESOLVE, TAKE, LATER 3h or your answer"
