"""A conversation's own email address: replies to it thread into that conversation.

It is <support local part>+r<token>@<domain>, where the token is random and the store
maps it to the conversation (store.conversations.reply_token): every answer we send
carries it, so it must not tell anyone a conversation id or let them guess another's.
The email channel reads it off inbound mail; an agent's email answer sets it as
Reply-To. Pure.
"""

from __future__ import annotations

import re
import secrets

REPLY_TAG = "r"
# Crockford's base32, lower case: no i, l, o or u to misread; 20 characters, 100 bits.
TOKEN_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
TOKEN_LENGTH = 20
_TOKEN = rf"[{TOKEN_ALPHABET}]{{{TOKEN_LENGTH}}}"


def new_reply_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def reply_address(support_address: str, token: str) -> str:
    """The address that threads replies into the token's conversation, whatever the subject says."""
    local, _, domain = support_address.partition("@")
    return f"{local}+{REPLY_TAG}{token}@{domain}"


def reply_token_in_addresses(addresses: tuple[str, ...], support_address: str) -> str | None:
    """The reply token of a reply address among these recipients, if any."""
    if not support_address:
        return None
    local, _, domain = support_address.lower().partition("@")
    pattern = re.compile(rf"{re.escape(local)}\+{REPLY_TAG}({_TOKEN})@{re.escape(domain)}")
    for address in addresses:
        match = pattern.fullmatch(address.lower())
        if match:
            return match.group(1)
    return None
