"""The `switchboard` command: read the stream, and run the functions on the local stack.

Data commands use the local stack by default (the running `make run`, or one started
for the command on the same data) and a deployed stack with --stack NAME.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from switchboard.cli.environment import conversation_store, data_environment, local_stack_attached, parse_customer_reference, required_env
from switchboard.cli.errors import EXIT_NOT_FOUND, EXIT_USAGE, CliError
from switchboard.cli.output import emit, format_table, print_json, when
from switchboard.models import to_json_dict


# ---- commands -------------------------------------------------------------------------


# ---- on call ----------------------------------------------------------------------------


def _oncall_store():
    import boto3

    from switchboard.store.oncall import OncallStore

    return OncallStore(boto3.client("dynamodb"), required_env("TABLE_NAME"))


def _parse_moment(text: str, time_zone: str, what: str) -> datetime:
    """ISO 8601 date-time; without an offset it is read in the schedule's time zone."""
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise CliError(f"{what} {text!r} is not a date and time like 2026-11-27T18:00 (or with an offset, +01:00)", EXIT_USAGE) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(time_zone))
    return moment


def _shift_document(shift, agents) -> dict[str, Any]:
    agent = agents.get(shift.agent_id) if shift.agent_id else None
    return {
        **to_json_dict(shift),
        "agent": {"agent_id": agent.agent_id, "name": agent.name, "phone": agent.phone} if agent else None,
    }


def _local(moment: datetime | None, time_zone: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(time_zone)).strftime("%a %Y-%m-%d %H:%M %Z") if moment else "-"


def cmd_oncall_show(args: argparse.Namespace) -> int:
    from switchboard.models import utc_now
    from switchboard.oncall.config import load_config
    from switchboard.oncall.schedule import upcoming_shifts

    with data_environment(args.stack):
        config = load_config(_oncall_store())
    schedule = config.schedule
    at = _parse_moment(args.at, schedule.time_zone, "--at") if args.at else utc_now()
    shifts = upcoming_shifts(schedule, at, count=args.next + 1)
    if args.json:
        print_json(
            {
                "at": to_json_dict(at),
                "on_call": _shift_document(shifts[0], config.agents),
                "next": [_shift_document(shift, config.agents) for shift in shifts[1:]],
                "schedule": to_json_dict(schedule),
                "policy": config.policy.to_document(),
                "agents": [to_json_dict(agent) for agent in sorted(config.agents.values(), key=lambda a: a.agent_id)],
            }
        )
        return 0
    zone = schedule.time_zone

    def who(shift) -> str:
        if shift.agent_id is None:
            return "nobody"
        agent = config.agents.get(shift.agent_id)
        name = f"{agent.name} ({agent.phone})" if agent else shift.agent_id
        return f"{name}{'  [override]' if shift.source == 'override' else ''}"

    print(f"On call at {_local(at, zone)}: {who(shifts[0])}, until {_local(shifts[0].ends_at, zone)}")
    if schedule.rotation:
        rotation = schedule.rotation
        print(
            f"Rotation: {', '.join(rotation.agent_ids)}; every {rotation.length_days} day(s), handoff "
            f"{rotation.starts_on:%a} {rotation.handoff_time:%H:%M} {zone}, from {rotation.starts_on}"
        )
    else:
        print("Rotation: none yet (switchboard oncall rotation set --agents ...)")
    print(f"Business hours: {schedule.business_hours} ({zone}); after hours: {schedule.after_hours.value}")
    from switchboard.oncall.policy import format_level

    policy = config.policy
    print(
        "Escalation: " + ", then ".join(format_level(level) for level in policy.levels)
        + f" (minutes to wait); repeated {policy.repeat} more time(s); first response target {policy.first_response_minutes} min"
    )
    if len(shifts) > 1:
        print("\nNext shifts:")
        for shift in shifts[1:]:
            print(f"  {_local(shift.starts_at, zone):<26} {who(shift)}")
    if schedule.overrides:
        print("\nOverrides:")
        for override in schedule.overrides:
            print(f"  {override.override_id}  {override.agent_id:<12} {_local(override.starts_at, zone)} → {_local(override.ends_at, zone)}  {override.note or ''}".rstrip())
    print("\nAgents:" if config.agents else "\nAgents: none yet (switchboard oncall agents add NAME --phone +E164)")
    for agent in sorted(config.agents.values(), key=lambda a: a.agent_id):
        print(f"  {agent.agent_id:<14} {agent.name:<24} {agent.phone:<16} {agent.email or ''}".rstrip())
    return 0


def _config_change(args: argparse.Namespace, change) -> Any:
    from switchboard.oncall.config import ConfigError, load_config

    with data_environment(args.stack):
        store = _oncall_store()
        try:
            return change(store, load_config(store))
        except ConfigError as error:
            raise CliError(str(error)) from None


def cmd_oncall_agents_add(args: argparse.Namespace) -> int:
    from switchboard.oncall.config import add_agent, agent_id_for
    from switchboard.oncall.schedule import Agent

    phone = parse_customer_reference(args.phone)
    if isinstance(phone, str) or phone.kind.value != "phone":
        raise CliError(f"--phone {args.phone!r} is not a phone number", EXIT_USAGE)
    agent = Agent(args.id or agent_id_for(args.name), args.name.strip(), phone.value, args.email.lower() if args.email else None)
    added = _config_change(args, lambda store, config: add_agent(store, config, agent))
    emit(args, to_json_dict(added), f"agent {added.agent_id}: {added.name} {added.phone}")
    return 0


def cmd_oncall_agents_remove(args: argparse.Namespace) -> int:
    from switchboard.models import utc_now
    from switchboard.oncall.config import remove_agent

    removed = _config_change(args, lambda store, config: remove_agent(store, config, args.id, utc_now()))
    emit(args, to_json_dict(removed), f"removed agent {removed.agent_id}")
    return 0


def cmd_oncall_rotation_set(args: argparse.Namespace) -> int:
    from switchboard.models import utc_now
    from switchboard.oncall.config import set_rotation
    from switchboard.oncall.schedule import AfterHoursMode, ScheduleError, first_handoff_on_or_after, parse_handoff, parse_length

    try:
        weekday, handoff_time = parse_handoff(args.handoff)
        length_days = parse_length(args.every)
    except ScheduleError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    agent_ids = tuple(a.strip() for a in args.agents.split(",") if a.strip())

    def change(store, config):
        from datetime import date

        zone = args.time_zone or config.schedule.time_zone
        if args.starts:
            try:
                starts_on = date.fromisoformat(args.starts)
            except ValueError:
                raise CliError(f"--starts {args.starts!r} is not a date like 2026-11-30", EXIT_USAGE) from None
            if length_days % 7 == 0 and starts_on.weekday() != weekday:
                raise CliError(f"--starts {starts_on} is a {starts_on:%A}, not the handoff day {args.handoff.split()[0]}", EXIT_USAGE)
        else:
            # The latest handoff day that has begun, so the first agent is on call now.
            from datetime import datetime as local_datetime, timedelta
            from zoneinfo import ZoneInfo

            now = utc_now().astimezone(ZoneInfo(zone))
            starts_on = first_handoff_on_or_after(now.date() - timedelta(days=6), weekday)
            if local_datetime.combine(starts_on, handoff_time, tzinfo=now.tzinfo) > now:
                starts_on -= timedelta(days=7)
        return set_rotation(
            store,
            config,
            agent_ids=agent_ids,
            handoff_time=handoff_time,
            length_days=length_days,
            starts_on=starts_on,
            time_zone=args.time_zone,
            business_hours=args.business_hours,
            after_hours=AfterHoursMode(args.after_hours) if args.after_hours else None,
        )

    schedule = _config_change(args, change)
    if args.json:
        print_json(to_json_dict(schedule))
    else:
        rotation = schedule.rotation
        print(f"rotation: {', '.join(rotation.agent_ids)}, every {rotation.length_days} day(s) from {rotation.starts_on:%a %Y-%m-%d} {rotation.handoff_time:%H:%M} {schedule.time_zone}")
    return 0


def cmd_oncall_policy_set(args: argparse.Namespace) -> int:
    from switchboard.oncall.config import set_policy
    from switchboard.oncall.policy import EscalationPolicy, PolicyError, format_level, parse_level

    try:
        policy = EscalationPolicy(tuple(parse_level(text) for text in args.level), args.repeat, args.first_response)
    except PolicyError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    saved = _config_change(args, lambda store, config: set_policy(store, config, policy))
    emit(args, saved.to_document(), "policy: " + ", then ".join(format_level(level) for level in saved.levels) + f"; repeated {saved.repeat} more time(s)")
    return 0


def cmd_oncall_override_add(args: argparse.Namespace) -> int:
    from switchboard.oncall.config import add_override

    def change(store, config):
        zone = config.schedule.time_zone
        starts_at = _parse_moment(args.start, zone, "--from")
        ends_at = _parse_moment(args.end, zone, "--to")
        return add_override(store, config, args.agent, starts_at, ends_at, args.note)

    override = _config_change(args, change)
    emit(args, to_json_dict(override), f"override {override.override_id}: {override.agent_id} from {override.starts_at} to {override.ends_at}")
    return 0


def cmd_oncall_override_remove(args: argparse.Namespace) -> int:
    from switchboard.oncall.config import remove_override

    _config_change(args, lambda store, config: remove_override(store, args.id))
    emit(args, {"removed": args.id}, f"removed override {args.id}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from switchboard.conversations.report import parse_since, report
    from switchboard.models import utc_now

    now = utc_now()
    try:
        since = parse_since(args.since, now)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    with data_environment(args.stack):
        conversations = conversation_store().list_conversations(limit=100_000, active_since=since)
    figures = report(conversations, since)
    if args.json:
        print_json({"since": to_json_dict(since), "until": to_json_dict(now), "channels": [to_json_dict(f) for f in figures]})
        return 0
    print(f"From {when(since)} to {when(now)} UTC")
    if not figures:
        print("no conversations in that period")
        return 0

    def minutes(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / 60:.1f} min"

    rows = [
        [f.channel, str(f.conversations), str(f.answered), minutes(f.first_response_median_seconds), minutes(f.first_response_p90_seconds), str(f.resolved)]
        for f in figures
    ]
    print(format_table(rows, ["CHANNEL", "CONVERSATIONS", "ANSWERED", "FIRST RESPONSE p50", "p90", "RESOLVED"]))
    return 0


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    import boto3

    from switchboard.store.quarantine import QuarantineStore

    day = datetime.strptime(args.day, "%Y-%m-%d") if args.day else None
    with data_environment(args.stack):
        records = QuarantineStore(boto3.client("s3"), required_env("QUARANTINE_BUCKET")).list(day, limit=args.limit)
    if args.json:
        print_json(records)
        return 0
    if not records:
        print("no rejected requests")
        return 0
    rows = [[r["received_at"][:19], str(r["status"]), r["route"], r["reason"][:70]] for r in records]
    print(format_table(rows, ["RECEIVED (UTC)", "STATUS", "ROUTE", "REASON"]))
    return 0


def cmd_local_up(args: argparse.Namespace) -> int:
    from local_stack.serve import serve

    return serve(args.port)


def cmd_local_invoke(args: argparse.Namespace) -> int:
    from local_stack.invoke import invoke
    from local_stack.template import Template

    functions = Template().functions()
    if args.function not in functions:
        raise CliError(f"no function {args.function!r} in template.yaml; functions: {', '.join(sorted(functions))}", EXIT_USAGE)
    try:
        event = json.loads(Path(args.event).read_text()) if args.event != "-" else json.load(sys.stdin)
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read event {args.event}: {error}", EXIT_USAGE) from None
    with local_stack_attached():
        result = invoke(functions[args.function], event)
    print_json(result)
    return 0


def cmd_local_send_sms(args: argparse.Namespace) -> int:
    from local_stack.send import TWILIO_SMS_PATH, post_signed_form, twilio_sms_form
    from local_stack.stack import local_auth_token, running_state
    from local_stack.paths import LOCAL_DIR

    state = running_state()
    if not state or not state.get("gateway_port"):
        raise CliError("the local stack is not running: start it with `make run`")
    media = [(url, args.media_type) for url in args.media]
    form = twilio_sms_form(args.sender, args.text, to=args.to, media=media, message_sid=args.sid)
    status, body = post_signed_form(
        f"http://127.0.0.1:{state['gateway_port']}", state["public_url"], TWILIO_SMS_PATH, form, local_auth_token(LOCAL_DIR)
    )
    print(f"{status} {body.strip()}")
    print(f"MessageSid {form['MessageSid']}", file=sys.stderr)
    return 0 if 200 <= status < 300 else 1


def cmd_local_send_statuspage(args: argparse.Namespace) -> int:
    """POST a Statuspage notification (a JSON file, as Statuspage sends it) to the running stack."""
    import urllib.error
    import urllib.request

    from local_stack.stack import LOCAL_STATUSPAGE_SECRET

    state = _running_gateway()
    try:
        body = Path(args.file).read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {args.file}: {error.strerror}", EXIT_USAGE) from None
    url = f"http://127.0.0.1:{state['gateway_port']}/webhooks/statuspage/{args.secret or LOCAL_STATUSPAGE_SECRET}"
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", "User-Agent": "Statuspage"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode("utf-8", "replace")
    print(f"{status} {text.strip()}")
    return 0 if 200 <= status < 300 else 1


def _running_gateway() -> dict[str, Any]:
    from local_stack.stack import running_state

    state = running_state()
    if not state or not state.get("gateway_port"):
        raise CliError("the local stack is not running: start it with `make run`")
    return state


def _invoke_local(function_id: str, event: dict[str, Any]) -> Any:
    from local_stack.invoke import invoke
    from local_stack.template import Template

    return invoke(Template().functions()[function_id], event)


def cmd_local_outbox(args: argparse.Namespace) -> int:
    import boto3

    from switchboard.store.outbox import OutboxStore

    with local_stack_attached():
        sent = OutboxStore(boto3.client("dynamodb"), required_env("TABLE_NAME")).list_sms(args.to, limit=args.limit)
    if args.json:
        print_json(sent)
        return 0
    if not sent:
        print("the local outbox is empty")
        return 0
    for message in sent:
        print(f"{message['sent_at'][:19]}  → {message['to']}\n    " + "\n    ".join(message["body"].splitlines() or [""]))
    return 0


def cmd_local_send_email(args: argparse.Namespace) -> int:
    import boto3

    from local_stack.send import new_ses_message_id, ses_receipt_event
    from local_stack.stack import LOCAL_SUPPORT_EMAIL
    from switchboard.models import utc_now
    from switchboard.store.mail import MailStore

    try:
        raw = Path(args.file).read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {args.file}: {error.strerror}", EXIT_USAGE) from None
    ses_message_id = args.ses_id or new_ses_message_id()
    recipients = args.to or [LOCAL_SUPPORT_EMAIL]
    event = ses_receipt_event(raw, ses_message_id, recipients, received_at=utc_now(), spam=args.spam, virus=args.virus)
    with local_stack_attached():
        MailStore(boto3.client("s3"), required_env("MAIL_BUCKET"), os.environ.get("MAIL_PREFIX", "inbound/")).put_raw(ses_message_id, raw)
        result = _invoke_local("EmailFunction", event)
    (outcome,) = result["messages"]
    print_json(outcome)
    if outcome["status"] == "quarantined":
        print(f"switchboard: rejected: {outcome['reason']}", file=sys.stderr)
        return 1
    return 0


def cmd_local_send_voicemail(args: argparse.Namespace) -> int:
    from local_stack.send import new_call_sid, post_signed_form, voicemail_requests
    from local_stack.stack import local_auth_token
    from local_stack.paths import LOCAL_DIR

    state = _running_gateway()
    call_sid = args.call_sid or new_call_sid()
    text = None if args.no_transcription else args.text
    requests = voicemail_requests(args.sender, call_sid, text=text, duration=args.duration, hang_up_early=args.hang_up, to=args.to)
    worst = 200
    for path, form in requests:
        status, body = post_signed_form(
            f"http://127.0.0.1:{state['gateway_port']}", state["public_url"], path, form, local_auth_token(LOCAL_DIR)
        )
        print(f"POST {path.split('?')[0]} → {status} {body.strip()[:300]}")
        worst = max(worst, status)
    print(f"CallSid {call_sid}", file=sys.stderr)
    return 0 if worst < 300 else 1


def cmd_local_send_mention(args: argparse.Namespace) -> int:
    import responses

    from local_stack import fake_x
    from local_stack.stack import LOCAL_X_ACCOUNT_ID, LOCAL_X_USERNAME
    from switchboard.models import utc_now

    tweet_id = args.tweet_id or str(fake_x.new_tweet_id(utc_now()))
    text = args.text if args.text.lower().startswith(f"@{LOCAL_X_USERNAME}") else f"@{LOCAL_X_USERNAME} {args.text}"
    page = fake_x.mentions_page(
        [fake_x.mention(tweet_id, text, args.author_id, args.handle.lstrip("@"), args.name or args.handle.lstrip("@"), utc_now())]
    )
    with local_stack_attached(), responses.RequestsMock(assert_all_requests_are_fired=False) as x_api:
        # X itself is not reachable from here: its mentions endpoint is answered locally.
        fake_x.register(x_api, LOCAL_X_ACCOUNT_ID, [page])
        summary = _invoke_local("XMentionsFunction", {"source": "local send mention"})
    print_json({**summary, "tweet_id": tweet_id})
    return 0 if summary["stored"] + summary["duplicates"] >= 1 else 1


# ---- parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard: one conversation per customer, on every channel.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--json", action="store_true", help="print JSON instead of a table")
        command.add_argument("--stack", metavar="NAME", help="a deployed CloudFormation stack (default: the local stack)")

    from switchboard.cli.conversations import add_parsers as add_conversation_parsers

    add_conversation_parsers(commands, data_options)

    from switchboard.cli.customers import add_parsers as add_customer_parsers

    add_customer_parsers(commands, data_options)

    oncall = commands.add_parser("oncall", help="who is on call: agents, the rotation, overrides").add_subparsers(dest="action", required=True, metavar="ACTION")
    oncall_show = oncall.add_parser("show", help="who is on call now (or --at TIME), the next shifts, agents and overrides")
    oncall_show.add_argument("--at", metavar="TIME", help="ISO 8601 date and time (the schedule's time zone unless it has an offset)")
    oncall_show.add_argument("--next", type=int, default=4, metavar="N", help="also list the next N shifts (default 4)")
    data_options(oncall_show)
    oncall_show.set_defaults(run=cmd_oncall_show)
    agents = oncall.add_parser("agents", help="the people who can be on call").add_subparsers(dest="agents_action", required=True, metavar="ACTION")
    agent_add = agents.add_parser("add", help="add an agent (or update one: same --id)")
    agent_add.add_argument("name", help='the agent\'s name, e.g. "Ana Lima"')
    agent_add.add_argument("--phone", required=True, help="the agent's mobile number (pages go there; SMS from it are commands)")
    agent_add.add_argument("--email", help="the agent's email address (optional)")
    agent_add.add_argument("--id", help="a short id (default: from the name, e.g. ana-lima)")
    data_options(agent_add)
    agent_add.set_defaults(run=cmd_oncall_agents_add)
    agent_remove = agents.add_parser("remove", help="remove an agent (not while in the rotation or a current override)")
    agent_remove.add_argument("id", help="the agent's id")
    data_options(agent_remove)
    agent_remove.set_defaults(run=cmd_oncall_agents_remove)
    rotation = oncall.add_parser("rotation", help="the rotation").add_subparsers(dest="rotation_action", required=True, metavar="ACTION")
    rotation_set = rotation.add_parser(
        "set",
        help="set the rotation: who, in what order, when they hand off",
        description="Agents take turns in the given order; each shift starts at the handoff time in the schedule's "
        "time zone (wall-clock time, so daylight-saving changes move no handoff).",
    )
    rotation_set.add_argument("--agents", required=True, metavar="ID,ID,...", help="agent ids in rotation order")
    rotation_set.add_argument("--handoff", required=True, metavar='"DAY HH:MM"', help='weekday and time of the handoff, e.g. "Mon 09:00"')
    rotation_set.add_argument("--every", default="1w", metavar="LENGTH", help="shift length: 1w, 2w, 1d, 3d ... (default 1w)")
    rotation_set.add_argument("--starts", metavar="YYYY-MM-DD", help="the first handoff's date (default: the latest handoff day that has begun, so the first agent is on call now)")
    rotation_set.add_argument("--time-zone", metavar="ZONE", help="IANA time zone of the schedule, e.g. Europe/Berlin (default: unchanged, initially UTC)")
    rotation_set.add_argument("--business-hours", metavar="HOURS", help='e.g. "Mon-Fri 09:00-17:00" (default: unchanged)')
    rotation_set.add_argument("--after-hours", choices=["page", "repeat_or_escalated", "queue"], help="outside business hours: page as usual, only for repeat or escalated conversations, or queue until opening")
    data_options(rotation_set)
    rotation_set.set_defaults(run=cmd_oncall_rotation_set)
    policy = oncall.add_parser("policy", help="the escalation policy new pages take").add_subparsers(dest="policy_action", required=True, metavar="ACTION")
    policy_set = policy.add_parser(
        "set",
        help="who is paged at each level and how long to wait for an ACK or a reply",
        description="Levels in order: schedule:MIN (whoever is on call), agent:ID:MIN, everyone:MIN. "
        "Open pages keep the policy they started with.",
    )
    policy_set.add_argument("--level", action="append", required=True, metavar="TARGET:MIN", help="repeatable, in order, e.g. --level schedule:5 --level everyone:10")
    policy_set.add_argument("--repeat", type=int, default=0, help="run the whole list this many more times (default 0)")
    policy_set.add_argument("--first-response", type=int, default=10, metavar="MIN", help="first-response target in minutes (default 10)")
    data_options(policy_set)
    policy_set.set_defaults(run=cmd_oncall_policy_set)
    override = oncall.add_parser("override", help="time-bounded cover that wins over the rotation").add_subparsers(dest="override_action", required=True, metavar="ACTION")
    override_add = override.add_parser("add", help='e.g. "Ana covers Friday 18:00 to Monday 09:00"')
    override_add.add_argument("agent", help="the agent who covers")
    override_add.add_argument("--from", dest="start", required=True, metavar="TIME", help="start, ISO 8601 (schedule's time zone unless it has an offset)")
    override_add.add_argument("--to", dest="end", required=True, metavar="TIME", help="end (exclusive)")
    override_add.add_argument("--note", help="why, for the others")
    data_options(override_add)
    override_add.set_defaults(run=cmd_oncall_override_add)
    override_remove = override.add_parser("remove", help="remove an override")
    override_remove.add_argument("id", help="the override's id (see oncall show)")
    data_options(override_remove)
    override_remove.set_defaults(run=cmd_oncall_override_remove)

    from switchboard.cli.incidents import add_parsers as add_incident_parsers

    add_incident_parsers(commands, data_options)

    report_command = commands.add_parser("report", help="first-response time (median, p90) and conversations resolved, per channel")
    report_command.add_argument("--since", default="7d", help="7d, 24h, 90m, 2w or a date (default 7d)")
    data_options(report_command)
    report_command.set_defaults(run=cmd_report)

    quarantine = commands.add_parser("quarantine", help="requests Switchboard refused").add_subparsers(dest="action", required=True, metavar="ACTION")
    rejected = quarantine.add_parser("list", help="refused requests with their reasons, newest first")
    rejected.add_argument("--day", metavar="YYYY-MM-DD", help="only this day (UTC)")
    rejected.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    data_options(rejected)
    rejected.set_defaults(run=cmd_quarantine_list)

    local = commands.add_parser("local", help="the local stack (no AWS account needed)").add_subparsers(dest="action", required=True, metavar="ACTION")
    up = local.add_parser("up", help="start the local stack and serve the webhook routes until Ctrl-C (`make run`)")
    up.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000), help="gateway port (default $PORT or 3000)")
    up.set_defaults(run=cmd_local_up)
    invoke = local.add_parser("invoke", help="run a function of template.yaml with an event file, like `sam local invoke`")
    invoke.add_argument("function", help="the function's logical id in template.yaml, e.g. SmsWebhookFunction")
    invoke.add_argument("--event", "-e", required=True, metavar="FILE", help="event JSON file (see events/), or - for stdin")
    invoke.set_defaults(run=cmd_local_invoke)
    local_outbox = local.add_parser("outbox", help="the SMS the local stack sent (instead of Twilio), newest first")
    local_outbox.add_argument("--to", metavar="NUMBER", help="only those to this number")
    local_outbox.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    local_outbox.add_argument("--json", action="store_true", help="print JSON")
    local_outbox.set_defaults(run=cmd_local_outbox)
    send = local.add_parser("send", help="send a signed test webhook to the running local stack").add_subparsers(dest="channel", required=True, metavar="CHANNEL")
    sms = send.add_parser("sms", help="a customer's SMS (MMS with --media) to the support number")
    sms.add_argument("--from", dest="sender", required=True, help="the customer's number, e.g. +14155550100")
    sms.add_argument("--to", default="+15005550006", help="the support number (default +15005550006)")
    sms.add_argument("--media", action="append", default=[], metavar="URL", help="attach media (repeatable)")
    sms.add_argument("--media-type", default="image/jpeg", help="content type of the media (default image/jpeg)")
    sms.add_argument("--sid", help="MessageSid to use (repeat one to see duplicates ignored)")
    sms.add_argument("text", help="the message text")
    sms.set_defaults(run=cmd_local_send_sms)

    email = send.add_parser(
        "email",
        help="an email (a raw .eml file) through SES's receipt rule into the email function",
        description="Stores FILE in the local mail bucket as SES's S3 action would, then invokes EmailFunction with a "
        "real-shaped SES receipt event. Exits 1 with the reason when the message is rejected (quarantined).",
    )
    email.add_argument("file", help="a raw RFC 5322 message, e.g. tests/fixtures/mime/talon_apple_mail_reply_quoted.eml")
    email.add_argument("--to", action="append", metavar="ADDRESS", help="envelope recipient (repeatable; default the local support address)")
    email.add_argument("--spam", default="PASS", choices=["PASS", "FAIL", "GRAY", "PROCESSING_FAILED"], help="SES spam verdict (default PASS)")
    email.add_argument("--virus", default="PASS", choices=["PASS", "FAIL", "GRAY", "PROCESSING_FAILED"], help="SES virus verdict (default PASS)")
    email.add_argument("--ses-id", help="SES messageId to use (repeat one to see duplicates ignored)")
    email.set_defaults(run=cmd_local_send_email)

    voicemail = send.add_parser(
        "voicemail",
        help="a call that ends in voicemail: every signed request Twilio makes, to the running local stack",
    )
    voicemail.add_argument("--from", dest="sender", required=True, help="the caller's number, e.g. +14155550100")
    voicemail.add_argument("--to", default="+15005550006", help="the support number (default +15005550006)")
    voicemail.add_argument("--duration", type=int, default=14, help="recording length in seconds (default 14)")
    voicemail.add_argument("--no-transcription", action="store_true", help="Twilio never sends the transcription")
    voicemail.add_argument("--hang-up", action="store_true", help="the caller hangs up before the beep (a missed call)")
    voicemail.add_argument("--call-sid", help="CallSid to use (repeat one to see callbacks merge into one message)")
    voicemail.add_argument("text", nargs="?", default="", help="what the transcription says (empty: transcription failed)")
    voicemail.set_defaults(run=cmd_local_send_voicemail)

    mention = send.add_parser(
        "mention",
        help="a mention of the support account on X, replayed through the X poller",
        description="Runs XMentionsFunction once with the X API answered locally by a real-shaped mentions page "
        "holding this one mention.",
    )
    mention.add_argument("--author-id", default="2244994945", help="the author's numeric X user id (default 2244994945)")
    mention.add_argument("--handle", default="jane_doe", help="the author's @username (default jane_doe)")
    mention.add_argument("--name", help="the author's display name (default: the handle)")
    mention.add_argument("--tweet-id", help="tweet id to use (repeat one to see duplicates ignored)")
    mention.add_argument("text", help="the post's text (the support account's @handle is prefixed if missing)")
    mention.set_defaults(run=cmd_local_send_mention)
    statuspage = send.add_parser("statuspage", help="a Statuspage webhook notification (a JSON file) to the running local stack")
    statuspage.add_argument("file", help="e.g. tests/fixtures/statuspage/incident_created_investigating.json")
    statuspage.add_argument("--secret", help="the URL's secret (default: the local stack's)")
    statuspage.set_defaults(run=cmd_local_send_statuspage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CliError as error:
        print(f"switchboard: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        return 130

