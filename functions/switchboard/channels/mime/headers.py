"""Headers: the sender, recipients, subject, date and Message-IDs, decoded with their
charsets (RFC 2047 encoded words included), with the defects noted."""

from __future__ import annotations

import email.utils
import re
from datetime import datetime, timezone
from email.header import decode_header
from email.message import Message

from switchboard.channels.mime.charsets import CHARSET_ALIASES, clean, decode_bytes, text_codec
from switchboard.channels.mime.defects import add_defects
from switchboard.channels.mime.results import UnreadableEmail


def get_header(msg: Message, name: str, defects: list[str]) -> object | None:
    """The parsed header (policy.default), or its raw text if the parser gave up on it."""
    try:
        value = msg.get(name)
    except Exception as error:
        defects.append(f"{name}: unparseable ({type(error).__name__})")
        raw = raw_header(msg, name)
        return None if raw is None else clean(raw)
    if value is not None:
        add_defects(defects, name, getattr(value, "defects", ()))
    return value


def raw_header(msg: Message, name: str) -> str | None:
    """A header's unparsed value (undecodable bytes as surrogate escapes)."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def addresses(header: object | None) -> list[tuple[str, str | None]]:
    """(address lower-cased, display name or None) for each address in a header."""
    if header is None:
        return []
    parsed = getattr(header, "addresses", None)
    if parsed is None:  # raw text: the header parser failed, try the lenient one
        name, address = email.utils.parseaddr(str(header))
        return [(clean(address).lower(), clean(name) or None)] if address else []
    found = []
    for item in parsed:
        address = clean(item.addr_spec or "").strip().lower()
        if address and address != "<>":
            found.append((address, clean(item.display_name or "").strip() or None))
    return found


def sender(msg: Message, defects: list[str]) -> tuple[str, str | None]:
    """(address, name) from From, else Sender, else Return-Path: the first usable one."""
    for name in ("From", "Sender"):
        for address, display_name in addresses(get_header(msg, name, defects)):
            if "@" in address:
                if name != "From":
                    defects.append(f"no usable From address, sender taken from {name}")
                return address, _display_name(msg, name, address, display_name, defects)
    return_path = get_header(msg, "Return-Path", defects)
    if return_path is not None:
        _, address = email.utils.parseaddr(clean(str(return_path)))
        if "@" in address:
            defects.append("no usable From address, sender taken from Return-Path")
            return address.strip().lower(), None
    raise UnreadableEmail("no sender address: From, Sender and Return-Path missing or unreadable")


def _display_name(
    msg: Message, header_name: str, address: str, parsed: str | None, defects: list[str]
) -> str | None:
    """The display name, encoded words joined as RFC 2047 says: the email package keeps
    the space between adjacent encoded words in names ("みけ る" for "みける")."""
    raw = raw_header(msg, header_name) or ""
    if parsed and "=?" in raw and raw.isascii():
        raw_name, raw_address = email.utils.parseaddr(raw)
        if raw_address.strip().lower() == address and "=?" in raw_name:
            parsed = _decode_encoded_words(raw_name, header_name, defects)
    if not parsed:
        return None
    return " ".join(clean(parsed).split()) or None


_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def message_ids(header: object | None) -> list[str]:
    """Message-IDs without <>, in order; a bare id without brackets is taken as it is."""
    if header is None:
        return []
    value = clean(str(header))
    found = _MESSAGE_ID.findall(value)
    if found:
        return found
    return [token for token in value.split() if "@" in token][:1] or value.split()[:1]


def subject(msg: Message, defects: list[str]) -> str:
    header = get_header(msg, "Subject", defects)
    if header is None:
        return ""
    subject = str(header)
    raw = raw_header(msg, "Subject")
    if raw and raw.isascii() and _has_remapped_charset(raw):
        subject = _decode_encoded_words(raw, "Subject", defects)
    return " ".join(clean(subject).split())


_ENCODED_WORD_CHARSET = re.compile(r"=\?([^?*]+)")


def _has_remapped_charset(raw: str) -> bool:
    """Encoded words in a charset we decode differently from the email package."""
    return any(
        label.lower() in CHARSET_ALIASES or text_codec(label.lower()) is None
        for label in _ENCODED_WORD_CHARSET.findall(raw)
    )


def _decode_encoded_words(raw: str, where: str, defects: list[str]) -> str:
    """RFC 2047 words decoded with our charset table (ks_c_5601-1987 as cp949 ...)."""
    try:
        pieces = decode_header(raw)
    except Exception:  # malformed encoded words: keep the raw text
        return raw
    return "".join(
        data if isinstance(data, str) else decode_bytes(data, charset, where, defects)
        for data, charset in pieces
    )


def date(msg: Message, defects: list[str]) -> datetime | None:
    value = getattr(get_header(msg, "Date", defects), "datetime", None)
    if not isinstance(value, datetime):
        return None
    # "-0000" (zone unknown) gives a naive datetime; RFC 5322 reads it as UTC.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
