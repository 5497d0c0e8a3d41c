"""Incidents and components: what the status page shows and notices are made from.

An incident is one item holding its whole timeline (a few dozen updates at most, far
below DynamoDB's 400 KB), so the status page is two Queries: components, and incidents
newest first. Both live in one partition each: a status page has tens of components
and a few thousand incidents over its life, well inside one partition's limits.

Saving is optimistic: each incident carries a version, and a write that lost a race
is retried on the fresh item by the caller's rule (`retry_conflicts`). An update that
notifies writes its fan-out job in the same transaction (store/notices.py), so an
incident never announces an update that is not fanned out, nor twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

from botocore.exceptions import ClientError
from ulid import ULID

from switchboard.incident_model import Component, ComponentStatus, Incident, from_document, to_document
from switchboard.models import iso_utc
from switchboard.store import keys
from switchboard.store.dynamo import batch_get, cancellation_codes, from_item, is_transaction_cancelled, query_items, to_item, to_values


class IncidentConflict(RuntimeError):
    """The incident changed since it was read; read it again and retry."""


class IncidentStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ---- incidents ----

    def get(self, incident_id: str) -> Incident | None:
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.incident_key(incident_id)), ConsistentRead=True).get("Item")
        return incident_from_item(from_item(item)) if item else None

    def find_claimed(self, namespace: str, claimed_id: str) -> Incident | None:
        """An incident by an id it claimed: Statuspage's incident id, a request's idempotency key."""
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.provider_key(namespace, claimed_id)), ConsistentRead=True).get("Item")
        return self.get(from_item(item)["incident_id"]) if item else None

    def list(self, since: datetime | None = None) -> list[Incident]:
        """Incidents newest first; with `since`, those created after it plus every open one.

        Two Queries whatever the history's length: the ids are ULIDs of the start time,
        so "since" is a sort-key range, and older incidents still open are found through
        their pointers in the small open-incidents partition.
        """
        lowest = keys.INCIDENT_PREFIX + (_lowest_id_at(since) if since else "")
        recent = {incident.incident_id: incident for incident in self._query(keys.INCIDENTS_PK, lowest)}
        if since is not None:
            open_ids = [item["incident_id"] for item in self._query_items(keys.OPEN_INCIDENTS_PK, keys.INCIDENT_PREFIX)]
            older = [keys.incident_key(incident_id) for incident_id in open_ids if incident_id not in recent]
            for item in batch_get(self._client, self._table, older, None, True):
                incident = incident_from_item(item)
                recent[incident.incident_id] = incident
        return sorted(recent.values(), key=lambda incident: incident.incident_id, reverse=True)

    def _query(self, pk: str, lowest_sk: str) -> Iterator[Incident]:
        for values in self._query_items(pk, lowest_sk):
            yield incident_from_item(values)

    def _query_items(self, pk: str, lowest_sk: str) -> Iterator[dict[str, Any]]:
        yield from query_items(
            self._client,
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lowest AND :highest",
            ExpressionAttributeValues=to_values({":pk": pk, ":lowest": lowest_sk, ":highest": keys.INCIDENT_PREFIX + "~"}),
            ScanIndexForward=False,
        )

    def save(
        self, incident: Incident, expected_version: int | None, extra_writes: list[dict[str, Any]] = (), claim: tuple[str, str] | None = None
    ) -> int:
        """Write the incident if nobody else did since `expected_version` (None: it is new).

        `extra_writes` (TransactWriteItems entries) commit with it or not at all: the
        fan-out job of an update that notifies. A new incident may `claim` an id
        (namespace, id) no other incident may take: Statuspage's id, a request's key.
        """
        version = (expected_version or 0) + 1
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": to_item({**incident_to_item(incident), "version": version}),
        }
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :expected"
            put["ExpressionAttributeValues"] = to_values({":expected": expected_version})
        # The open-incidents partition points at every open incident (list() finds old ones there).
        pointer = keys.open_incident_key(incident.incident_id)
        if incident.is_open:
            track = {"Put": {"TableName": self._table, "Item": to_item({**pointer, "type": "open_incident", "incident_id": incident.incident_id})}}
        else:
            track = {"Delete": {"TableName": self._table, "Key": to_item(pointer)}}
        writes = [{"Put": put}, track, *extra_writes]
        if claim and expected_version is None:
            writes.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item({**keys.provider_key(*claim), "type": "claim", "incident_id": incident.incident_id}),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if is_transaction_cancelled(error) and "ConditionalCheckFailed" in cancellation_codes(error):
                raise IncidentConflict(incident.incident_id) from error
            raise
        return version

    def get_versioned(self, incident_id: str) -> tuple[Incident, int] | None:
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.incident_key(incident_id)), ConsistentRead=True).get("Item")
        if not item:
            return None
        values = from_item(item)
        return incident_from_item(values), int(values.get("version", 1))

    # ---- components ----

    def components(self) -> list[Component]:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_values({":pk": keys.COMPONENTS_PK}),
            ConsistentRead=True,
        )
        found = [component_from_item(from_item(item)) for item in response["Items"]]
        return sorted(found, key=lambda component: (component.position, component.name.lower()))

    def put_component(self, component: Component) -> None:
        self._client.put_item(TableName=self._table, Item=to_item(component_to_item(component)))

    def remove_component(self, component_id: str) -> bool:
        response = self._client.delete_item(TableName=self._table, Key=to_item(keys.component_key(component_id)), ReturnValues="ALL_OLD")
        return "Attributes" in response

    def set_component_status(self, component_id: str, status: ComponentStatus, at: datetime, name: str | None = None) -> None:
        """Record a component's status; an older report never overwrites a newer one."""
        values = {":status": status.value, ":at": iso_utc(at), ":name": name or component_id}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item(keys.component_key(component_id)),
                UpdateExpression="SET #status = :status, updated_at = :at, #name = if_not_exists(#name, :name), component_id = if_not_exists(component_id, :id), #type = :type",
                ConditionExpression="attribute_not_exists(updated_at) OR updated_at <= :at",
                ExpressionAttributeNames={"#status": "status", "#name": "name", "#type": "type"},
                ExpressionAttributeValues=to_values({**values, ":id": component_id, ":type": "component"}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _lowest_id_at(moment: datetime) -> str:
    """The smallest ULID of that millisecond: ids at or after it sort at or after this."""
    return str(ULID.from_datetime(moment))[:10] + "0" * 16


def new_incident_id(at: datetime) -> str:
    """A ULID of the incident's start: ids sort by time, so listings need no index."""
    return str(ULID.from_datetime(at))


def incident_to_item(incident: Incident) -> dict[str, Any]:
    """The item: the model's own document (incident_model.to_document), plus the key."""
    document = to_document(incident)
    return {**keys.incident_key(incident.incident_id), "type": "incident", "incident_id": document.pop("id"), **document}


def incident_from_item(values: dict[str, Any]) -> Incident:
    return from_document({**values, "id": values["incident_id"]})


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def component_to_item(component: Component) -> dict[str, Any]:
    return {
        **keys.component_key(component.component_id),
        "type": "component",
        "component_id": component.component_id,
        "name": component.name,
        "status": component.status.value,
        "description": component.description,
        "position": component.position,
        "updated_at": iso_utc(component.updated_at) if component.updated_at else None,
    }


def component_from_item(values: dict[str, Any]) -> Component:
    return Component(
        component_id=values["component_id"],
        name=values.get("name") or values["component_id"],
        status=ComponentStatus(values.get("status", "operational")),
        description=values.get("description", ""),
        position=int(values.get("position", 0)),
        updated_at=_time(values.get("updated_at")),
    )
