"""The email package: policy.default with each header parsed once per message, and
reading a part's content type and parameters without tripping over hostile input."""

from __future__ import annotations

import email.utils
from email.headerregistry import HeaderRegistry
from email.message import Message
from email.policy import EmailPolicy
from email.policy import default as DEFAULT_POLICY
from typing import Callable, TypeVar

from switchboard.channels.mime.charsets import clean


T = TypeVar("T")


class _MemoisedHeaderRegistry(HeaderRegistry):
    """policy.default's header classes, each (name, value) parsed once per message.

    The email package parses a header again on every access and reads Content-Type a
    dozen times per part while walking a message: that was most of the parse time.
    A registry per message, so nothing a customer wrote outlives the parse.
    """

    def __init__(self) -> None:
        super().__init__()
        self._parsed: dict[tuple[str, str], object] = {}

    def __call__(self, name: str, value: str):  # type: ignore[override]
        key = (name, value)
        header = self._parsed.get(key)
        if header is None:
            header = self._parsed[key] = super().__call__(name, value)
        return header


def parse_policy() -> EmailPolicy:
    return DEFAULT_POLICY.clone(header_factory=_MemoisedHeaderRegistry())


def safely(function: Callable[[], T], default: T) -> T:
    """function(), or default when the email package trips over hostile input."""
    try:
        return function()
    except Exception:
        return default


def content_type_of(part: Message) -> str:
    return safely(part.get_content_type, "application/octet-stream")


def content_param(part: Message, name: str) -> str:
    """A Content-Type parameter as clean text, "" when absent (RFC 2231 values included)."""
    value = safely(lambda: part.get_param(name), None)
    if value is None:
        return ""
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return clean(str(value))
