"""Signing in to the agents' inbox: a one-time link to the agent's registered phone (or
email address), then a session.

- `request_link`: someone typed a number or an address. Whoever typed it gets the same
  answer, agent or not; the requests are counted per address and per source (a flood of
  them gets 429 before anything is looked up). An agent's gets a link valid for minutes.
- `open_session`: the link's button was pressed. The link is used up as it is read; the
  session's token goes into a cookie (handlers/agent_pages.py), valid for hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from switchboard.agent_pages.access import still_theirs
from switchboard.errors import RejectedRequest
from switchboard.link_tokens import new_token, plausible, token_digest
from switchboard.models import Channel, OutboundMessage, OutboundPurpose
from switchboard.oncall.config import load_config
from switchboard.oncall.agents import Agent
from switchboard.store.agent_access import AgentAccessStore, Grant
from switchboard.store.oncall import OncallStore
from switchboard.store.queue import OutboxQueue
from switchboard.store.rate_limits import Limit, RateLimits, source_key

SIGN_IN_PATH = "/inbox/sign-in/"
# Per typed address: a few links a quarter of an hour (a typo, a lost SMS); per source, more.
ADDRESS_LIMIT = Limit("sign-in-address", 3, timedelta(minutes=15))
SOURCE_LIMIT = Limit("sign-in-source", 20, timedelta(hours=1))


@dataclass(frozen=True)
class SignIn:
    access: AgentAccessStore
    oncall: OncallStore
    limits: RateLimits
    outbox: OutboxQueue
    public_url: str
    link_valid: timedelta
    session_valid: timedelta
    brand: str
    default_phone_region: str

    @classmethod
    def from_settings(cls, settings, dynamodb, sqs) -> "SignIn":
        """As AgentPagesFunction's settings describe it (the function, and `switchboard agents login-link`)."""
        settings.require("outbox_queue_url")
        table = settings.table_name
        return cls(
            AgentAccessStore(dynamodb, table), OncallStore(dynamodb, table), RateLimits(dynamodb, table),
            OutboxQueue(sqs, settings.outbox_queue_url), settings.public_url, timedelta(minutes=settings.agent_sign_in_minutes),
            timedelta(hours=settings.agent_session_hours), settings.brand_name, settings.default_phone_region,
        )


def request_link(typed: str, source_ip: str | None, now: datetime, sign_in: SignIn) -> int | None:
    """Send a sign-in link if `typed` is an agent's phone or address. None once handled
    (sent, or nobody's); else the seconds to wait (Retry-After)."""
    address = _address(typed, sign_in.default_phone_region)
    for limit, caller in ((SOURCE_LIMIT, source_key(source_ip)), (ADDRESS_LIMIT, address or typed.strip().lower())):
        wait = sign_in.limits.take(limit, caller, now)
        if wait is not None:
            return wait
    agent = next((a for a in load_config(sign_in.oncall).agents.values() if address and address in (a.phone, a.email)), None)
    if agent is None:
        return None
    link = issue_link(agent, now, sign_in)
    minutes = int(sign_in.link_valid.total_seconds() // 60)
    if address == agent.phone:
        text = f"{sign_in.brand} Switchboard sign-in: {link} (works once, for {minutes} min). Not you? Ignore this."
        sign_in.outbox.send(OutboundMessage(Channel.SMS, agent.phone, text, OutboundPurpose.SIGN_IN, f"sign-in#{token_digest(link)[:32]}", agent_id=agent.agent_id))
    else:
        body = (f"Sign in to {sign_in.brand}'s Switchboard inbox: {link}\n\nThe link works once, for {minutes} minutes. "
                "If you did not ask for it, ignore this email: nobody can sign in without the link.")
        sign_in.outbox.send(OutboundMessage(Channel.EMAIL, address, body, OutboundPurpose.SIGN_IN, f"sign-in#{token_digest(link)[:32]}",
                                            agent_id=agent.agent_id, email={"subject": f"Your {sign_in.brand} Switchboard sign-in link"}))
    return None


def issue_link(agent: Agent, now: datetime, sign_in: SignIn) -> str:
    """A sign-in link for the agent (also `switchboard agents login-link`)."""
    token = new_token()
    sign_in.access.put_sign_in(token_digest(token), Grant(agent.agent_id, now, now + sign_in.link_valid))
    return f"{sign_in.public_url}{SIGN_IN_PATH}{token}"


def link_holder(token: str, now: datetime, sign_in: SignIn) -> Agent | None:
    """Whom an unused sign-in link would sign in (its page asks them to confirm); reads only."""
    grant = sign_in.access.peek_sign_in(token_digest(token), now) if plausible(token) else None
    return still_theirs(grant, sign_in.oncall)


def open_session(token: str, now: datetime, sign_in: SignIn) -> tuple[Agent, str] | None:
    """Use the sign-in link up and open a session: (the agent, the session's token)."""
    grant = sign_in.access.use_sign_in(token_digest(token), now) if plausible(token) else None
    agent = still_theirs(grant, sign_in.oncall)
    if agent is None:
        return None
    session = new_token()
    sign_in.access.put_session(token_digest(session), Grant(agent.agent_id, now, now + sign_in.session_valid))
    return agent, session


def _address(typed: str, default_region: str) -> str | None:
    """The phone number (E.164) or lower-cased email address typed; None when it is neither."""
    text = typed.strip()
    if "@" in text:
        return text.lower() if 3 <= len(text) <= 254 and " " not in text else None
    from switchboard.channels.sms import to_e164

    try:
        return to_e164(text, default_region, "number")
    except RejectedRequest:
        return None
