"""The agents' desk as a deployment's settings describe it: what an agent's SMS command
(handlers/sms_webhook.py) and a conversation page (handlers/agent_pages.py) act with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from switchboard.conversations.satisfaction import SatisfactionPolicy, Survey
from switchboard.oncall.actions import Desk
from switchboard.oncall.config import load_config, on_call_now
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore
from switchboard.store.oncall import OncallStore
from switchboard.store.pagers import PagerStore
from switchboard.store.pages import PageStore
from switchboard.store.queue import OutboxQueue
from switchboard.store.subscribers import SubscriberStore

if TYPE_CHECKING:
    from switchboard.settings import Settings


def desk_from(settings: "Settings") -> Desk:
    settings.require("outbox_queue_url")
    dynamodb = clients.dynamodb()
    conversations = ConversationStore(dynamodb, settings.table_name)
    outbox = OutboxQueue(clients.sqs(), settings.outbox_queue_url)
    oncall = OncallStore(dynamodb, settings.table_name)
    return Desk(
        conversations,
        PageStore(dynamodb, settings.table_name),
        outbox,
        settings.support_email_address,
        on_call_at=lambda moment: on_call_now(oncall, moment),
        schedule=lambda: load_config(oncall).schedule,
        wait_for_reply=settings.wait_for_reply,
        survey=Survey(
            SatisfactionPolicy.from_settings(settings), conversations, SubscriberStore(dynamodb, settings.table_name),
            outbox, settings.support_email_address,
        ),
        pagers=PagerStore(dynamodb, settings.table_name) if settings.tell_other_agents == "on" else None,
    )
