"""A conversation's own email address: replies to it thread into that conversation.

It is <support local part>+c<conversation id>@<domain>. The email channel reads it off
inbound mail; an agent's email answer sets it as Reply-To. Pure.
"""

from __future__ import annotations

import re

REPLY_TAG = "c"
_ULID = r"[0-9a-hjkmnp-tv-z]{26}"


def reply_address(support_address: str, conversation_id: str) -> str:
    """The address that threads replies into this conversation, whatever the subject says."""
    local, _, domain = support_address.partition("@")
    return f"{local}+{REPLY_TAG}{conversation_id.lower()}@{domain}"


def conversation_in_addresses(addresses: tuple[str, ...], support_address: str) -> str | None:
    """The conversation named by a reply address among these recipients, if any."""
    if not support_address:
        return None
    local, _, domain = support_address.lower().partition("@")
    pattern = re.compile(rf"{re.escape(local)}\+{REPLY_TAG}({_ULID})@{re.escape(domain)}")
    for address in addresses:
        match = pattern.fullmatch(address.lower())
        if match:
            return match.group(1).upper()
    return None
