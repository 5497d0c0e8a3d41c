"""Follow-ups nobody forgets, on the local stack: `12 LATER 3h` by SMS (or `switchboard
conversations snooze`) settles the page, and the escalation tick pages again when it is
due, unless someone answered; a new message from the customer pages at once.

The tick's clock is injected: each instant is derived from the snooze's own time.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from conftest_helpers import drain_agent_messages, drain_outbox, put_on_call, route_message, run_cli, unique_number
from local_stack.send import twilio_sms_form
from switchboard.models import Identity, IdentityKind, MessageKind
from switchboard.oncall.router import switchboard_from, tick
from switchboard.settings import load_settings
from switchboard.store.pages import PageStatus, PageStore

pytestmark = pytest.mark.integration


@pytest.fixture
def ana(local):
    """Ana on call around the clock; no page of another test is due in the ticks below."""
    pages = PageStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    for leftover in list(pages.due(datetime(2100, 1, 1, tzinfo=timezone.utc))):
        pages.settle(leftover.conversation_id, PageStatus.RESOLVED, None, datetime.now(timezone.utc))
    return put_on_call()


def paged_customer(local, body: str = "My order never arrived") -> tuple[str, str, str]:
    """A customer's SMS, routed: (their number, the conversation id, its short code)."""
    form = twilio_sms_form(unique_number(), body)
    assert local.post_sms(form).status_code == 200
    conversation = local.conversations().find_identity(Identity(IdentityKind.PHONE, form["From"]), consistent=True)
    route_message(conversation.conversation_id, form["MessageSid"])
    drain_agent_messages()
    return form["From"], conversation.conversation_id, pages().get_page(conversation.conversation_id).code


def pages() -> PageStore:
    return PageStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])


def agent_says(local, agent, text: str) -> str:
    response = local.post_sms(twilio_sms_form(agent.phone, text))
    assert response.status_code == 200
    return response.text


def follow_ups_reported(local) -> tuple[int, int]:
    """`switchboard report`'s team row: follow-ups due, overdue."""
    import json

    shown = run_cli(["report", "--since", "1d", "--json"], local.cli_env())
    assert shown.returncode == 0, shown.stderr
    team = next(f for f in json.loads(shown.stdout)["channels"] if f["channel"] == "team")
    return team["follow_ups_due"], team["follow_ups_overdue"]


def test_later_by_sms_settles_the_page_and_pages_again_when_it_is_due(local, ana):
    _, conversation_id, code = paged_customer(local)
    answer = agent_says(local, ana, f"{code} LATER 3h")
    assert "snoozed until" in answer and "paged again then unless it is answered" in answer
    snoozed = pages().get_page(conversation_id)
    assert snoozed.status == PageStatus.SNOOZED
    due = snoozed.next_escalation_at
    assert timedelta(hours=3) - timedelta(minutes=1) < due - datetime.now(timezone.utc) <= timedelta(hours=3)

    assert follow_ups_reported(local) == (1, 0), "promised, still ahead"
    board = switchboard_from(load_settings())
    assert tick(due - timedelta(minutes=1), board)["woken"] == 0 and drain_agent_messages() == []
    assert tick(due, board)["woken"] == 1
    assert follow_ups_reported(local) == (0, 1), "came due, nobody answered yet"
    (follow_up,) = drain_agent_messages()
    assert follow_up["to"] == ana.phone and follow_up["body"].startswith(f"FOLLOW-UP [{code}] SMS ")
    woken = pages().get_page(conversation_id)
    assert woken.status == PageStatus.OPEN and woken.recipients == ("ana",) and woken.next_escalation_at == due + timedelta(minutes=5)
    assert tick(due, board)["woken"] == 0, "a second tick never pages it twice"
    assert drain_agent_messages() == []

    notes = [m for m in local.conversations().get_conversation(conversation_id).messages if m.kind is MessageKind.FOLLOW_UP]
    assert len(notes) == 1 and notes[0].body.startswith("Ana Lima will follow up: paged again ")


def test_an_answer_ends_the_snooze_and_a_new_message_from_the_customer_pages_at_once(local, ana):
    board = switchboard_from(load_settings())
    _, answered_id, answered_code = paged_customer(local, "Can I change my plan?")
    agent_says(local, ana, f"{answered_code} LATER 2h")
    agent_says(local, ana, f"{answered_code} Yes: Settings, then Plan.")
    assert pages().get_page(answered_id).status == PageStatus.ANSWERED
    drain_agent_messages()

    customer, waking_id, waking_code = paged_customer(local, "Is my refund through?")
    agent_says(local, ana, f"{waking_code} LATER 2h")
    again = twilio_sms_form(customer, "Still nothing on my card")
    local.post_sms(again)
    route_message(waking_id, again["MessageSid"])
    woken = pages().get_page(waking_id)
    assert woken.status == PageStatus.OPEN and woken.recipients == ("ana",), "paged at once, not in two hours"
    # Ana was paged a moment ago, so this page waits for her digest (bundling), as any would.
    assert tick(datetime.now(timezone.utc) + timedelta(minutes=3), board)["digests"] == 1
    (digest,) = drain_agent_messages()
    assert digest["to"] == ana.phone and f"[{waking_code}]" in digest["body"]

    later = datetime.now(timezone.utc) + timedelta(hours=2, minutes=1)
    assert tick(later, board)["woken"] == 0, "neither snooze is left to wake"


def test_later_without_a_time_it_can_read_does_nothing_and_says_why(local, ana):
    _, conversation_id, code = paged_customer(local)
    answer = agent_says(local, ana, f"{code} LATER someday")
    assert "is not today, tomorrow or a weekday" in answer and "Nothing done" in answer
    assert agent_says(local, ana, f"{code} later").count("say when") == 1
    assert pages().get_page(conversation_id).status == PageStatus.OPEN


def test_the_cli_snoozes_a_conversation_until_a_time_in_the_schedules_time_zone(local, ana):
    _, conversation_id, _ = paged_customer(local)
    env = local.cli_env()
    done = run_cli(["conversations", "snooze", conversation_id, "--until", "tomorrow 09:00", "--as", "ana", "--json"], env)
    assert done.returncode == 0, done.stderr
    page = pages().get_page(conversation_id)
    assert page.status == PageStatus.SNOOZED and page.next_escalation_at.strftime("%H:%M") == "09:00", "the schedule is in UTC"
    wrong = run_cli(["conversations", "snooze", conversation_id, "--until", "yesterday", "--as", "ana"], env)
    assert wrong.returncode == 2 and "is not today, tomorrow or a weekday" in wrong.stderr


# ---- 12 WAITING: resolved by itself without the customer's reply ----------------------------


def waiting(closing_text: str = "We closed this. Reply to open it again. {brand}", queue_url: str | None = None):
    from switchboard.conversations.waiting import Waiting
    from switchboard.store.queue import OutboxQueue
    from switchboard.store.subscribers import SubscriberStore

    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    return Waiting(local_conversations(), pages(), SubscriberStore(client, table),
                   OutboxQueue(boto3.client("sqs"), queue_url or os.environ["OUTBOX_QUEUE_URL"]), closing_text, "Acme")


def local_conversations():
    from switchboard.store.conversations import ConversationStore

    return ConversationStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])


def mark_waiting(local, ana, code: str, conversation_id: str) -> datetime:
    answer = agent_says(local, ana, f"{code} WAITING")
    assert "waits on the customer: resolved " in answer and "unless they answer" in answer
    summary = local.conversations().get_summary(conversation_id)
    assert summary.status.value == "waiting_on_customer" and pages().get_page(conversation_id).status == PageStatus.ANSWERED
    return summary.awaiting_reply_since


def test_waiting_resolves_the_conversation_after_three_days_without_the_customers_reply(local, ana):
    from switchboard.conversations.waiting import resolve_waiting

    customer, conversation_id, code = paged_customer(local, "Which plan suits me?")
    since = mark_waiting(local, ana, code, conversation_id)
    assert resolve_waiting(since + timedelta(days=3) - timedelta(minutes=1), waiting())["auto_resolved"] == 0
    counts = resolve_waiting(since + timedelta(days=3), waiting())
    assert counts == {"auto_resolved": 1, "customer_replied": 0, "errors": 0}
    summary = local.conversations().get_summary(conversation_id)
    assert summary.status.value == "resolved" and summary.resolved_automatically
    assert pages().get_page(conversation_id).status == PageStatus.RESOLVED
    (note,) = drain_outbox()
    assert note["to"] == customer and note["purpose"] == "closing" and note["body"] == "We closed this. Reply to open it again. Acme"
    kinds = [m.kind for m in local.conversations().get_conversation(conversation_id).messages]
    assert MessageKind.CLOSING in kinds and MessageKind.FOLLOW_UP in kinds
    assert resolve_waiting(since + timedelta(days=4), waiting())["auto_resolved"] == 0, "it left the index"


def test_a_reply_while_waiting_keeps_the_conversation_open_and_it_leaves_the_index(local, ana):
    from switchboard.conversations.waiting import resolve_waiting

    customer, conversation_id, code = paged_customer(local, "Can you call me?")
    since = mark_waiting(local, ana, code, conversation_id)
    local.post_sms(twilio_sms_form(customer, "Yes, after 5pm please"))
    assert resolve_waiting(since + timedelta(days=3), waiting()) == {"auto_resolved": 0, "customer_replied": 1, "errors": 0}
    assert local.conversations().get_summary(conversation_id).status.value == "waiting_on_us"
    assert resolve_waiting(since + timedelta(days=5), waiting())["customer_replied"] == 0
    assert drain_outbox() == []


def test_a_closing_note_that_could_not_be_queued_is_queued_by_the_next_tick_once(local, ana):
    from switchboard.conversations.waiting import resolve_waiting

    customer, conversation_id, code = paged_customer(local, "Is the API down?")
    since = mark_waiting(local, ana, code, conversation_id)
    missing_queue = os.environ["OUTBOX_QUEUE_URL"].rsplit("/", 1)[0] + "/no-such-queue"
    broken = resolve_waiting(since + timedelta(days=3), waiting(queue_url=missing_queue))
    assert broken["errors"] == 1 and local.conversations().get_summary(conversation_id).status.value == "resolved"
    assert drain_outbox() == []
    assert resolve_waiting(since + timedelta(days=3, minutes=1), waiting())["auto_resolved"] == 1
    (note,) = drain_outbox()
    assert note["to"] == customer and note["purpose"] == "closing"
    closings = [m for m in local.conversations().get_conversation(conversation_id).messages if m.kind is MessageKind.CLOSING]
    assert len(closings) == 1 and note["stream_message_id"] == closings[0].message_id
    assert resolve_waiting(since + timedelta(days=3, minutes=2), waiting())["auto_resolved"] == 0
