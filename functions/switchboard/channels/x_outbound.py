"""Answering on X: a reply to the customer's post, with the support account's user tokens.

Reading mentions needs only the app's bearer token; posting needs the account's
OAuth 1.0a user context (consumer key and secret, access token and secret), kept as one
JSON SecureString in SSM. tweepy is imported here, where it posts.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterator

from switchboard.errors import PermanentSendFailure


def user_credentials(secret: str) -> dict[str, str]:
    """The SSM value: {"consumer_key", "consumer_secret", "access_token", "access_token_secret"}."""
    try:
        values = json.loads(secret)
        return {name: str(values[name]) for name in ("consumer_key", "consumer_secret", "access_token", "access_token_secret")}
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"the X user credentials are not the expected JSON object ({type(error).__name__}: {error})") from None


class XReplies:
    def __init__(self, credentials: dict[str, str], timeout_seconds: float = 10) -> None:
        import tweepy

        from switchboard.channels.x import timed_session

        self._client = tweepy.Client(**credentials, wait_on_rate_limit=False)
        self._client.session = timed_session(timeout_seconds)

    def send(self, in_reply_to_post_id: str, text: str) -> str:
        """Post the reply; returns its id. Rate limits and X's 5xx are raised for a retry."""
        with _refusals_are_permanent("the reply"):
            response = self._client.create_tweet(text=text, in_reply_to_tweet_id=in_reply_to_post_id, user_auth=True)
        return str(response.data["id"])

    def direct_message(self, user_id: str, text: str) -> str:
        """A direct message (incident notices): not a public post in the customer's name."""
        with _refusals_are_permanent("the direct message"):
            response = self._client.create_direct_message(participant_id=user_id, text=text, user_auth=True)
        return str(response.data["dm_event_id"])


@contextmanager
def _refusals_are_permanent(what: str) -> Iterator[None]:
    """X's 400/403/404 will not change on a retry; its 429 and 5xx pass through for one."""
    import tweepy

    try:
        yield
    except (tweepy.BadRequest, tweepy.Forbidden, tweepy.NotFound) as error:
        raise PermanentSendFailure(error.response.status_code, f"X refused {what}: {'; '.join(error.api_messages) or error}") from None


class LocalXOutbox:
    """X_DELIVERY=outbox (the local stack): the reply is kept in the table's outbox."""

    def __init__(self, outbox: Any) -> None:
        self._outbox = outbox

    def send(self, in_reply_to_post_id: str, text: str) -> str:
        return self._outbox.put("x", in_reply_to_post_id, text)

    def direct_message(self, user_id: str, text: str) -> str:
        return self._outbox.put("x", user_id, text, {"kind": "direct_message"})
