"""The incident store on DynamoDB Local: bounded listings, open pointers, version races."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from switchboard.incident_model import Impact, IncidentUpdate, UpdateStatus, open_incident
from switchboard.incidents.service import IncidentDesk
from switchboard.store.incidents import IncidentStore, new_incident_id
from switchboard.store.notices import NoticeStore

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc)


@pytest.fixture
def stores(local):
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    return IncidentStore(client, table), NoticeStore(client, table)


def saved(store: IncidentStore, title: str, started: datetime, resolved: bool = False):
    incident = open_incident(new_incident_id(started), title, Impact.MINOR, (), IncidentUpdate(f"{uuid.uuid4()}", UpdateStatus.INVESTIGATING, "x", started))
    if resolved:
        from switchboard.incident_model import add_update

        incident = add_update(incident, IncidentUpdate(f"{uuid.uuid4()}", UpdateStatus.RESOLVED, "done", started + timedelta(hours=1)))
    store.save(incident, None)
    return incident


def test_a_listing_since_a_date_holds_recent_incidents_and_every_older_one_still_open(stores):
    incidents, notices = stores
    tag = uuid.uuid4().hex[:6]
    old_open = saved(incidents, f"old open {tag}", NOW - timedelta(days=120))
    old_closed = saved(incidents, f"old closed {tag}", NOW - timedelta(days=120), resolved=True)
    recent = saved(incidents, f"recent {tag}", NOW - timedelta(days=2), resolved=True)
    listed = [i.incident_id for i in incidents.list(since=NOW - timedelta(days=90))]
    assert old_open.incident_id in listed and recent.incident_id in listed
    assert old_closed.incident_id not in listed
    assert listed == sorted(listed, reverse=True), "newest first"
    IncidentDesk(incidents, notices).resolve(old_open.incident_id, "finally", NOW)
    assert old_open.incident_id not in [i.incident_id for i in incidents.list(since=NOW - timedelta(days=90))]
    assert old_open.incident_id in [i.incident_id for i in incidents.list()]


def test_concurrent_updates_to_one_incident_all_land(stores):
    incidents, notices = stores
    desk = IncidentDesk(incidents, notices)
    opened = desk.open(f"race {uuid.uuid4().hex[:6]}", Impact.MINOR, (), "first", NOW)
    errors = []

    def post(n: int) -> None:
        try:
            IncidentDesk(incidents, notices).update(opened.incident.incident_id, UpdateStatus.IDENTIFIED, f"update {n}", NOW + timedelta(seconds=n))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(1, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = incidents.get(opened.incident.incident_id)
    assert sorted(u.body for u in final.updates) == ["first", "update 1", "update 2", "update 3", "update 4", "update 5"]
    assert len({u.update_id for u in final.updates}) == 6
    assert all(notices.job(u.update_id) is not None for u in final.updates), "each update has its one fan-out job"
