"""The on-call configuration as the domain sees it: agents and the schedule, read in one Query.

Changes are validated against the whole configuration before they are written, so a
rotation never names an agent that does not exist and an agent in use is not removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any

from ulid import ULID

from switchboard.oncall.agents import agent_document, agent_from_item
from switchboard.oncall.policy import DEFAULT_POLICY, EscalationPolicy, validate_policy
from switchboard.oncall.schedule import (
    AfterHoursMode,
    Agent,
    Override,
    Rotation,
    Schedule,
    ScheduleError,
    on_call_at,
    validate,
)
from switchboard.store.oncall import AgentPhoneTaken, OncallStore

AGENT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
DEFAULT_TIME_ZONE = "UTC"


class ConfigError(ValueError):
    """The change would leave the on-call configuration unusable; the message says why."""


@dataclass(frozen=True)
class OncallConfig:
    agents: dict[str, Agent]
    schedule: Schedule
    policy: EscalationPolicy = DEFAULT_POLICY


def load_config(store: OncallStore) -> OncallConfig:
    agents: dict[str, Agent] = {}
    schedule = Schedule(time_zone=DEFAULT_TIME_ZONE)
    overrides: list[Override] = []
    policy = DEFAULT_POLICY
    for item in store.load():
        if item["type"] == "agent":
            agents[item["agent_id"]] = agent_from_item(item)
        elif item["type"] == "schedule":
            schedule = _schedule(item)
        elif item["type"] == "override":
            overrides.append(_override(item))
        elif item["type"] == "policy":
            policy = EscalationPolicy.from_document(item["policy"])
    # Overrides in the order they were added (their ids are ULIDs): the newest wins.
    overrides.sort(key=lambda override: override.override_id)
    return OncallConfig(agents, replace(schedule, overrides=tuple(overrides)), policy)


def on_call_now(store: OncallStore, at: datetime) -> str | None:
    """The agent the schedule has on call at `at` (overrides included), or None."""
    return on_call_at(load_config(store).schedule, at).agent_id


def agent_id_for(name: str) -> str:
    """A readable id from a name: "Ana María" → "ana-maria"."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:32]
    return slug or "agent"


def add_agent(store: OncallStore, config: OncallConfig, agent: Agent, now: datetime) -> Agent:
    """Add or update an agent (same id: update). Phone numbers are unique among agents."""
    if not AGENT_ID.fullmatch(agent.agent_id):
        raise ConfigError(f"agent id {agent.agent_id!r} must be lower-case letters, digits and dashes (at most 32)")
    if not agent.name.strip():
        raise ConfigError("an agent needs a name")
    for other in config.agents.values():
        if other.phone == agent.phone and other.agent_id != agent.agent_id:
            raise ConfigError(f"{agent.phone} is already the phone of agent {other.agent_id}")
    previous = config.agents.get(agent.agent_id)
    # A new agent's access starts now: links issued to someone removed under the same id stay void.
    agent = replace(agent, access_since=previous.access_since if previous else now)
    try:
        store.put_agent(agent_document(agent), previous.phone if previous else None)
    except AgentPhoneTaken:
        raise ConfigError(f"{agent.phone} is already the phone of another agent") from None
    return agent


def sign_out_everywhere(store: OncallStore, config: OncallConfig, agent_id: str, now: datetime) -> Agent:
    """Void every link, sign-in link and session issued to the agent so far (a lost phone)."""
    agent = config.agents.get(agent_id)
    if agent is None:
        raise ConfigError(f"no agent {agent_id!r}; agents: {', '.join(sorted(config.agents)) or 'none yet'}")
    signed_out = replace(agent, access_since=now)
    store.put_agent(agent_document(signed_out), agent.phone)
    return signed_out


def remove_agent(store: OncallStore, config: OncallConfig, agent_id: str, now: datetime) -> Agent:
    agent = config.agents.get(agent_id)
    if agent is None:
        raise ConfigError(f"no agent {agent_id!r}; agents: {', '.join(sorted(config.agents)) or 'none yet'}")
    rotation = config.schedule.rotation
    if rotation and agent_id in rotation.agent_ids:
        raise ConfigError(f"{agent_id} is in the rotation; set a rotation without them first")
    current = [o.override_id for o in config.schedule.overrides if o.agent_id == agent_id and o.ends_at > now]
    if current:
        raise ConfigError(f"{agent_id} has current or future overrides ({', '.join(current)}); remove them first")
    store.delete_agent(agent_id, agent.phone)
    return agent


def set_rotation(
    store: OncallStore,
    config: OncallConfig,
    *,
    agent_ids: tuple[str, ...],
    handoff_time: time,
    length_days: int,
    starts_on: date,
    time_zone: str | None = None,
    business_hours: str | None = None,
    after_hours: AfterHoursMode | None = None,
) -> Schedule:
    current = config.schedule
    schedule = replace(
        current,
        rotation=Rotation(tuple(agent_ids), handoff_time, length_days, starts_on),
        time_zone=time_zone or current.time_zone,
        business_hours=business_hours if business_hours is not None else current.business_hours,
        after_hours=after_hours or current.after_hours,
    )
    _check(schedule, config.agents)
    store.put_schedule(_schedule_document(schedule))
    return schedule


def add_override(
    store: OncallStore, config: OncallConfig, agent_id: str, starts_at: datetime, ends_at: datetime, note: str | None
) -> Override:
    override = Override(str(ULID()), agent_id, starts_at, ends_at, note or None)
    _check(replace(config.schedule, overrides=(*config.schedule.overrides, override)), config.agents)
    store.put_override(_override_document(override))
    return override


def set_policy(store: OncallStore, config: OncallConfig, policy: EscalationPolicy) -> EscalationPolicy:
    """The policy new pages take; open pages keep the one frozen onto them."""
    problems = validate_policy(policy, set(config.agents))
    if problems:
        raise ConfigError("; ".join(problems))
    store.put_policy(policy.to_document())
    return policy


def remove_override(store: OncallStore, override_id: str) -> None:
    if not store.delete_override(override_id):
        raise ConfigError(f"no override {override_id!r} (see `switchboard oncall show`)")


def _check(schedule: Schedule, agents: dict[str, Agent]) -> None:
    try:
        problems = validate(schedule, agents)
    except ScheduleError as error:
        problems = [str(error)]
    if problems:
        raise ConfigError("; ".join(problems))


# ---- documents ------------------------------------------------------------------------


def _schedule_document(schedule: Schedule) -> dict[str, Any]:
    rotation = schedule.rotation
    document: dict[str, Any] = {
        "time_zone": schedule.time_zone,
        "business_hours": schedule.business_hours,
        "after_hours": schedule.after_hours.value,
    }
    if rotation:
        document["rotation"] = {
            "agent_ids": list(rotation.agent_ids),
            "handoff_time": rotation.handoff_time.isoformat(timespec="minutes"),
            "length_days": rotation.length_days,
            "starts_on": rotation.starts_on.isoformat(),
        }
    return document


def _schedule(item: dict[str, Any]) -> Schedule:
    rotation = item.get("rotation")
    return Schedule(
        time_zone=item["time_zone"],
        rotation=Rotation(
            tuple(rotation["agent_ids"]),
            time.fromisoformat(rotation["handoff_time"]),
            int(rotation["length_days"]),
            date.fromisoformat(rotation["starts_on"]),
        )
        if rotation
        else None,
        business_hours=item.get("business_hours", Schedule.business_hours),
        after_hours=AfterHoursMode(item.get("after_hours", AfterHoursMode.PAGE.value)),
    )


def _override_document(override: Override) -> dict[str, Any]:
    return {
        "override_id": override.override_id,
        "agent_id": override.agent_id,
        "starts_at": override.starts_at.isoformat(),
        "ends_at": override.ends_at.isoformat(),
        "note": override.note,
    }


def _override(item: dict[str, Any]) -> Override:
    return Override(
        item["override_id"],
        item["agent_id"],
        datetime.fromisoformat(item["starts_at"]),
        datetime.fromisoformat(item["ends_at"]),
        item.get("note"),
    )
