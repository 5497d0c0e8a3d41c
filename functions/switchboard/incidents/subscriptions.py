"""Subscribing and opting out: SMS keywords, emailed links, and what we answer.

Opt-outs are law, not courtesy: a STOP opts the number out of every notice at once,
whatever it subscribed to, until START. The words follow the carriers' (CTIA) and
Twilio's own conventions, so a customer never has to guess.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switchboard.incidents.keywords import Keyword, KeywordKind
from switchboard.models import Channel, OutboundMessage, OutboundPurpose
from switchboard.store.subscribers import SubscriberStore


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


def confirmation_email(address: str, components: tuple[str, ...], store: SubscriberStore, brand: str, public_url: str, now: datetime) -> OutboundMessage:
    """Double opt-in: the email whose link confirms a subscription asked for on the status page."""
    address = address.strip().lower()
    if not _plausible_email(address):
        raise SubscriptionError("that does not look like an email address")
    token = store.confirmation_token(Channel.EMAIL.value, address, components, now)
    if token is None:
        raise SubscriptionError("we sent a confirmation to this address a few minutes ago; please check your inbox")
    link = f"{public_url}/subscribe/{token}"
    scope = f" about {', '.join(components)}" if components else ""
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


def confirm(token: str, store: SubscriberStore, now: datetime) -> str | None:
    """Follow a confirmation link: subscribes the address; returns it, or None for a bad link."""
    found = store.find_token(token, now)
    if not found or found.get("purpose") != "confirm":
        return None
    store.opt_in(found["channel"], found["address"], "email-link", now)
    store.subscribe(found["channel"], found["address"], tuple(found.get("components") or ()), "email-link", now)
    return found["address"]


def unsubscribe(token: str, store: SubscriberStore, now: datetime) -> str | None:
    """Follow an unsubscribe link (or a one-click POST): opts the address out; None for a bad link."""
    found = store.find_token(token, now)
    if not found or found.get("purpose") != "unsubscribe":
        return None
    store.opt_out(found["channel"], found["address"], "unsubscribe-link", now)
    return found["address"]


def _plausible_email(address: str) -> bool:
    local, at, domain = address.partition("@")
    return bool(at and local and "." in domain and " " not in address and len(address) <= 254)
