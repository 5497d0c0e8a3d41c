"""The `switchboard oncall` commands: who is on call; agents, the rotation, the escalation policy, overrides."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from switchboard.cli.environment import data_environment, required_env
from switchboard.cli.errors import EXIT_NOT_FOUND, EXIT_USAGE, CliError
from switchboard.cli.output import emit, print_json
from switchboard.cli.references import parse_customer_reference
from switchboard.models import to_json_dict


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
        + "".join(f", {channel} {minutes} min" for channel, minutes in policy.first_response_by_channel)
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
    from switchboard.models import utc_now
    from switchboard.oncall.config import add_agent, agent_id_for
    from switchboard.oncall.schedule import Agent

    phone = parse_customer_reference(args.phone)
    if isinstance(phone, str) or phone.kind.value != "phone":
        raise CliError(f"--phone {args.phone!r} is not a phone number", EXIT_USAGE)
    agent = Agent(args.id or agent_id_for(args.name), args.name.strip(), phone.value, args.email.lower() if args.email else None)
    added = _config_change(args, lambda store, config: add_agent(store, config, agent, utc_now()))
    emit(args, to_json_dict(added), f"agent {added.agent_id}: {added.name} {added.phone}")
    return 0


def cmd_oncall_agents_remove(args: argparse.Namespace) -> int:
    from switchboard.models import utc_now
    from switchboard.oncall.config import remove_agent

    removed = _config_change(args, lambda store, config: remove_agent(store, config, args.id, utc_now()))
    emit(args, to_json_dict(removed), f"removed agent {removed.agent_id}")
    return 0


def cmd_agents_login_link(args: argparse.Namespace) -> int:
    """A one-time sign-in link to the agents' inbox, as the agent's own request would send."""
    import boto3

    from switchboard.agent_pages.sign_in import SignIn, issue_link
    from switchboard.cli.environment import function_settings
    from switchboard.models import utc_now
    from switchboard.oncall.agents import get_agent

    with data_environment(args.stack):
        pages = function_settings(args.stack, "AgentPagesFunction")
        agent = get_agent(_oncall_store(), args.id)
        if agent is None:
            raise CliError(f"no agent {args.id!r} (see switchboard oncall show)", EXIT_NOT_FOUND)
        link = issue_link(agent, utc_now(), SignIn.from_settings(pages, boto3.client("dynamodb"), boto3.client("sqs")))
    emit(args, {"agent_id": agent.agent_id, "link": link, "minutes": pages.agent_sign_in_minutes},
         f"{link}\n(works once, for {pages.agent_sign_in_minutes} minutes; it signs in as {agent.name})")
    return 0


def cmd_agents_sign_out(args: argparse.Namespace) -> int:
    from switchboard.models import utc_now
    from switchboard.oncall.config import sign_out_everywhere

    signed_out = _config_change(args, lambda store, config: sign_out_everywhere(store, config, args.id, utc_now()))
    emit(args, to_json_dict(signed_out), f"agent {signed_out.agent_id}: every link, sign-in link and session issued so far no longer works")
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
    from switchboard.oncall.policy import EscalationPolicy, PolicyError, format_level, parse_first_response, parse_level

    try:
        default, by_channel = parse_first_response(args.first_response or [])
        policy = EscalationPolicy(tuple(parse_level(text) for text in args.level), args.repeat,
                                  EscalationPolicy.first_response_minutes if default is None else default, by_channel)
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


# ---- parser ----------------------------------------------------------------------------


def add_parsers(commands: Any, data_options: Any) -> None:
    oncall = commands.add_parser("oncall", help="who is on call: agents, the rotation, overrides").add_subparsers(dest="action", required=True, metavar="ACTION")
    oncall_show = oncall.add_parser("show", help="who is on call now (or --at TIME), the next shifts, agents and overrides")
    oncall_show.add_argument("--at", metavar="TIME", help="ISO 8601 date and time (the schedule's time zone unless it has an offset)")
    oncall_show.add_argument("--next", type=int, default=4, metavar="N", help="also list the next N shifts (default 4)")
    data_options(oncall_show)
    oncall_show.set_defaults(run=cmd_oncall_show)
    _add_agents_parsers(oncall.add_parser("agents", help="the people who can be on call"), data_options)
    # The same, shorter: `switchboard agents login-link ana`.
    _add_agents_parsers(commands.add_parser("agents", help="the people who can be on call (= oncall agents)"), data_options)
    _add_schedule_parsers(oncall, data_options)


def _add_agents_parsers(parser: Any, data_options: Any) -> None:
    agents = parser.add_subparsers(dest="agents_action", required=True, metavar="ACTION")
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
    login_link = agents.add_parser("login-link", help="print a one-time sign-in link to the agents' inbox (/inbox) for an agent")
    login_link.add_argument("id", help="the agent's id")
    data_options(login_link)
    login_link.set_defaults(run=cmd_agents_login_link)
    sign_out = agents.add_parser("sign-out", help="void every link, sign-in link and session issued to an agent so far (a lost phone)")
    sign_out.add_argument("id", help="the agent's id")
    data_options(sign_out)
    sign_out.set_defaults(run=cmd_agents_sign_out)


def _add_schedule_parsers(oncall: Any, data_options: Any) -> None:
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
    policy_set.add_argument(
        "--first-response", action="append", metavar="[CHANNEL=]MIN",
        help="the first-response target in minutes (default 10), or one channel's own (sms, email, voice, x): repeatable,"
             " e.g. --first-response 30 --first-response sms=5 --first-response x=5",
    )
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
