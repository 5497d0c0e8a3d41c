"""Incidents, scheduled maintenance and components: what a status page shows.

Pure data and rules, on the ground floor next to models.py: the store and every room use it. The vocabulary is Atlassian Statuspage's, so its webhooks map onto
this model one to one and customers read the words they already know.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from switchboard.models import iso_utc
from switchboard.plain_text import one_line


class Impact(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"  # Statuspage's impact of a scheduled maintenance


class IncidentKind(StrEnum):
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"


class UpdateStatus(StrEnum):
    # incidents
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"
    # scheduled maintenance
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"


INCIDENT_STATUSES = (UpdateStatus.INVESTIGATING, UpdateStatus.IDENTIFIED, UpdateStatus.MONITORING, UpdateStatus.RESOLVED, UpdateStatus.POSTMORTEM)
MAINTENANCE_STATUSES = (UpdateStatus.SCHEDULED, UpdateStatus.IN_PROGRESS, UpdateStatus.VERIFYING, UpdateStatus.COMPLETED)
# An incident or maintenance in one of these is over: the status page lists it as history.
CLOSED_STATUSES = frozenset({UpdateStatus.RESOLVED, UpdateStatus.POSTMORTEM, UpdateStatus.COMPLETED})


class ComponentStatus(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"


# What an open incident of each impact does to its components when nobody says otherwise.
COMPONENT_STATUS_FOR_IMPACT = {
    Impact.NONE: ComponentStatus.OPERATIONAL,
    Impact.MINOR: ComponentStatus.DEGRADED_PERFORMANCE,
    Impact.MAJOR: ComponentStatus.PARTIAL_OUTAGE,
    Impact.CRITICAL: ComponentStatus.MAJOR_OUTAGE,
    Impact.MAINTENANCE: ComponentStatus.UNDER_MAINTENANCE,
}


# The words customers read for each status (the status page, notices).
COMPONENT_LABELS = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
    ComponentStatus.MAJOR_OUTAGE: "Major outage",
    ComponentStatus.UNDER_MAINTENANCE: "Under maintenance",
}

UPDATE_LABELS = {
    UpdateStatus.INVESTIGATING: "Investigating",
    UpdateStatus.IDENTIFIED: "Identified",
    UpdateStatus.MONITORING: "Monitoring",
    UpdateStatus.RESOLVED: "Resolved",
    UpdateStatus.POSTMORTEM: "Postmortem",
    UpdateStatus.SCHEDULED: "Scheduled",
    UpdateStatus.IN_PROGRESS: "In progress",
    UpdateStatus.VERIFYING: "Verifying",
    UpdateStatus.COMPLETED: "Completed",
}


class NotifyPolicy(StrEnum):
    """Which updates send notices: every one, or (as Statuspage does for SMS) the first and the last."""

    ALL = "all"
    OPEN_AND_RESOLVE = "open_and_resolve"


class IncidentError(ValueError):
    """A request that does not make a valid incident or update; the message says why."""


@dataclass(frozen=True)
class Component:
    component_id: str  # a slug: "api", "dashboard"
    name: str
    status: ComponentStatus = ComponentStatus.OPERATIONAL
    description: str = ""
    position: int = 0  # the status page lists components in this order
    updated_at: datetime | None = None


@dataclass(frozen=True)
class IncidentUpdate:
    update_id: str  # ours (a ULID), or "sp-<Statuspage id>" for ingested updates
    status: UpdateStatus
    body: str
    created_at: datetime
    notify: bool = True  # asked to notify subscribers (the notify policy still applies)
    # Components' statuses as this update set them (component id → status).
    affected: dict[str, ComponentStatus] = field(default_factory=dict)


@dataclass(frozen=True)
class Incident:
    incident_id: str  # a ULID: incidents list newest first by id
    title: str
    impact: Impact
    kind: IncidentKind
    status: UpdateStatus  # the latest update's status
    created_at: datetime
    updated_at: datetime
    components: tuple[str, ...] = ()  # affected component ids
    updates: tuple[IncidentUpdate, ...] = ()  # oldest first
    resolved_at: datetime | None = None
    # Scheduled maintenance: the window.
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    source: str = "switchboard"  # or "statuspage"
    source_id: str | None = None  # Statuspage's incident id
    shortlink: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    def has_update(self, update_id: str) -> bool:
        return any(update.update_id == update_id for update in self.updates)


def validate_status(kind: IncidentKind, status: UpdateStatus) -> None:
    allowed = MAINTENANCE_STATUSES if kind is IncidentKind.MAINTENANCE else INCIDENT_STATUSES
    if status not in allowed:
        what = "a maintenance" if kind is IncidentKind.MAINTENANCE else "an incident"
        raise IncidentError(f"{what} cannot be {status.value!r}; use one of: {', '.join(s.value for s in allowed)}")


def open_incident(
    incident_id: str,
    title: str,
    impact: Impact,
    components: tuple[str, ...],
    first_update: IncidentUpdate,
    kind: IncidentKind = IncidentKind.INCIDENT,
    scheduled_for: datetime | None = None,
    scheduled_until: datetime | None = None,
    source: str = "switchboard",
    source_id: str | None = None,
) -> Incident:
    """A new incident (or maintenance) with its first update."""
    title = one_line(title)  # it becomes email subjects and page lines
    if not title:
        raise IncidentError("an incident needs a title")
    if len(title) > 255:  # Statuspage's own limit; the API asks for 200 at most
        raise IncidentError("the title is longer than 255 characters")
    validate_status(kind, first_update.status)
    if kind is IncidentKind.MAINTENANCE:
        if scheduled_for is None or scheduled_until is None:
            raise IncidentError("a scheduled maintenance needs a window (start and end)")
        if scheduled_until <= scheduled_for:
            raise IncidentError("the maintenance window ends before it starts")
    incident = Incident(
        incident_id=incident_id,
        title=title,
        impact=Impact.MAINTENANCE if kind is IncidentKind.MAINTENANCE and impact is Impact.NONE else impact,
        kind=kind,
        status=first_update.status,
        created_at=first_update.created_at,
        updated_at=first_update.created_at,
        components=tuple(dict.fromkeys(components)),
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_until,
        source=source,
        source_id=source_id,
    )
    return add_update(incident, _with_default_effects(incident, first_update))


# An incident is one table item (at most 400 KB): its timeline is bounded. Statuspage's
# own limit for an update's body is far below this, and no real incident needs more updates.
MAX_UPDATE_BODY_CHARS = 5000
MAX_UPDATES = 200


def add_update(incident: Incident, update: IncidentUpdate) -> Incident:
    """The incident after one more update; the same update twice changes nothing."""
    if incident.has_update(update.update_id):
        return incident
    if len(update.body) > MAX_UPDATE_BODY_CHARS:
        raise IncidentError(f"an update's message is at most {MAX_UPDATE_BODY_CHARS} characters; this one has {len(update.body)}")
    if len(incident.updates) >= MAX_UPDATES:
        raise IncidentError(f"an incident holds at most {MAX_UPDATES} updates: resolve it and open a new one")
    validate_status(incident.kind, update.status)
    if not update.body.strip() and not incident.updates:
        raise IncidentError("the first update needs a message for customers")
    update = _with_default_effects(incident, update)
    updates = tuple(sorted((*incident.updates, update), key=lambda u: (u.created_at, u.update_id)))
    latest = updates[-1]
    closed = latest.status in CLOSED_STATUSES
    return replace(
        incident,
        updates=updates,
        status=latest.status,
        updated_at=max(incident.updated_at, update.created_at),
        resolved_at=(incident.resolved_at or latest.created_at) if closed else None,
    )


def _with_default_effects(incident: Incident, update: IncidentUpdate) -> IncidentUpdate:
    """An update that names no component statuses sets the usual ones for its status."""
    if update.affected or not incident.components:
        return update
    if update.status in CLOSED_STATUSES:
        status = ComponentStatus.OPERATIONAL
    elif incident.kind is IncidentKind.MAINTENANCE:
        status = ComponentStatus.UNDER_MAINTENANCE if update.status is not UpdateStatus.SCHEDULED else None
    else:
        status = COMPONENT_STATUS_FOR_IMPACT[incident.impact]
    if status is None:
        return update
    return replace(update, affected={component: status for component in incident.components})


def is_first_or_last(incident: Incident, update: IncidentUpdate) -> bool:
    return bool(incident.updates) and (update.update_id == incident.updates[0].update_id or update.status in CLOSED_STATUSES)


def should_notify(incident: Incident, update: IncidentUpdate, policy: NotifyPolicy) -> bool:
    """Whether this update sends notices to subscribers."""
    if not update.notify or not update.body.strip():
        return False
    if update.status is UpdateStatus.POSTMORTEM:
        return False  # a write-up for the page, not news for phones
    if policy is NotifyPolicy.OPEN_AND_RESOLVE:
        return is_first_or_last(incident, update)
    return True


def to_document(incident: Incident) -> dict[str, Any]:
    """JSON-ready form, for the API, the CLI's --json and the status page's JSON."""

    def when(moment: datetime | None) -> str | None:
        return iso_utc(moment) if moment else None

    return {
        "id": incident.incident_id,
        "title": incident.title,
        "impact": incident.impact.value,
        "kind": incident.kind.value,
        "status": incident.status.value,
        "open": incident.is_open,
        "created_at": when(incident.created_at),
        "updated_at": when(incident.updated_at),
        "resolved_at": when(incident.resolved_at),
        "scheduled_for": when(incident.scheduled_for),
        "scheduled_until": when(incident.scheduled_until),
        "components": list(incident.components),
        "source": incident.source,
        "source_id": incident.source_id,
        "shortlink": incident.shortlink,
        "updates": [
            {
                "id": update.update_id,
                "status": update.status.value,
                "body": update.body,
                "created_at": when(update.created_at),
                "notify": update.notify,
                "affected": {component: status.value for component, status in update.affected.items()},
            }
            for update in incident.updates
        ],
    }


def from_document(document: dict[str, Any]) -> Incident:
    """The incident `to_document` described (the store keeps incidents in this shape)."""

    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None

    return Incident(
        incident_id=document["id"],
        title=document["title"],
        impact=Impact(document["impact"]),
        kind=IncidentKind(document["kind"]),
        status=UpdateStatus(document["status"]),
        created_at=when(document["created_at"]),
        updated_at=when(document["updated_at"]),
        resolved_at=when(document.get("resolved_at")),
        scheduled_for=when(document.get("scheduled_for")),
        scheduled_until=when(document.get("scheduled_until")),
        components=tuple(document.get("components") or ()),
        source=document.get("source", "switchboard"),
        source_id=document.get("source_id"),
        shortlink=document.get("shortlink"),
        updates=tuple(
            IncidentUpdate(
                update_id=update["id"],
                status=UpdateStatus(update["status"]),
                body=update.get("body", ""),
                created_at=when(update["created_at"]),
                notify=bool(update.get("notify", True)),
                affected={component: ComponentStatus(status) for component, status in (update.get("affected") or {}).items()},
            )
            for update in document.get("updates") or ()
        ),
    )


def component_document(component: Component) -> dict[str, Any]:
    return {
        "id": component.component_id,
        "name": component.name,
        "status": component.status.value,
        "description": component.description,
        "position": component.position,
        "updated_at": iso_utc(component.updated_at) if component.updated_at else None,
    }


def overall_status(components: list[Component], open_incidents: list[Incident]) -> tuple[str, str]:
    """The status page's headline: (indicator, words), as Statuspage's summary gives them."""
    worst = {ComponentStatus.MAJOR_OUTAGE: 3, ComponentStatus.PARTIAL_OUTAGE: 2, ComponentStatus.DEGRADED_PERFORMANCE: 1}
    level = max((worst.get(component.status, 0) for component in components), default=0)
    impacts = {Impact.CRITICAL: 3, Impact.MAJOR: 2, Impact.MINOR: 1}
    level = max([level, *(impacts.get(incident.impact, 0) for incident in open_incidents if incident.kind is IncidentKind.INCIDENT)])
    if level == 3:
        return "critical", "Major system outage"
    if level == 2:
        return "major", "Partial system outage"
    if level == 1:
        return "minor", "Minor service disruption"
    if any(component.status is ComponentStatus.UNDER_MAINTENANCE for component in components):
        return "maintenance", "Service under maintenance"
    return "none", "All systems operational"
