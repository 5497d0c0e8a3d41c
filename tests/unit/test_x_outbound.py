"""Replies on X through tweepy, with X's HTTP intercepted by `responses`."""

from __future__ import annotations

import json

import pytest
import responses
import tweepy

from switchboard.errors import PermanentSendFailure
from switchboard.channels.x_outbound import XReplies, user_credentials

CREDENTIALS = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}
TWEETS_URL = "https://api.twitter.com/2/tweets"


@responses.activate
def test_a_reply_is_posted_in_reply_to_the_customers_post_with_user_auth():
    responses.add("POST", TWEETS_URL, json={"data": {"id": "1860000000000000002", "text": "We are on it", "edit_history_tweet_ids": ["1860000000000000002"]}}, status=201)
    posted = XReplies(CREDENTIALS).send("1860000000000000001", "We are on it")
    assert posted == "1860000000000000002"
    (call,) = responses.calls
    assert json.loads(call.request.body) == {"text": "We are on it", "reply": {"in_reply_to_tweet_id": "1860000000000000001"}}
    assert call.request.headers["Authorization"].startswith("OAuth ")  # user context, not the bearer token


@responses.activate
def test_a_refused_reply_is_permanent():
    responses.add("POST", TWEETS_URL, json={"title": "Forbidden", "detail": "You are not allowed to reply to this Tweet.", "type": "about:blank", "status": 403}, status=403)
    with pytest.raises(PermanentSendFailure) as failure:
        XReplies(CREDENTIALS).send("1", "hi")
    assert failure.value.code == 403 and "not allowed to reply" in failure.value.reason


@pytest.mark.parametrize("status, error", [(429, tweepy.TooManyRequests), (503, tweepy.TwitterServerError)])
@responses.activate
def test_rate_limits_and_outages_are_raised_for_the_queue_to_retry(status, error):
    responses.add("POST", TWEETS_URL, json={"title": "x", "detail": "x", "type": "about:blank", "status": status}, status=status)
    with pytest.raises(error):
        XReplies(CREDENTIALS).send("1", "hi")


def test_credentials_must_be_the_documented_json():
    assert user_credentials(json.dumps(CREDENTIALS)) == CREDENTIALS
    with pytest.raises(ValueError, match="not the expected JSON"):
        user_credentials('{"consumer_key": "only"}')


@responses.activate
def test_an_incident_notice_is_a_direct_message_to_the_subscriber():
    url = "https://api.twitter.com/2/dm_conversations/with/2244994945/messages"
    responses.add("POST", url, json={"data": {"dm_conversation_id": "1500000000000000001-2244994945", "dm_event_id": "1860000000000000009"}}, status=201)
    sent = XReplies(CREDENTIALS).direct_message("2244994945", "Acme: [Investigating] Incident: API errors.")
    assert sent == "1860000000000000009"
    (call,) = responses.calls
    assert json.loads(call.request.body) == {"text": "Acme: [Investigating] Incident: API errors."}
    assert call.request.headers["Authorization"].startswith("OAuth ")


@responses.activate
def test_a_refused_direct_message_is_permanent():
    responses.add("POST", "https://api.twitter.com/2/dm_conversations/with/1/messages", json={"title": "Forbidden", "detail": "You cannot send messages to this user.", "type": "about:blank", "status": 403}, status=403)
    with pytest.raises(PermanentSendFailure) as failure:
        XReplies(CREDENTIALS).direct_message("1", "hi")
    assert failure.value.code == 403 and "cannot send messages" in failure.value.reason
