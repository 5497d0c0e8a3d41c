"""Polling X mentions: the real tweepy client, X's HTTP answered by `responses`."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import tweepy

from local_stack import fake_x
from switchboard.channels.x import fetch_mentions, make_client, parse_account

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)
ACCOUNT = "1500000000000000001"
SINCE = "1860000000000000000"


class FakeClock:
    """now() and sleep() for the poll: sleeping moves the clock, and is recorded."""

    def __init__(self, start: datetime = NOW):
        self.moment = start
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.moment += timedelta(seconds=seconds)


def tweet(n: int, author: str = "42", username: str = "jane_doe", name: str = "Jane Doe", **extra):
    """Mention number n: later n, newer tweet."""
    return fake_x.mention(
        tweet_id=str(1860000000000000000 + n),
        text=f"@acme_support help {n}",
        author_id=author,
        username=username,
        name=name,
        created_at=NOW - timedelta(minutes=100 - n),
        **extra,
    )


def poll(since_id=SINCE, clock=None, deadline=timedelta(minutes=5), **kwargs):
    clock = clock or FakeClock()
    return fetch_mentions(
        make_client("test-bearer"),
        ACCOUNT,
        since_id,
        deadline=clock.now() + deadline,
        now=clock.now,
        sleep=clock.sleep,
        **kwargs,
    )


def query(call) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(call.request.url).query).items()}


def ids(result) -> list[str]:
    return [message.provider_id for message in result.messages]


@responses.activate
def test_one_page_becomes_messages_oldest_first():
    page = fake_x.mentions_page([tweet(3), tweet(2, author="77", username="bob", name="Bob B", in_reply_to="1860000000000000001")])
    fake_x.register(responses, ACCOUNT, [page])

    result = poll(account_username="acme_support")

    assert ids(result) == ["1860000000000000002", "1860000000000000003"]
    assert result.newest_id == "1860000000000000003" == result.checkpoint
    assert result.complete and result.pages == 1 and result.rate_limited_until is None
    reply, newest = result.messages
    assert newest.channel.value == "x" and newest.provider == "x"
    assert newest.sender.kind.value == "x" and newest.sender.value == "42"
    assert newest.sender.handle == "jane_doe" and newest.sender.display_name == "Jane Doe"
    assert newest.recipient == "@acme_support"
    assert newest.body == "@acme_support help 3"
    assert newest.received_at == NOW - timedelta(minutes=97)
    assert newest.received_at.tzinfo is not None
    assert newest.provider_fields == {
        "conversation_id": "1860000000000000003",
        "url": "https://x.com/jane_doe/status/1860000000000000003",
        "lang": "en",
    }
    assert reply.sender.handle == "bob" and reply.sender.display_name == "Bob B"
    assert reply.provider_fields["in_reply_to_tweet_id"] == "1860000000000000001"
    assert reply.provider_fields["url"] == "https://x.com/bob/status/1860000000000000002"

    (call,) = responses.calls
    assert urlsplit(call.request.url).path == f"/2/users/{ACCOUNT}/mentions"
    assert call.request.headers["Authorization"] == "Bearer test-bearer"
    assert query(call) == {
        "since_id": SINCE,
        "max_results": "100",
        "expansions": "author_id",
        "user.fields": "username,name",
        "tweet.fields": "created_at,conversation_id,in_reply_to_user_id,referenced_tweets,lang",
    }


@responses.activate
def test_follows_next_token_across_pages():
    fake_x.register(
        responses,
        ACCOUNT,
        [
            fake_x.mentions_page([tweet(6), tweet(5)], next_token="page2"),
            fake_x.mentions_page([tweet(4), tweet(3)], next_token="page3"),
            fake_x.mentions_page([tweet(2)]),
        ],
    )

    result = poll(max_results=2)

    assert ids(result) == [str(1860000000000000000 + n) for n in (2, 3, 4, 5, 6)]
    assert result.newest_id == "1860000000000000006"
    assert result.complete and result.pages == 3
    assert [query(call).get("pagination_token") for call in responses.calls] == [None, "page2", "page3"]
    assert all(query(call)["since_id"] == SINCE and query(call)["max_results"] == "2" for call in responses.calls)


@responses.activate
def test_rate_limit_that_resets_in_time_waits_and_retries_the_same_page():
    clock = FakeClock()
    fake_x.register(
        responses,
        ACCOUNT,
        [
            fake_x.mentions_page([tweet(6), tweet(5)], next_token="page2"),
            fake_x.rate_limited(NOW + timedelta(seconds=30)),
            fake_x.mentions_page([tweet(4), tweet(3)], next_token="page3"),
            fake_x.mentions_page([tweet(2)]),
        ],
    )

    result = poll(clock=clock)

    assert clock.sleeps == [31.0]
    assert [query(call).get("pagination_token") for call in responses.calls] == [None, "page2", "page2", "page3"]
    assert ids(result) == [str(1860000000000000000 + n) for n in (2, 3, 4, 5, 6)]
    assert result.complete and result.pages == 3
    assert result.newest_id == "1860000000000000006" == result.checkpoint


@responses.activate
def test_rate_limit_that_resets_after_the_deadline_stops_with_what_was_fetched():
    clock = FakeClock()
    reset_at = NOW + timedelta(minutes=10)
    fake_x.register(
        responses,
        ACCOUNT,
        [fake_x.mentions_page([tweet(6), tweet(5)], next_token="page2"), fake_x.rate_limited(reset_at)],
    )

    result = poll(clock=clock, deadline=timedelta(minutes=5))

    assert clock.sleeps == []
    assert not result.complete
    assert result.rate_limited_until == reset_at
    assert ids(result) == ["1860000000000000005", "1860000000000000006"]
    assert result.newest_id == "1860000000000000006" and result.checkpoint is None
    assert len(responses.calls) == 2


@responses.activate
def test_rate_limit_without_reset_header_waits_a_minute():
    clock = FakeClock()
    responses.add("GET", fake_x.mentions_url(ACCOUNT), json=fake_x.problem(429), status=429)
    fake_x.register(responses, ACCOUNT, [fake_x.mentions_page([tweet(1)])])

    result = poll(clock=clock)

    assert clock.sleeps == [60.0]
    assert ids(result) == ["1860000000000000001"] and result.complete


@responses.activate
def test_rate_limit_without_reset_header_near_the_deadline_stops():
    clock = FakeClock()
    responses.add("GET", fake_x.mentions_url(ACCOUNT), json=fake_x.problem(429), status=429)

    result = poll(clock=clock, deadline=timedelta(seconds=30))

    assert clock.sleeps == [] and not result.complete and result.pages == 0
    assert result.rate_limited_until == NOW + timedelta(seconds=60)
    assert result.messages == () and result.newest_id is None


@responses.activate
def test_own_posts_and_bare_retweets_are_skipped():
    ours = tweet(5, author=ACCOUNT, username="acme_support", name="Acme Support")
    retweet = tweet(4, author="99", username="fan", name="Fan")
    retweet["tweet"]["referenced_tweets"] = [{"type": "retweeted", "id": "1860000000000000001"}]
    quote = tweet(3, author="98", username="quoter", name="Q")
    quote["tweet"]["referenced_tweets"] = [{"type": "quoted", "id": "1860000000000000001"}]
    fake_x.register(responses, ACCOUNT, [fake_x.mentions_page([ours, retweet, quote, tweet(2)])])

    result = poll()

    assert ids(result) == ["1860000000000000002", "1860000000000000003"]
    # Our own reply is still the newest mention: the checkpoint moves past it.
    assert result.newest_id == "1860000000000000005"


@responses.activate
def test_nothing_new():
    fake_x.register(responses, ACCOUNT, [{"meta": {"result_count": 0}}])

    result = poll()

    assert result.messages == () and result.newest_id is None and result.checkpoint is None
    assert result.complete and result.pages == 1


@responses.activate
def test_first_poll_fetches_only_the_latest_page():
    fake_x.register(
        responses,
        ACCOUNT,
        [fake_x.mentions_page([tweet(6), tweet(5)], next_token="older"), fake_x.mentions_page([tweet(4)])],
    )

    result = poll(since_id=None)

    assert len(responses.calls) == 1
    assert "since_id" not in query(responses.calls[0])
    assert ids(result) == ["1860000000000000005", "1860000000000000006"]
    assert result.newest_id == "1860000000000000006" and result.complete


@responses.activate
def test_author_missing_from_includes_still_makes_a_message():
    page = fake_x.mentions_page([tweet(2, author="55", username="gone", name="Gone")])
    page["includes"]["users"] = []
    del page["data"][0]["created_at"]
    fake_x.register(responses, ACCOUNT, [page])
    clock = FakeClock()

    (message,) = poll(clock=clock).messages

    assert message.sender.value == "55"
    assert message.sender.handle is None and message.sender.display_name is None
    assert message.provider_fields["url"] == "https://x.com/i/web/status/1860000000000000002"
    assert message.received_at == clock.now()
    assert message.recipient == ACCOUNT


@responses.activate
def test_server_error_raises_and_nothing_is_returned():
    fake_x.register(responses, ACCOUNT, [fake_x.mentions_page([tweet(2)], next_token="p2"), fake_x.error(503)])

    with pytest.raises(tweepy.TwitterServerError):
        poll()


@pytest.mark.parametrize(
    ("status", "exception", "hint"),
    [(401, tweepy.Unauthorized, "bearer token"), (403, tweepy.Forbidden, "access tier")],
)
@responses.activate
def test_refused_credentials_raise_with_a_hint(status, exception, hint):
    fake_x.register(responses, ACCOUNT, [fake_x.error(status)])

    with pytest.raises(exception) as raised:
        poll()

    assert any(hint in note for note in raised.value.__notes__)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1500000000000000001", ("1500000000000000001", None)),
        (" 1500000000000000001:acme_support ", ("1500000000000000001", "acme_support")),
        ("1500000000000000001:@acme_support", ("1500000000000000001", "acme_support")),
    ],
)
def test_parse_account(value, expected):
    assert parse_account(value) == expected


@pytest.mark.parametrize("value", ["", "acme_support", "@acme", "12a", "150:", "150:no spaces", "150:" + "x" * 16])
def test_parse_account_rejects(value):
    with pytest.raises(ValueError, match="X "):
        parse_account(value)


def test_fake_pages_parse_in_tweepy_without_warnings(recwarn):
    page = fake_x.mentions_page([tweet(1), tweet(3), tweet(2, author="42")])
    assert [t["id"] for t in page["data"]] == [str(1860000000000000000 + n) for n in (3, 2, 1)]
    assert len(page["includes"]["users"]) == 1
    assert page["meta"] == {"result_count": 3, "newest_id": "1860000000000000003", "oldest_id": "1860000000000000001"}
    parsed = tweepy.Client()._construct_response(page, data_type=tweepy.Tweet)
    assert parsed.data[0].created_at == NOW - timedelta(minutes=97)
    assert not recwarn.list
    assert fake_x.MENTIONS_URL.fullmatch(fake_x.mentions_url(ACCOUNT))


def test_importing_the_channel_does_not_import_tweepy():
    code = "import sys, switchboard.channels.x; print('tweepy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@responses.activate
def test_a_rate_limited_backlog_goes_on_where_it_stopped_and_then_moves_the_checkpoint():
    """Poll 1 gets the newest page and stops on a 429 past its deadline; poll 2 asks for
    the next page (not the newest again), finishes, and the checkpoint becomes the newest
    mention of the whole walk."""
    from switchboard.channels.x import Backlog

    reset_at = NOW + timedelta(minutes=10)
    fake_x.register(responses, ACCOUNT, [fake_x.mentions_page([tweet(9), tweet(8)], next_token="page2"), fake_x.rate_limited(reset_at)])
    first = poll(deadline=timedelta(minutes=5))
    assert not first.complete and first.checkpoint is None
    assert first.backlog == Backlog(SINCE, "page2", "1860000000000000009")

    responses.reset()
    fake_x.register(responses, ACCOUNT, [fake_x.mentions_page([tweet(7), tweet(6)])])
    second = poll(backlog=first.backlog)
    assert query(responses.calls[0])["pagination_token"] == "page2" and query(responses.calls[0])["since_id"] == SINCE
    assert second.complete and ids(second) == ["1860000000000000006", "1860000000000000007"]
    assert second.checkpoint == "1860000000000000009", "the walk's newest, seen two polls ago"


@responses.activate
def test_a_backlog_of_another_checkpoint_is_ignored():
    from switchboard.channels.x import Backlog

    fake_x.register(responses, ACCOUNT, [fake_x.mentions_page([tweet(3)])])
    result = poll(backlog=Backlog("1", "stale-token", "1860000000000000099"))
    assert "pagination_token" not in query(responses.calls[0]) and result.checkpoint == "1860000000000000003"
