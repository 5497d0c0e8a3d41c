"""Atlassian Statuspage's subscriber webhooks, read into our incident model (pure).

Statuspage POSTs one of two JSON shapes to a webhook subscriber (documented in
Atlassian's "Enable webhook notifications"; examples in tests/fixtures/statuspage/):

- an incident update: ``{"meta", "page", "incident": {..., "incident_updates": [...],
  "components": [...]}}``. The whole timeline is sent every time, newest update first.
  A scheduled maintenance is an incident in Statuspage's API and is read the same way:
  impact "maintenance", statuses scheduled / in_progress / verifying / completed, a window
  in scheduled_for / scheduled_until (no captured maintenance delivery was found to confirm
  the envelope; see the fixtures' README).
- a component update: ``{"meta", "page", "component_update": {...}, "component": {...}}``.

pydantic models read the parts we use and ignore the rest (Statuspage adds fields over
time). Anything that does not fit raises StatuspageShapeError with one short reason that
names the field ("incident.incident_updates[2].created_at 'soon' is not a timestamp"),
never pydantic's ValidationError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from switchboard.incident_model import (
    MAINTENANCE_STATUSES,
    ComponentStatus,
    Impact,
    IncidentKind,
    IncidentUpdate,
    UpdateStatus,
)

UPDATE_ID_PREFIX = "sp-"


class StatuspageShapeError(ValueError):
    """A payload that is not a Statuspage notification we can read; the message says why."""


@dataclass(frozen=True)
class IncidentNotice:
    """An incident (or scheduled maintenance) as one Statuspage notification shows it."""

    source_id: str  # Statuspage's incident id
    title: str
    impact: Impact
    kind: IncidentKind
    created_at: datetime
    components: tuple[str, ...] = ()  # Statuspage component ids
    component_names: dict[str, str] = field(default_factory=dict)  # component id → name
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    shortlink: str | None = None
    updates: tuple[IncidentUpdate, ...] = ()  # oldest first


@dataclass(frozen=True)
class ComponentNotice:
    """A component's status change."""

    component_id: str
    name: str
    status: ComponentStatus
    at: datetime


# ---- the wire shapes ----


def _timestamp(value: Any) -> datetime:
    """Any ISO 8601 date-time as an aware UTC datetime; one without an offset is taken as UTC."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.astimezone(timezone.utc)
        except (ValueError, OverflowError):
            pass  # not ISO 8601, or out of datetime's range once in UTC
    raise PydanticCustomError("timestamp", "not a timestamp")


Timestamp = Annotated[datetime, PlainValidator(_timestamp)]
Id = Annotated[str, Field(min_length=1)]


class _Wire(BaseModel):
    # Only the fields read below are checked; the rest of Statuspage's fields are ignored.
    # An id written as a number (some look-alike senders do) reads as its digits.
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class WireAffectedComponent(_Wire):
    code: Id
    name: str | None = None
    new_status: Any = None  # kept only when it is a ComponentStatus value; others are skipped


class WireIncidentUpdate(_Wire):
    id: Id
    status: UpdateStatus
    body: str | None = None
    created_at: Timestamp
    display_at: Timestamp | None = None
    deliver_notifications: bool | None = None
    affected_components: list[WireAffectedComponent] | None = None


class WireIncidentComponent(_Wire):
    id: Id
    name: str | None = None


class WireIncident(_Wire):
    id: Id
    name: str
    status: UpdateStatus
    impact: Impact
    created_at: Timestamp
    shortlink: str | None = None
    scheduled_for: Timestamp | None = None
    scheduled_until: Timestamp | None = None
    incident_updates: list[WireIncidentUpdate]
    components: list[WireIncidentComponent] | None = None


class IncidentPayload(_Wire):
    incident: WireIncident


class WireComponentUpdate(_Wire):
    created_at: Timestamp
    new_status: ComponentStatus
    component_id: Id | None = None


class WireComponentState(_Wire):
    id: Id
    name: str


class ComponentPayload(_Wire):
    component_update: WireComponentUpdate
    component: WireComponentState


# ---- reading a notification ----


def parse_notification(payload: Any) -> IncidentNotice | ComponentNotice:
    """The notice a Statuspage webhook body (already JSON-decoded) carries."""
    if not isinstance(payload, dict):
        raise StatuspageShapeError(f"the notification is {_kind_of(payload)}, not a JSON object")
    if "incident" in payload:
        return _incident_notice(_validate(IncidentPayload, payload).incident)
    if "component_update" in payload:
        return _component_notice(_validate(ComponentPayload, payload))
    raise StatuspageShapeError("no 'incident' or 'component_update' object")


def _incident_notice(incident: WireIncident) -> IncidentNotice:
    title = incident.name.strip()
    if not title:
        raise StatuspageShapeError("incident.name is empty")
    # Statuspage lists the timeline newest first; ours is oldest first, as add_update keeps it.
    timeline = sorted(incident.incident_updates, key=lambda update: (update.display_at or update.created_at, update.id))
    affected = [entry for update in timeline for entry in update.affected_components or ()]
    listed = incident.components or []
    # The documented example carries no incident.components: the affected components name them.
    components = tuple(dict.fromkeys(component.id for component in listed) or dict.fromkeys(entry.code for entry in affected))
    names: dict[str, str] = {}
    for component in listed:
        names.setdefault(component.id, component.name or component.id)
    for entry in affected:
        if entry.name:
            names.setdefault(entry.code, entry.name)
    maintenance = (
        incident.impact is Impact.MAINTENANCE
        or incident.status in MAINTENANCE_STATUSES
        or incident.scheduled_for is not None
    )
    return IncidentNotice(
        source_id=incident.id,
        title=title,
        impact=incident.impact,
        kind=IncidentKind.MAINTENANCE if maintenance else IncidentKind.INCIDENT,
        created_at=incident.created_at,
        components=components,
        component_names=names,
        scheduled_for=incident.scheduled_for,
        scheduled_until=incident.scheduled_until,
        shortlink=incident.shortlink or None,
        updates=tuple(_update(update) for update in timeline),
    )


def _update(update: WireIncidentUpdate) -> IncidentUpdate:
    affected: dict[str, ComponentStatus] = {}
    for entry in update.affected_components or ():
        if isinstance(entry.new_status, str) and entry.new_status in _COMPONENT_STATUSES:
            affected[entry.code] = ComponentStatus(entry.new_status)
    return IncidentUpdate(
        update_id=UPDATE_ID_PREFIX + update.id,
        status=update.status,
        body=update.body or "",
        created_at=update.display_at or update.created_at,
        notify=True if update.deliver_notifications is None else update.deliver_notifications,
        affected=affected,
    )


_COMPONENT_STATUSES = frozenset(status.value for status in ComponentStatus)


def _component_notice(payload: ComponentPayload) -> ComponentNotice:
    change, component = payload.component_update, payload.component
    if change.component_id is not None and change.component_id != component.id:
        raise StatuspageShapeError(
            f"component_update.component_id {_shown(change.component_id)} is not component.id {_shown(component.id)}"
        )
    return ComponentNotice(
        component_id=component.id, name=component.name.strip() or component.id, status=change.new_status, at=change.created_at
    )


# ---- reasons ----


def _validate(model: type[_Wire], payload: dict[str, Any]) -> Any:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise StatuspageShapeError(_reason(error.errors(include_url=False)[0])) from None


_ENUM_WORDS = {"status": "a Statuspage status", "impact": "a Statuspage impact", "new_status": "a Statuspage component status"}
_TYPE_WORDS = {
    "string_type": "a string",
    "list_type": "a list",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "timestamp": "a timestamp",
}


def _reason(error: Any) -> str:
    """One pydantic error as a sentence: where, what was there, what was expected."""
    loc = tuple(error.get("loc", ()))
    where, kind, value = _location(loc), error.get("type", ""), error.get("input")
    if kind == "missing":
        return f"{where} is missing"
    if kind == "string_too_short":
        return f"{where} is empty"
    if kind == "enum":
        return _not(where, value, _ENUM_WORDS.get(str(loc[-1]) if loc else "", "an allowed value"))
    if kind in _TYPE_WORDS:
        return _not(where, value, _TYPE_WORDS[kind])
    return f"{where}: {error.get('msg', 'not valid')}"


def _not(where: str, value: Any, what: str) -> str:
    if isinstance(value, str):
        return f"{where} {_shown(value)} is not {what}"
    return f"{where} is {_kind_of(value)}, not {what}"


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the notification"


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
