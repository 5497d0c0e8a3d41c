"""Subscribing and opting out: SMS keywords, emailed links, and what we answer.

Opt-outs are law, not courtesy: a STOP opts the number out of every notice at once,
whatever it subscribed to, until START. The words follow the carriers' (CTIA) and
Twilio's own conventions, so a customer never has to guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from switchboard.incidents.keywords import Keyword, KeywordKind
from switchboard.models import Channel, OutboundMessage, OutboundPurpose
from switchboard.plain_text import has_unprintable
from switchboard.store.rate_limits import Limit, RateLimits, source_key
from switchboard.store.subscribers import SubscriberStore

if TYPE_CHECKING:
    from switchboard.settings import Settings


# Twilio: "Attempt to send to unsubscribed recipient": the number texted STOP to our sender.
TWILIO_OPTED_OUT = "21610"


def opt_out_refused_address(channel: str, address: str, error_code: Any, store: SubscriberStore, now: datetime) -> bool:
    """A provider refused a send because the recipient opted out with it: record the opt-out
    here too, so no notice is tried again. True when it was that refusal."""
    if channel != Channel.SMS.value or str(error_code) != TWILIO_OPTED_OUT:
        return False
    store.opt_out(channel, address, f"twilio-{TWILIO_OPTED_OUT}", now)
    return True


class SubscriptionError(ValueError):
    """A subscription request we cannot honour; the message says why."""


def help_text(brand: str) -> str:
    return (
        f"{brand}: text us here to reach our support team. Reply SUBSCRIBE for incident notices "
        "(SUBSCRIBE <component> for one), STOP to opt out, START to opt back in. Msg&data rates may apply."
    )


def keyword_answer(keyword: Keyword, phone: str, store: SubscriberStore, brand: str, now: datetime, known_components: set[str] | None = None) -> str:
    """Carry out an SMS keyword for `phone`; returns the one confirmation to send."""
    source = f"sms-{keyword.word.lower()}"
    if keyword.kind is KeywordKind.OPT_OUT:
        store.opt_out(Channel.SMS.value, phone, source, now)
        return f"{brand}: You are unsubscribed and will get no more notices from us. Reply START to opt back in."
    if keyword.kind is KeywordKind.OPT_IN:
        store.opt_in(Channel.SMS.value, phone, source, now)
        return f"{brand}: You are opted back in and can get messages from us again. Reply STOP to opt out, HELP for help."
    if keyword.kind is KeywordKind.SUBSCRIBE:
        components = keyword.components
        unknown = [name for name in components if known_components is not None and name not in known_components]
        if unknown:
            listed = ", ".join(sorted(known_components or ())) or "none"
            return f"{brand}: We don't know {', '.join(unknown)}. Components: {listed}. Reply SUBSCRIBE alone for every notice."
        # Asking to subscribe is consent again: it lifts an earlier opt-out.
        store.opt_in(Channel.SMS.value, phone, source, now)
        store.subscribe(Channel.SMS.value, phone, components, "sms-keyword", now)
        scope = f" about {', '.join(components)}" if components else ""
        return f"{brand}: You will get incident notices{scope} by SMS. Reply STOP to opt out, HELP for help."
    return help_text(brand)


@dataclass(frozen=True)
class FormLimits:
    """How often the public subscribe form may be used (settings), in the order they are checked."""

    per_source: Limit  # requests from one IP (an IPv6 /64)
    per_address: Limit  # confirmation emails to one address, any case
    overall: Limit  # confirmation emails in all: a flood from many sources stops here

    @classmethod
    def from_settings(cls, settings: "Settings") -> "FormLimits":
        return cls(
            Limit("subscribe-source", settings.subscribe_per_source_per_hour, timedelta(hours=1)),
            Limit("subscribe-address", 1, timedelta(minutes=settings.subscribe_address_interval_minutes)),
            Limit("subscribe-all", settings.subscribe_per_hour, timedelta(hours=1)),
        )


class TooManyRequests(SubscriptionError):
    """A rate limit said no; retry_after is the seconds until it would say yes."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def request_subscription(
    email: str,
    components_text: str,
    source_ip: str | None,
    known_components: dict[str, str],
    subscribers: SubscriberStore,
    rate_limits: RateLimits,
    limits: FormLimits,
    brand: str,
    public_url: str,
    now: datetime,
) -> OutboundMessage:
    """The status page's form: the confirmation email of a double opt-in, or why not.

    Only the address comes from the request: the components it names must be ones we
    know, and the email shows our own names for them, so nobody can make us mail text.
    """
    address = email_address(email)
    components = requested_components(components_text, known_components)
    checks = (
        (limits.per_source, source_key(source_ip), "Too many subscription requests from your network; please try again later."),
        (limits.per_address, address, "We sent a confirmation to this address a few minutes ago; please check your inbox."),
        (limits.overall, "all", "We are sending many confirmations right now; please try again later."),
    )
    for limit, caller, refusal in checks:
        wait = rate_limits.take(limit, caller, now)
        if wait is not None:
            raise TooManyRequests(refusal, wait)
    token = subscribers.confirmation_token(Channel.EMAIL.value, address, components, now)
    link = f"{public_url}/subscribe/{token}"
    names = [known_components[component] for component in components]
    scope = f" about {', '.join(names)}" if names else ""
    body = (
        f"Someone (hopefully you) asked for {brand}'s incident notices{scope} at this address.\n\n"
        f"Confirm your subscription: {link}\n\n"
        "If it wasn't you, ignore this email: nothing is sent without your confirmation."
    )
    return OutboundMessage(
        channel=Channel.EMAIL,
        to=address,
        body=body,
        purpose=OutboundPurpose.SUBSCRIPTION,
        idempotency_key=f"confirm#{token}",
        email={"subject": f"Confirm your subscription to {brand} status notices"},
    )


# An address we can put in a To: header as it is: ASCII, no quotes, spaces or brackets.
_EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")


def email_address(text: str) -> str:
    """The form's address, lower-cased; SubscriptionError when it could not be mailed as is."""
    address = text.strip().lower()
    if has_unprintable(address):
        raise SubscriptionError("An email address cannot contain line breaks or control characters.")
    if len(address) > 254 or not _EMAIL_ADDRESS.fullmatch(address):
        raise SubscriptionError("That does not look like an email address.")
    return address


MAX_COMPONENTS = 50


def requested_components(text: str, known: dict[str, str]) -> tuple[str, ...]:
    """The components named (comma-separated ids), each one we know; none means all."""
    requested = sorted({part.strip().lower() for part in text.split(",") if part.strip()})
    unknown = [name for name in requested if name not in known]
    if unknown:
        ours = ", ".join(sorted(known)) or "none yet"
        raise SubscriptionError(f"We have no component {_named(unknown)}. Ours: {ours}.")
    if len(requested) > MAX_COMPONENTS:
        raise SubscriptionError(f"At most {MAX_COMPONENTS} components.")
    return tuple(requested)


def _named(unknown: list[str]) -> str:
    """The first few unknown names, as typed but printable and short (they go on a page)."""
    shown = ["".join(char if char.isprintable() else "?" for char in name)[:40] for name in unknown[:3]]
    return ", ".join(shown) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")


def confirm(token: str, store: SubscriberStore, now: datetime) -> tuple[str | None, bool]:
    """Follow a confirmation link, once: (address, True) subscribes it; (address, False)
    when the link was used already; (None, False) for an unknown or expired link.

    Subscribed first, spent second: a failure between the two leaves a link that still
    works, never a spent link that subscribed nobody.
    """
    found = store.find_token(token, now)
    if not found or found.get("purpose") != "confirm":
        return None, False
    if found.get("used_at"):
        return found["address"], False
    store.opt_in(found["channel"], found["address"], "email-link", now)
    store.subscribe(found["channel"], found["address"], tuple(found.get("components") or ()), "email-link", now)
    return found["address"], store.mark_used(token, now)


def unsubscribe(token: str, store: SubscriberStore, now: datetime) -> str | None:
    """Follow an unsubscribe link (or a one-click POST): opts the address out; None for a bad link."""
    found = store.find_token(token, now)
    if not found or found.get("purpose") != "unsubscribe":
        return None
    store.opt_out(found["channel"], found["address"], "unsubscribe-link", now)
    return found["address"]
