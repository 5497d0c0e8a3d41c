"""Opening, updating and resolving incidents, from the CLI, the API or Statuspage.

Every change is read, applied by the pure model, and written back with a version check
(retried when it lost a race). An update that asks to notify writes its fan-out job in
the same transaction, and the job's key is the update's id: a retried request, a
repeated Statuspage delivery or a double click never notifies twice. (Whether the
update does notify, by the NOTIFY_UPDATES policy, the fan-out decides.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from switchboard.incident_model import (
    CLOSED_STATUSES,
    Component,
    ComponentStatus,
    Impact,
    Incident,
    IncidentError,
    IncidentKind,
    IncidentUpdate,
    UpdateStatus,
    add_update,
    open_incident,
)
from switchboard.plain_text import one_line
from switchboard.store.incidents import IncidentConflict, IncidentStore, new_incident_id
from switchboard.store.notices import NoticeStore

if TYPE_CHECKING:  # the parser loads pydantic: only the Statuspage webhook needs it at run time
    from switchboard.incidents.statuspage import IncidentNotice

# The same status and words again this soon after the last update is a double click.
REPEAT_WINDOW = timedelta(minutes=10)
STATUSPAGE = "statuspage"  # claims of Statuspage's incident ids
REQUEST = "incident-request"  # claims of API requests' idempotency keys


@dataclass(frozen=True)
class Change:
    incident: Incident
    added: tuple[IncidentUpdate, ...]  # updates this change added (none: nothing new)
    notifying: tuple[str, ...]  # ids of the added updates that fan out notices


class IncidentDesk:
    def __init__(self, incidents: IncidentStore, notices: NoticeStore) -> None:
        self._incidents = incidents
        self._notices = notices
        self._components: set[str] | None = None  # component ids, read once when needed

    # ---- our own incidents ----

    def open(
        self,
        title: str,
        impact: Impact,
        components: tuple[str, ...],
        body: str,
        now: datetime,
        status: UpdateStatus | None = None,
        kind: IncidentKind = IncidentKind.INCIDENT,
        window: tuple[datetime, datetime] | None = None,
        notify: bool = True,
        request_id: str | None = None,
    ) -> Change:
        """Open an incident or schedule a maintenance; `request_id` makes a retried request a no-op."""
        self._check_components(components)
        status = status or (UpdateStatus.SCHEDULED if kind is IncidentKind.MAINTENANCE else UpdateStatus.INVESTIGATING)
        claim = (REQUEST, request_id) if request_id else None
        if claim and (existing := self._incidents.find_claimed(*claim)):
            return Change(existing, (), ())
        incident_id = new_incident_id(now)
        first = IncidentUpdate(update_id=f"{incident_id}-1", status=status, body=body, created_at=now, notify=notify)
        incident = open_incident(incident_id, title, impact, components, first, kind, *(window or (None, None)))
        try:
            return self._save(incident, None, incident.updates, claim)
        except IncidentConflict:  # the same request, saved by a concurrent attempt
            if claim and (existing := self._incidents.find_claimed(*claim)):
                return Change(existing, (), ())
            raise

    def update(
        self,
        incident_id: str,
        status: UpdateStatus,
        body: str,
        now: datetime,
        notify: bool = True,
        update_id: str | None = None,
        affected: dict[str, ComponentStatus] | None = None,
    ) -> Change:
        def change(incident: Incident) -> Incident:
            if incident.updates:
                latest = incident.updates[-1]
                if update_id is None and latest.status is status and latest.body.strip() == body.strip() and now - latest.created_at < REPEAT_WINDOW:
                    return incident  # a double click
            if not body.strip():
                raise IncidentError("an update needs a message for customers")
            self._check_components(tuple(affected or ()))
            new_id = update_id or f"{incident_id}-{len(incident.updates) + 1}"
            return add_update(incident, IncidentUpdate(new_id, status, body, now, notify, dict(affected or {})))

        return self._change(incident_id, change)

    def resolve(self, incident_id: str, body: str, now: datetime, notify: bool = True) -> Change:
        current = self._incidents.get(incident_id)
        if current is None:
            raise IncidentError(f"no incident {incident_id}")
        final = UpdateStatus.COMPLETED if current.kind is IncidentKind.MAINTENANCE else UpdateStatus.RESOLVED
        if current.status in CLOSED_STATUSES:
            return Change(current, (), ())
        text = body.strip() or ("The maintenance is complete." if final is UpdateStatus.COMPLETED else "This incident has been resolved.")
        return self.update(incident_id, final, text, now, notify)

    # ---- Statuspage ----

    def ingest(self, notice: IncidentNotice) -> Change:
        """Apply a Statuspage incident notification."""
        for component_id in notice.components:
            if component_id not in self._known_components():
                self._incidents.put_component(Component(component_id, notice.component_names.get(component_id, component_id), updated_at=notice.created_at))
                self._components = None
        existing = self._incidents.find_claimed(STATUSPAGE, notice.source_id)
        updates = _latest_notifies(notice.updates, existing)
        if existing is None:
            first, *rest = updates or (None,)
            if first is None:
                raise IncidentError("the Statuspage incident has no updates")
            incident = open_incident(
                new_incident_id(notice.created_at), notice.title, notice.impact, notice.components, first, notice.kind,
                notice.scheduled_for, notice.scheduled_until, source=STATUSPAGE, source_id=notice.source_id,
            )
            incident = replace(incident, shortlink=notice.shortlink)
            for update in rest:
                incident = add_update(incident, update)
            try:
                return self._save(incident, None, incident.updates, (STATUSPAGE, notice.source_id))
            except IncidentConflict:  # a concurrent delivery of the same incident created it
                existing = self._incidents.find_claimed(STATUSPAGE, notice.source_id)
                if existing is None:
                    raise

        def change(incident: Incident) -> Incident:
            changed = replace(incident, title=one_line(notice.title) or incident.title, impact=notice.impact, components=notice.components or incident.components, shortlink=notice.shortlink or incident.shortlink,
                              scheduled_for=notice.scheduled_for or incident.scheduled_for, scheduled_until=notice.scheduled_until or incident.scheduled_until)
            for update in updates:
                changed = add_update(changed, update)
            return changed

        return self._change(existing.incident_id, change)

    def set_component(self, component_id: str, status: ComponentStatus, at: datetime, name: str | None = None) -> None:
        self._incidents.set_component_status(component_id, status, at, name)

    # ---- internals ----

    def _known_components(self) -> set[str]:
        if self._components is None:
            self._components = {component.component_id for component in self._incidents.components()}
        return self._components

    def _check_components(self, components: tuple[str, ...]) -> None:
        unknown = [component for component in components if component not in self._known_components()]
        if unknown:
            known = ", ".join(sorted(self._known_components())) or "none yet: add one with `switchboard components add`"
            raise IncidentError(f"unknown component {', '.join(unknown)}; known components: {known}")

    def _change(self, incident_id: str, change: Any, attempts: int = 8) -> Change:
        for _ in range(attempts):
            found = self._incidents.get_versioned(incident_id)
            if found is None:
                raise IncidentError(f"no incident {incident_id}")
            incident, version = found
            changed = change(incident)
            added = tuple(update for update in changed.updates if not incident.has_update(update.update_id))
            if not added and changed == incident:
                return Change(incident, (), ())
            try:
                return self._save(changed, version, added)
            except IncidentConflict:
                continue
        raise IncidentConflict(incident_id)

    def _save(self, incident: Incident, version: int | None, added: tuple[IncidentUpdate, ...], claim: tuple[str, str] | None = None) -> Change:
        # The fan-out applies the notify policy (its function's setting); here only the ask counts.
        notifying = tuple(update.update_id for update in added if update.notify and update.body.strip())
        jobs = [self._notices.job_write(incident.incident_id, update_id, incident.updated_at) for update_id in notifying]
        self._incidents.save(incident, version, jobs, claim)
        for update in added:
            for component_id, status in update.affected.items():
                self._incidents.set_component_status(component_id, status, update.created_at)
        return Change(incident, added, notifying)


def _latest_notifies(updates: tuple[IncidentUpdate, ...], known: Incident | None) -> tuple[IncidentUpdate, ...]:
    """Statuspage sends the whole timeline each time: of the updates new to us, only the
    latest may notify. The others (missed deliveries, or history from before we
    subscribed) go on the page without a burst of stale notices."""
    new = [update for update in updates if known is None or not known.has_update(update.update_id)]
    latest = max(new, key=lambda update: (update.created_at, update.update_id), default=None)
    return tuple(update if update is latest or not update.notify else replace(update, notify=False) for update in updates)
