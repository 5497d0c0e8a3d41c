"""Charsets: a MIME charset label to a Python codec, bytes to text in it (never
failing, noting what had to be guessed), and undecodable header bytes made clean text."""

from __future__ import annotations

import codecs
import re
from functools import lru_cache


# Labels mail clients use that Python does not know, or knows as a smaller charset than
# the one the sender's software really used (Outlook's ks_c_5601-1987 is cp949, a
# superset of EUC-KR; Shift_JIS mail from Windows is cp932; GB2312 mail is mostly GBK).
CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ks_c_5601_1987": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "x-sjis": "cp932",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "x-shift_jis": "cp932",
    "windows-31j": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "cn-gb": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-6-e": "iso-8859-6",
    "windows-874": "cp874",
    "x-windows-874": "cp874",
    "x-mac-roman": "mac-roman",
    # Mail labelled Latin-1 is mostly written on Windows, with cp1252's quotes and dashes
    # in 0x80-0x9F (control characters in Latin-1). Latin-1 is tried when cp1252 fails.
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    # Undeclared or "ASCII" 8-bit text is UTF-8 far more often than anything else.
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}
# Python codecs that are not character sets.
UNUSABLE_CODECS = frozenset({"punycode", "unicode-escape", "raw-unicode-escape"})


@lru_cache(maxsize=256)
def text_codec(label: str) -> str | None:
    """Python's codec for a MIME charset label, or None when it is unknown or unusable."""
    try:
        name = codecs.lookup(label).name
        b"a".decode(name, "replace")  # LookupError for "base64", UnicodeError for "idna"
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None
    return None if name in UNUSABLE_CODECS else name


def _guess_decode(data: bytes) -> tuple[str, str]:
    """(text, codec) for bytes of unknown charset: UTF-8 when they mostly are, else Latin-1."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "replace")
    invalid = text.count("\ufffd") - data.count("\ufffd".encode())
    non_ascii = sum(1 for byte in data if byte >= 0x80)
    # A few stray bytes in UTF-8 text stay UTF-8; in Latin-1 text most 8-bit bytes are invalid.
    if invalid * 10 < non_ascii:
        return text, "utf-8"
    return data.decode("latin-1"), "latin-1"


def decode_bytes(data: bytes, charset: str | None, where: str, defects: list[str]) -> str:
    """Text from bytes in a declared charset; never fails, notes what it had to guess."""
    label = (charset or "us-ascii").strip().strip('"').lower()
    preferred = text_codec(CHARSET_ALIASES.get(label, label))
    if preferred is None:
        text, used = _guess_decode(data)
        defects.append(f"{where}: charset {label!r} unknown, decoded as {used}")
        return text
    for codec in dict.fromkeys((preferred, text_codec(label) or preferred)):
        try:
            return data.decode(codec)
        except (UnicodeError, ValueError, TypeError, LookupError):
            continue
    if preferred == "utf-8":  # undeclared, ASCII or UTF-8: Latin-1 is a common mislabel
        text, used = _guess_decode(data)
        replaced = " with replacements" if used == "utf-8" else ""
        defects.append(f"{where}: not valid {label}, decoded as {used}{replaced}")
        return text
    defects.append(f"{where}: bytes invalid in {label}, replaced")
    return data.decode(preferred, "replace")


_SURROGATES = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """text without lone surrogates. The email package keeps undecodable header bytes as
    surrogate escapes, which JSON and DynamoDB reject; raw UTF-8 is recovered here."""
    if text.isascii() or not _SURROGATES.search(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # surrogates that are not escaped bytes
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
