"""An agent: who can be on call, and how their item reads. Light on purpose: the agents'
pages (agent_pages/access.py) check who holds a link with it, without the schedule's code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switchboard.models import iso_utc
from switchboard.store.oncall import OncallStore


@dataclass(frozen=True)
class Agent:
    agent_id: str  # slug: ^[a-z0-9][a-z0-9-]{0,31}$
    name: str
    phone: str  # E.164, already normalized by the caller
    email: str | None = None
    # Links, sign-in links and sessions issued before this are void (added, or signed out
    # everywhere); None: all of theirs count (an agent added before there were any).
    access_since: datetime | None = None


def get_agent(store: OncallStore, agent_id: str) -> Agent | None:
    """One agent (one GetItem): the sender of an SMS command, the holder of a link."""
    item = store.get_agent(agent_id)
    return agent_from_item(item) if item else None


def agent_from_item(item: dict[str, Any]) -> Agent:
    since = item.get("access_since")
    return Agent(item["agent_id"], item["name"], item["phone"], item.get("email"), datetime.fromisoformat(since) if since else None)


def agent_document(agent: Agent) -> dict[str, Any]:
    document = {"agent_id": agent.agent_id, "name": agent.name, "phone": agent.phone, "email": agent.email}
    if agent.access_since is not None:
        document["access_since"] = iso_utc(agent.access_since)
    return document
