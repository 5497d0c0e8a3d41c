"""The secrets in our links (a satisfaction rating, an agent's conversation page, a
sign-in link, a session cookie): random, stored only as a digest, checked in constant time.

A token is 128 random bits (22 URL-safe characters). The table keeps its SHA-256 digest,
so whoever reads the table cannot use a link; a form's CSRF token is an HMAC of the
token, so a page can carry it and a cross-site form cannot forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 16  # 128 bits
MAX_TOKEN_LENGTH = 64  # anything longer is no token of ours: refused before any read


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """How a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def plausible(token: str) -> bool:
    """Whether a token is worth a read: non-empty, short, URL-safe characters only."""
    return 0 < len(token) <= MAX_TOKEN_LENGTH and all(char.isascii() and (char.isalnum() or char in "-_") for char in token)


def csrf_token(secret_token: str, purpose: str) -> str:
    """The CSRF token of the forms a link or session shows: bound to its secret and to what the form does."""
    return hmac.new(secret_token.encode(), f"csrf:{purpose}".encode(), hashlib.sha256).hexdigest()[:32]


def csrf_matches(secret_token: str, purpose: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(secret_token, purpose), given or "")
