"""The X mentions poller on the local stack: real tweepy, X's HTTP answered by `responses`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest_helpers import run_cli
import responses

from local_stack import fake_x
from local_stack.invoke import invoke
from local_stack.stack import LOCAL_X_ACCOUNT_ID, LOCAL_X_USERNAME
from local_stack.template import Template

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def poll(pages) -> tuple[dict, list]:
    """One scheduled run of the poller with X answering these pages in order."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as x_api:
        fake_x.register(x_api, LOCAL_X_ACCOUNT_ID, pages)
        summary = invoke(Template().functions()["XMentionsFunction"], {"source": "aws.scheduler"})
        sent = [parse_qs(urlsplit(call.request.url).query) for call in x_api.calls]
    return summary, sent


def tweet(n: int, text: str, author=("2244994945", "jane_doe", "Jane Doe"), minutes: int = 0) -> dict:
    author_id, username, name = author
    moment = T0 + timedelta(minutes=minutes or n)
    return fake_x.mention(str(fake_x.new_tweet_id(moment)), f"@{LOCAL_X_USERNAME} {text}", author_id, username, name, moment)


def stored_bodies(local, author_id: str) -> list[str]:
    from switchboard.models import Identity, IdentityKind

    route = local.conversations().find_identity(Identity(IdentityKind.X, author_id), consistent=True)
    if route is None:
        return []
    return [m.body for m in local.conversations().get_conversation(route.conversation_id).messages]


@pytest.fixture
def fresh_checkpoint(local):
    """Each test starts as if the account had never been polled."""
    import os

    import boto3

    from switchboard.store import keys
    from switchboard.store.dynamo import to_item

    boto3.client("dynamodb").delete_item(TableName=os.environ["TABLE_NAME"], Key=to_item(keys.checkpoint_key(f"x-mentions#{LOCAL_X_ACCOUNT_ID}")))


def test_pages_a_rate_limit_and_duplicates_lose_nothing_and_store_once(local, fresh_checkpoint):
    author = ("900000000000000001", "acme_ops", "Acme Ops")
    first = [tweet(n, f"mention {n}", author) for n in range(1, 4)]
    # The first poll only takes the latest page (no history walk) and sets the checkpoint.
    summary, sent = poll([fake_x.mentions_page(first)])
    assert summary["stored"] == 3 and summary["complete"] is True
    assert sent[0]["expansions"] == ["author_id"] and "since_id" not in sent[0]
    assert stored_bodies(local, author[0]) == [f"@{LOCAL_X_USERNAME} mention {n}" for n in (1, 2, 3)]
    checkpoint = summary["checkpoint"]

    # Next: three pages, a 429 between the first and second (reset in 1 s), and a mention seen before.
    newer = [tweet(n, f"mention {n}", author) for n in range(4, 10)]
    reset = datetime.now(timezone.utc) + timedelta(seconds=1)
    pages = [
        fake_x.mentions_page(newer[4:], next_token="p2"),
        fake_x.rate_limited(reset),
        fake_x.mentions_page(newer[2:4], next_token="p3"),
        fake_x.mentions_page([*newer[:2], first[-1]]),
    ]
    summary, sent = poll(pages)
    assert [q["since_id"] for q in sent] == [[checkpoint]] * 4
    assert [q.get("pagination_token") for q in sent] == [None, ["p2"], ["p2"], ["p3"]]
    assert (summary["pages"], summary["stored"], summary["duplicates"], summary["complete"]) == (3, 6, 1, True)
    assert summary["checkpoint"] == newer[-1]["tweet"]["id"]
    assert stored_bodies(local, author[0]) == [f"@{LOCAL_X_USERNAME} mention {n}" for n in range(1, 10)]


def test_a_rate_limit_past_the_deadline_keeps_the_checkpoint_and_the_next_poll_goes_on_where_it_stopped(local, fresh_checkpoint):
    author = ("900000000000000002", "bob_builds", "Bob")
    seed = [tweet(20, "seed", author)]
    checkpoint = poll([fake_x.mentions_page(seed)])[0]["checkpoint"]
    newer = [tweet(n, f"later {n}", author) for n in range(21, 25)]
    far_reset = datetime.now(timezone.utc) + timedelta(minutes=14)

    summary, _ = poll([fake_x.mentions_page(newer[2:], next_token="p2"), fake_x.rate_limited(far_reset)])
    assert summary["complete"] is False and summary["stored"] == 2
    assert summary["checkpoint"] == checkpoint, "the checkpoint must not move past mentions not yet fetched"
    assert summary["rate_limited_until"].startswith(far_reset.strftime("%Y-%m-%dT%H:%M"))

    # The next poll asks for the page after the one it has (not the newest again), then
    # moves the checkpoint to the newest mention of the whole walk.
    summary, sent = poll([fake_x.mentions_page(newer[:2])])
    assert sent[0]["since_id"] == [checkpoint] and sent[0]["pagination_token"] == ["p2"]
    assert (summary["stored"], summary["duplicates"], summary["complete"]) == (2, 0, True)
    assert summary["checkpoint"] == newer[-1]["tweet"]["id"]
    assert stored_bodies(local, author[0]) == [f"@{LOCAL_X_USERNAME} seed", *[f"@{LOCAL_X_USERNAME} later {n}" for n in range(21, 25)]]


def test_own_posts_are_skipped_and_authors_keep_their_handle(local, fresh_checkpoint):
    ours = (LOCAL_X_ACCOUNT_ID, LOCAL_X_USERNAME, "Switchboard Support")
    customer = ("900000000000000003", "cara_c", "Cara C")
    summary, _ = poll([fake_x.mentions_page([tweet(30, "we are on it", ours), tweet(31, "still down?", customer)])])
    assert summary["mentions"] == summary["stored"] == 1
    assert stored_bodies(local, ours[0]) == []
    from switchboard.models import Identity, IdentityKind

    route = local.conversations().find_identity(Identity(IdentityKind.X, customer[0]))
    conversation = local.conversations().get_conversation(route.conversation_id)
    (message,) = conversation.messages
    assert message.sender.handle == "cara_c" and message.sender.display_name == "Cara C"
    assert message.provider_fields["url"].startswith("https://x.com/cara_c/status/")
    assert conversation.channel.value == "x" and conversation.customer_name == "Cara C"


def test_cli_replays_one_mention_through_the_poller(local, fresh_checkpoint):
    done = run_cli(["local", "send", "mention", "--author-id", "900000000000000004", "--handle", "dana", "is the API down?"], local.cli_env())
    assert done.returncode == 0, done.stderr
    assert '"stored": 1' in done.stdout
    assert stored_bodies(local, "900000000000000004") == [f"@{LOCAL_X_USERNAME} is the API down?"]
