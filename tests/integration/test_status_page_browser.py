"""GET /status on the local stack: the HTTP answer, and what a visitor's browser shows.

The browser is headless Chromium (Debian's `chromium`, installed by `make test` through
infra/install-chromium.sh). Its phone-size screenshot is kept in tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import boto3
import pytest

from local_stack.paths import REPO_ROOT
from switchboard.incident_model import Component, ComponentStatus, Impact, IncidentUpdate, UpdateStatus, add_update, open_incident
from switchboard.models import utc_now
from switchboard.store.incidents import IncidentStore, new_incident_id

pytestmark = pytest.mark.integration

ARTIFACT = REPO_ROOT / "tests" / "artifacts" / "status_page.png"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def utc_words(moment: datetime) -> str:
    """How the page writes a time: '23 Nov 2026, 14:05 UTC'."""
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


@pytest.fixture(scope="module")
def seeded(local):
    """Components (one in a major outage), an open incident with two updates and a resolved one."""
    store = IncidentStore(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    for component in (
        Component("sp-api", "Public API", ComponentStatus.MAJOR_OUTAGE, position=1),
        Component("sp-dashboard", "Dashboard", ComponentStatus.DEGRADED_PERFORMANCE, position=2),
        Component("sp-sms", "SMS delivery", ComponentStatus.OPERATIONAL, position=3),
    ):
        store.put_component(component)

    now = utc_now().replace(second=0, microsecond=0)
    started, identified = now - timedelta(minutes=40), now - timedelta(minutes=20)
    first = IncidentUpdate("sp-open-1", UpdateStatus.INVESTIGATING, "We are seeing errors on API requests.", started)
    opened = open_incident(new_incident_id(started), "API requests failing", Impact.CRITICAL, ("sp-api",), first)
    store.save(opened, None)
    # The second update goes through the versioned write, as the incidents API's updates do.
    current, version = store.get_versioned(opened.incident_id)
    store.save(add_update(current, IncidentUpdate("sp-open-2", UpdateStatus.IDENTIFIED, "A faulty load balancer; replacing it.", identified)), version)

    earlier = now - timedelta(days=3)
    past = open_incident(
        new_incident_id(earlier), "Dashboard slow to load", Impact.MINOR, ("sp-dashboard",),
        IncidentUpdate("sp-past-1", UpdateStatus.INVESTIGATING, "Pages take 10 s to load.", earlier),
    )
    store.save(add_update(past, IncidentUpdate("sp-past-2", UpdateStatus.RESOLVED, "Back to normal.", earlier + timedelta(hours=1))), None)
    return {"local": local, "url": f"{local.gateway_url}/status", "started": started, "identified": identified, "resolved_at": earlier + timedelta(hours=1)}


def fetch(url: str, accept: str | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, dict(response.headers), response.read().decode("utf-8")


class _Text(HTMLParser):
    """The words of a page, without its stylesheet."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._skip = False

    def handle_starttag(self, tag, attrs):
        self._skip = tag == "style"

    def handle_endtag(self, tag):
        self._skip = False

    def handle_data(self, data):
        if not self._skip:
            self.words.extend(data.split())


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.words)


def test_status_answers_html_with_safe_caching_headers_and_json_when_asked(seeded):
    status, headers, page = fetch(seeded["url"], BROWSER_ACCEPT)

    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=30"
    assert headers["Vary"] == "Accept"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"
    assert page.startswith("<!doctype html>") and "<script" not in page.lower()
    assert '<p class="banner i-critical">Major system outage</p>' in page

    status, headers, body = fetch(seeded["url"], "application/json")
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Vary"] == "Accept"
    summary = json.loads(body)
    assert summary["status"] == {"indicator": "critical", "description": "Major system outage"}
    assert summary["page"]["name"] == "Support status"  # BrandName's default
    mine = [c for c in summary["components"] if c["id"].startswith("sp-")]
    assert [(c["name"], c["status"]) for c in mine] == [("Public API", "major_outage"), ("Dashboard", "degraded_performance"), ("SMS delivery", "operational")]
    (opened,) = [i for i in summary["incidents"] if i["title"] == "API requests failing"]
    assert [(u["status"], u["body"]) for u in opened["updates"]] == [
        ("investigating", "We are seeing errors on API requests."),
        ("identified", "A faulty load balancer; replacing it."),
    ]
    (past,) = [i for i in summary["history"] if i["title"] == "Dashboard slow to load"]
    assert (past["status"], past["open"]) == ("resolved", False)
    assert all(i["title"] != "Dashboard slow to load" for i in summary["incidents"])


@pytest.mark.parametrize(
    ("accept", "query", "expected_type"),
    [
        (None, "", "text/html; charset=utf-8"),  # urllib sends no Accept: HTML
        ("*/*", "", "text/html; charset=utf-8"),  # curl's default
        ("application/json;q=0.5, text/html", "", "text/html; charset=utf-8"),  # q-values decide, not order
        ("text/html;q=0.1, application/*", "", "application/json; charset=utf-8"),
        (BROWSER_ACCEPT, "?format=json", "application/json; charset=utf-8"),  # the page's own JSON link
        ("application/json", "?format=html", "text/html; charset=utf-8"),
    ],
)
def test_the_representation_follows_accept_q_values_and_the_format_parameter(seeded, accept, query, expected_type):
    status, headers, _ = fetch(seeded["url"] + query, accept)

    assert (status, headers["Content-Type"]) == (200, expected_type)


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed: run infra/install-chromium.sh (make test does) or apt-get install chromium")
    command = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_visitor_in_chromium_sees_the_headline_components_and_the_incident_timeline(seeded, tmp_path):
    shown = chromium("--dump-dom", seeded["url"], profile=tmp_path / "profile")
    assert shown.returncode == 0, shown.stderr[-2000:]
    dom = shown.stdout

    assert "<title>Support status</title>" in dom
    assert "<script" not in dom.lower()
    text = visible_text(dom)
    assert text.startswith("Support status Support status Major system outage Components ")  # <title>, <h1>, then the banner
    for row in ("Public API Major outage", "Dashboard Degraded performance", "SMS delivery Operational"):
        assert row in text
    # The whole timeline, newest update first, with times in UTC.
    assert (
        f"API requests failing Affected: Public API "
        f"Identified · {utc_words(seeded['identified'])} A faulty load balancer; replacing it. "
        f"Investigating · {utc_words(seeded['started'])} We are seeing errors on API requests."
    ) in text
    assert f"Dashboard slow to load Resolved – Back to normal. Resolved {utc_words(seeded['resolved_at'])}" in text


def test_a_phone_size_screenshot_is_kept_as_an_artifact(seeded, tmp_path):
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.unlink(missing_ok=True)

    shot = chromium("--hide-scrollbars", "--window-size=390,1200", f"--screenshot={ARTIFACT}", seeded["url"], profile=tmp_path / "profile")

    assert shot.returncode == 0, shot.stderr[-2000:]
    image = ARTIFACT.read_bytes()
    assert image[:8] == PNG_SIGNATURE
    # IHDR, the first chunk, holds the size: the phone's viewport.
    assert image[12:16] == b"IHDR" and struct.unpack(">II", image[16:24]) == (390, 1200)
    assert len(image) > 20_000, f"a {len(image)}-byte screenshot is too small to show the page"


def test_an_unreadable_table_gets_a_short_503_page_not_a_traceback(seeded):
    local = seeded["local"]
    local.stack.stop_dynamodb()
    try:
        with pytest.raises(urllib.error.HTTPError) as answer:
            fetch(seeded["url"], BROWSER_ACCEPT)
    finally:
        local.stack.start_dynamodb()

    failed = answer.value
    assert failed.code == 503
    assert failed.headers["Content-Type"] == "text/plain; charset=utf-8"
    # Never cached: the page must come back as soon as the table does.
    assert (failed.headers["Cache-Control"], failed.headers["Retry-After"]) == ("no-store", "30")
    assert failed.read().decode() == "The status page is unavailable right now. Please try again in a minute.\n"
    assert fetch(seeded["url"])[0] == 200
