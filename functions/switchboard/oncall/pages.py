"""The SMS texts that page the on-call person. Pure.

A page fits one GSM-7 segment, as GoAlert's do: one segment is one SMS on every phone and
network (a multipart SMS can arrive out of order or in pieces) and costs a third of a
two-part one; a single character outside GSM-7 (a curly quote, an emoji) would turn the
whole text into UCS-2 and shrink a segment from 160 characters to 70. So everything a
customer wrote is folded to GSM-7 with `to_gsm7`, and previews are cut to fit.

    [12] SMS Jane D: "my invoice shows..." Reply 12 ACK or 12 <answer> https://support.example.com/c/<token>
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# GSM 03.38 (3GPP TS 23.038) default alphabet in code order, less 0x1B: that is the
# escape to the extension table, not a character of its own.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as escape + character, so it counts two septets.
GSM7_EXTENDED = "\x0c^{}\\[~]|€"

SINGLE_SEPTETS, PART_SEPTETS = 160, 153  # a part of a multipart SMS loses 7 septets to its header
SINGLE_UCS2, PART_UCS2 = 70, 67  # in UTF-16 code units

_BASIC = frozenset(GSM7_BASIC)
_EXTENDED = frozenset(GSM7_EXTENDED)

# What phones and word processors type instead of plain punctuation.
_LOOKALIKES = {
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2039\u203a`\u00b4", "'"),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    "\u2026": "...",
    "\u2022": "-",  # a bullet
    "\u2044": "/",  # the fraction slash in "1⁄2", which NFKD gives for "½"
}
# Combining marks with nothing to sit on, variation selectors, joiners, control characters.
_INVISIBLE_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Cc", "Cs"})


def is_gsm7(text: str) -> bool:
    return all(char in _BASIC or char in _EXTENDED for char in text)


def septets(text: str) -> int:
    """The GSM-7 length of a GSM-7 text: extension characters count two."""
    return sum(2 if char in _EXTENDED else 1 for char in text)


def segments(text: str) -> int:
    """How many SMS segments the text is sent as (0 for nothing to send).

    Parts are counted as phones fill them: a character never straddles two parts (an
    escape and its character, or the two halves of an emoji, stay together).
    """
    if is_gsm7(text):
        return _parts([septets(char) for char in text], SINGLE_SEPTETS, PART_SEPTETS)
    utf16_units = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return _parts(utf16_units, SINGLE_UCS2, PART_UCS2)


def _parts(sizes: list[int], single: int, part: int) -> int:
    if not sizes:
        return 0
    if sum(sizes) <= single:
        return 1
    count, used = 1, 0
    for size in sizes:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return count


def to_gsm7(text: str) -> str:
    """The text in GSM-7, as close as it goes: smart quotes and dashes made plain, accents
    GSM-7 lacks dropped ("ï" → "i"; "ü", "é" and "ß" are GSM-7 and stay), whitespace and
    line breaks collapsed to single spaces, and anything else a "?"."""
    folded = "".join(_char_to_gsm7(char) for char in text)
    return " ".join(folded.split())


def _char_to_gsm7(char: str) -> str:
    if char.isspace():
        return " "  # also \n, \r and form feed, which are GSM-7 but break a one-line page
    if char in _BASIC or char in _EXTENDED:
        return char
    if char in _LOOKALIKES:
        return _LOOKALIKES[char]
    if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
        return ""
    # The compatibility decomposition without its accents: "ï" → "i", "ﬁ" → "fi", "Ａ" → "A".
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(part for part in decomposed if not unicodedata.combining(part))
    base = "".join(_LOOKALIKES.get(part, part) for part in base)
    return base if base and is_gsm7(base) else "?"


def short_name(display_name: str | None, fallback: str) -> str:
    """A name short enough for a page: "Jane Doe" → "Jane D", "Doe, Jane" → "Jane D",
    "Cher" → "Cher"; with no name, the fallback (an address, an @handle, a number)."""
    unquoted = (display_name or "").strip().strip("\"'")
    words = [word for word in unquoted.split() if not word.startswith("(")]  # "Jane Doe (Acme)"
    if not words:
        return fallback
    if len(words) > 1 and words[0].endswith(","):
        words = [*words[1:], words[0].rstrip(",")]  # "Doe, Jane": family name first
    initial = next((char for char in words[-1] if char.isalnum()), "") if len(words) > 1 else ""
    return f"{words[0]} {initial}" if initial else words[0]


@dataclass(frozen=True)
class PageItem:
    code: str
    channel: str  # "sms" | "voice" | "email" | "x"
    customer: str  # already shortened: a name, an @handle or an address
    preview: str  # the start of the customer's message, any Unicode
    escalated: bool = False
    follow_up: bool = False  # an agent's LATER came due
    link: str = ""  # the conversation's page (agent_pages/links.py); "" for none


CHANNEL_LABELS = {"sms": "SMS", "voice": "CALL", "email": "EMAIL", "x": "X"}
NAME_MAX_SEPTETS = 40  # leaves a page at least ~50 septets of preview
MIN_PREVIEW_SEPTETS = 8  # below that a preview says nothing; give its room to the name
# A digest entry: the name and preview lengths to try, the first that fits wins; the
# shorter ones are only tried for the first entry, so that a digest always names one.
DIGEST_ENTRY_SIZES = ((24, 24), (24, 0), (12, 0))
ELLIPSIS = "..."


def page_text(item: PageItem) -> str:
    """One GSM-7 segment naming the conversation, its customer and the start of the message,
    then the link to the conversation's page when there is one.

    The preview is cut first; a name longer than NAME_MAX_SEPTETS is cut always. A link
    that leaves no room for even a cut name (a very long public URL), or is not GSM-7, is
    left out. Only a code so long that the reply instruction alone overflows makes more
    than one segment.
    """
    code = to_gsm7(item.code)
    head = ("ESCALATED " if item.escalated else "FOLLOW-UP " if item.follow_up else "") + f"[{code}] {_label(item.channel)}"
    tail = f"Reply {code} ACK or {code} <answer>"
    if item.link:
        with_link = f"{tail} {item.link}"
        if is_gsm7(item.link) and septets(_page(head, "x" * MIN_PREVIEW_SEPTETS, "", with_link)) <= SINGLE_SEPTETS:
            tail = with_link
    name = cut(to_gsm7(item.customer) or "unknown", NAME_MAX_SEPTETS)
    preview = to_gsm7(item.preview)

    text = _page(head, name, preview, tail)
    if septets(text) <= SINGLE_SEPTETS:
        return text
    preview_room = SINGLE_SEPTETS - septets(_page(head, name, "", tail, quoted=True))
    if preview_room >= MIN_PREVIEW_SEPTETS:
        return _page(head, name, cut(preview, preview_room), tail)
    name_room = SINGLE_SEPTETS - septets(_page(head, "", "", tail))
    return _page(head, cut(name, name_room), "", tail)


def _page(head: str, name: str, preview: str, tail: str, quoted: bool = False) -> str:
    if preview or quoted:
        return f'{head} {name}: "{preview}" {tail}'
    return f"{head} {name}. {tail}"  # a missed call, an empty email: nothing to quote


def digest_text(items: list[PageItem], max_segments: int = 3, notes: tuple[str, ...] = (), inbox_link: str = "") -> str:
    """Many waiting conversations in one SMS of at most max_segments GSM-7 segments:
    the total, as many conversations as fit (each with a short preview, or its link, when
    items have links), how many more (and where the inbox lists them all).
    Notes ("12 answered by Ana Lima") come first, in one segment beside conversations."""
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    total = len(items)
    told = _notes(notes, 1 if total else max_segments)
    if not total:
        return f"Switchboard: {told}" if told else "Switchboard: no conversation needs an answer."
    header = f"Switchboard: {told + ' ' if told else ''}{total} {'needs' if total == 1 else 'need'} an answer."
    footer = "Reply <n> ACK or <n> <answer>"

    def compose(entries: list[str]) -> str:
        hidden = total - len(entries)
        where = f": {inbox_link}" if inbox_link and is_gsm7(inbox_link) else " (switchboard conversations list)."
        more = [f"+{hidden} more{where}"] if hidden else []
        return " ".join([header, *entries, *more, footer])

    shown: list[str] = []
    for item in items:  # stops at the first that does not fit: 1,000 items cost ~20 steps
        # Later entries keep their preview; with a link, they may give it up to fit.
        sizes = DIGEST_ENTRY_SIZES if not shown else DIGEST_ENTRY_SIZES[:2 if item.link else 1]
        entries = (_digest_entry(item, *size) for size in sizes)
        entry = next((e for e in entries if segments(compose([*shown, e])) <= max_segments), None)
        if entry is None:
            break
        shown.append(entry)
    return compose(shown)


def _notes(notes: tuple[str, ...], max_segments: int) -> str:
    """As many notes as fit in max_segments after "Switchboard: ", then how many more."""
    shown: list[str] = []
    for count, note in enumerate(notes, start=1):
        hidden = len(notes) - count
        candidate = " ".join([*shown, f"{to_gsm7(note)}.", *([f"+{hidden} more."] if hidden else [])])
        if segments(f"Switchboard: {candidate}") > max_segments:
            break
        shown.append(f"{to_gsm7(note)}.")
    hidden = len(notes) - len(shown)
    return " ".join([*shown, *([f"+{hidden} more."] if hidden else [])])


def _digest_entry(item: PageItem, name_septets: int, preview_septets: int) -> str:
    label = ("ESC " if item.escalated else "") + _label(item.channel)
    name = cut(to_gsm7(item.customer) or "unknown", name_septets)
    preview = cut(to_gsm7(item.preview), preview_septets)
    entry = f"[{to_gsm7(item.code)}] {label} {name}"
    entry = f'{entry} "{preview}"' if preview else entry
    return f"{entry} {item.link}" if item.link and is_gsm7(item.link) else entry


def _label(channel: str) -> str:
    return CHANNEL_LABELS.get(str(channel), cut(to_gsm7(str(channel)).upper(), 10))


def cut(text: str, max_septets: int) -> str:
    """The text in at most max_septets, ending in "..." when cut, on a word boundary when
    that loses only a few characters ("my invoice shows..." rather than "my invoice sh...")."""
    if septets(text) <= max_septets:
        return text
    budget = max_septets - len(ELLIPSIS)
    if budget < 1:
        return ""
    kept, used = [], 0
    for char in text:
        used += septets(char)
        if used > budget:
            break
        kept.append(char)
    start = "".join(kept)
    mid_word = not text[len(start)].isspace()
    word_end = start.rfind(" ")
    if mid_word and word_end > 0 and len(start) - word_end <= 10:
        start = start[:word_end]
    return start.rstrip() + ELLIPSIS
