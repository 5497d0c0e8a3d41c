"""Pages, the short codes agents answer them by, and the index of pages due for escalation.

A conversation has at most one live page. While it is open it sits in the sparse
`ByDue` index under its next escalation time, so the escalation tick finds the pages
due now with one Query (never a Scan); an ACK, a reply or a resolve takes it out.
Every change is a conditional write on the page's current state, so two ticks at
once, or a retried one, never move a page twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Iterator

from botocore.exceptions import ClientError

from switchboard.models import iso_utc
from switchboard.store import keys
from switchboard.store.dynamo import (
    batch_get,
    cancellation_codes,
    from_item,
    is_transaction_cancelled,
    query_items,
    retry_conflicts,
    to_item,
    to_values,
    update_if,
)


class PageStatus:
    OPEN = "open"  # paged, nobody has answered: escalates when due
    ACKED = "acked"  # an agent claimed it: no escalation
    ANSWERED = "answered"  # an agent replied: the conversation waits on the customer
    RESOLVED = "resolved"
    FAILED = "failed"  # every level tried, nobody reached (kept for the report)
    SNOOZED = "snoozed"  # an agent said LATER: due again at next_escalation_at, from the first level


# Short codes: digits an agent types by thumb; longer ones only when the shorter are crowded.
CODE_LENGTHS = (4, 5, 6)
DRAWS_PER_LENGTH = 8
# A resolved conversation's code names it this long before another conversation may get
# it, so an agent answering an old page never reaches a stranger.
CODE_REST = timedelta(days=7)


class _Lease(Enum):
    LEASED = "leased"
    TAKEN = "taken"  # the code belongs to another conversation: draw again
    RACED = "raced"  # the conversation got a code meanwhile: use that one


def _rested(code_item: dict[str, Any], now: datetime) -> bool:
    released = code_item.get("released_at")
    return bool(released) and datetime.fromisoformat(released) <= now - CODE_REST


# A customer message on a conversation whose page is in one of these states opens a new
# page (a snoozed one wakes at once).
REOPENABLE = (PageStatus.ANSWERED, PageStatus.RESOLVED, PageStatus.FAILED, PageStatus.SNOOZED)


@dataclass(frozen=True)
class Page:
    conversation_id: str
    code: str
    status: str
    opened_at: datetime
    round: int
    level: int
    recipients: tuple[str, ...]
    next_escalation_at: datetime | None
    policy: dict[str, Any]  # frozen when the page opened: later policy edits never change it
    acked_by: str | None = None
    # Everyone this page was sent to at any level, and whoever took it over: who may act on it.
    agents: frozenset[str] = frozenset()
    snoozed_at: datetime | None = None  # when an agent last said LATER
    follow_up: bool = False  # woken from a snooze: a promised follow-up (the report counts it)
    # When each agent was last paged about it: who hears that it was answered (oncall/answered.py).
    paged_at: dict[str, datetime] = field(default_factory=dict)

    def paged_to(self, agent_id: str) -> bool:
        """Whether the page reached the agent at any level, or they settled or took it over."""
        # recipients and acked_by also cover pages written before `agents` was kept.
        return agent_id in self.agents or agent_id in self.recipients or agent_id == self.acked_by


@dataclass(frozen=True)
class Opened:
    opened: bool
    undelivered: Page | None = None  # the live page, when it never reached its agents

    def __bool__(self) -> bool:
        return self.opened


class PageStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ---- short codes ----------------------------------------------------------------

    def code_for(self, conversation_id: str, now: datetime) -> str:
        """The conversation's short code ("4821"): kept while it has one, else leased at random.

        Codes are drawn from 4 digits (typed by thumb), then 5 or 6 when the shorter
        ones are crowded, so nobody can walk from one open conversation to the next.
        A code is never leased while its conversation holds it; a resolved
        conversation's code rests for CODE_REST before another conversation may get it.
        """
        held = self._held_code(conversation_id)
        if held and self._renew(held, conversation_id):
            return held
        for length in CODE_LENGTHS:
            for _ in range(DRAWS_PER_LENGTH):
                code = str(10 ** (length - 1) + secrets.randbelow(9 * 10 ** (length - 1)))
                leased = self._lease(code, conversation_id, held, now)
                if leased is _Lease.LEASED:
                    return code
                if leased is _Lease.RACED:  # another router leased one for it first
                    theirs = self._held_code(conversation_id)
                    if theirs is None or theirs == held:
                        raise LookupError(f"no conversation {conversation_id} to give a short code")
                    return theirs
        raise RuntimeError("every short code is in use: lengthen CODE_LENGTHS")

    def conversation_for_code(self, code: str) -> str | None:
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.short_code_key(code))).get("Item")
        return from_item(item)["conversation_id"] if item else None

    def release_code(self, conversation_id: str, now: datetime) -> bool:
        """The conversation was resolved: its code may go to another one after CODE_REST.

        Until then it still names this conversation, so an agent's late "4821 ACK" hears
        that it is resolved rather than acting on a stranger's conversation.
        """
        code = self._held_code(conversation_id)
        return bool(code) and update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.short_code_key(code)),
            UpdateExpression="SET released_at = :now",
            ConditionExpression="conversation_id = :conversation AND attribute_not_exists(released_at)",
            ExpressionAttributeValues=to_values({":now": iso_utc(now), ":conversation": conversation_id}),
        )

    def _held_code(self, conversation_id: str) -> str | None:
        conversation = self._client.get_item(
            TableName=self._table,
            Key=to_item(keys.conversation_key(conversation_id)),
            ProjectionExpression="short_code",
            ConsistentRead=True,
        ).get("Item")
        return conversation["short_code"]["S"] if conversation and "short_code" in conversation else None

    def _renew(self, code: str, conversation_id: str) -> bool:
        """Keep a conversation's code (a reopened conversation takes its released code back)."""
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.short_code_key(code)),
            UpdateExpression="REMOVE released_at",
            ConditionExpression="conversation_id = :conversation",
            ExpressionAttributeValues=to_values({":conversation": conversation_id}),
        )

    def _lease(self, code: str, conversation_id: str, held: str | None, now: datetime) -> "_Lease":
        """One attempt to give `code` to the conversation, in one transaction: the code
        item, the conversation's short_code, and the previous holder losing it."""
        current = self._client.get_item(
            TableName=self._table, Key=to_item(keys.short_code_key(code)), ConsistentRead=True
        ).get("Item")
        previous = from_item(current) if current else None
        if previous and not _rested(previous, now):
            return _Lease.TAKEN
        has_code = "short_code = :held" if held else "attribute_not_exists(short_code)"
        transaction: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(keys.conversation_key(conversation_id)),
                    "UpdateExpression": "SET short_code = :code",
                    "ConditionExpression": f"attribute_exists(pk) AND {has_code}",
                    "ExpressionAttributeValues": to_values({":code": code, **({":held": held} if held else {})}),
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {**keys.short_code_key(code), "type": "short_code", "conversation_id": conversation_id, "leased_at": iso_utc(now)}
                    ),
                    # Exactly the state read: nobody leased or renewed it meanwhile.
                    **(
                        {
                            "ConditionExpression": "conversation_id = :previous AND released_at = :released",
                            "ExpressionAttributeValues": to_values(
                                {":previous": previous["conversation_id"], ":released": previous["released_at"]}
                            ),
                        }
                        if previous
                        else {"ConditionExpression": "attribute_not_exists(pk)"}
                    ),
                }
            },
        ]
        if previous and self._held_code(previous["conversation_id"]) == code:
            transaction.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_item(keys.conversation_key(previous["conversation_id"])),
                        "UpdateExpression": "REMOVE short_code",
                        "ConditionExpression": "short_code = :code",
                        "ExpressionAttributeValues": to_values({":code": code}),
                    }
                }
            )
        try:
            retry_conflicts(lambda: self._client.transact_write_items(TransactItems=transaction))
        except ClientError as error:
            if not is_transaction_cancelled(error):
                raise
            reasons = cancellation_codes(error)
            return _Lease.RACED if reasons and reasons[0] == "ConditionalCheckFailed" else _Lease.TAKEN
        return _Lease.LEASED

    # ---- pages ----------------------------------------------------------------------

    def open_page(self, page: Page) -> "Opened":
        """Open a page unless the conversation already has a live one (open or acked).

        Falsy when a page is live: nothing written (a second message does not page
        again). Its `undelivered` is that live page when it was opened but never handed
        to its agents (the router failed between the two): deliver it now.
        """
        item = {**keys.page_key(page.conversation_id), "type": "page", **_document(page)}
        reopenable = {f":reopenable{n}": status for n, status in enumerate(REOPENABLE)}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression=f"attribute_not_exists(pk) OR #status IN ({', '.join(reopenable)})",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values(reopenable),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                old = from_item(error.response["Item"]) if error.response.get("Item") else {}
                stuck = old.get("status") == PageStatus.OPEN and "delivered_at" not in old
                return Opened(False, _page(old) if stuck else None)
            raise
        return Opened(True)

    def covered(self, conversation_id: str) -> bool:
        """A live page (open or acked) already covers the conversation and reached its
        agents: one read, and the message needs nothing more (open_page would refuse)."""
        item = self._client.get_item(
            TableName=self._table,
            Key=to_item(keys.page_key(conversation_id)),
            ProjectionExpression="#status, delivered_at",
            ExpressionAttributeNames={"#status": "status"},
            ConsistentRead=True,
        ).get("Item")
        values = from_item(item) if item else {}
        return values.get("status") in (PageStatus.OPEN, PageStatus.ACKED) and "delivered_at" in values

    def mark_delivered(self, conversation_id: str, now: datetime) -> None:
        """The page's first level was handed to its agents (paged or bundled)."""
        self._client.update_item(
            TableName=self._table,
            Key=to_item(keys.page_key(conversation_id)),
            UpdateExpression="SET delivered_at = if_not_exists(delivered_at, :now)",
            ExpressionAttributeValues=to_values({":now": iso_utc(now)}),
        )

    def get_page(self, conversation_id: str) -> Page | None:
        item = self._client.get_item(
            TableName=self._table, Key=to_item(keys.page_key(conversation_id)), ConsistentRead=True
        ).get("Item")
        return _page(from_item(item)) if item else None

    def get_pages(self, conversation_ids: list[str]) -> dict[str, Page]:
        """The pages of these conversations (BatchGetItem), by conversation id; those without one are absent."""
        items = batch_get(self._client, self._table, [keys.page_key(cid) for cid in dict.fromkeys(conversation_ids)], None, True)
        return {page.conversation_id: page for page in map(_page, items)}

    def due(self, now: datetime, limit: int = 500) -> Iterator[Page]:
        """Open pages whose next escalation time has come, oldest first (a Query on ByDue)."""
        for item in query_items(
            self._client,
            TableName=self._table,
            IndexName=keys.DUE_INDEX,
            KeyConditionExpression="due_pk = :due AND due_sk <= :now",
            ExpressionAttributeValues=to_values({":due": keys.DUE_PARTITION, ":now": keys.due_by(iso_utc(now))}),
            PaginationConfig={"MaxItems": limit},
        ):
            yield _page(item)

    def escalate(
        self, page: Page, round_: int, level: int, recipients: tuple[str, ...], next_escalation_at: datetime | None,
        paged_now: datetime | None = None,
    ) -> bool:
        """Move an open page from the step it was read at to the next one; False if
        anything moved it meanwhile (another tick, an ACK): then nothing is written.
        `paged_now`: the recipients were paged at that instant (kept in `paged_at`)."""
        values: dict[str, Any] = {
            ":open": PageStatus.OPEN,
            ":was_round": page.round,
            ":was_level": page.level,
            ":was_due": iso_utc(page.next_escalation_at) if page.next_escalation_at else "",
            ":round": round_,
            ":level": level,
            ":recipients": list(recipients),
        }
        sets, removes = ["#round = :round", "#level = :level", "recipients = :recipients"], []
        if next_escalation_at is None:
            sets.append("#status = :failed")
            removes = ["next_escalation_at", "due_pk", "due_sk"]
            values[":failed"] = PageStatus.FAILED
        else:
            sets += ["next_escalation_at = :next", "due_sk = :due_sk"]
            values[":next"] = iso_utc(next_escalation_at)
            values[":due_sk"] = keys.due_sort_key(iso_utc(next_escalation_at), page.conversation_id)
        if recipients and paged_now is not None:
            sets.append("paged_at = :paged_at")
            values[":paged_at"] = _paged_at(page.paged_at, recipients, paged_now)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        if recipients:
            expression += " ADD agents :paged"  # whoever was paged at any level may act on it
            values[":paged"] = set(recipients)
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.page_key(page.conversation_id)),
            UpdateExpression=expression,
            # The step and its due time as read: a held page released at its own step still
            # moves once, because its due time changes with it.
            ConditionExpression="#status = :open AND #round = :was_round AND #level = :was_level AND next_escalation_at = :was_due",
            ExpressionAttributeNames={"#status": "status", "#round": "round", "#level": "level"},
            ExpressionAttributeValues=to_values(values),
        )

    def expedite(self, conversation_id: str, now: datetime) -> bool:
        """Make an open page due now (its SMS could not be delivered): the next tick escalates it."""
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.page_key(conversation_id)),
            UpdateExpression="SET next_escalation_at = :now, due_sk = :due_sk",
            ConditionExpression="#status = :open",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_values(
                {":now": iso_utc(now), ":due_sk": keys.due_sort_key(iso_utc(now), conversation_id), ":open": PageStatus.OPEN}
            ),
        )

    def settle(self, conversation_id: str, status: str, agent_id: str | None, now: datetime) -> bool:
        """ACK, answer or resolve a live page: it leaves the due index; False if none is live.

        An answered page can still be resolved; nothing else moves a settled page. The
        agent who settled it may go on acting on it, on call or not. A snoozed page counts
        as live here: an answer or a resolution ends the snooze.
        """
        settled_from = [PageStatus.OPEN, PageStatus.ACKED, PageStatus.SNOOZED] + ([PageStatus.ANSWERED] if status == PageStatus.RESOLVED else [])
        placeholders = {f":from{i}": value for i, value in enumerate(settled_from)}
        expression = "SET #status = :status, settled_by = :agent, settled_at = :now REMOVE due_pk, due_sk, next_escalation_at"
        values = {":status": status, ":agent": agent_id, ":now": iso_utc(now), **placeholders}
        if agent_id:
            expression += " ADD agents :agents"
            values[":agents"] = {agent_id}
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.page_key(conversation_id)),
            UpdateExpression=expression,
            ConditionExpression=f"#status IN ({', '.join(placeholders)})",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_values(values),
        )

    def snooze(self, conversation_id: str, agent_id: str, until: datetime, now: datetime) -> Page | None:
        """An agent's LATER: the page is settled until `until`, when the escalation tick
        pages again from the first level (the ByDue index holds it under that time).

        Any page but a resolved one can be snoozed, and snoozed again to another time;
        returns the page as it was, or None when there is no page or it is resolved.
        """
        try:
            old = self._client.update_item(
                TableName=self._table,
                Key=to_item(keys.page_key(conversation_id)),
                UpdateExpression=(
                    "SET #status = :snoozed, settled_by = :agent, settled_at = :now, snoozed_at = :now,"
                    " next_escalation_at = :until, due_pk = :due_pk, due_sk = :due_sk ADD agents :agents"
                ),
                ConditionExpression="attribute_exists(pk) AND #status <> :resolved",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values({
                    ":snoozed": PageStatus.SNOOZED, ":resolved": PageStatus.RESOLVED, ":agent": agent_id, ":now": iso_utc(now),
                    ":until": iso_utc(until), ":due_pk": keys.DUE_PARTITION, ":due_sk": keys.due_sort_key(iso_utc(until), conversation_id),
                    ":agents": {agent_id},
                }),
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None
        return _page(from_item(old["Attributes"]))

    def follow_ups(self) -> list[Page]:
        """The follow-ups agents promised (LATER): snoozed pages, and woken ones nobody has
        acknowledged or answered yet (a Query on ByDue: only live pages are in it)."""
        return [
            _page(item)
            for item in query_items(
                self._client,
                TableName=self._table,
                IndexName=keys.DUE_INDEX,
                KeyConditionExpression="due_pk = :due",
                FilterExpression="#status = :snoozed OR (#status = :open AND follow_up = :true)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values({":due": keys.DUE_PARTITION, ":snoozed": PageStatus.SNOOZED, ":open": PageStatus.OPEN, ":true": True}),
            )
        ]

    def wake(
        self, page: Page, round_: int, level: int, recipients: tuple[str, ...], next_escalation_at: datetime,
        paged_now: datetime | None = None,
    ) -> bool:
        """A snoozed page whose time came, open again at the given step (its paging time,
        the snooze's end, keys its SMS); False when anything moved it meanwhile (a new
        message woke it, an answer, another tick): then nothing is written."""
        due = iso_utc(page.next_escalation_at) if page.next_escalation_at else ""
        values: dict[str, Any] = {
            ":open": PageStatus.OPEN, ":snoozed": PageStatus.SNOOZED, ":was_due": due, ":opened": due,
            ":round": round_, ":level": level, ":recipients": list(recipients),
            ":next": iso_utc(next_escalation_at), ":due_sk": keys.due_sort_key(iso_utc(next_escalation_at), page.conversation_id),
        }
        expression = (
            "SET #status = :open, #round = :round, #level = :level, recipients = :recipients, opened_at = :opened,"
            " next_escalation_at = :next, due_sk = :due_sk, follow_up = :true REMOVE settled_by, settled_at"
        )
        values[":true"] = True
        if recipients:
            expression = expression.replace(" REMOVE", ", paged_at = :paged_at REMOVE") + " ADD agents :paged"
            values[":paged"] = set(recipients)
            values[":paged_at"] = _paged_at(page.paged_at, recipients, paged_now or page.next_escalation_at or page.opened_at)
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.page_key(page.conversation_id)),
            UpdateExpression=expression,
            ConditionExpression="#status = :snoozed AND next_escalation_at = :was_due",
            ExpressionAttributeNames={"#status": "status", "#round": "round", "#level": "level"},
            ExpressionAttributeValues=to_values(values),
        )

    def take(self, conversation_id: str, agent_id: str, now: datetime) -> Page | None:
        """An agent takes the conversation over: they may act on it from now on, and a
        live page becomes theirs (acked: escalation stops). Returns the page as it was
        before, or None when the conversation was never paged (nothing is written)."""
        live = {":open": PageStatus.OPEN, ":acked": PageStatus.ACKED}
        try:
            old = self._client.update_item(
                TableName=self._table,
                Key=to_item(keys.page_key(conversation_id)),
                UpdateExpression=(
                    "SET #status = :acked, settled_by = :agent, settled_at = :now"
                    " REMOVE due_pk, due_sk, next_escalation_at ADD agents :agents"
                ),
                ConditionExpression="#status IN (:open, :acked)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values({**live, ":agent": agent_id, ":now": iso_utc(now), ":agents": {agent_id}}),
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            try:  # answered, resolved or failed: the state stays, the agent joins
                old = self._client.update_item(
                    TableName=self._table,
                    Key=to_item(keys.page_key(conversation_id)),
                    UpdateExpression="ADD agents :agents",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues=to_values({":agents": {agent_id}}),
                    ReturnValues="ALL_OLD",
                )
            except ClientError as missing:
                if missing.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                return None
        return _page(from_item(old["Attributes"]))

def _document(page: Page) -> dict[str, Any]:
    document: dict[str, Any] = {
        "conversation_id": page.conversation_id,
        "code": page.code,
        "status": page.status,
        "opened_at": iso_utc(page.opened_at),
        "round": page.round,
        "level": page.level,
        "recipients": list(page.recipients),
        "policy": page.policy,
        "acked_by": page.acked_by,
        "agents": set(page.recipients) | page.agents or None,  # a string set, never empty
        "paged_at": _paged_at(page.paged_at, page.recipients, page.opened_at) or None,
    }
    if page.next_escalation_at is not None and page.status == PageStatus.OPEN:
        document["next_escalation_at"] = iso_utc(page.next_escalation_at)
        document[keys.DUE_PK] = keys.DUE_PARTITION
        document[keys.DUE_SK] = keys.due_sort_key(iso_utc(page.next_escalation_at), page.conversation_id)
    return document


def _page(item: dict[str, Any]) -> Page:
    return Page(
        conversation_id=item["conversation_id"],
        code=item["code"],
        status=item["status"],
        opened_at=datetime.fromisoformat(item["opened_at"]),
        round=int(item["round"]),
        level=int(item["level"]),
        recipients=tuple(item.get("recipients", [])),
        next_escalation_at=datetime.fromisoformat(item["next_escalation_at"]) if item.get("next_escalation_at") else None,
        policy=item.get("policy", {}),
        acked_by=item.get("settled_by") if item["status"] == PageStatus.ACKED else item.get("acked_by"),
        agents=frozenset(item.get("agents", ())),
        snoozed_at=datetime.fromisoformat(item["snoozed_at"]) if item.get("snoozed_at") else None,
        follow_up=bool(item.get("follow_up", False)),
        paged_at={agent: datetime.fromisoformat(at) for agent, at in (item.get("paged_at") or {}).items()},
    )


def _paged_at(before: dict[str, datetime], recipients: tuple[str, ...], at: datetime) -> dict[str, str]:
    """The stored map of when each agent was last paged: `before`, with the recipients paged `at`."""
    return {**{agent: iso_utc(moment) for agent, moment in before.items()}, **{agent: iso_utc(at) for agent in recipients}}
