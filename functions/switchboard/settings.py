"""Environment → validated settings, read once per cold start.

Every function reads the same variables; a missing or malformed one fails the cold
start with the variable's name, not a KeyError deep inside a request. A dataclass
with a few checks, not pydantic: importing pydantic would add ~80 ms to every cold
start for eight strings.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from dataclasses import MISSING, dataclass, fields
from functools import lru_cache
from typing import Mapping


class SettingsError(RuntimeError):
    """The environment does not describe a usable deployment."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    quarantine_bucket: str
    # The URL Twilio is configured to call, without a trailing slash. Signatures are
    # computed over it, so it is configuration, never rebuilt from the Host header.
    public_url: str
    # SSM Parameter Store name of the Twilio auth token (a SecureString).
    twilio_auth_token_parameter: str
    # How long a fetched secret is trusted before it is read again (rotation).
    secret_max_age_seconds: int = 300
    # Region assumed for phone numbers that arrive without a country code.
    default_phone_region: str = "US"
    # Webhook bodies above this are refused with 413: a Twilio SMS webhook with ten
    # media items is under 4 KiB, so 64 KiB leaves room without inviting abuse.
    max_webhook_body_bytes: int = 65536
    # Where refused requests are kept in the quarantine bucket (expired by its lifecycle rule).
    quarantine_prefix: str = "rejected/"
    # Refusals kept in full each minute per route; past that, one in this many (a flood).
    quarantine_full_per_minute: int = 100
    quarantine_sample_one_in: int = 100

    # A resolved conversation quiet for this many days is not reopened by a new
    # customer message: the message starts a new conversation in the customer's stream.
    conversation_idle_days: int = 7

    # ---- time limits: every outside call ends before the function's Timeout ----
    # Each AWS client's connect and read timeouts and attempts per call (botocore's
    # standard retries), set per function in template.yaml so that one stalled call,
    # attempts x (connect + read) + backoff, ends with time left to answer (a test
    # checks every function); Twilio's and X's HTTP clients get provider_timeout_seconds.
    aws_connect_timeout_seconds: int = 1
    aws_read_timeout_seconds: int = 1
    aws_max_attempts: int = 2
    provider_timeout_seconds: int = 10

    # ---- paging ----
    # Pages to one agent within this window after a page are bundled into one digest.
    bundling_window_seconds: int = 120
    # At most this many SMS to one agent in any 15 minutes; more wait for a digest.
    page_cap_per_15_minutes: int = 5

    # ---- outbound ----
    # The outbox queue (SQS) every message Switchboard sends goes through.
    outbox_queue_url: str = ""
    # How SMS leave: "twilio" (Twilio's REST API, with the auth token above), or "outbox"
    # (kept in the table: the local stack, tests; nothing reaches anyone).
    sms_delivery: str = "twilio"
    # Twilio's account SID; required with sms_delivery "twilio".
    twilio_account_sid: str = ""
    # The number SMS are sent from (E.164), or a Messaging Service SID (MG…).
    twilio_sender: str = ""

    # ---- email (SES inbound) ----
    # The bucket SES's receipt rule writes raw mail to, under mail_prefix + SES messageId;
    # attachments are stored next to it under attachments/.
    mail_bucket: str = ""
    mail_prefix: str = "inbound/"
    # The support address customers write to; replies use <local>+<conversation>@<domain>.
    support_email_address: str = ""
    # How email leaves: "ses", "off" (every email fails for good, named), or "outbox"
    # (kept in the table: the local stack).
    email_delivery: str = "ses"
    # Mail whose sender SES could not authenticate (no SPF, DKIM or DMARC pass): "mark"
    # stores it apart from the address's verified stream, marked, never paging;
    # "quarantine" refuses it. A DMARC FAIL is always refused.
    unverified_email: str = "mark"

    # ---- voice ----
    # When the team answers, in business_time_zone: "Mon-Fri 09:00-17:00", several
    # ranges separated by ";" ("Mon-Thu 09:00-17:00; Fri 09:00-13:00"), or "always".
    business_hours: str = "Mon-Fri 09:00-17:00"
    business_time_zone: str = "UTC"
    voice_greeting_open: str = "Thanks for calling support. Please leave a message after the tone and we will get back to you shortly."
    voice_greeting_closed: str = (
        "Thanks for calling support. We are closed right now. Please leave a message after the tone"
        " and we will get back to you as soon as we open."
    )
    voicemail_max_seconds: int = 120
    # Live answering (oncall/live_calls.py): ring the agents the escalation policy names,
    # screened, before voicemail: "always", "business_hours" (when the line is open), "never".
    live_answering: str = "business_hours"
    # What the caller hears first when someone may answer ({brand}); then ringing.
    live_greeting: str = "Thanks for calling {brand}. Connecting you to someone from the team."
    # Each agent's phone rings this long: below a typical carrier voicemail pickup (~20 s),
    # so the agent's own voicemail never takes the call.
    dial_timeout_seconds: int = 18
    # The caller hears ringing this long at most, across every agent tried, then voicemail.
    max_ring_seconds: int = 60
    # Answered calls are recorded (both sides, from the answer), and the caller told so first.
    call_recording: str = "off"

    # ---- the automatic acknowledgement (conversations/acknowledgement.py) ----
    # The channels whose new or reopened conversations hear when to expect a person
    # ("sms,email,voice,x", or "none"); voicemail callers hear it by SMS. Off on X by
    # default: there it is a public reply.
    acknowledge_channels: str = "sms,email,voice"
    # At most one acknowledgement per conversation in this many hours.
    acknowledge_quiet_hours: int = 24
    # The wording inside business hours ({minutes}: the channel's first-response target)
    # and outside them ({back}: "tomorrow at 09:00 CET"); {brand} is brand_name.
    acknowledge_text_open: str = "Thanks for your message: someone from {brand} will answer within about {minutes} minutes."
    acknowledge_text_closed: str = "Thanks for your message. We are away right now: someone from {brand} will answer {back}."

    # ---- waiting on the customer (`12 WAITING`, conversations/waiting.py) ----
    # Days without the customer's reply before the conversation resolves itself.
    waiting_resolve_days: int = 3
    # The note the customer then gets on their channel ({brand}); "none" for no note.
    waiting_closing_text: str = "We have not heard back, so we have closed this conversation. Just reply to open it again. {brand}"

    # ---- "how did we do?" after the answer (conversations/satisfaction.py) ----
    # The channels whose customers are asked ("sms,email,voice,x", or "none"); voicemail
    # callers by SMS. Off on X by default: there it is a public reply.
    satisfaction_channels: str = "sms,email,voice"
    # A customer is asked at most once in this many days, whatever the conversation.
    satisfaction_quiet_days: int = 30
    # An SMS score counts, and an email's links work, this many days after the question.
    satisfaction_answer_days: int = 7
    # The question by SMS, and the line above the email's five links ({brand}).
    satisfaction_text_sms: str = "How did we do? Reply 1 (poor) to 5 (great). {brand}"
    satisfaction_text_email: str = "How did we do? Your answer takes one click."

    # ---- "12 answered by Ana Lima" to the other agents paged about it (oncall/answered.py) ----
    tell_other_agents: str = "on"

    # ---- the agents' pages (agent_pages/) ----
    # Page SMS and digests link to the conversation's page ("on"/"off").
    agent_page_links: str = "on"
    # A page's link works this many hours (and never once the conversation is resolved).
    agent_link_hours: int = 24
    # A sign-in link works this many minutes, once; the session it opens this many hours.
    agent_sign_in_minutes: int = 15
    agent_session_hours: int = 12

    # ---- X mentions ----
    # The support account as "<numeric user id>:<username>" (the username is optional).
    x_support_account: str = ""
    # SSM Parameter Store name of the X API bearer token (a SecureString).
    x_bearer_token_parameter: str = "/switchboard/x/bearer-token"
    # Answers on X: "api" posts replies with the support account's user tokens (a JSON
    # SecureString at x_user_credentials_parameter), "off" sends none (each fails for good,
    # named), "outbox" keeps them (the local stack).
    x_delivery: str = "api"
    x_user_credentials_parameter: str = "/switchboard/x/user-credentials"

    # ---- incidents and notices ----
    # Who notices and keyword answers come from ("Acme: ..."), and the status page's title.
    brand_name: str = "Support"
    # Which incident updates notify subscribers: "all", or "open_and_resolve" (the first
    # update and the resolution only, as Statuspage does for SMS).
    notify_updates: str = "all"
    # Customers with an open conversation tagged with an affected component get the
    # incident's notices on that conversation's channel, subscribed or not ("on"/"off").
    auto_subscribe_conversations: str = "on"
    # The queue notices are fanned out to (their own, so pages never wait behind them).
    notice_queue_url: str = ""
    # Send rates (messages per second) the senders keep, per channel, so providers never
    # refuse us for speed: Twilio's long codes take 1 SMS/s (toll-free and short codes
    # more), SES's sending rate is in the account's quota (14/s once out of the sandbox).
    sms_rate_per_second: str = "1"
    email_rate_per_second: str = "14"
    x_rate_per_second: str = "0.5"
    # The public subscribe form (POST /status/subscribe): one confirmation email per
    # address (any case) per this many minutes, this many requests per source IP (an IPv6
    # /64) per hour, and this many confirmation emails per hour in all. Past them: 429.
    subscribe_address_interval_minutes: int = 10
    subscribe_per_source_per_hour: int = 10
    subscribe_per_hour: int = 200
    # SSM Parameter Store name of the secret in the Statuspage webhook's URL
    # (POST /webhooks/statuspage/<secret>): Statuspage signs nothing, so the URL is the key.
    statuspage_secret_parameter: str = "/switchboard/statuspage/webhook-secret"

    @property
    def wait_for_reply(self) -> timedelta:
        return timedelta(days=self.waiting_resolve_days)

    @property
    def closing_note(self) -> str:
        """The closing note's words, or "" for none."""
        return "" if self.waiting_closing_text == "none" else self.waiting_closing_text

    @property
    def satisfaction_channel_list(self) -> tuple[str, ...]:
        return _channel_list(self.satisfaction_channels)

    @property
    def acknowledge_channel_list(self) -> tuple[str, ...]:
        return _channel_list(self.acknowledge_channels)

    def rate_per_second(self, channel: str) -> float:
        return float(getattr(self, f"{channel}_rate_per_second", "1"))

    @property
    def aws_call_budget_seconds(self) -> float:
        """The longest one AWS call can take: every attempt timing out, with the backoff
        between them (standard mode: at most 1 s each, jittered)."""
        attempts = self.aws_max_attempts
        return attempts * (self.aws_connect_timeout_seconds + self.aws_read_timeout_seconds) + (attempts - 1)

    @property
    def conversation_idle(self) -> timedelta:
        return timedelta(days=self.conversation_idle_days)

    def require_delivery(self) -> None:
        """A sender's cold start: every channel's delivery is complete, or the function
        refuses to start, naming what is missing (never a send that only looks done)."""
        needed = {
            "sms_delivery": {"twilio": ("twilio_account_sid", "twilio_sender")},
            "email_delivery": {"ses": ("support_email_address",)},
            "x_delivery": {"api": ("x_support_account",)},
        }
        missing = [
            f"{_VARIABLES[name][0]} is required with {_VARIABLES[choice][0]}={getattr(self, choice)}"
            for choice, modes in needed.items()
            for name in modes.get(getattr(self, choice), ())
            if not getattr(self, name)
        ]
        if missing:
            raise SettingsError("invalid environment: " + "; ".join(missing))

    def require(self, *names: str) -> None:
        """Fail with the variable names when a function needs settings that are unset."""
        missing = [_VARIABLES[name][0] for name in names if not getattr(self, name)]
        if missing:
            raise SettingsError("invalid environment: " + "; ".join(f"{variable} is required" for variable in missing))


# A send rate: a positive number of messages per second, e.g. "1", "14", "0.5".
_RATE = r"(?!0+(\.0*)?$)\d{1,4}(\.\d{1,3})?"

# Text that goes into email headers and TwiML: one line, no control characters.
_ONE_LINE = r"[^\x00-\x1f\x7f\u2028\u2029]{{1,{}}}"
# Which customers' channels an automatic message goes to: "sms,email,voice", or "none".
_CHANNEL_LIST = r"none|(sms|email|voice|x)(,(sms|email|voice|x))*"

# field → (environment variable, pattern its value must match)
_VARIABLES: dict[str, tuple[str, str]] = {
    "table_name": ("TABLE_NAME", r"[A-Za-z0-9_.-]{3,255}"),
    "quarantine_bucket": ("QUARANTINE_BUCKET", r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
    "public_url": ("SWITCHBOARD_PUBLIC_URL", r"https?://[^\s/]+(/\S*)?"),
    "twilio_auth_token_parameter": ("TWILIO_AUTH_TOKEN_PARAMETER", r"\S+"),
    "secret_max_age_seconds": ("SECRET_MAX_AGE_SECONDS", r"\d+"),
    "default_phone_region": ("DEFAULT_PHONE_REGION", r"[A-Z]{2}"),
    "max_webhook_body_bytes": ("MAX_WEBHOOK_BODY_BYTES", r"[1-9]\d*"),
    "quarantine_prefix": ("QUARANTINE_PREFIX", r"\S*"),
    "quarantine_full_per_minute": ("QUARANTINE_FULL_PER_MINUTE", r"[1-9]\d{0,5}"),
    "quarantine_sample_one_in": ("QUARANTINE_SAMPLE_ONE_IN", r"[1-9]\d{0,5}"),
    "conversation_idle_days": ("CONVERSATION_IDLE_DAYS", r"[1-9]\d{0,3}"),
    "aws_connect_timeout_seconds": ("AWS_CONNECT_TIMEOUT_SECONDS", r"[1-9]\d?"),
    "aws_read_timeout_seconds": ("AWS_READ_TIMEOUT_SECONDS", r"[1-9]\d?"),
    "aws_max_attempts": ("AWS_MAX_ATTEMPTS", r"[1-5]"),
    "provider_timeout_seconds": ("PROVIDER_TIMEOUT_SECONDS", r"[1-9]\d?"),
    "bundling_window_seconds": ("BUNDLING_WINDOW_SECONDS", r"\d{1,4}"),
    "page_cap_per_15_minutes": ("PAGE_CAP_PER_15_MINUTES", r"[1-9]\d{0,2}"),
    "outbox_queue_url": ("OUTBOX_QUEUE_URL", r"https?://\S+"),
    "sms_delivery": ("SMS_DELIVERY", r"twilio|outbox"),
    "twilio_account_sid": ("TWILIO_ACCOUNT_SID", r"AC[0-9a-f]{32}"),
    "twilio_sender": ("TWILIO_SENDER", r"\+[1-9]\d{6,14}|MG[0-9a-f]{32}"),
    "mail_bucket": ("MAIL_BUCKET", r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
    "mail_prefix": ("MAIL_PREFIX", r"[^\s]*"),
    "support_email_address": ("SUPPORT_EMAIL_ADDRESS", r"[^@\s+]+@[^@\s]+\.[^@\s]+"),
    "email_delivery": ("EMAIL_DELIVERY", r"ses|outbox|off"),
    "unverified_email": ("UNVERIFIED_EMAIL", r"mark|quarantine"),
    "business_hours": ("BUSINESS_HOURS", r".{1,200}"),
    "business_time_zone": ("BUSINESS_TIME_ZONE", r"[A-Za-z0-9_+/-]{1,64}"),
    "voice_greeting_open": ("VOICE_GREETING_OPEN", _ONE_LINE.format(500)),
    "voice_greeting_closed": ("VOICE_GREETING_CLOSED", _ONE_LINE.format(500)),
    "voicemail_max_seconds": ("VOICEMAIL_MAX_SECONDS", r"[1-9]\d{0,3}"),
    "live_answering": ("LIVE_ANSWERING", r"always|business_hours|never"),
    "live_greeting": ("LIVE_GREETING", _ONE_LINE.format(300)),
    "dial_timeout_seconds": ("DIAL_TIMEOUT_SECONDS", r"[5-9]|[1-5]\d|60"),
    "max_ring_seconds": ("MAX_RING_SECONDS", r"[1-9]\d{0,2}"),
    "call_recording": ("CALL_RECORDING", r"on|off"),
    "acknowledge_channels": ("ACKNOWLEDGE_CHANNELS", _CHANNEL_LIST),
    "acknowledge_quiet_hours": ("ACKNOWLEDGE_QUIET_HOURS", r"[1-9]\d{0,3}"),
    "acknowledge_text_open": ("ACKNOWLEDGE_TEXT_OPEN", _ONE_LINE.format(300)),
    "acknowledge_text_closed": ("ACKNOWLEDGE_TEXT_CLOSED", _ONE_LINE.format(300)),
    "waiting_resolve_days": ("WAITING_RESOLVE_DAYS", r"[1-9]\d{0,2}"),
    "waiting_closing_text": ("WAITING_CLOSING_TEXT", _ONE_LINE.format(300)),
    "satisfaction_channels": ("SATISFACTION_CHANNELS", _CHANNEL_LIST),
    "satisfaction_quiet_days": ("SATISFACTION_QUIET_DAYS", r"\d{1,3}"),
    "satisfaction_answer_days": ("SATISFACTION_ANSWER_DAYS", r"[1-9]\d{0,2}"),
    "satisfaction_text_sms": ("SATISFACTION_TEXT_SMS", _ONE_LINE.format(300)),
    "satisfaction_text_email": ("SATISFACTION_TEXT_EMAIL", _ONE_LINE.format(300)),
    "tell_other_agents": ("TELL_OTHER_AGENTS", r"on|off"),
    "agent_page_links": ("AGENT_PAGE_LINKS", r"on|off"),
    "agent_link_hours": ("AGENT_LINK_HOURS", r"[1-9]\d{0,3}"),
    "agent_sign_in_minutes": ("AGENT_SIGN_IN_MINUTES", r"[1-9]\d{0,2}"),
    "agent_session_hours": ("AGENT_SESSION_HOURS", r"[1-9]\d{0,3}"),
    "x_support_account": ("X_SUPPORT_ACCOUNT", r"\d{1,20}(:@?\w{1,15})?"),
    "x_bearer_token_parameter": ("X_BEARER_TOKEN_PARAMETER", r"\S+"),
    "x_delivery": ("X_DELIVERY", r"api|outbox|off"),
    "x_user_credentials_parameter": ("X_USER_CREDENTIALS_PARAMETER", r"\S+"),
    "brand_name": ("BRAND_NAME", _ONE_LINE.format(40)),
    "notify_updates": ("NOTIFY_UPDATES", r"all|open_and_resolve"),
    "auto_subscribe_conversations": ("AUTO_SUBSCRIBE_CONVERSATIONS", r"on|off"),
    "notice_queue_url": ("NOTICE_QUEUE_URL", r"https?://\S+"),
    "sms_rate_per_second": ("SMS_RATE_PER_SECOND", _RATE),
    "email_rate_per_second": ("EMAIL_RATE_PER_SECOND", _RATE),
    "x_rate_per_second": ("X_RATE_PER_SECOND", _RATE),
    "subscribe_address_interval_minutes": ("SUBSCRIBE_ADDRESS_INTERVAL_MINUTES", r"[1-9]\d{0,4}"),
    "subscribe_per_source_per_hour": ("SUBSCRIBE_PER_SOURCE_PER_HOUR", r"[1-9]\d{0,5}"),
    "subscribe_per_hour": ("SUBSCRIBE_PER_HOUR", r"[1-9]\d{0,6}"),
    "statuspage_secret_parameter": ("STATUSPAGE_SECRET_PARAMETER", r"\S+"),
}


# Wording settings → the {fields} they may name.
_TEMPLATES: dict[str, frozenset[str]] = {
    "acknowledge_text_open": frozenset({"brand", "minutes"}),
    "acknowledge_text_closed": frozenset({"brand", "back"}),
    "waiting_closing_text": frozenset({"brand"}),
    "live_greeting": frozenset({"brand"}),
    "satisfaction_text_sms": frozenset({"brand"}),
    "satisfaction_text_email": frozenset({"brand"}),
}


def _channel_list(value: str) -> tuple[str, ...]:
    return () if value == "none" else tuple(value.split(","))


def _template_problem(text: str, allowed: frozenset[str]) -> str | None:
    """Why `text` cannot be filled in with `allowed` fields (str.format), or None."""
    import string

    try:
        named = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        return f"{error} (write {{{{ and }}}} for a literal brace)"
    unknown = sorted(named - allowed)
    if unknown:
        return f"names {', '.join('{' + name + '}' for name in unknown)}; it may name {', '.join('{' + name + '}' for name in sorted(allowed))}"
    return None


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Validate the environment, naming every variable that is missing or wrong."""
    values: dict[str, object] = {}
    problems = []
    for spec in fields(Settings):
        variable, pattern = _VARIABLES[spec.name]
        raw = environ.get(variable)
        if raw is None or raw == "":
            if spec.default is MISSING:
                problems.append(f"{variable} is required")
            continue
        if not re.fullmatch(pattern, raw):
            problems.append(f"{variable}={raw!r} does not match {pattern}")
            continue
        values[spec.name] = int(raw) if isinstance(spec.default, int) else raw
    for name, allowed in _TEMPLATES.items():
        problem = _template_problem(str(values.get(name, getattr(Settings, name))), allowed)
        if problem:
            problems.append(f"{_VARIABLES[name][0]}: {problem}")
    if problems:
        raise SettingsError("invalid environment: " + "; ".join(problems))
    if "public_url" in values:
        values["public_url"] = str(values["public_url"]).rstrip("/")
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, validated on first use (the cold start)."""
    return load_settings()


# A secret is fetched afresh (a rotated token) at most this often, whatever asks: a flood
# of forged signatures must not turn into a flood of SSM reads.
FRESH_SECRET_INTERVAL_SECONDS = 60
_fresh_fetched_at: dict[str, float] = {}


def get_secret(parameter_name: str, max_age_seconds: int, fresh: bool = False) -> str:
    """A SecureString from SSM Parameter Store, cached for max_age_seconds (powertools).

    fresh=True skips the cache (the token may have been rotated), at most once a minute
    per parameter; more often, the cached value is returned. Imported here, not at
    module top, so functions that need no secret never load it.
    """
    import time

    force = False
    if fresh and time.monotonic() - _fresh_fetched_at.get(parameter_name, float("-inf")) >= FRESH_SECRET_INTERVAL_SECONDS:
        _fresh_fetched_at[parameter_name] = time.monotonic()
        force = True
    value = _ssm().get(parameter_name, decrypt=True, max_age=max_age_seconds, force_fetch=force)
    if not value:
        raise SettingsError(f"SSM parameter {parameter_name} is empty")
    return str(value)


@lru_cache(maxsize=1)
def _ssm():
    """powertools' SSM provider on our SSM client (store/clients.py): our time limits, and
    the session every client shares, whose loaded models a cold start reads once."""
    from aws_lambda_powertools.utilities import parameters

    from switchboard.store import clients

    return parameters.SSMProvider(boto3_client=clients.ssm())
