"""The `switchboard local` commands: the local stack (up, invoke, outbox, send ...), no AWS account needed."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from switchboard.cli.environment import local_stack_attached, required_env
from switchboard.cli.errors import EXIT_NOT_FOUND, EXIT_USAGE, CliError
from switchboard.cli.output import print_json


def cmd_local_up(args: argparse.Namespace) -> int:
    from local_stack.serve import serve
    from local_stack.stack import local_overrides
    from local_stack.template import Template

    try:
        overrides = local_overrides(Template(), args.parameter_overrides)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    return serve(args.port, overrides=overrides)


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
    event = ses_receipt_event(
        raw, ses_message_id, recipients, received_at=utc_now(),
        spam=args.spam, virus=args.virus, spf=args.spf, dkim=args.dkim, dmarc=args.dmarc,
    )
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


def cmd_local_send_call(args: argparse.Namespace) -> int:
    """A call as Twilio plays it: the hunt's every signed request, following each TwiML answer."""
    import boto3

    from local_stack.paths import LOCAL_DIR
    from local_stack.phone_call import CallScript, play_call
    from local_stack.send import new_call_sid, post_signed_form
    from local_stack.stack import local_auth_token
    from switchboard.oncall.agents import get_agent
    from switchboard.store.oncall import OncallStore

    state = _running_gateway()
    keys: dict[str, str] = {}
    with local_stack_attached():
        store = OncallStore(boto3.client("dynamodb"), required_env("TABLE_NAME"))
        for agent_id, key in [*((a, "2") for a in args.decline or ()), *(((args.answer, "1"),) if args.answer else ())]:
            agent = get_agent(store, agent_id)
            if agent is None:
                raise CliError(f"no agent {agent_id!r} (see switchboard oncall show)", EXIT_NOT_FOUND)
            keys[agent.phone] = key
    call_sid = args.call_sid or new_call_sid()
    token = local_auth_token(LOCAL_DIR)

    def post(path: str, form: dict[str, str]) -> tuple[int, str]:
        return post_signed_form(f"http://127.0.0.1:{state['gateway_port']}", state["public_url"], path, form, token)

    script = CallScript(keys=keys, talk_seconds=args.talk, voicemail=args.voicemail, hang_up_on_attempt=args.hang_up_on)
    try:
        steps = play_call(post, state["public_url"], args.sender, call_sid, script, to=args.to)
    except RuntimeError as error:
        raise CliError(str(error)) from None
    for step in steps:
        print(f"POST {step.path} → {step.status} {' '.join(step.body.split())[:300]}")
    print(f"CallSid {call_sid}", file=sys.stderr)
    return 0


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


# ---- parser ----------------------------------------------------------------------------


def add_parsers(commands: Any, data_options: Any) -> None:
    # These always work on the local stack: no data_options (--stack), and only outbox has --json.
    local = commands.add_parser("local", help="the local stack (no AWS account needed)").add_subparsers(dest="action", required=True, metavar="ACTION")
    up = local.add_parser("up", help="start the local stack and serve the webhook routes until Ctrl-C (`make run`)")
    up.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000), help="gateway port (default $PORT or 3000)")
    up.add_argument(
        "--parameter-overrides", nargs="+", default=[], metavar="NAME=VALUE",
        help="template.yaml parameters for this run, over the local stack's values, as `sam deploy` takes them"
        " (e.g. LiveAnswering=always ApiRateLimit=1000)",
    )
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
    # Without a PASS among these three the sender is unverified: stored apart and marked,
    # or quarantined with UNVERIFIED_EMAIL=quarantine; DMARC FAIL is always quarantined.
    for verdict in ("spf", "dkim", "dmarc"):
        email.add_argument(
            f"--{verdict}", default="PASS", choices=["PASS", "FAIL", "GRAY", "PROCESSING_FAILED"],
            help=f"SES {verdict.upper()} verdict (default PASS)",
        )
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

    call = send.add_parser(
        "call",
        help="a call put through to the agents (live answering): every signed request Twilio makes, following the hunt",
        description="Plays one incoming call against the running local stack as Twilio would: each agent the hunt rings "
        "lets it ring out, unless --answer or --decline names them (they pick up and press 1, or 2); then voicemail.",
    )
    call.add_argument("--from", dest="sender", required=True, help="the caller's number, e.g. +14155550100")
    call.add_argument("--to", default="+15005550006", help="the support number (default +15005550006)")
    who = call.add_mutually_exclusive_group()
    who.add_argument("--answer", metavar="AGENT", help="this agent picks up and presses 1 when rung")
    who.add_argument("--no-answer", action="store_true", help="nobody picks up (the default)")
    call.add_argument("--decline", action="append", metavar="AGENT", help="this agent picks up and presses 2 (repeatable)")
    call.add_argument("--voicemail", metavar="TEXT", help="the caller leaves this message if voicemail answers (default: hangs up)")
    call.add_argument("--hang-up-on", type=int, metavar="N", help="the caller hangs up while the N-th agent's phone rings")
    call.add_argument("--talk", type=int, default=95, metavar="SECONDS", help="how long an answered call lasts (default 95)")
    call.add_argument("--call-sid", help="CallSid to use (repeat one to see the callbacks change nothing twice)")
    call.set_defaults(run=cmd_local_send_call)

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
