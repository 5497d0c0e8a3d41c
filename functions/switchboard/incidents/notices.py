"""What a notice says on each channel, and the outbox messages a fan-out queues. Pure.

An SMS keeps to two GSM-7 segments where it can and always ends with the opt-out
words carriers expect; an email carries RFC 8058 one-click List-Unsubscribe headers
and a visible unsubscribe link; an X direct message fits X's length.
"""

from __future__ import annotations

from switchboard.incident_model import UPDATE_LABELS, Incident, IncidentKind, IncidentUpdate
from switchboard.models import Channel, OutboundMessage, OutboundPurpose

SMS_LIMIT = 306  # two concatenated GSM-7 segments
X_LIMIT = 280



def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def headline(incident: Incident, update: IncidentUpdate) -> str:
    what = "Maintenance" if incident.kind is IncidentKind.MAINTENANCE else "Incident"
    return f"[{UPDATE_LABELS[update.status]}] {what}: {incident.title}"


def sms_text(brand: str, incident: Incident, update: IncidentUpdate, status_url: str) -> str:
    tail = f" {status_url} Reply STOP to opt out."
    head = f"{brand}: {headline(incident, update)}. "
    return head + _shorten(update.body, max(20, SMS_LIMIT - len(head) - len(tail))) + tail


def x_text(brand: str, incident: Incident, update: IncidentUpdate, status_url: str) -> str:
    head = f"{brand}: {headline(incident, update)}. "
    tail = f" {status_url}"
    return head + _shorten(update.body, max(20, X_LIMIT - len(head) - len(tail))) + tail


def email_subject(brand: str, incident: Incident, update: IncidentUpdate) -> str:
    return f"{brand} {headline(incident, update)}"


def email_text(brand: str, incident: Incident, update: IncidentUpdate, status_url: str, unsubscribe_url: str) -> str:
    lines = [headline(incident, update), "", update.body.strip(), ""]
    if incident.kind is IncidentKind.MAINTENANCE and incident.scheduled_for and incident.scheduled_until:
        lines += [f"Window: {incident.scheduled_for:%d %b %Y %H:%M} – {incident.scheduled_until:%d %b %Y %H:%M} UTC", ""]
    if incident.components:
        lines += ["Affected: " + ", ".join(incident.components), ""]
    lines += [
        f"Current status: {status_url}",
        "",
        "--",
        f"You receive this because you subscribed to {brand}'s status notices.",
        f"Unsubscribe: {unsubscribe_url}",
    ]
    return "\n".join(lines)


def notice_message(
    channel: str,
    address: str,
    token: str,
    brand: str,
    incident: Incident,
    update: IncidentUpdate,
    public_url: str,
) -> OutboundMessage:
    """The outbox message of one notice; its idempotency key is (update, channel, address)."""
    status_url = f"{public_url}/status"
    common = {
        "purpose": OutboundPurpose.NOTICE,
        "idempotency_key": f"notice#{update.update_id}#{channel}#{address}",
        "notice": {"incident_id": incident.incident_id, "update_id": update.update_id},
    }
    if channel == Channel.EMAIL.value:
        unsubscribe_url = f"{public_url}/unsubscribe/{token}"
        return OutboundMessage(
            channel=Channel.EMAIL,
            to=address,
            body=email_text(brand, incident, update, status_url, unsubscribe_url),
            email={"subject": email_subject(brand, incident, update), "unsubscribe_url": unsubscribe_url},
            **common,
        )
    if channel == Channel.X.value:
        return OutboundMessage(channel=Channel.X, to=address, body=x_text(brand, incident, update, status_url), **common)
    return OutboundMessage(channel=Channel.SMS, to=address, body=sms_text(brand, incident, update, status_url), **common)
