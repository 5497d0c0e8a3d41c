"""The `switchboard incidents|components|subscribers` commands (registered by switchboard.cli.parser)."""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from switchboard.cli.environment import data_environment, required_env
from switchboard.cli.errors import EXIT_NOT_FOUND, EXIT_USAGE, CliError
from switchboard.cli.output import emit, format_table
from switchboard.cli.references import parse_customer_reference


def _stores():
    import boto3

    from switchboard.store.incidents import IncidentStore
    from switchboard.store.notices import NoticeStore
    from switchboard.store.subscribers import SubscriberStore

    client, table = boto3.client("dynamodb"), required_env("TABLE_NAME")
    return IncidentStore(client, table), NoticeStore(client, table), SubscriberStore(client, table)


def _desk():
    from switchboard.incidents.service import IncidentDesk

    incidents, notices, _ = _stores()
    return IncidentDesk(incidents, notices)


def _moment(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{what} {text!r} is not a time like 2026-11-24T02:00Z", EXIT_USAGE) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _incident_error(error: Exception) -> CliError:
    text = str(error)
    return CliError(text, EXIT_NOT_FOUND if text.startswith("no incident") else EXIT_USAGE)


def _change_summary(change) -> str:
    incident = change.incident
    if not change.added:
        return f"incident {incident.incident_id}: nothing new (a repeat of the last update)"
    asked = f", notifying subscribers ({len(change.notifying)} update)" if change.notifying else ", no notices"
    return f"incident {incident.incident_id} [{incident.status.value}] {incident.title}{asked}"


def _change_document(change) -> dict[str, Any]:
    from switchboard.incident_model import to_document

    return {**to_document(change.incident), "added": [update.update_id for update in change.added], "notifying": list(change.notifying)}


# ---- incidents -------------------------------------------------------------------------


def _desk_change(args: argparse.Namespace, act: Callable[[Any, datetime], Any]) -> int:
    """Run one IncidentDesk change on the stack and print it; its refusals exit 2 (or 3: not found)."""
    from switchboard.incident_model import IncidentError
    from switchboard.models import utc_now

    with data_environment(args.stack):
        try:
            change = act(_desk(), utc_now())
        except IncidentError as error:
            raise _incident_error(error) from None
    emit(args, _change_document(change), _change_summary(change))
    return 0


def cmd_incidents_open(args: argparse.Namespace) -> int:
    from switchboard.incident_model import Impact, IncidentKind, UpdateStatus

    kind = IncidentKind.MAINTENANCE if args.maintenance else IncidentKind.INCIDENT
    window = None
    if args.maintenance:
        if not (args.start and args.end):
            raise CliError("a maintenance needs its window: --from TIME --to TIME", EXIT_USAGE)
        window = (_moment(args.start, "--from"), _moment(args.end, "--to"))
    status = UpdateStatus(args.status) if args.status else None
    return _desk_change(
        args,
        lambda desk, now: desk.open(
            args.title, Impact(args.impact), tuple(args.component or ()), args.message, now, status, kind, window, not args.no_notify, args.request_id
        ),
    )


def cmd_incidents_update(args: argparse.Namespace) -> int:
    from switchboard.incident_model import UpdateStatus

    return _desk_change(args, lambda desk, now: desk.update(args.id, UpdateStatus(args.status), args.message, now, not args.no_notify))


def cmd_incidents_resolve(args: argparse.Namespace) -> int:
    return _desk_change(args, lambda desk, now: desk.resolve(args.id, args.message or "", now, not args.no_notify))


def cmd_incidents_list(args: argparse.Namespace) -> int:
    from switchboard.incident_model import to_document
    from switchboard.models import utc_now

    with data_environment(args.stack):
        incidents, _, _ = _stores()
        found = incidents.list(since=utc_now() - timedelta(days=args.days))
    if args.open:
        found = [incident for incident in found if incident.is_open]
    rows = [[i.incident_id, i.created_at.strftime("%Y-%m-%d %H:%M"), i.status.value, i.impact.value, ",".join(i.components) or "-", i.title] for i in found]
    emit(args, [to_document(incident) for incident in found], format_table(rows, ["ID", "OPENED (UTC)", "STATUS", "IMPACT", "COMPONENTS", "TITLE"]) if rows else "no incidents")
    return 0


def cmd_incidents_show(args: argparse.Namespace) -> int:
    from switchboard.incident_model import to_document

    with data_environment(args.stack):
        incidents, notices, _ = _stores()
        incident = incidents.get(args.id)
        if incident is None:
            raise CliError(f"no incident {args.id}", EXIT_NOT_FOUND)
        deliveries = {update.update_id: notices.counts(update.update_id) for update in incident.updates}
    document = to_document(incident)
    for update in document["updates"]:
        update["deliveries"] = deliveries[update["id"]]
    lines = [
        f"{incident.title}",
        f"  id {incident.incident_id}  {incident.kind.value}  impact {incident.impact.value}  status {incident.status.value}",
        f"  components: {', '.join(incident.components) or '-'}",
    ]
    if incident.scheduled_for:
        lines.append(f"  window: {incident.scheduled_for:%Y-%m-%d %H:%M} – {incident.scheduled_until:%Y-%m-%d %H:%M} UTC")
    for update in incident.updates:
        counts = deliveries[update.update_id]
        tally = "  ".join(f"{name} {counts[name]}" for name in ("queued", "sent", "delivered", "failed", "skipped"))
        lines.append(f"  {update.created_at:%Y-%m-%d %H:%M} {update.status.value:<13} {update.body}")
        lines.append(f"      notices: {tally}" if counts["total"] or counts["sent"] else "      notices: none")
    emit(args, document, "\n".join(lines))
    return 0


# ---- components ------------------------------------------------------------------------


def cmd_components_add(args: argparse.Namespace) -> int:
    import re

    from switchboard.incident_model import Component, component_document
    from switchboard.models import utc_now

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", args.id):
        raise CliError(f"component id {args.id!r}: lower-case letters, digits and dashes (it is what customers text after SUBSCRIBE)", EXIT_USAGE)
    component = Component(args.id, args.name or args.id, description=args.description or "", position=args.position, updated_at=utc_now())
    with data_environment(args.stack):
        incidents, _, _ = _stores()
        existing = {c.component_id: c for c in incidents.components()}.get(args.id)
        if existing:  # a changed name or position keeps the component's current status
            component = Component(args.id, args.name or existing.name, existing.status, args.description or existing.description, args.position, existing.updated_at)
        incidents.put_component(component)
    emit(args, component_document(component), f"component {component.component_id}: {component.name}")
    return 0


def cmd_components_list(args: argparse.Namespace) -> int:
    from switchboard.incident_model import component_document

    with data_environment(args.stack):
        incidents, _, _ = _stores()
        components = incidents.components()
    rows = [[c.component_id, c.name, c.status.value] for c in components]
    emit(args, [component_document(c) for c in components], format_table(rows, ["ID", "NAME", "STATUS"]) if rows else "no components: add one with `switchboard components add ID --name NAME`")
    return 0


def cmd_components_set(args: argparse.Namespace) -> int:
    from switchboard.incident_model import ComponentStatus
    from switchboard.models import utc_now

    with data_environment(args.stack):
        incidents, _, _ = _stores()
        if args.id not in {c.component_id for c in incidents.components()}:
            raise CliError(f"no component {args.id} (see `switchboard components list`)", EXIT_NOT_FOUND)
        incidents.set_component_status(args.id, ComponentStatus(args.status), utc_now())
    emit(args, {"id": args.id, "status": args.status}, f"component {args.id}: {args.status}")
    return 0


def cmd_components_remove(args: argparse.Namespace) -> int:
    with data_environment(args.stack):
        incidents, _, _ = _stores()
        if not incidents.remove_component(args.id):
            raise CliError(f"no component {args.id}", EXIT_NOT_FOUND)
    emit(args, {"removed": args.id}, f"removed component {args.id}")
    return 0


# ---- subscribers -----------------------------------------------------------------------


def _address(text: str) -> tuple[str, str]:
    """(channel, address) of a phone number, an email address or x:<user id>."""
    from switchboard.models import IdentityKind

    identity = parse_customer_reference(text, os.environ.get("DEFAULT_PHONE_REGION", "US"))
    if isinstance(identity, str):
        raise CliError(f"{text!r}: give the subscriber's phone number, email address or x:<user id>", EXIT_USAGE)
    channel = {IdentityKind.PHONE: "sms", IdentityKind.EMAIL: "email", IdentityKind.X: "x"}[identity.kind]
    return channel, identity.value


def _subscriber_document(subscriber) -> dict[str, Any]:
    from dataclasses import asdict

    document = asdict(subscriber)
    document.pop("token")  # it unsubscribes the address: not for listings
    document["components"] = list(subscriber.components)
    return document


def cmd_subscribers_add(args: argparse.Namespace) -> int:
    from switchboard.models import utc_now

    channel, address = _address(args.address)
    with data_environment(args.stack):
        incidents, _, subscribers = _stores()
        known = {c.component_id for c in incidents.components()}
        unknown = [name for name in args.component or () if name not in known]
        if unknown:
            raise CliError(f"unknown component {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}", EXIT_USAGE)
        subscriber = subscribers.subscribe(channel, address, tuple(args.component or ()), "cli", utc_now())
    note = " (opted out: gets nothing until it opts back in)" if subscriber.opted_out else ""
    emit(args, _subscriber_document(subscriber), f"subscribed {channel}:{address} to {', '.join(subscriber.components) or 'every component'}{note}")
    return 0


def cmd_subscribers_remove(args: argparse.Namespace) -> int:
    channel, address = _address(args.address)
    with data_environment(args.stack):
        _, _, subscribers = _stores()
        if not subscribers.unsubscribe(channel, address):
            raise CliError(f"{channel}:{address} is not subscribed", EXIT_NOT_FOUND)
    emit(args, {"removed": f"{channel}:{address}"}, f"unsubscribed {channel}:{address}")
    return 0


def cmd_subscribers_list(args: argparse.Namespace) -> int:
    import itertools

    with data_environment(args.stack):
        _, _, subscribers = _stores()
        found = list(itertools.islice(subscribers.all(), args.limit))
    rows = [[s.channel, s.address, ",".join(s.components) or "all", s.source, "opted out" if s.opted_out else ""] for s in found]
    emit(args, [_subscriber_document(s) for s in found], format_table(rows, ["CHANNEL", "ADDRESS", "COMPONENTS", "SOURCE", ""]) if rows else "no subscribers")
    return 0


def cmd_subscribers_opt(args: argparse.Namespace) -> int:
    from switchboard.models import utc_now

    channel, address = _address(args.address)
    with data_environment(args.stack):
        _, _, subscribers = _stores()
        change = subscribers.opt_out if args.opt == "out" else subscribers.opt_in
        changed = change(channel, address, "cli", utc_now())
    state = "opted out" if args.opt == "out" else "opted in"
    emit(args, {"address": f"{channel}:{address}", "state": state, "changed": changed}, f"{channel}:{address} {state}" + ("" if changed else " (already)"))
    return 0


# ---- parser ----------------------------------------------------------------------------


def add_parsers(commands: Any, data_options: Any) -> None:
    from switchboard.incident_model import INCIDENT_STATUSES, MAINTENANCE_STATUSES, ComponentStatus, Impact

    statuses = [s.value for s in (*INCIDENT_STATUSES, *MAINTENANCE_STATUSES)]
    incidents = commands.add_parser("incidents", help="status-page incidents and scheduled maintenance").add_subparsers(dest="action", required=True, metavar="ACTION")
    opened = incidents.add_parser("open", help="open an incident (or schedule a maintenance) and notify subscribers")
    opened.add_argument("title", help='what customers see, e.g. "Elevated API error rates"')
    opened.add_argument("--message", "-m", required=True, help="the first update, for customers")
    opened.add_argument("--impact", choices=[i.value for i in Impact if i is not Impact.MAINTENANCE], default="minor", help="default minor")
    opened.add_argument("--component", "-c", action="append", metavar="ID", help="an affected component (repeat for more)")
    opened.add_argument("--status", choices=statuses, help="default investigating (scheduled for a maintenance)")
    opened.add_argument("--maintenance", action="store_true", help="a scheduled maintenance, with --from and --to")
    opened.add_argument("--from", dest="start", metavar="TIME", help="maintenance start, ISO 8601 (UTC unless it says)")
    opened.add_argument("--to", dest="end", metavar="TIME", help="maintenance end")
    opened.add_argument("--no-notify", action="store_true", help="update the status page only, send no notices")
    opened.add_argument("--request-id", help="an idempotency key: repeating the command with it opens nothing new")
    data_options(opened)
    opened.set_defaults(run=cmd_incidents_open)
    updated = incidents.add_parser("update", help="add an update to an incident's timeline")
    updated.add_argument("id")
    updated.add_argument("--status", required=True, choices=statuses)
    updated.add_argument("--message", "-m", required=True)
    updated.add_argument("--no-notify", action="store_true", help="send no notices for this update")
    data_options(updated)
    updated.set_defaults(run=cmd_incidents_update)
    resolved = incidents.add_parser("resolve", help="resolve an incident (complete a maintenance)")
    resolved.add_argument("id")
    resolved.add_argument("--message", "-m", help="default: 'This incident has been resolved.'")
    resolved.add_argument("--no-notify", action="store_true")
    data_options(resolved)
    resolved.set_defaults(run=cmd_incidents_resolve)
    listed = incidents.add_parser("list", help="incidents, newest first (open ones always)")
    listed.add_argument("--days", type=int, default=90, help="how far back (default 90)")
    listed.add_argument("--open", action="store_true", help="open incidents only")
    data_options(listed)
    listed.set_defaults(run=cmd_incidents_list)
    shown = incidents.add_parser("show", help="an incident's timeline and the delivery of each update's notices")
    shown.add_argument("id")
    data_options(shown)
    shown.set_defaults(run=cmd_incidents_show)

    components = commands.add_parser("components", help="what the status page reports on").add_subparsers(dest="action", required=True, metavar="ACTION")
    added = components.add_parser("add", help="add a component (or rename one: same ID)")
    added.add_argument("id", help="a short slug, e.g. api")
    added.add_argument("--name", help='shown on the status page, e.g. "Public API"')
    added.add_argument("--description")
    added.add_argument("--position", type=int, default=0, help="order on the status page")
    data_options(added)
    added.set_defaults(run=cmd_components_add)
    listing = components.add_parser("list", help="components and their status")
    data_options(listing)
    listing.set_defaults(run=cmd_components_list)
    status = components.add_parser("set", help="set a component's status by hand")
    status.add_argument("id")
    status.add_argument("status", choices=[s.value for s in ComponentStatus])
    data_options(status)
    status.set_defaults(run=cmd_components_set)
    removed = components.add_parser("remove", help="remove a component")
    removed.add_argument("id")
    data_options(removed)
    removed.set_defaults(run=cmd_components_remove)

    subscribers = commands.add_parser("subscribers", help="who gets incident notices, and opt-outs").add_subparsers(dest="action", required=True, metavar="ACTION")
    subscribe = subscribers.add_parser("add", help="subscribe a phone number (SMS), an email address or x:<user id>")
    subscribe.add_argument("address")
    subscribe.add_argument("--component", "-c", action="append", metavar="ID", help="only this component's incidents (repeat for more)")
    data_options(subscribe)
    subscribe.set_defaults(run=cmd_subscribers_add)
    unsubscribe = subscribers.add_parser("remove", help="remove a subscription")
    unsubscribe.add_argument("address")
    data_options(unsubscribe)
    unsubscribe.set_defaults(run=cmd_subscribers_remove)
    listing = subscribers.add_parser("list", help="subscribers")
    listing.add_argument("--limit", type=int, default=100)
    data_options(listing)
    listing.set_defaults(run=cmd_subscribers_list)
    for opt, words in (("out", "opt an address out of every notice (as STOP does)"), ("in", "undo an opt-out (as START does)")):
        command = subscribers.add_parser(f"opt-{opt}", help=words)
        command.add_argument("address")
        data_options(command)
        command.set_defaults(run=cmd_subscribers_opt, opt=opt)
