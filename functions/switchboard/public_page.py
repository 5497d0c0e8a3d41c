"""The small HTML pages our public links answer with (subscriptions, satisfaction): one
look, and the headers every such page needs (no caching, no scripts, no referrer)."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs

STYLE = (
    "body{font:1.05rem/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}"
    "button{font:inherit;padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#1f5fbf;color:#fff}"
)
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}


# The agents' pages (agent_pages/) hold customers' messages: never framed, never indexed.
PRIVATE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
}


def form_fields(body: bytes) -> dict[str, str]:
    """A submitted form's fields (application/x-www-form-urlencoded), the first value of each."""
    return {name: values[0] for name, values in parse_qs(body.decode("utf-8", errors="replace")).items()}


def page(status: int, title: str, content: str, style: str = "", private: bool = False) -> dict[str, Any]:
    """An API Gateway response holding a page; `content` is HTML (callers escape what they insert).
    A private page (an agent's) gets PRIVATE_HEADERS besides."""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        f"<style>{STYLE}{style}</style>"
        f"</head><body><main><h1>{html.escape(title)}</h1>{content}</main></body></html>"
    )
    return {"statusCode": status, "headers": {**HEADERS, **(PRIVATE_HEADERS if private else {})}, "body": body}
