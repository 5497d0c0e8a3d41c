"""Mentions of the support account on X → InboundMessage.

X has no webhook for mentions on the self-serve tiers, so a scheduled function polls
GET /2/users/:id/mentions with the last tweet id it stored as `since_id`. This module
does the fetching and normalizing; the caller stores the messages and then the
checkpoint. It touches nothing but the tweepy client it is given: the clock and sleep
are injected, and tweepy is imported inside the functions that use it (cold starts).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

from switchboard.models import Channel, Identity, IdentityKind, InboundMessage
from switchboard.plain_text import one_line

if TYPE_CHECKING:
    import tweepy

PROVIDER = "x"

EXPANSIONS = ["author_id"]
USER_FIELDS = ["username", "name"]
TWEET_FIELDS = ["created_at", "conversation_id", "in_reply_to_user_id", "referenced_tweets", "lang"]

# Wait a second past X's reset time: its clock and ours never agree to the second.
RESET_MARGIN = timedelta(seconds=1)
# A 429 without x-rate-limit-reset: wait about as long as X's shortest windows.
UNKNOWN_RESET_WAIT = timedelta(seconds=60)
# Never retry sooner, even when the reset X names has passed by our clock.
MIN_WAIT = timedelta(seconds=1)

_USER_ID = re.compile(r"[0-9]{1,20}")
_USERNAME = re.compile(r"@?([A-Za-z0-9_]{1,15})")


@dataclass(frozen=True)
class Backlog:
    """Where a walk of the mentions newer than since_id stopped (rate limited): the next
    poll continues at next_token instead of starting again at the newest page."""

    since_id: str
    next_token: str
    newest_id: str  # the walk's newest mention: the checkpoint once the walk is done


@dataclass(frozen=True)
class MentionPoll:
    """What one poll of the mentions timeline found."""

    messages: tuple[InboundMessage, ...]  # oldest first
    # The `since_id` for the next poll (the newest mention seen), to store once every
    # message is stored; None when nothing new.
    newest_id: str | None
    # False when we stopped early (the rate limit resets after the deadline): keep the
    # old checkpoint, and `backlog` says where the next poll goes on.
    complete: bool
    rate_limited_until: datetime | None
    pages: int
    backlog: Backlog | None = None

    @property
    def checkpoint(self) -> str | None:
        """The checkpoint to store after this poll, or None to keep the old one."""
        return self.newest_id if self.complete else None


def parse_account(value: str) -> tuple[str, str | None]:
    """'<numeric id>' or '<numeric id>:<username>' → (id, username or None)."""
    user_id, colon, username = value.strip().partition(":")
    if not _USER_ID.fullmatch(user_id):
        raise ValueError(
            f"X support account must be '<numeric user id>' or '<numeric user id>:<username>', got {value!r}"
        )
    if not colon:
        return user_id, None
    match = _USERNAME.fullmatch(username.strip())
    if not match:
        raise ValueError(f"X username must be 1-15 letters, digits or underscores, got {username!r}")
    return user_id, match.group(1)


def make_client(bearer_token: str, timeout_seconds: float = 10) -> "tweepy.Client":
    """An app-only client. tweepy must not sleep on 429: fetch_mentions decides
    whether the wait fits in what is left of the Lambda's time."""
    import tweepy

    client = tweepy.Client(bearer_token=bearer_token, wait_on_rate_limit=False)
    client.session = timed_session(timeout_seconds)
    return client


def timed_session(timeout_seconds: float):
    """A requests session whose every request has a timeout: tweepy sets none, so a
    stalled X would otherwise outlast the function."""
    import requests

    class TimedSession(requests.Session):
        def request(self, *args, **kwargs):
            kwargs.setdefault("timeout", timeout_seconds)
            return super().request(*args, **kwargs)

    return TimedSession()


def fetch_mentions(
    client: "tweepy.Client",
    account_id: str,
    since_id: str | None,
    *,
    deadline: datetime,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
    max_results: int = 100,
    account_username: str | None = None,
    backlog: Backlog | None = None,
) -> MentionPoll:
    """Every mention of account_id newer than since_id, oldest first.

    With a backlog (the last poll's walk stopped on a rate limit), the walk goes on at
    its next page: a long backlog is fetched across polls instead of starting over at
    the newest page each time (and never getting past the rate limit).

    The very first poll (since_id None) fetches one page only, the latest max_results
    mentions, instead of walking the account's whole history.

    deadline is the last moment a retry after a 429 may start: the caller leaves room
    before the Lambda's own end for the requests and for storing what was fetched.

    Pages come through tweepy's Paginator. When a page gets a 429 we start a new
    Paginator at that page's pagination_token (a documented Paginator argument)
    rather than calling next() again on the failed iterator: that happens to work
    today, but only because of how PaginationIterator is written, and if that ever
    changed the retry would end the iteration quietly and lose pages.
    """
    import tweepy

    pages: list[tweepy.Response] = []
    page_limit = 1 if since_id is None else math.inf
    if backlog is not None and backlog.since_id != since_id:
        backlog = None  # it belonged to an older checkpoint
    start_token = backlog.next_token if backlog else None

    def stopped(rate_limited_until: datetime) -> MentionPoll:
        resume_at = pages[-1].meta.get("next_token") if pages else start_token
        newest = backlog.newest_id if backlog else (pages[0].meta.get("newest_id") if pages else None)
        here = Backlog(since_id, resume_at, newest) if since_id and resume_at and newest else None
        return _poll(pages, account_id, account_username, now, complete=False, rate_limited_until=rate_limited_until, backlog=here)

    while True:
        resume_token = pages[-1].meta.get("next_token") if pages else start_token
        paginator = tweepy.Paginator(
            client.get_users_mentions,
            account_id,
            since_id=since_id,
            max_results=max_results,
            pagination_token=resume_token,
            limit=page_limit - len(pages),
            expansions=EXPANSIONS,
            user_fields=USER_FIELDS,
            tweet_fields=TWEET_FIELDS,
        )
        try:
            for page in paginator:  # one by one, so pages before a 429 are kept
                pages.append(page)
            break
        except tweepy.TooManyRequests as error:
            reset_at, resume_at = _rate_limit_reset(error, now())
            if resume_at >= deadline:
                return stopped(reset_at)
            sleep(max(resume_at - now(), MIN_WAIT).total_seconds())
        except tweepy.Unauthorized as error:
            error.add_note("X rejected the bearer token: check the X bearer token secret.")
            raise
        except tweepy.Forbidden as error:
            error.add_note(
                f"X refused the mentions timeline of user {account_id}: the app's access tier may not "
                "include GET /2/users/:id/mentions, or the account is suspended or protected."
            )
            raise
    poll = _poll(pages, account_id, account_username, now, complete=True, rate_limited_until=None)
    if backlog is not None:  # the walk began polls ago: its newest mention is on its first page
        poll = replace(poll, newest_id=backlog.newest_id)
    return poll


def _rate_limit_reset(error: "tweepy.TooManyRequests", moment: datetime) -> tuple[datetime, datetime]:
    """When the rate limit window resets, and when to try again.

    X sends the reset in epoch seconds in a header. (tweepy 4.17 also parses it into
    error.reset_time; reading the header works with every tweepy 4.)
    """
    reset = error.response.headers.get("x-rate-limit-reset", "").strip()
    if not reset.isdigit():
        guess = moment + UNKNOWN_RESET_WAIT
        return guess, guess
    reset_at = datetime.fromtimestamp(int(reset), timezone.utc)
    return reset_at, reset_at + RESET_MARGIN


def _poll(
    pages: list["tweepy.Response"],
    account_id: str,
    account_username: str | None,
    now: Callable[[], datetime],
    *,
    complete: bool,
    rate_limited_until: datetime | None,
    backlog: Backlog | None = None,
) -> MentionPoll:
    recipient = f"@{account_username}" if account_username else account_id
    messages = []
    for page in pages:
        authors = {user.id: user for user in page.includes.get("users", [])}
        for tweet in page.data or []:
            if _is_customer_mention(tweet, account_id):
                messages.append(to_message(tweet, authors.get(tweet.author_id), recipient, now))
    # Tweet ids grow with time, so sorting by id puts them in the order they were sent.
    messages.sort(key=lambda message: int(message.provider_id))
    return MentionPoll(
        messages=tuple(messages),
        # Pages come newest first, so the first page's newest_id is the newest overall.
        newest_id=pages[0].meta.get("newest_id") if pages else None,
        complete=complete,
        rate_limited_until=rate_limited_until,
        pages=len(pages),
        backlog=backlog,
    )


def _is_customer_mention(tweet: "tweepy.Tweet", account_id: str) -> bool:
    """Not our own post or reply, and not a bare retweet (no words of the customer's
    own: the tweet it repeats reached us as a mention already, or was ours)."""
    if str(tweet.author_id) == account_id:
        return False
    return not any(ref.type == "retweeted" for ref in tweet.referenced_tweets or [])


def to_message(
    tweet: "tweepy.Tweet", author: "tweepy.User | None", recipient: str, now: Callable[[], datetime]
) -> InboundMessage:
    """One mention → InboundMessage. The author may be missing from `includes`
    (suspended or deleted since): the message is kept, without name or handle."""
    tweet_id = str(tweet.id)
    username = author.username if author else None
    fields = {
        "conversation_id": _str_or_none(tweet.conversation_id),
        "in_reply_to_tweet_id": _replied_to(tweet),
        "in_reply_to_user_id": _str_or_none(tweet.in_reply_to_user_id),
        # x.com/i/web/status/<id> opens a tweet without knowing its author.
        "url": f"https://x.com/{username or 'i/web'}/status/{tweet_id}",
        "lang": tweet.lang,
    }
    return InboundMessage(
        channel=Channel.X,
        provider=PROVIDER,
        provider_id=tweet_id,
        sender=Identity(
            kind=IdentityKind.X,
            value=str(tweet.author_id),
            display_name=(one_line(author.name) or None) if author else None,
            handle=username,
        ),
        recipient=recipient,
        body=tweet.text,
        received_at=(tweet.created_at or now()).astimezone(timezone.utc),
        provider_fields={name: value for name, value in fields.items() if value},
    )


def _replied_to(tweet: "tweepy.Tweet") -> str | None:
    for ref in tweet.referenced_tweets or []:
        if ref.type == "replied_to":
            return str(ref.id)
    return None


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
