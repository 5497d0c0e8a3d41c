"""A flood of forged requests cannot fill the quarantine or bury what matters; the newest come first, page by page."""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from conftest_helpers import run_cli
from switchboard.settings import get_settings
from switchboard.store.quarantine import REQUEST_BODY_KEPT_BYTES, QuarantineStore, RejectedRequestRecord

pytestmark = pytest.mark.integration


@pytest.fixture
def quarantine_settings(monkeypatch):
    """The quarantine's allowance, set through its environment variables (re-read)."""

    def set_to(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_to
    monkeypatch.undo()
    get_settings.cache_clear()


def kept_by(local, marker: str) -> list[dict]:
    return [record for record in local.quarantine().list(datetime.now(timezone.utc), limit=100_000) if marker in record["body"]]


def test_a_flood_of_forged_sms_keeps_the_first_of_the_minute_then_samples(local, sms_form, quarantine_settings):
    quarantine_settings(QUARANTINE_FULL_PER_MINUTE="5", QUARANTINE_SAMPLE_ONE_IN="999999")
    left = 60 - time.time() % 60
    if left < 8:  # all of the flood in one minute's window
        time.sleep(left + 0.5)
    marker = f"flood-{uuid.uuid4().hex[:8]}"
    big = "x" * 20_000
    statuses = [local.post_sms({**sms_form(body=f"{marker} {n} {big}")}, signature="forged").status_code for n in range(25)]
    assert set(statuses) == {403}, "every forged request is still refused"
    kept = kept_by(local, marker)
    assert 1 <= len(kept) <= 5, f"{len(kept)} of 25 kept"
    for record in kept:
        assert record["body_truncated"] and record["body_bytes"] > 20_000
        assert len(record["body"].encode()) <= REQUEST_BODY_KEPT_BYTES
        assert record["headers"]["x-twilio-signature"] == "forged" and record["reason"]


def test_an_internal_failure_keeps_the_whole_request(local):
    """Only refusals are cut: a request we failed to store may need replaying."""
    from local_stack.gateway import api_gateway_event
    from local_stack.template import Route
    from switchboard.webhooks import WebhookRequest, keep_rejected

    body = ("Body=" + "y" * 10_000).encode()
    event = api_gateway_event(Route("POST", "/webhooks/twilio/sms", "F"), "POST", "/webhooks/twilio/sms", [], body, "203.0.113.5", {})
    marker_request = WebhookRequest.from_api_gateway(event)
    keep_rejected(marker_request, 503, "internal error; the provider should retry", datetime.now(timezone.utc))
    (record,) = [r for r in local.quarantine().list(datetime.now(timezone.utc), limit=100_000) if r.get("request_id") == marker_request.request_id]
    assert record["body_bytes"] == len(body) and not record["body_truncated"]


def test_quarantine_list_shows_the_newest_first_and_pages(local):
    store = QuarantineStore(boto3.client("s3"), os.environ["QUARANTINE_BUCKET"], prefix=f"paging-{uuid.uuid4().hex[:6]}/")
    now = datetime.now(timezone.utc)
    moments = [now - timedelta(hours=hours, minutes=minutes) for hours in (0, 1, 30) for minutes in (1, 2, 3)]
    for n, moment in enumerate(moments):
        store.keep(RejectedRequestRecord(403, f"forged {n}", "POST /webhooks/twilio/sms", moment, {}, b"x"))
    seen, before = [], None
    while True:
        page, before = store.page(limit=4, before=before)
        seen += [record["reason"] for record in page]
        if before is None:
            break
    assert seen == [f"forged {n}" for n in range(len(moments))], "newest first, each once, across hours and days"
    assert [r["reason"] for r in store.page(now, limit=100)[0]] == [f"forged {n}" for n in range(6) if moments[n].date() == now.date()]


def test_the_cli_pages_through_refused_requests(local, sms_form):
    for _ in range(3):
        assert local.post_sms(sms_form(), signature="forged").status_code == 403
    first = run_cli(["quarantine", "list", "--limit", "2"], local.cli_env())
    assert first.returncode == 0, first.stderr
    hint = first.stdout.strip().splitlines()[-1]
    assert hint.startswith("older: switchboard quarantine list --before ")
    key = hint.split("--before ", 1)[1]
    older = run_cli(["quarantine", "list", "--json", "--limit", "2", "--before", key], local.cli_env())
    assert older.returncode == 0, older.stderr
    records = json.loads(older.stdout)
    assert records and all(record["key"] < key for record in records)
