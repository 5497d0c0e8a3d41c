"""Calls being put through to a person (oncall/live_calls.py): one item per call, keyed by
the caller's CallSid, holding whom the hunt rings in order, each attempt (the agent, when
their phone rang, their leg's sid, how it ended) and who accepted.

Twilio's callbacks for a call may repeat, and arrive late: every write is idempotent
(an attempt is set once, an acceptance is conditional), so a repeat changes nothing and
reads the same state back. Items expire a week after the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from switchboard.models import iso_utc
from switchboard.store import keys
from switchboard.store.dynamo import from_item, to_item, to_values, update_if

KEPT_FOR = timedelta(days=7)


@dataclass(frozen=True)
class Attempt:
    agent_id: str
    dialed_at: datetime
    picked_up_at: datetime | None = None  # the agent's phone answered: screening began
    outcome: str | None = None  # accepted, declined, no-answer, busy, failed (None: still ringing)
    leg_sid: str | None = None  # the agent's leg (Twilio's DialCallSid)
    talk_seconds: int | None = None  # accepted: how long the two spoke


@dataclass(frozen=True)
class LiveCall:
    call_sid: str
    caller: str  # E.164, or withheld:<CallSid>
    called: str
    started_at: datetime
    hunt: tuple[str, ...]  # agent ids, in the order they are rung
    attempts: dict[int, Attempt]  # by attempt number, from 1
    accepted_by: str | None = None
    accepted_at: datetime | None = None

    @property
    def accepted_attempt(self) -> int | None:
        return next((n for n, attempt in self.attempts.items() if attempt.outcome == "accepted"), None)


class CallStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def start(self, call: LiveCall) -> LiveCall:
        """Store a new call; a repeated incoming webhook gets the call as first stored."""
        item = {
            **keys.call_key(call.call_sid), "type": "live_call", "call_sid": call.call_sid, "caller": call.caller, "called": call.called,
            "started_at": iso_utc(call.started_at), "hunt": list(call.hunt), "attempts": {},
            keys.TTL_ATTRIBUTE: int((call.started_at + KEPT_FOR).timestamp()),
        }
        try:
            self._client.put_item(TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            existing = self.get(call.call_sid)
            if existing is not None:
                return existing
            raise
        return call

    def get(self, call_sid: str) -> LiveCall | None:
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.call_key(call_sid)), ConsistentRead=True).get("Item")
        return _call(from_item(item)) if item else None

    def dialing(self, call_sid: str, number: int, agent_id: str, now: datetime) -> None:
        """Attempt `number` rings `agent_id`; set once (a repeated callback keeps the first time)."""
        self._client.update_item(
            TableName=self._table, Key=to_item(keys.call_key(call_sid)),
            UpdateExpression="SET attempts.#n = if_not_exists(attempts.#n, :attempt)",
            ExpressionAttributeNames={"#n": str(number)},
            ExpressionAttributeValues=to_values({":attempt": {"agent_id": agent_id, "dialed_at": iso_utc(now)}}),
            ConditionExpression="attribute_exists(pk)",
        )

    def picked_up(self, call_sid: str, number: int, now: datetime) -> None:
        self._set_once(call_sid, number, "picked_up_at", iso_utc(now))

    def accept(self, call_sid: str, number: int, agent_id: str, now: datetime) -> bool:
        """The agent of attempt `number` accepted; False when someone else had (nothing written)."""
        return update_if(
            self._client, TableName=self._table, Key=to_item(keys.call_key(call_sid)),
            UpdateExpression="SET accepted_by = :agent, accepted_at = if_not_exists(accepted_at, :now), attempts.#n.outcome = :accepted",
            ConditionExpression="attribute_exists(attempts.#n) AND (attribute_not_exists(accepted_by) OR accepted_by = :agent)",
            ExpressionAttributeNames={"#n": str(number)},
            ExpressionAttributeValues=to_values({":agent": agent_id, ":now": iso_utc(now), ":accepted": "accepted"}),
        )

    def attempt_ended(self, call_sid: str, number: int, outcome: str, leg_sid: str | None, talk_seconds: int | None) -> None:
        """How attempt `number` ended; an accepted attempt keeps "accepted" (and gets its talk time)."""
        fields = {"outcome": outcome, **({"leg_sid": leg_sid} if leg_sid else {}), **({"talk_seconds": talk_seconds} if talk_seconds is not None else {})}
        names = {"#n": str(number), **{f"#{name}": name for name in fields}}
        sets = ", ".join(
            f"attempts.#n.#{name} = " + ("if_not_exists(attempts.#n.#outcome, :outcome)" if name == "outcome" else f":{name}")
            for name in fields
        )
        update_if(
            self._client, TableName=self._table, Key=to_item(keys.call_key(call_sid)), UpdateExpression=f"SET {sets}",
            ConditionExpression="attribute_exists(attempts.#n)", ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_values({f":{name}": value for name, value in fields.items()}),
        )

    def _set_once(self, call_sid: str, number: int, name: str, value: Any) -> None:
        update_if(
            self._client, TableName=self._table, Key=to_item(keys.call_key(call_sid)),
            UpdateExpression="SET attempts.#n.#field = if_not_exists(attempts.#n.#field, :value)",
            ConditionExpression="attribute_exists(attempts.#n)",
            ExpressionAttributeNames={"#n": str(number), "#field": name}, ExpressionAttributeValues=to_values({":value": value}),
        )


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(timezone.utc) if text else None


def _call(values: dict[str, Any]) -> LiveCall:
    attempts = {
        int(number): Attempt(
            agent_id=attempt["agent_id"], dialed_at=_moment(attempt["dialed_at"]), picked_up_at=_moment(attempt.get("picked_up_at")),
            outcome=attempt.get("outcome"), leg_sid=attempt.get("leg_sid"),
            talk_seconds=int(attempt["talk_seconds"]) if attempt.get("talk_seconds") is not None else None,
        )
        for number, attempt in (values.get("attempts") or {}).items()
    }
    return LiveCall(
        call_sid=values["call_sid"], caller=values["caller"], called=values["called"], started_at=_moment(values["started_at"]),
        hunt=tuple(values.get("hunt") or ()), attempts=attempts, accepted_by=values.get("accepted_by"), accepted_at=_moment(values.get("accepted_at")),
    )
