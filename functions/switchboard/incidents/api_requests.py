"""The incidents API's request bodies (handlers/incidents_api.py), validated by pydantic:
400 with the first reason. Imported by the POST routes only: pydantic's import (~50 ms)
is not paid by a cold start that lists or shows incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from switchboard.incident_model import ComponentStatus, Impact, IncidentKind, UpdateStatus


class BadRequest(ValueError):
    """The body does not fit; the message says where and why."""


class OpenIncident(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=5000)
    impact: Impact = Impact.MINOR
    components: list[str] = Field(default_factory=list, max_length=50)
    status: UpdateStatus | None = None
    kind: IncidentKind = IncidentKind.INCIDENT
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    notify: bool = True


class AddUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: UpdateStatus
    message: str = Field(min_length=1, max_length=5000)
    notify: bool = True
    affected: dict[str, ComponentStatus] = Field(default_factory=dict)


class Resolve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(default="", max_length=5000)
    notify: bool = True


def parsed(model: type[BaseModel], document: Any) -> Any:
    """The body as `model`, or BadRequest naming the first field that does not fit."""
    try:
        return model.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequest(f"{where}: {first['msg']}") from None
