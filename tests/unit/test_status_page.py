"""The public status page's summary document and HTML (pure: no AWS, a fixed clock)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from switchboard.incident_model import (
    Component,
    ComponentStatus,
    Impact,
    Incident,
    IncidentKind,
    IncidentUpdate,
    UpdateStatus,
    add_update,
    open_incident,
)
from switchboard.incidents.status_page import render_html, status_summary
from switchboard.store.incidents import new_incident_id

NOW = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)
API = Component("api", "API", position=1)
DASHBOARD = Component("dashboard", "Dashboard", position=2)


def update(status: UpdateStatus, body: str, at: datetime) -> IncidentUpdate:
    return IncidentUpdate(f"u-{at:%Y%m%d%H%M}-{status.value}", status, body, at)


def incident(title: str, at: datetime, impact: Impact = Impact.MAJOR, body: str = "We are looking into it.", components: tuple[str, ...] = ("api",)) -> Incident:
    return open_incident(new_incident_id(at), title, impact, components, update(UpdateStatus.INVESTIGATING, body, at))


def resolved(title: str, at: datetime, after: timedelta = timedelta(hours=2), body: str = "This incident has been resolved.") -> Incident:
    return add_update(incident(title, at), update(UpdateStatus.RESOLVED, body, at + after))


def maintenance(title: str, starts: datetime, ends: datetime, announced: datetime) -> Incident:
    first = update(UpdateStatus.SCHEDULED, "We will upgrade the database.", announced)
    return open_incident(new_incident_id(announced), title, Impact.NONE, ("api",), first, IncidentKind.MAINTENANCE, starts, ends)


def page(components=(API, DASHBOARD), incidents=(), name="Acme Status") -> tuple[dict, str]:
    summary = status_summary(list(components), list(incidents), NOW, name)
    return summary, render_html(summary)


class _Text(HTMLParser):
    """What a reader sees, one line per block element (the stylesheet is not text)."""

    BLOCKS = {"title", "h1", "h2", "h3", "h4", "p", "li", "ul", "ol", "section", "article", "header", "main", "footer"}

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self._in_style = tag == "style"
        if tag in self.BLOCKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag):
        self._in_style = False
        if tag in self.BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data):
        if not self._in_style:
            self.chunks.append(data)


def lines(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return [" ".join(line.split()) for line in "".join(parser.chunks).splitlines() if line.strip()]


def section(html: str, heading: str) -> list[str]:
    """The lines of one <section>, from its <h2> to the next section."""
    found = lines(html)
    start = found.index(heading)
    end = next(i for i in range(start + 1, len(found)) if found[i] in SECTION_HEADINGS or found[i].startswith("Last updated"))
    return found[start + 1 : end]


SECTION_HEADINGS = ("Components", "Active incidents", "Scheduled maintenance", "Get notified", "Past incidents")


# ---- the headline ----


@pytest.mark.parametrize(
    ("statuses", "indicator", "words"),
    [
        ((ComponentStatus.OPERATIONAL, ComponentStatus.OPERATIONAL), "none", "All systems operational"),
        ((ComponentStatus.OPERATIONAL, ComponentStatus.DEGRADED_PERFORMANCE), "minor", "Minor service disruption"),
        ((ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.DEGRADED_PERFORMANCE), "major", "Partial system outage"),
        ((ComponentStatus.MAJOR_OUTAGE, ComponentStatus.UNDER_MAINTENANCE), "critical", "Major system outage"),
        ((ComponentStatus.OPERATIONAL, ComponentStatus.UNDER_MAINTENANCE), "maintenance", "Service under maintenance"),
    ],
)
def test_the_headline_banner_is_the_worst_component_status_in_words_and_colour(statuses, indicator, words):
    components = [Component("api", "API", statuses[0]), Component("dashboard", "Dashboard", statuses[1])]
    summary, html = page(components)

    assert summary["status"] == {"indicator": indicator, "description": words}
    assert f'<header><h1>Acme Status</h1><p class="banner i-{indicator}">{words}</p></header>' in html


def test_an_open_critical_incident_makes_the_headline_critical_even_with_operational_components():
    summary, html = page(incidents=[incident("Logins fail", NOW - timedelta(minutes=20), Impact.CRITICAL)])

    assert summary["status"] == {"indicator": "critical", "description": "Major system outage"}
    assert lines(html)[:3] == ["Acme Status", "Acme Status", "Major system outage"]


# ---- components ----


def test_each_component_shows_its_status_as_a_label_not_colour_alone():
    components = [Component(s.value, f"Part {i}", s, position=i) for i, s in enumerate(ComponentStatus)]
    _, html = page(components)

    assert section(html, "Components") == [
        "Part 0 Operational",
        "Part 1 Degraded performance",
        "Part 2 Partial outage",
        "Part 3 Major outage",
        "Part 4 Under maintenance",
    ]
    assert '<li><span>Part 2</span> <span class="st s-partial_outage">Partial outage</span></li>' in html


# ---- open incidents ----


def test_an_open_incident_shows_its_whole_timeline_newest_first_with_utc_times():
    started = datetime(2026, 11, 23, 13, 50, tzinfo=timezone.utc)
    opened = incident("Slow API responses", started, Impact.MINOR, "Requests are slow.\nWe are investigating.", ("api", "dashboard"))
    found = add_update(opened, update(UpdateStatus.IDENTIFIED, "A bad deploy; rolling back.", datetime(2026, 11, 23, 14, 5, tzinfo=timezone.utc)))
    _, html = page(incidents=[found])

    assert section(html, "Active incidents") == [
        "Slow API responses",
        "Affected: API, Dashboard",
        "Identified · 23 Nov 2026, 14:05 UTC",
        "A bad deploy; rolling back.",
        "Investigating · 23 Nov 2026, 13:50 UTC",
        "Requests are slow.",  # the body keeps its line break (white-space: pre-line)
        "We are investigating.",
    ]
    assert '<time datetime="2026-11-23T14:05:00.000Z">23 Nov 2026, 14:05 UTC</time>' in html
    assert '<p class="body">Requests are slow.\nWe are investigating.</p>' in html


def test_open_incidents_are_listed_newest_first_and_none_means_no_section():
    older = incident("Webhooks delayed", NOW - timedelta(hours=5))
    newer = incident("Emails delayed", NOW - timedelta(hours=1))
    summary, html = page(incidents=[older, newer])

    assert [i["title"] for i in summary["incidents"]] == ["Emails delayed", "Webhooks delayed"]
    assert html.index("Emails delayed") < html.index("Webhooks delayed")
    assert "Active incidents" not in page()[1]


# ---- user text is escaped ----


def test_every_piece_of_user_text_is_html_escaped():
    hostile = incident('<script>alert("x")</script>', NOW - timedelta(hours=1), body="<img src=x onerror=alert(1)> & more")
    components = [Component("api", "API <b>v2</b>", ComponentStatus.PARTIAL_OUTAGE)]
    _, html = page(components, [hostile], name="<script>steal()</script>")

    assert "<script" not in html.lower()
    assert "<img" not in html and "<b>" not in html
    assert "<title>&lt;script&gt;steal()&lt;/script&gt;</title>" in html
    assert "<h3>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</h3>" in html
    assert '<p class="body">&lt;img src=x onerror=alert(1)&gt; &amp; more</p>' in html
    assert "<span>API &lt;b&gt;v2&lt;/b&gt;</span>" in html
    # The escaped text still reads as what was written.
    assert '<script>alert("x")</script>' in lines(html)


# ---- history ----


def test_history_holds_the_last_90_days_newest_first_grouped_by_day():
    day_2_morning = resolved("Search errors", datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc))
    day_2_evening = resolved("SMS delays", datetime(2026, 11, 21, 18, 30, tzinfo=timezone.utc), after=timedelta(minutes=45), body="Delivered late, all sent now.")
    inside = resolved("Old outage", NOW - timedelta(days=89))
    too_old = resolved("Ancient outage", NOW - timedelta(days=91))
    still_open = incident("Current trouble", NOW - timedelta(minutes=5))
    summary, html = page(incidents=[too_old, day_2_morning, inside, still_open, day_2_evening])

    assert [i["title"] for i in summary["history"]] == ["SMS delays", "Search errors", "Old outage"]
    assert section(html, "Past incidents") == [
        "21 Nov 2026",
        "SMS delays",
        "Resolved – Delivered late, all sent now.",
        "Resolved 21 Nov 2026, 19:15 UTC",
        "Search errors",
        "Resolved – This incident has been resolved.",
        "Resolved 21 Nov 2026, 11:00 UTC",
        "26 Aug 2026",
        "Old outage",
        "Resolved – This incident has been resolved.",
        "Resolved 26 Aug 2026, 16:30 UTC",
    ]
    assert '<h3><time datetime="2026-11-21">21 Nov 2026</time></h3>' in html
    assert "Ancient outage" not in html


def test_a_quiet_quarter_says_so():
    _, html = page()

    assert section(html, "Past incidents") == ["No incidents reported in the last 90 days."]


# ---- scheduled maintenance ----


def test_scheduled_maintenance_shows_its_window_and_is_not_an_incident():
    tonight = maintenance(
        "Database upgrade", datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc), datetime(2026, 11, 24, 4, 0, tzinfo=timezone.utc), NOW - timedelta(days=2)
    )
    weekend = maintenance(
        "Network move", datetime(2026, 11, 28, 23, 0, tzinfo=timezone.utc), datetime(2026, 11, 29, 1, 30, tzinfo=timezone.utc), NOW - timedelta(hours=1)
    )
    summary, html = page(incidents=[weekend, tonight])

    assert summary["incidents"] == []
    # The next window first, whenever it was announced.
    assert [m["title"] for m in summary["scheduled_maintenances"]] == ["Database upgrade", "Network move"]
    assert summary["status"]["indicator"] == "none"  # scheduled is not yet under maintenance
    assert section(html, "Scheduled maintenance") == [
        "Database upgrade",
        "Scheduled for 24 Nov 2026, 02:00 – 04:00 UTC",
        "Affected: API",
        "Scheduled · 21 Nov 2026, 14:30 UTC",
        "We will upgrade the database.",
        "Network move",
        "Scheduled for 28 Nov 2026, 23:00 – 29 Nov 2026, 01:30 UTC",
        "Affected: API",
        "Scheduled · 23 Nov 2026, 13:30 UTC",
        "We will upgrade the database.",
    ]
    assert (
        '<time datetime="2026-11-24T02:00:00.000Z">24 Nov 2026, 02:00</time> – <time datetime="2026-11-24T04:00:00.000Z">04:00 UTC</time>'
        in html
    )


def test_a_completed_maintenance_moves_to_history():
    done = maintenance("Database upgrade", NOW - timedelta(hours=6), NOW - timedelta(hours=4), NOW - timedelta(days=3))
    done = add_update(done, update(UpdateStatus.COMPLETED, "All done.", NOW - timedelta(hours=4, minutes=10)))
    summary, html = page(incidents=[done])

    assert summary["scheduled_maintenances"] == []
    assert [m["title"] for m in summary["history"]] == ["Database upgrade"]
    # Listed on the day of its window (23 Nov), not the day it was announced (20 Nov).
    assert section(html, "Past incidents") == ["23 Nov 2026", "Database upgrade", "Completed – All done.", "Completed 23 Nov 2026, 10:20 UTC"]


# ---- the JSON document ----


def test_the_summary_has_statuspages_shape_and_is_json():
    components = [API, Component("dashboard", "Dashboard", ComponentStatus.DEGRADED_PERFORMANCE, position=2, updated_at=NOW - timedelta(minutes=9))]
    opened = incident("Slow dashboard", NOW - timedelta(minutes=10), Impact.MINOR, components=("dashboard",))
    past = resolved("Search errors", NOW - timedelta(days=2))
    summary, _ = page(components, [past, opened])

    assert json.loads(json.dumps(summary)) == summary
    assert list(summary) == ["page", "status", "components", "incidents", "scheduled_maintenances", "history"]
    # The last change shown: the dashboard's status, a minute after the incident opened.
    assert summary["page"] == {"name": "Acme Status", "updated_at": "2026-11-23T14:21:00.000Z"}
    assert summary["status"] == {"indicator": "minor", "description": "Minor service disruption"}
    assert summary["components"][1] == {
        "id": "dashboard",
        "name": "Dashboard",
        "status": "degraded_performance",
        "description": "",
        "position": 2,
        "updated_at": "2026-11-23T14:21:00.000Z",
    }
    (shown,) = summary["incidents"]
    assert (shown["title"], shown["status"], shown["open"], shown["impact"]) == ("Slow dashboard", "investigating", True, "minor")
    assert [(u["status"], u["created_at"]) for u in shown["updates"]] == [("investigating", "2026-11-23T14:20:00.000Z")]
    assert [(i["title"], i["status"], i["resolved_at"]) for i in summary["history"]] == [("Search errors", "resolved", "2026-11-21T16:30:00.000Z")]


def test_updated_at_is_the_render_time_when_nothing_carries_a_time():
    summary, _ = page([API])

    assert summary["page"]["updated_at"] == "2026-11-23T14:30:00.000Z"


# ---- the page as a whole ----


def test_the_page_is_a_small_script_free_mobile_html5_document():
    _, html = page(incidents=[incident("Slow API", NOW - timedelta(minutes=3))])

    assert html.startswith('<!doctype html><html lang="en"><head><meta charset="utf-8">')
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<link rel="alternate" type="application/json" href="?format=json">' in html
    assert "<script" not in html and not re.search(r"<[^>]*\son\w+=", html)  # no script, no inline handlers
    # Email notices by a plain form, relative to the page (handlers/subscription_links.py).
    assert '<form method="post" action="status/subscribe">' in html and 'name="email" type="email" required' in html
    (css,) = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(css.encode()) < 4096
    assert [h for h in re.findall(r"<(header|main|footer|h1|h2)\b", html)] == ["header", "h1", "main", "h2", "h2", "h2", "h2", "footer"]
    assert lines(html)[-1] == "Last updated 23 Nov 2026, 14:27 UTC · JSON"
