"""Real-shaped X API v2 responses for the mentions timeline, served through `responses`.

Tests and `switchboard local send mention` run the real tweepy client against these,
with `responses` intercepting its HTTP, so nothing reaches X. The shapes follow what
X sends for GET /2/users/:id/mentions with expansions=author_id: tweets newest first
under `data`, their authors once each under `includes.users`, and `meta` with the
page's newest and oldest ids and the token of the next page. Ids are strings, as X
sends them (they overflow a JavaScript number).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

# tweepy 4.x's Client still calls api.twitter.com; X answers on both hosts.
API_HOST = "https://api.twitter.com"
MENTIONS_URL = re.compile(r"https://api\.(?:twitter|x)\.com/2/users/(\d+)/mentions")
# Requests per 15-minute window; only shown in headers, nothing counts them here.
RATE_LIMIT = 450

Reply = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


def mentions_url(account_id: str) -> str:
    return f"{API_HOST}/2/users/{account_id}/mentions"


def mention(
    tweet_id: str,
    text: str,
    author_id: str,
    username: str,
    name: str,
    created_at: datetime,
    in_reply_to: str | None = None,
    *,
    in_reply_to_user_id: str | None = None,
    conversation_id: str | None = None,
    lang: str = "en",
) -> dict[str, Any]:
    """A tweet mentioning the account, with its author: {"tweet": ..., "user": ...}.

    conversation_id is the thread's first tweet; without one, a reply is taken to
    answer the thread's first tweet and a new tweet starts its own thread.
    """
    tweet: dict[str, Any] = {
        "id": tweet_id,
        "text": text,
        "author_id": author_id,
        "created_at": x_time(created_at),
        "conversation_id": conversation_id or in_reply_to or tweet_id,
        "edit_history_tweet_ids": [tweet_id],
        "lang": lang,
    }
    if in_reply_to:
        tweet["referenced_tweets"] = [{"type": "replied_to", "id": in_reply_to}]
    if in_reply_to_user_id:
        tweet["in_reply_to_user_id"] = in_reply_to_user_id
    return {"tweet": tweet, "user": {"id": author_id, "name": name, "username": username}}


def mentions_page(mentions: list[dict[str, Any]], next_token: str | None = None) -> dict[str, Any]:
    """One page of the mentions timeline, newest first whatever order it is given in."""
    if not mentions:
        return {"meta": {"result_count": 0}}
    tweets = sorted((m["tweet"] for m in mentions), key=lambda tweet: int(tweet["id"]), reverse=True)
    users = list({m["user"]["id"]: m["user"] for m in mentions}.values())
    meta: dict[str, Any] = {
        "result_count": len(tweets),
        "newest_id": tweets[0]["id"],
        "oldest_id": tweets[-1]["id"],
    }
    if next_token:
        meta["next_token"] = next_token
    return {"data": tweets, "includes": {"users": users}, "meta": meta}


def rate_limited(reset_at: datetime) -> Reply:
    """X's 429: a problem document, and the window's reset in epoch seconds."""
    headers = {
        "x-rate-limit-limit": str(RATE_LIMIT),
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(int(reset_at.timestamp())),
    }
    return 429, problem(429), headers


def error(status: int) -> Reply:
    """Any other failure as X reports it (401 bad token, 403 tier, 503 overloaded...)."""
    return status, problem(status), {}


def problem(status: int) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase
    return {"title": phrase, "detail": phrase, "type": "about:blank", "status": status}


def register(responses_mock: Any, account_id: str, pages: list[dict[str, Any] | Reply]) -> None:
    """Queue replies for the account's mentions URL, served in this order (the last
    one repeats). Each is a page from mentions_page() or a Reply tuple.

    responses_mock is a responses.RequestsMock, or the `responses` module itself
    under @responses.activate. The URL is registered without a query string, so any
    since_id / pagination_token matches; tests read what was sent from its calls.
    """
    for page in pages:
        status, body, headers = page if isinstance(page, tuple) else (200, page, {})
        responses_mock.add("GET", mentions_url(account_id), json=body, status=status, headers=headers)


def x_time(moment: datetime) -> str:
    """'2026-11-23T09:30:00.000Z', X's timestamp format (tweepy requires the millis)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# X's ids are Snowflakes: milliseconds since X's epoch in the high bits, so they sort by time.
SNOWFLAKE_EPOCH_MS = 1288834974657


def new_tweet_id(moment: datetime) -> int:
    import secrets

    return ((int(moment.timestamp() * 1000) - SNOWFLAKE_EPOCH_MS) << 22) | secrets.randbits(22)
