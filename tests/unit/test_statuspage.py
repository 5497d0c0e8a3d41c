"""Statuspage subscriber webhooks → IncidentNotice / ComponentNotice (pure: no AWS)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.incident_model import (
    ComponentStatus,
    Impact,
    IncidentKind,
    IncidentUpdate,
    UpdateStatus,
    add_update,
    open_incident,
    validate_status,
)
from switchboard.incidents.statuspage import (
    ComponentNotice,
    IncidentNotice,
    StatuspageShapeError,
    parse_notification,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "statuspage"
UTC = timezone.utc
API, DASHBOARD = "r1kz8m0q2v4t", "b7ws3yh5nq9c"

INVESTIGATING_BODY = "We are investigating elevated error rates on API requests. Some requests are failing with HTTP 502."
IDENTIFIED_BODY = "A failed database migration left the primary read-only. We are rolling it back; the dashboard is slow meanwhile."
SCHEDULED_BODY = "We will fail the primary database over to new hardware. The API may return errors for up to a minute during the window."


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def first_update() -> IncidentUpdate:
    return IncidentUpdate("sp-h8c2n5vtl0qe", UpdateStatus.INVESTIGATING, INVESTIGATING_BODY, at("2026-03-04T09:12:45.402Z"), True, {API: ComponentStatus.PARTIAL_OUTAGE})


def identified_update() -> IncidentUpdate:
    # display_at (09:30:00) is what the status page shows, not created_at (09:31:07.660)
    return IncidentUpdate(
        "sp-t6jm1xq4ds8w", UpdateStatus.IDENTIFIED, IDENTIFIED_BODY, at("2026-03-04T09:30:00Z"), False,
        {API: ComponentStatus.MAJOR_OUTAGE, DASHBOARD: ComponentStatus.DEGRADED_PERFORMANCE},
    )


# ---- every fixture, exactly ----


def test_a_new_incident_investigating():
    assert parse_notification(fixture("incident_created_investigating.json")) == IncidentNotice(
        source_id="x5ql2w7vbn3k",
        title="Elevated API error rates",
        impact=Impact.MAJOR,
        kind=IncidentKind.INCIDENT,
        created_at=datetime(2026, 3, 4, 9, 12, 45, 318000, tzinfo=UTC),
        components=(API,),
        component_names={API: "API"},
        scheduled_for=None,
        scheduled_until=None,
        shortlink="https://stspg.io/k3v9r2bq7",
        updates=(first_update(),),
    )


def test_an_identified_update_carries_the_whole_timeline_oldest_first():
    assert parse_notification(fixture("incident_identified.json")) == IncidentNotice(
        source_id="x5ql2w7vbn3k",
        title="Elevated API error rates",
        impact=Impact.CRITICAL,
        kind=IncidentKind.INCIDENT,
        created_at=datetime(2026, 3, 4, 9, 12, 45, 318000, tzinfo=UTC),
        components=(API, DASHBOARD),
        component_names={API: "API", DASHBOARD: "Dashboard"},
        shortlink="https://stspg.io/k3v9r2bq7",
        updates=(first_update(), identified_update()),
    )


def test_the_documented_example_shape_with_offsets_and_no_components():
    notice = parse_notification(fixture("incident_monitoring_documented.json"))
    assert notice == IncidentNotice(
        source_id="d2hn6r0kx8pw",
        title="Delayed webhook deliveries",
        impact=Impact.MINOR,
        kind=IncidentKind.INCIDENT,
        created_at=datetime(2026, 2, 17, 13, 41, 5, tzinfo=UTC),  # 07:41:05-06:00
        components=(),
        component_names={},
        shortlink="http://stspg.io/m2x8q4rfz",
        updates=(
            IncidentUpdate("sp-c3lr8dn6wx0a", UpdateStatus.INVESTIGATING, "Outgoing webhook deliveries are delayed by up to 20 minutes. We are looking into it.", datetime(2026, 2, 17, 13, 41, 5, tzinfo=UTC)),
            IncidentUpdate("sp-q0vy5zt2hg6n", UpdateStatus.IDENTIFIED, "A stuck worker pool was delaying outgoing webhooks; it has been restarted.", datetime(2026, 2, 17, 14, 2, 17, tzinfo=UTC)),
            IncidentUpdate("sp-w9pf3bk7cm1s", UpdateStatus.MONITORING, "Deliveries have caught up and we are watching the queue.", datetime(2026, 2, 17, 14, 25, 40, tzinfo=UTC)),
        ),
    )
    # no deliver_notifications in this shape: every update asks to notify
    assert all(update.notify and update.affected == {} for update in notice.updates)


def test_a_resolved_incident():
    notice = parse_notification(fixture("incident_resolved.json"))
    assert isinstance(notice, IncidentNotice)
    assert (notice.source_id, notice.title, notice.impact, notice.kind) == ("x5ql2w7vbn3k", "Elevated API error rates", Impact.CRITICAL, IncidentKind.INCIDENT)
    assert notice.components == (API, DASHBOARD)
    assert notice.updates == (
        first_update(),
        identified_update(),
        IncidentUpdate(
            "sp-n4gw0cs6ph3j", UpdateStatus.MONITORING,
            "The migration has been rolled back and error rates are back to normal. We are monitoring the results.",
            datetime(2026, 3, 4, 10, 5, 19, 227000, tzinfo=UTC), True, {},  # affected_components: null
        ),
        IncidentUpdate(
            "sp-f1zb7kq9rv2y", UpdateStatus.RESOLVED, "This incident has been resolved.",
            datetime(2026, 3, 4, 10, 47, 52, 61000, tzinfo=UTC), True,
            {API: ComponentStatus.OPERATIONAL, DASHBOARD: ComponentStatus.OPERATIONAL},
        ),
    )


def test_a_scheduled_maintenance():
    assert parse_notification(fixture("maintenance_scheduled.json")) == IncidentNotice(
        source_id="g7yv2p0lm5tc",
        title="Database failover to a new primary",
        impact=Impact.MAINTENANCE,
        kind=IncidentKind.MAINTENANCE,
        created_at=datetime(2026, 3, 3, 16, 20, 31, 104000, tzinfo=UTC),
        components=(API,),
        component_names={API: "API"},
        scheduled_for=datetime(2026, 3, 10, 2, 0, tzinfo=UTC),
        scheduled_until=datetime(2026, 3, 10, 4, 0, tzinfo=UTC),
        shortlink="https://stspg.io/b8n2w5yq1",
        updates=(IncidentUpdate("sp-s5kd9ht3zw7b", UpdateStatus.SCHEDULED, SCHEDULED_BODY, datetime(2026, 3, 3, 16, 20, 31, 198000, tzinfo=UTC), True, {API: ComponentStatus.OPERATIONAL}),),
    )


def test_a_completed_maintenance():
    notice = parse_notification(fixture("maintenance_completed.json"))
    assert isinstance(notice, IncidentNotice)
    assert (notice.kind, notice.impact) == (IncidentKind.MAINTENANCE, Impact.MAINTENANCE)
    assert (notice.scheduled_for, notice.scheduled_until) == (datetime(2026, 3, 10, 2, 0, tzinfo=UTC), datetime(2026, 3, 10, 4, 0, tzinfo=UTC))
    assert [(u.update_id, u.status, u.created_at, u.affected) for u in notice.updates] == [
        ("sp-s5kd9ht3zw7b", UpdateStatus.SCHEDULED, datetime(2026, 3, 3, 16, 20, 31, 198000, tzinfo=UTC), {API: ComponentStatus.OPERATIONAL}),
        ("sp-k9tr4bw1nx6e", UpdateStatus.IN_PROGRESS, datetime(2026, 3, 10, 2, 0, 9, 815000, tzinfo=UTC), {API: ComponentStatus.UNDER_MAINTENANCE}),
        ("sp-v2cq8mf6ly0k", UpdateStatus.COMPLETED, datetime(2026, 3, 10, 4, 0, 12, 203000, tzinfo=UTC), {API: ComponentStatus.OPERATIONAL}),
    ]
    assert [u.body for u in notice.updates][1:] == [
        "Scheduled maintenance is currently in progress. We will provide updates as necessary.",
        "The scheduled maintenance has been completed.",
    ]


def test_a_component_update():
    assert parse_notification(fixture("component_update.json")) == ComponentNotice(
        component_id=API, name="API", status=ComponentStatus.PARTIAL_OUTAGE, at=datetime(2026, 3, 4, 9, 12, 45, 381000, tzinfo=UTC)
    )


def test_the_documented_component_update_shape():
    assert parse_notification(fixture("component_update_documented.json")) == ComponentNotice(
        component_id=DASHBOARD, name="Dashboard", status=ComponentStatus.OPERATIONAL, at=datetime(2026, 3, 4, 10, 47, 52, tzinfo=UTC)
    )


@pytest.mark.parametrize("name", sorted(path.name for path in FIXTURES.glob("incident_*.json")) + sorted(path.name for path in FIXTURES.glob("maintenance_*.json")))
def test_every_incident_fixture_builds_a_valid_incident(name):
    """What the parser hands the desk is something the model accepts, as the desk will use it."""
    notice = parse_notification(fixture(name))
    for update in notice.updates:
        validate_status(notice.kind, update.status)
    first, *rest = notice.updates
    incident = open_incident("01JNXYZ", notice.title, notice.impact, notice.components, first, notice.kind, notice.scheduled_for, notice.scheduled_until, source="statuspage", source_id=notice.source_id)
    for update in rest:
        incident = add_update(incident, update)
    assert [u.update_id for u in incident.updates] == [u.update_id for u in notice.updates]
    assert incident.status is notice.updates[-1].status


def test_the_fixture_folder_holds_what_the_readme_lists():
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    names = sorted(path.name for path in FIXTURES.glob("*.json"))
    assert len(names) >= 5
    assert all(f"`{name}`" in readme for name in names)


# ---- details of the mapping ----


def test_timestamps_in_any_iso_8601_form_become_aware_utc():
    payload = fixture("incident_created_investigating.json")
    incident = payload["incident"]
    moments = {
        "2026-03-04T09:12:45Z": datetime(2026, 3, 4, 9, 12, 45, tzinfo=UTC),
        "2026-03-04T09:12:45.318Z": datetime(2026, 3, 4, 9, 12, 45, 318000, tzinfo=UTC),
        "2026-03-04T03:12:45.318-06:00": datetime(2026, 3, 4, 9, 12, 45, 318000, tzinfo=UTC),
        "2026-03-04T14:42:45+05:30": datetime(2026, 3, 4, 9, 12, 45, tzinfo=UTC),
        "2026-03-04T09:12:45.318123456Z": datetime(2026, 3, 4, 9, 12, 45, 318123, tzinfo=UTC),
        "2026-03-04 09:12:45+00:00": datetime(2026, 3, 4, 9, 12, 45, tzinfo=UTC),
        "20260304T091245Z": datetime(2026, 3, 4, 9, 12, 45, tzinfo=UTC),
        "2026-03-04T09:12:45": datetime(2026, 3, 4, 9, 12, 45, tzinfo=UTC),  # no offset: taken as UTC
    }
    for text, expected in moments.items():
        incident["created_at"] = text
        incident["incident_updates"][0]["display_at"] = text
        notice = parse_notification(payload)
        assert notice.created_at == expected and notice.created_at.utcoffset() == timedelta(0), text
        assert notice.updates[0].created_at == expected, text


def test_created_at_is_used_when_display_at_is_absent_or_null():
    payload = fixture("incident_identified.json")
    del payload["incident"]["incident_updates"][0]["display_at"]
    payload["incident"]["incident_updates"][1]["display_at"] = None
    notice = parse_notification(payload)
    assert [(u.update_id, u.created_at) for u in notice.updates] == [
        ("sp-h8c2n5vtl0qe", datetime(2026, 3, 4, 9, 12, 45, 402000, tzinfo=UTC)),
        ("sp-t6jm1xq4ds8w", datetime(2026, 3, 4, 9, 31, 7, 660000, tzinfo=UTC)),
    ]


def test_updates_are_sorted_by_time_whatever_order_they_come_in():
    payload = fixture("incident_resolved.json")
    payload["incident"]["incident_updates"] = [payload["incident"]["incident_updates"][i] for i in (2, 0, 3, 1)]
    statuses = [u.status for u in parse_notification(payload).updates]
    assert statuses == [UpdateStatus.INVESTIGATING, UpdateStatus.IDENTIFIED, UpdateStatus.MONITORING, UpdateStatus.RESOLVED]


def test_notify_follows_deliver_notifications_and_defaults_to_true():
    payload = fixture("incident_resolved.json")
    updates = payload["incident"]["incident_updates"]  # newest first: resolved, monitoring, identified, investigating
    updates[0]["deliver_notifications"] = False
    updates[1]["deliver_notifications"] = None
    del updates[3]["deliver_notifications"]
    notify = {u.update_id: u.notify for u in parse_notification(payload).updates}
    assert notify == {"sp-f1zb7kq9rv2y": False, "sp-n4gw0cs6ph3j": True, "sp-t6jm1xq4ds8w": False, "sp-h8c2n5vtl0qe": True}


def test_a_null_or_missing_body_is_empty():
    payload = fixture("incident_resolved.json")
    payload["incident"]["incident_updates"][0]["body"] = None
    del payload["incident"]["incident_updates"][1]["body"]
    bodies = {u.update_id: u.body for u in parse_notification(payload).updates}
    assert bodies["sp-f1zb7kq9rv2y"] == "" and bodies["sp-n4gw0cs6ph3j"] == ""


def test_affected_components_with_unknown_statuses_are_skipped():
    payload = fixture("incident_identified.json")
    entries = payload["incident"]["incident_updates"][0]["affected_components"]
    entries[1]["new_status"] = "on_fire"
    entries.append({"code": "zz9plural0z", "name": "Edge", "old_status": "operational", "new_status": None})
    entries.append({"code": "qq1nostatus", "name": "Search"})
    notice = parse_notification(payload)
    assert notice.updates[-1].affected == {API: ComponentStatus.MAJOR_OUTAGE}
    assert notice.components == (API, DASHBOARD)  # incident.components still names them


def test_without_incident_components_the_affected_codes_name_them():
    payload = fixture("incident_resolved.json")
    del payload["incident"]["components"]
    notice = parse_notification(payload)
    assert notice.components == (API, DASHBOARD)  # in the order they were first affected
    assert notice.component_names == {API: "API", DASHBOARD: "Dashboard"}
    payload["incident"]["components"] = None
    assert parse_notification(payload).components == (API, DASHBOARD)
    payload["incident"]["components"] = []
    assert parse_notification(payload).components == (API, DASHBOARD)


def test_a_component_with_a_null_name_is_named_by_its_id():
    payload = fixture("incident_identified.json")
    payload["incident"]["components"][1]["name"] = None
    for update in payload["incident"]["incident_updates"]:
        update["affected_components"] = None
    assert parse_notification(payload).component_names == {API: "API", DASHBOARD: DASHBOARD}


@pytest.mark.parametrize(
    "changes, kind",
    [
        ({}, IncidentKind.INCIDENT),
        ({"impact": "maintenance"}, IncidentKind.MAINTENANCE),
        ({"status": "verifying", "impact": "none"}, IncidentKind.MAINTENANCE),
        ({"scheduled_for": "2026-03-10T02:00:00.000Z", "scheduled_until": "2026-03-10T04:00:00.000Z"}, IncidentKind.MAINTENANCE),
    ],
)
def test_the_kind(changes, kind):
    payload = fixture("incident_created_investigating.json")
    payload["incident"].update(changes)
    assert parse_notification(payload).kind is kind


def test_a_maintenance_with_impact_none_is_still_a_maintenance():
    # Seen on real pages: a completed maintenance whose impact stayed "none".
    payload = fixture("maintenance_completed.json")
    payload["incident"]["impact"] = "none"
    notice = parse_notification(payload)
    assert (notice.kind, notice.impact) == (IncidentKind.MAINTENANCE, Impact.NONE)


def test_null_shortlink_and_window():
    payload = fixture("incident_created_investigating.json")
    payload["incident"]["shortlink"] = None
    notice = parse_notification(payload)
    assert (notice.shortlink, notice.scheduled_for, notice.scheduled_until) == (None, None, None)
    del payload["incident"]["shortlink"], payload["incident"]["scheduled_for"], payload["incident"]["scheduled_until"]
    assert parse_notification(payload).shortlink is None


def test_extra_fields_anywhere_are_ignored():
    payload = fixture("incident_created_investigating.json")
    payload["brand_new_top_level"] = {"x": [1, 2]}
    payload["incident"]["reminder_intervals"] = "[3, 6, 12, 24]"
    payload["incident"]["incident_updates"][0]["tweet_id"] = None
    payload["incident"]["components"][0]["only_show_if_degraded"] = False
    assert parse_notification(payload) == parse_notification(fixture("incident_created_investigating.json"))


def test_the_payload_is_not_modified():
    payload = fixture("incident_resolved.json")
    before = copy.deepcopy(payload)
    parse_notification(payload)
    assert payload == before


# ---- what is not a Statuspage notification ----


def broken(name: str, path: tuple[Any, ...], value: Any = ..., delete: bool = False) -> dict[str, Any]:
    payload = fixture(name)
    node = payload
    for step in path[:-1]:
        node = node[step]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return payload


INCIDENT = "incident_resolved.json"
COMPONENT = "component_update.json"


@pytest.mark.parametrize(
    "payload, reason",
    [
        ([], "the notification is a list, not a JSON object"),
        ("incident", "the notification is a string, not a JSON object"),
        (None, "the notification is null, not a JSON object"),
        (42, "the notification is a number, not a JSON object"),
        ({}, "no 'incident' or 'component_update' object"),
        ({"meta": {}, "page": {"id": "mq8t4zc0h1vd"}}, "no 'incident' or 'component_update' object"),
        ({"component": {"id": "c", "name": "API", "status": "operational"}}, "no 'incident' or 'component_update' object"),
        ({"incident": None}, "incident is null, not an object"),
        ({"incident": []}, "incident is a list, not an object"),
        ({"incident": {}}, "incident.id is missing"),
        (broken(INCIDENT, ("incident", "id"), ""), "incident.id is empty"),
        (broken(INCIDENT, ("incident", "name"), delete=True), "incident.name is missing"),
        (broken(INCIDENT, ("incident", "name"), "   "), "incident.name is empty"),
        (broken(INCIDENT, ("incident", "status"), "foo"), "incident.status 'foo' is not a Statuspage status"),
        (broken(INCIDENT, ("incident", "status"), "Resolved"), "incident.status 'Resolved' is not a Statuspage status"),
        (broken(INCIDENT, ("incident", "status"), None), "incident.status is null, not a Statuspage status"),
        (broken(INCIDENT, ("incident", "impact"), "catastrophic"), "incident.impact 'catastrophic' is not a Statuspage impact"),
        (broken(INCIDENT, ("incident", "created_at"), "yesterday"), "incident.created_at 'yesterday' is not a timestamp"),
        (broken(INCIDENT, ("incident", "created_at"), 1772615565), "incident.created_at is a number, not a timestamp"),
        (broken(INCIDENT, ("incident", "scheduled_for"), "next tuesday"), "incident.scheduled_for 'next tuesday' is not a timestamp"),
        (broken(INCIDENT, ("incident", "incident_updates"), delete=True), "incident.incident_updates is missing"),
        (broken(INCIDENT, ("incident", "incident_updates"), {"0": {}}), "incident.incident_updates is an object, not a list"),
        (broken(INCIDENT, ("incident", "incident_updates"), "none"), "incident.incident_updates 'none' is not a list"),
        (broken(INCIDENT, ("incident", "incident_updates"), None), "incident.incident_updates is null, not a list"),
        (broken(INCIDENT, ("incident", "incident_updates", 2), "identified"), "incident.incident_updates[2] 'identified' is not an object"),
        (broken(INCIDENT, ("incident", "incident_updates", 2, "created_at"), "2026-13-45T99:00:00Z"), "incident.incident_updates[2].created_at '2026-13-45T99:00:00Z' is not a timestamp"),
        (broken(INCIDENT, ("incident", "incident_updates", 2, "display_at"), ""), "incident.incident_updates[2].display_at '' is not a timestamp"),
        (broken(INCIDENT, ("incident", "incident_updates", 1, "status"), "fixed"), "incident.incident_updates[1].status 'fixed' is not a Statuspage status"),
        (broken(INCIDENT, ("incident", "incident_updates", 1, "id"), delete=True), "incident.incident_updates[1].id is missing"),
        (broken(INCIDENT, ("incident", "incident_updates", 0, "deliver_notifications"), [True]), "incident.incident_updates[0].deliver_notifications is a list, not true or false"),
        (broken(INCIDENT, ("incident", "incident_updates", 0, "affected_components"), "API"), "incident.incident_updates[0].affected_components 'API' is not a list"),
        (broken(INCIDENT, ("incident", "incident_updates", 0, "affected_components", 0, "code"), delete=True), "incident.incident_updates[0].affected_components[0].code is missing"),
        (broken(INCIDENT, ("incident", "components"), "API"), "incident.components 'API' is not a list"),
        (broken(INCIDENT, ("incident", "components", 1, "id"), None), "incident.components[1].id is null, not a string"),
        (broken(INCIDENT, ("incident", "shortlink"), ["https://stspg.io/k3v9r2bq7"]), "incident.shortlink is a list, not a string"),
        ({"component_update": None}, "component_update is null, not an object"),
        (broken(COMPONENT, ("component",), delete=True), "component is missing"),
        (broken(COMPONENT, ("component_update", "new_status"), "down"), "component_update.new_status 'down' is not a Statuspage component status"),
        (broken(COMPONENT, ("component_update", "new_status"), delete=True), "component_update.new_status is missing"),
        (broken(COMPONENT, ("component_update", "created_at"), "2026-03-04"[:7]), "component_update.created_at '2026-03' is not a timestamp"),
        (broken(COMPONENT, ("component", "name"), delete=True), "component.name is missing"),
        (broken(COMPONENT, ("component_update", "component_id"), "b7ws3yh5nq9c"), "component_update.component_id 'b7ws3yh5nq9c' is not component.id 'r1kz8m0q2v4t'"),
    ],
)
def test_reasons(payload, reason):
    with pytest.raises(StatuspageShapeError) as caught:
        parse_notification(payload)
    assert str(caught.value) == reason


def test_a_long_value_is_shortened_in_the_reason():
    with pytest.raises(StatuspageShapeError) as caught:
        parse_notification(broken(INCIDENT, ("incident", "status"), "x" * 10_000))
    assert len(str(caught.value)) < 120 and str(caught.value).startswith("incident.status 'xxx")


def test_a_timestamp_outside_the_calendar_once_in_utc_is_refused():
    for text in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        with pytest.raises(StatuspageShapeError, match="component_update.created_at .* is not a timestamp"):
            parse_notification(broken(COMPONENT, ("component_update", "created_at"), text))


def test_the_component_id_falls_back_to_the_component():
    notice = parse_notification(broken(COMPONENT, ("component_update", "component_id"), delete=True))
    assert isinstance(notice, ComponentNotice) and notice.component_id == API


# ---- fuzz: nothing but StatuspageShapeError ever escapes ----

STATUS_WORDS = [s.value for s in UpdateStatus] + [s.value for s in ComponentStatus] + [i.value for i in Impact] + ["", "Investigating", "maintenance "]
TIMESTAMPS = ["2013-05-29T21:32:28Z", "2014-05-14T14:22:34.441-06:00", "2026-03-04T09:12:45", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59", "2026-02-30T00:00:00Z", "T", "2026"]
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(STATUS_WORDS + TIMESTAMPS)
)
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=25)
KEYS = ["incident", "component_update", "component", "meta", "page", "incident_updates", "id", "name", "status", "impact", "created_at", "new_status", "components", "affected_components", "code"]
shaped = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    max_leaves=40,
)
ALL_FIXTURES = sorted(path.name for path in FIXTURES.glob("*.json"))


def check(payload: Any) -> None:
    try:
        notice = parse_notification(payload)
    except StatuspageShapeError as error:
        assert str(error) and len(str(error)) < 200
        return
    if isinstance(notice, ComponentNotice):
        assert notice.component_id and isinstance(notice.status, ComponentStatus)
        moments = [notice.at]
    else:
        assert isinstance(notice, IncidentNotice) and notice.source_id and notice.title
        assert [u.created_at for u in notice.updates] == sorted(u.created_at for u in notice.updates)
        assert all(u.update_id.startswith("sp-") and isinstance(u.body, str) and isinstance(u.notify, bool) for u in notice.updates)
        assert all(isinstance(s, ComponentStatus) for u in notice.updates for s in u.affected.values())
        moments = [notice.created_at, notice.scheduled_for, notice.scheduled_until, *(u.created_at for u in notice.updates)]
    assert all(m is None or m.utcoffset() == timedelta(0) for m in moments)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_fuzz_arbitrary_json(payload):
    check(payload)


@settings(max_examples=400, deadline=None)
@given(shaped)
def test_fuzz_json_with_statuspage_words(payload):
    check(payload)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_fixtures(data):
    payload = fixture(data.draw(st.sampled_from(ALL_FIXTURES)))
    for _ in range(data.draw(st.integers(1, 4))):
        targets = paths(payload)
        if not targets:
            break
        path = data.draw(st.sampled_from(targets))
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_values)
    check(payload)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)), st.integers(-23 * 60 - 59, 23 * 60 + 59), st.sampled_from(["auto", "seconds", "milliseconds", "microseconds"]))
def test_fuzz_any_offset_and_precision_is_the_same_instant(moment, offset_minutes, precision):
    zone = timezone(timedelta(minutes=offset_minutes))
    aware = moment.replace(tzinfo=zone)
    text = aware.isoformat(timespec=precision)
    notice = parse_notification(broken(COMPONENT, ("component_update", "created_at"), text))
    truncated = datetime.fromisoformat(text)
    assert notice.at == truncated and notice.at.tzinfo is UTC
