"""The public status page: its summary document and the HTML a visitor reads.

Pure: components, incidents and a clock in, a JSON-ready dict or a string out. The
summary keeps Atlassian Statuspage's summary.json shape where that costs nothing (page,
status indicator and description, components, incidents, scheduled_maintenances), with
each incident in this project's own document form (`to_document`) and a `history` list
for the past incidents the page shows.

The HTML has no JavaScript and one small inline stylesheet, so it is served with a
Content-Security-Policy that forbids scripts, reads well on a phone, and every status
is said in words as well as in colour.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from switchboard.incident_model import (
    COMPONENT_LABELS,
    UPDATE_LABELS,
    Component,
    ComponentStatus,
    Incident,
    IncidentKind,
    UpdateStatus,
    component_document,
    overall_status,
    to_document,
)
from switchboard.models import iso_utc

# Past incidents the page lists, as Statuspage's own page does.
HISTORY_DAYS = 90

# Month names of our own: %b follows the process locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Primer's colours: each reaches WCAG AA contrast (4.5:1) as text on white and under white text.
_CSS = (
    "body{margin:0;background:#f6f8fa;color:#1f2328;font:1.0625rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}"
    "header,main,footer{max-width:40rem;margin:0 auto;padding:0 1rem}"
    "h1{font-size:1.6rem;margin:1.5rem 0 .75rem}h2{font-size:1.25rem;margin:2rem 0 .5rem}"
    "h3{font-size:1.1rem;margin:0 0 .25rem}h4{font-size:1rem;margin:0}"
    ".banner{margin:0;padding:1rem;border-radius:.5rem;color:#fff;font-size:1.2rem;font-weight:600}"
    ".i-none{background:#1a7f37}.i-minor{background:#9a6700}.i-major{background:#bc4c00}"
    ".i-critical{background:#cf222e}.i-maintenance{background:#0969da}"
    "ul,ol{list-style:none;margin:0;padding:0}"
    ".components li,article{background:#fff;border:1px solid #d0d7de;border-radius:.5rem;padding:.75rem 1rem;margin:.5rem 0}"
    ".components li{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.25rem 1rem}"
    ".st{font-weight:600}.st::before{content:'';display:inline-block;width:.7em;height:.7em;border-radius:50%;background:currentColor;margin-right:.4em}"
    ".s-operational{color:#1a7f37}.s-degraded_performance{color:#9a6700}.s-partial_outage{color:#bc4c00}"
    ".s-major_outage{color:#cf222e}.s-under_maintenance{color:#0969da}"
    ".timeline li{border-top:1px solid #eaeef2;padding:.5rem 0}"
    ".body{white-space:pre-line;margin:.25rem 0}.meta,time{color:#57606a}time{white-space:nowrap}.meta{margin:.25rem 0;font-size:.95rem}"
    "footer{padding-top:1rem;padding-bottom:2rem;color:#57606a}a{color:#0969da}"
)


def status_summary(components: list[Component], incidents: list[Incident], now: datetime, page_name: str) -> dict[str, Any]:
    """The page as data: what is open now, what is planned, and the last 90 days."""
    open_ones = [incident for incident in incidents if incident.is_open]
    active = sorted((i for i in open_ones if i.kind is IncidentKind.INCIDENT), key=_newest_key, reverse=True)
    # Maintenance is read as a calendar: the next window first.
    planned = sorted((i for i in open_ones if i.kind is IncidentKind.MAINTENANCE), key=lambda i: (i.scheduled_for or i.created_at, i.incident_id))
    since = now - timedelta(days=HISTORY_DAYS)
    history = sorted((i for i in incidents if not i.is_open and i.created_at >= since), key=_happened_key, reverse=True)
    indicator, description = overall_status(components, open_ones)
    changes = [c.updated_at for c in components if c.updated_at] + [i.updated_at for i in (*active, *planned, *history)]
    return {
        # As Statuspage's page.updated_at: the last change shown, not the time of the request.
        "page": {"name": page_name, "updated_at": iso_utc(max(changes, default=now))},
        "status": {"indicator": indicator, "description": description},
        "components": [component_document(component) for component in components],
        "incidents": [to_document(incident) for incident in active],
        "scheduled_maintenances": [to_document(incident) for incident in planned],
        "history": [to_document(incident) for incident in history],
    }


def _newest_key(incident: Incident) -> tuple[datetime, str]:
    return incident.created_at, incident.incident_id


def _happened_key(incident: Incident) -> tuple[datetime, str]:
    """When it happened: a maintenance on its window's day, not the day it was announced."""
    return incident.scheduled_for or incident.created_at, incident.incident_id


def render_html(summary: dict[str, Any]) -> str:
    """The page a visitor reads, from `status_summary`'s document."""
    name = summary["page"]["name"]
    status = summary["status"]
    names = {component["id"]: component["name"] for component in summary["components"]}
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(name)}</title>",
        # The same path answers JSON too: ?format=json (or Accept: application/json).
        '<link rel="alternate" type="application/json" href="?format=json">',
        f"<style>{_CSS}</style></head><body>",
        f'<header><h1>{_e(name)}</h1><p class="banner i-{_e(status["indicator"])}">{_e(status["description"])}</p></header>',
        "<main>",
        _components_section(summary["components"]),
    ]
    if summary["incidents"]:
        articles = "".join(_open_incident(incident, names) for incident in summary["incidents"])
        parts.append(f'<section aria-labelledby="active"><h2 id="active">Active incidents</h2>{articles}</section>')
    if summary["scheduled_maintenances"]:
        articles = "".join(_maintenance(incident, names) for incident in summary["scheduled_maintenances"])
        parts.append(f'<section aria-labelledby="maintenance"><h2 id="maintenance">Scheduled maintenance</h2>{articles}</section>')
    parts.append(_subscribe_section())
    parts.append(_history_section(summary["history"]))
    parts.append(f'</main><footer>Last updated {_time(summary["page"]["updated_at"])} · <a href="?format=json">JSON</a></footer></body></html>')
    return "".join(parts)


def _subscribe_section() -> str:
    """Email notices by double opt-in (handlers/subscription_links.py); a plain form, no script.

    The action is relative, so it follows the page wherever it is served (a path prefix too).
    """
    return (
        '<section aria-labelledby="subscribe"><h2 id="subscribe">Get notified</h2>'
        '<form method="post" action="status/subscribe"><label for="email">Email incident notices to</label> '
        '<input id="email" name="email" type="email" required autocomplete="email" placeholder="you@example.com"> '
        '<button type="submit">Subscribe</button></form>'
        "<p>We email you a link to confirm. By SMS: text SUBSCRIBE to our support number; STOP ends it.</p></section>"
    )


def _components_section(components: list[dict[str, Any]]) -> str:
    if not components:
        return '<section aria-labelledby="components"><h2 id="components">Components</h2><p>No components are listed yet.</p></section>'
    rows = "".join(
        f'<li><span>{_e(component["name"])}</span> <span class="st s-{_e(component["status"])}">{_e(_component_label(component["status"]))}</span></li>'
        for component in components
    )
    return f'<section aria-labelledby="components"><h2 id="components">Components</h2><ul class="components">{rows}</ul></section>'


def _open_incident(incident: dict[str, Any], names: dict[str, str]) -> str:
    return f"<article><h3>{_e(incident['title'])}</h3>{_affected(incident, names)}{_timeline(incident)}</article>"


def _maintenance(incident: dict[str, Any], names: dict[str, str]) -> str:
    window = ""
    if incident["scheduled_for"] and incident["scheduled_until"]:
        window = f'<p class="meta">Scheduled for {_window(incident["scheduled_for"], incident["scheduled_until"])}</p>'
    return f"<article><h3>{_e(incident['title'])}</h3>{window}{_affected(incident, names)}{_timeline(incident)}</article>"


def _affected(incident: dict[str, Any], names: dict[str, str]) -> str:
    if not incident["components"]:
        return ""
    return f'<p class="meta">Affected: {_e(", ".join(names.get(component, component) for component in incident["components"]))}</p>'


def _timeline(incident: dict[str, Any]) -> str:
    """Every update, newest first, as a status page reads."""
    entries = "".join(
        f"<li><strong>{_e(_update_label(update['status']))}</strong> · {_time(update['created_at'])}{_body(update['body'])}</li>"
        for update in reversed(incident["updates"])
    )
    return f'<ol class="timeline">{entries}</ol>'


def _history_section(history: list[dict[str, Any]]) -> str:
    heading = '<section aria-labelledby="history"><h2 id="history">Past incidents</h2>'
    if not history:
        return f"{heading}<p>No incidents reported in the last {HISTORY_DAYS} days.</p></section>"
    days = []
    # History is newest first by the day it happened (as _happened_key), so groupby sees each day once.
    for day, incidents in groupby(history, key=lambda incident: _parse(incident["scheduled_for"] or incident["created_at"]).date()):
        items = "".join(_past_incident(incident) for incident in incidents)
        days.append(f'<h3><time datetime="{day.isoformat()}">{_day(day)}</time></h3><ul>{items}</ul>')
    return heading + "".join(days) + "</section>"


def _past_incident(incident: dict[str, Any]) -> str:
    latest = incident["updates"][-1] if incident["updates"] else None
    summary = ""
    if latest:
        text = f" – {_e(latest['body'])}" if latest["body"].strip() else ""
        summary = f'<p class="body"><strong>{_e(_update_label(latest["status"]))}</strong>{text}</p>'
    ended = "Completed" if incident["kind"] == IncidentKind.MAINTENANCE.value else "Resolved"
    closed_at = incident["resolved_at"] or incident["updated_at"]
    return f'<li><article><h4>{_e(incident["title"])}</h4>{summary}<p class="meta">{ended} {_time(closed_at)}</p></article></li>'


def _body(text: str) -> str:
    return f'<p class="body">{_e(text)}</p>' if text.strip() else ""


def _component_label(status: str) -> str:
    try:
        return COMPONENT_LABELS[ComponentStatus(status)]
    except ValueError:  # a status newer than this code: still say something readable
        return status.replace("_", " ").capitalize()


def _update_label(status: str) -> str:
    try:
        return UPDATE_LABELS[UpdateStatus(status)]
    except ValueError:
        return status.replace("_", " ").capitalize()


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _day(moment: Any) -> str:
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _time(text: str) -> str:
    """'23 Nov 2026, 14:05 UTC', machine-readable in its datetime attribute."""
    moment = _parse(text)
    return f'<time datetime="{_e(text)}">{_day(moment)}, {moment:%H:%M} UTC</time>'


def _window(start_text: str, end_text: str) -> str:
    """'24 Nov 2026, 02:00 – 04:00 UTC', or both dates when the window spans midnight."""
    start, end = _parse(start_text), _parse(end_text)
    end_words = f"{end:%H:%M} UTC" if start.date() == end.date() else f"{_day(end)}, {end:%H:%M} UTC"
    return f'<time datetime="{_e(start_text)}">{_day(start)}, {start:%H:%M}</time> – <time datetime="{_e(end_text)}">{end_words}</time>'


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
