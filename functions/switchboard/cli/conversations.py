"""The `switchboard conversations` commands: list and show conversations, reply, resolve, tag."""

from __future__ import annotations

import argparse
import os
from typing import Any

from switchboard.cli.environment import data_environment, open_conversation_store, required_env
from switchboard.cli.errors import EXIT_NOT_FOUND, EXIT_USAGE, CliError
from switchboard.cli.output import emit, format_table, print_json, when
from switchboard.models import to_json_dict


def _customer_label(conversation) -> str:
    identity = conversation.customer_identity.value
    label = f"{conversation.customer_name} <{identity}>" if conversation.customer_name else identity
    return f"{label} (UNVERIFIED)" if conversation.customer_identity.unverified else label


def cmd_conversations_list(args: argparse.Namespace) -> int:
    with data_environment(args.stack):
        conversations = open_conversation_store().list_conversations(limit=args.limit)
    if args.json:
        print_json([{k: v for k, v in to_json_dict(c).items() if k != "messages"} for c in conversations])
        return 0
    if not conversations:
        print("no conversations yet")
        return 0
    rows = [
        [c.conversation_id, _customer_label(c), c.channel.value, c.status.value, str(c.message_count), when(c.last_activity_at), c.last_message_preview[:40]]
        for c in conversations
    ]
    print(format_table(rows, ["ID", "CUSTOMER", "CHANNEL", "STATUS", "MSGS", "LAST ACTIVITY (UTC)", "LATEST"]))
    return 0


def cmd_conversations_show(args: argparse.Namespace) -> int:
    with data_environment(args.stack):
        conversation = open_conversation_store().get_conversation(args.id)
    if conversation is None:
        raise CliError(f"no conversation {args.id}", EXIT_NOT_FOUND)
    if args.json:
        print_json(to_json_dict(conversation))
        return 0
    print(f"Conversation {conversation.conversation_id}  ({conversation.status.value})")
    print(f"Customer     {_customer_label(conversation)}  [{conversation.customer_id}]")
    print(f"Started      {when(conversation.created_at)} UTC, last activity {when(conversation.last_activity_at)} UTC")
    print()
    for message in conversation.messages:
        print(_message_heading(message))
        if message.subject:
            print(f"    Subject: {message.subject}")
        for line in (message.body or _empty_body(message)).splitlines() or [""]:
            print(f"    {line}")
        for media in message.media:
            name = f"{media.filename} " if media.filename else ""
            size = f" ({media.size:,} bytes)" if media.size is not None else ""
            print(f"    📎 {name}{media.content_type}{size} {media.url}")
    return 0


def _message_heading(message) -> str:
    arrow = {"inbound": "←", "outbound": "→"}.get(message.direction.value, "·")  # · between agents
    sender = message.sender.value
    if message.sender.handle:
        sender = f"@{message.sender.handle} ({sender})"
    elif message.sender.display_name:
        sender = f"{message.sender.display_name} <{sender}>"
    notes = [message.kind.value.replace("_", " ")] if message.kind.value != "message" else []
    if message.automated:
        notes.append("automated: " + message.provider_fields.get("automated", "auto-reply"))
    if message.provider_fields.get("referenced_conversation"):
        notes.append(f"names conversation {message.provider_fields['referenced_conversation']} of another customer; `customers link` if it is theirs")
    if message.sender.unverified:
        notes.append("UNVERIFIED sender: " + message.provider_fields.get("unverified", "not authenticated"))
    for field in ("cut", "attachments_not_stored"):
        if message.provider_fields.get(field):
            notes.append(message.provider_fields[field])
    if message.delivery_status in ("failed", "undelivered"):
        notes.append("NOT DELIVERED" + (f": {message.delivery_error}" if message.delivery_error else ""))
    note = f"  ({'; '.join(notes)})" if notes else ""
    return f"{when(message.received_at)}  {arrow} {message.channel.value:<5} {sender}{note}  [{message.provider_id}]"


def _empty_body(message) -> str:
    transcription = message.provider_fields.get("Transcription")
    if transcription == "failed":
        return "(transcription failed)"
    if transcription == "empty":
        return "(nothing was said)"
    if message.kind.value == "voicemail":
        return "(no transcription yet)"
    return ""


def _desk_action(args: argparse.Namespace, act) -> Any:
    """Run an agent action (oncall.actions) as the agent named by --as."""
    import boto3

    from switchboard.cli.environment import function_settings
    from switchboard.conversations.satisfaction import SatisfactionPolicy, Survey
    from switchboard.models import utc_now
    from switchboard.oncall.actions import ActionError, Desk
    from switchboard.oncall.agents import get_agent
    from switchboard.oncall.config import load_config
    from switchboard.store.oncall import OncallStore
    from switchboard.store.pagers import PagerStore
    from switchboard.store.pages import PageStore
    from switchboard.store.queue import OutboxQueue
    from switchboard.store.subscribers import SubscriberStore

    agent_id = args.agent or os.environ.get("SWITCHBOARD_AGENT")
    if not agent_id:
        raise CliError("say who you are: --as AGENT_ID (or set SWITCHBOARD_AGENT)", EXIT_USAGE)
    with data_environment(args.stack):
        client, table = boto3.client("dynamodb"), required_env("TABLE_NAME")
        agent = get_agent(OncallStore(client, table), agent_id)
        if agent is None:
            raise CliError(f"no agent {agent_id!r} (see switchboard oncall show)", EXIT_NOT_FOUND)
        conversations, outbox = open_conversation_store(), OutboxQueue(boto3.client("sqs"), required_env("OUTBOX_QUEUE_URL"))
        # The customer is asked how we did as the agents' SMS RESOLVE would: with its settings.
        sms_settings = function_settings(args.stack, "SmsWebhookFunction")
        desk = Desk(
            conversations,
            PageStore(client, table),
            outbox,
            sms_settings.support_email_address,
            schedule=lambda: load_config(OncallStore(client, table)).schedule,
            wait_for_reply=sms_settings.wait_for_reply,
            survey=Survey(
                SatisfactionPolicy.from_settings(sms_settings), conversations, SubscriberStore(client, table), outbox,
                sms_settings.support_email_address,
            ),
            pagers=PagerStore(client, table) if sms_settings.tell_other_agents == "on" else None,
        )
        if desk.conversations.get_summary(args.id) is None:
            raise CliError(f"no conversation {args.id}", EXIT_NOT_FOUND)
        try:
            return act(agent, utc_now(), desk)
        except ActionError as error:
            raise CliError(str(error)) from None


def cmd_conversations_reply(args: argparse.Namespace) -> int:
    from switchboard.oncall.actions import answer

    outcome = _desk_action(args, lambda agent, now, desk: answer(args.id, agent, args.text, now, desk))
    emit(args, to_json_dict(outcome), outcome.text)
    return 0


def cmd_conversations_resolve(args: argparse.Namespace) -> int:
    from switchboard.oncall.actions import resolve

    outcome = _desk_action(args, lambda agent, now, desk: resolve(args.id, agent, now, desk))
    emit(args, to_json_dict(outcome), outcome.text)
    return 0


def cmd_conversations_snooze(args: argparse.Namespace) -> int:
    from switchboard.oncall.actions import snooze
    from switchboard.oncall.later import LaterError, parse_later

    def act(agent, now, desk):
        try:
            until = parse_later(args.until, now, desk.schedule())
        except LaterError as error:
            raise CliError(str(error), EXIT_USAGE) from None
        return snooze(args.id, agent, until, now, desk)

    outcome = _desk_action(args, act)
    emit(args, to_json_dict(outcome), outcome.text)
    return 0


def cmd_conversations_tag(args: argparse.Namespace) -> int:
    components = tuple(dict.fromkeys(args.component))
    with data_environment(args.stack):
        if not open_conversation_store().tag(args.id, components):
            raise CliError(f"no conversation {args.id}", EXIT_NOT_FOUND)
    listed = ", ".join(components) or "no component"
    emit(args, {"conversation_id": args.id, "components": list(components)}, f"conversation {args.id} is about {listed}")
    return 0


# ---- parser ----------------------------------------------------------------------------


def add_parsers(commands: Any, data_options: Any) -> None:
    conversations = commands.add_parser("conversations", help="the conversation stream").add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = conversations.add_parser("list", help="conversations, most recently active first")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    data_options(listing)
    listing.set_defaults(run=cmd_conversations_list)
    show = conversations.add_parser("show", help="one conversation and all its messages")
    show.add_argument("id", help="conversation id (from `conversations list`)")
    data_options(show)
    show.set_defaults(run=cmd_conversations_show)

    reply = conversations.add_parser("reply", help="answer the customer on their channel (as an agent at a desk)")
    reply.add_argument("id", help="conversation id")
    reply.add_argument("text", help="the answer")
    reply.add_argument("--as", dest="agent", metavar="AGENT_ID", help="who answers (default $SWITCHBOARD_AGENT)")
    data_options(reply)
    reply.set_defaults(run=cmd_conversations_reply)
    resolve = conversations.add_parser("resolve", help="mark a conversation resolved and stop its page")
    resolve.add_argument("id", help="conversation id")
    resolve.add_argument("--as", dest="agent", metavar="AGENT_ID", help="who resolves it (default $SWITCHBOARD_AGENT)")
    data_options(resolve)
    resolve.set_defaults(run=cmd_conversations_resolve)

    snooze = conversations.add_parser(
        "snooze", help="follow up later: page again at TIME unless someone answers first (a new message from the customer pages at once)",
    )
    snooze.add_argument("id", help="conversation id")
    snooze.add_argument("--until", required=True, metavar="TIME",
                        help="3h, 90m, 2d, 'tomorrow 09:00', 'mon 9:30', 17:00 or tomorrow (the schedule's time zone)")
    snooze.add_argument("--as", dest="agent", metavar="AGENT_ID", help="who follows up (default $SWITCHBOARD_AGENT)")
    data_options(snooze)
    snooze.set_defaults(run=cmd_conversations_snooze)

    tag = conversations.add_parser("tag", help="say which status-page components a conversation is about (its customer then gets their incident notices while it is open)")
    tag.add_argument("id")
    tag.add_argument("component", nargs="*", help="component ids; none clears the tags")
    data_options(tag)
    tag.set_defaults(run=cmd_conversations_tag)
