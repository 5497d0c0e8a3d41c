"""Customers, identities, conversations and messages in the Switchboard table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from botocore.exceptions import ClientError
from ulid import ULID

from switchboard.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Identity,
    InboundMessage,
    Media,
    Message,
    MessageKind,
    Rating,
    iso_utc,
)
from switchboard.reply_address import new_reply_token
from switchboard.store import keys
from switchboard.store.dynamo import (
    batch_get,
    cancellation_codes,
    cancellation_items,
    from_item,
    is_transaction_cancelled,
    query_items,
    retry_conflicts,
    to_item,
    to_values,
    update_if,
)

if TYPE_CHECKING:
    from switchboard.conversations.satisfaction import SurveyQuestion

PREVIEW_LENGTH = 120
# Email threading looks up In-Reply-To and at most this many of the newest References.
MAX_THREAD_REFS = 10


# The attributes that make a conversation wait on the customer's reply (await_customer).
_AWAITING = "awaiting_reply_since, auto_resolve_at, due_pk, due_sk"
# A conversation something happened in moves up the activity index (`:now`, `:activity`).
_ACTIVE = "last_activity_at = :now, activity_sk = :activity"
# What a resolution forgets: the customer's wait, the answer since it opened, a WAITING.
_RESOLVED = f"SET #status = :resolved, resolved_at = :now REMOVE waiting_since, answered_at, {_AWAITING}"


class DuplicateMessage(Exception):
    """One of the message's ids was claimed before: the message exists, nothing was written."""

    def __init__(self, route: "Route | None", message_id: str | None) -> None:
        super().__init__(f"already stored as {message_id} in {route.conversation_id if route else None}")
        self.route = route
        self.message_id = message_id


class IdentityTaken(Exception):
    """Another request created a customer for this identity first."""


class ConversationIdle(Exception):
    """The conversation was resolved longer ago than the idle period: start a new one."""


class ConversationMoved(Exception):
    """The conversation was merged into another one (or is gone): resolve the route again."""


class RouteChanged(Exception):
    """A remembered route is no longer what the sender's identity item holds (a new
    conversation, a merge, a link, an agent's phone): nothing was written; read it again."""


@dataclass(frozen=True)
class Route:
    """Where a customer's next message goes."""

    customer_id: str
    conversation_id: str


@dataclass(frozen=True)
class Lookup:
    """What one BatchGetItem tells about an inbound message's destination."""

    identity: Route | None  # the sender's customer and current conversation
    thread: Route | None = None  # the conversation an email answers, if it names one
    thread_moved: bool = False  # the thread's conversation was merged: follow it
    agent_id: str | None = None  # the sender's phone is this agent's: a command, not a message
    # identity comes from this instance's memory (conversations/known_senders.py), not a
    # read: the write checks that the identity item still says so (RouteChanged if not).
    remembered: bool = False


def _preview(message: InboundMessage) -> str:
    text = " ".join(message.body.split())
    if not text and message.kind is MessageKind.VOICEMAIL:
        text = "[voicemail]"
    elif not text and message.kind is MessageKind.MISSED_CALL:
        text = "[missed call]"
    elif not text and message.media:
        text = f"[{len(message.media)} attachment{'s' if len(message.media) > 1 else ''}]"
    if message.subject and message.channel is Channel.EMAIL:
        text = f"{message.subject}: {text}" if text else message.subject
    return text[:PREVIEW_LENGTH]


def claims_of(message: InboundMessage) -> list[tuple[str, str]]:
    """Every (provider, id) the message is known by; each is claimed when it is stored."""
    return [(message.provider, message.provider_id), *message.also_known_as]


class ConversationStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ---- the inbound hot path: one BatchGetItem (or GetItem), then one transaction ----

    def find_identity(self, identity: Identity, consistent: bool = False) -> Route | None:
        return _customer_route(self._identity_item(identity, consistent))

    def _identity_item(self, identity: Identity, consistent: bool) -> dict[str, Any]:
        """The identity item's routing fields ({} when unknown): its customer, current
        conversation, and the agent whose phone it is."""
        item = self._client.get_item(
            TableName=self._table,
            Key=to_item(keys.identity_item_key(identity)),
            ProjectionExpression="agent_id, customer_id, conversation_id",
            ConsistentRead=consistent,
        ).get("Item")
        return from_item(item) if item else {}

    def look_up(self, message: InboundMessage, consistent: bool = False) -> Lookup:
        """The sender's identity, and for an email the conversation it answers, in one call.

        A message with nothing to thread (SMS, calls, mentions) is a single GetItem; an
        email reads its identity, its reply address's conversation and the claims of
        the Message-IDs it answers in one BatchGetItem.
        """
        if not message.reply_token and not message.thread_refs:
            values = self._identity_item(message.sender, consistent)
            return Lookup(_customer_route(values), agent_id=values.get("agent_id"))
        identity_key = keys.identity_item_key(message.sender)
        wanted = [identity_key]
        token_key = keys.reply_token_key(message.reply_token) if message.reply_token else None
        if token_key:
            wanted.append(token_key)
        refs = list(dict.fromkeys(message.thread_refs))[:MAX_THREAD_REFS]
        wanted += [keys.provider_key(keys.EMAIL_MESSAGE_ID, ref) for ref in refs]
        found = {
            (item[keys.PK], item[keys.SK]): item
            for item in batch_get(
                self._client, self._table, wanted, "pk, sk, customer_id, conversation_id, merged_into", consistent
            )
        }

        def get(key: dict[str, str]) -> dict[str, Any] | None:
            return found.get((key[keys.PK], key[keys.SK]))

        identity = _customer_route(get(identity_key) or {})
        # The reply address wins: it names the conversation; then In-Reply-To, then
        # References from the newest.
        for candidate in wanted[1:]:
            item = get(candidate)
            if item:
                # A token keeps the conversation it was made for: a merge since is followed.
                moved = "merged_into" in item or candidate == token_key
                return Lookup(identity, _route(item), thread_moved=moved)
        return Lookup(identity)

    def follow_conversation(self, conversation_id: str) -> Route | None:
        """The live conversation a (possibly merged) conversation id leads to."""
        seen = set()
        while conversation_id not in seen:
            seen.add(conversation_id)
            item = self._client.get_item(
                TableName=self._table,
                Key=to_item(keys.conversation_key(conversation_id)),
                ProjectionExpression="customer_id, conversation_id, merged_into",
                ConsistentRead=True,
            ).get("Item")
            if not item:
                return None
            values = from_item(item)
            if "merged_into" not in values:
                return _route(values)
            conversation_id = values["merged_into"]
        return None  # a merge cycle cannot be written, but never loop on one

    def create_customer_with_message(
        self, message: InboundMessage, customer_id: str, conversation_id: str, message_id: str
    ) -> None:
        """A first message from a new identity: identity, customer, conversation and message at once.

        Raises IdentityTaken when a concurrent request created the customer first, and
        DuplicateMessage when one of the message's ids is already stored.
        """
        now = iso_utc(message.received_at)
        identity = message.sender
        route = Route(customer_id, conversation_id)
        conversation = _new_conversation(message, route)
        customer = {
            **keys.customer_key(customer_id),
            "type": "customer",
            "customer_id": customer_id,
            "display_name": identity.display_name or identity.handle,
            "identities": {keys.identity_map_key(identity): identity.to_dict()},
            "conversation_ids": {conversation_id},
            "current_conversation_id": conversation_id,
            "created_at": now,
        }
        # An update, not a put: the identity item may exist already, marking an agent's
        # phone (store.oncall); it becomes a customer's too without losing the mark.
        identity_item = {
            "Update": {
                "TableName": self._table,
                "Key": to_item(keys.identity_item_key(identity)),
                "UpdateExpression": "SET #type = :type, customer_id = :customer, conversation_id = :conversation, created_at = :now",
                "ConditionExpression": "attribute_not_exists(customer_id)",
                "ExpressionAttributeNames": {"#type": "type"},
                "ExpressionAttributeValues": to_values(
                    {":type": "identity", ":customer": customer_id, ":conversation": conversation_id, ":now": now}
                ),
            }
        }
        claims = self._claims(message, route, message_id)
        transaction = [
            identity_item,
            self._put_new(customer),
            self._put_new(conversation),
            *claims,
            {"Put": {"TableName": self._table, "Item": to_item(message_item(message, route, message_id))}},
        ]
        try:
            self._write_claimed(transaction, first_claim=3, claims=len(claims))
        except ClientError as error:
            if is_transaction_cancelled(error) and cancellation_codes(error)[0] == "ConditionalCheckFailed":
                raise IdentityTaken(message.sender.value) from None
            raise

    def append_message(
        self, message: InboundMessage, route: Route, message_id: str, idle_cutoff: datetime | None = None,
        route_remembered: bool = False,
    ) -> None:
        """Append to a conversation and update its summary, exactly once.

        The id claims make a retried delivery fail the whole transaction, so a duplicate
        never writes anything. A resolved conversation reopens, unless its last activity
        is older than idle_cutoff: then ConversationIdle, and the message starts a new
        conversation instead. A conversation merged into another raises
        ConversationMoved: nothing is written there any more.

        route_remembered: the route was not read but remembered; the transaction also
        checks that the sender's identity item still routes there, and belongs to no
        agent, so the write is exactly as right as one after a read (RouteChanged if not).
        """
        now = iso_utc(message.received_at)
        waiting = message.needs_answer
        # An auto-reply or a keyword is recorded but does not make the conversation wait on us.
        status_update = (
            "#status = :waiting, waiting_since = if_not_exists(waiting_since, :now), "
            if waiting
            else ""
        )
        values = {
            ":now": now,
            ":channel": message.channel.value,
            ":reply_to": _reply_to(message),
            ":preview": _preview(message),
            ":activity": keys.activity_sort_key(now, route.conversation_id),
            ":one": 1,
        }
        if waiting:
            values[":waiting"] = ConversationStatus.WAITING_ON_US.value
        condition = "attribute_exists(pk) AND attribute_not_exists(merged_into)"
        if idle_cutoff is not None:
            condition += " AND NOT (#status = :resolved AND last_activity_at < :cutoff)"
            values.update({":resolved": ConversationStatus.RESOLVED.value, ":cutoff": iso_utc(idle_cutoff)})
        update = {
            "Update": {
                "TableName": self._table,
                "Key": to_item(keys.conversation_key(route.conversation_id)),
                "UpdateExpression": (
                    f"SET {status_update}last_activity_at = :now, channel = :channel, reply_to = :reply_to,"
                    " last_message_preview = :preview, activity_sk = :activity"
                    " ADD message_count :one"
                ),
                "ConditionExpression": condition,
                "ExpressionAttributeValues": to_values(values),
                **({"ExpressionAttributeNames": {"#status": "status"}} if waiting or idle_cutoff else {}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        claims = self._claims(message, route, message_id)
        guard = [self._routes_to(message.sender, route)] if route_remembered else []
        transaction = [
            *guard,
            *claims,
            {"Put": {"TableName": self._table, "Item": to_item(message_item(message, route, message_id))}},
            update,
        ]
        try:
            self._write_claimed(transaction, first_claim=len(guard), claims=len(claims))
        except ClientError as error:
            if guard and is_transaction_cancelled(error) and cancellation_codes(error)[0] == "ConditionalCheckFailed":
                raise RouteChanged(route.conversation_id) from None
            if is_transaction_cancelled(error) and cancellation_codes(error)[-1] == "ConditionalCheckFailed":
                old = cancellation_items(error)[-1]
                if old and "merged_into" not in old:
                    raise ConversationIdle(route.conversation_id) from None
                raise ConversationMoved(route.conversation_id) from None
            raise

    def _routes_to(self, identity: Identity, route: Route) -> dict[str, Any]:
        """A transaction's check that the identity item (what look_up reads) routes to `route`."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": to_item(keys.identity_item_key(identity)),
                "ConditionExpression": "customer_id = :customer AND conversation_id = :conversation AND attribute_not_exists(agent_id)",
                "ExpressionAttributeValues": to_values({":customer": route.customer_id, ":conversation": route.conversation_id}),
            }
        }

    def append_outbound(self, message: InboundMessage, route: Route, message_id: str, waited: timedelta | None = None) -> None:
        """An agent's answer: stored in the stream, and the conversation now waits on the customer.

        Its request id is claimed like an inbound provider id: DuplicateMessage on a retry.
        """
        now = iso_utc(message.received_at)
        first_response = (
            ", first_response_seconds = if_not_exists(first_response_seconds, :waited),"
            " first_response_at = if_not_exists(first_response_at, :now)"
            if waited is not None
            else ""
        )
        self._append_by_agent(
            message,
            route,
            message_id,
            Direction.OUTBOUND,
            "SET #status = :waiting, last_activity_at = :now, activity_sk = :activity, last_message_preview = :preview,"
            " answered_at = :now"
            + first_response
            + " REMOVE waiting_since ADD message_count :one",
            {
                ":waiting": ConversationStatus.WAITING_ON_CUSTOMER.value,
                ":now": now,
                ":activity": keys.activity_sort_key(now, route.conversation_id),
                ":preview": ("→ " + " ".join(message.body.split()))[:PREVIEW_LENGTH],
                **({":waited": Decimal(str(round(waited.total_seconds(), 3)))} if waited is not None else {}),
            },
            {"#status": "status"},
        )

    def answered_by_call(self, conversation_id: str, now: datetime) -> bool:
        """An agent took the customer's call: answered now, the first response counted now if
        none was (from the wait the call started or joined), and the conversation waits on
        the customer. False when the conversation is gone or was merged away."""
        summary = self.get_summary(conversation_id)
        if summary is None:
            return False
        waited = (now - summary.waiting_since) if summary.waiting_since else timedelta(0)
        return update_if(
            self._client, TableName=self._table, Key=to_item(keys.conversation_key(conversation_id)),
            UpdateExpression="SET #status = :waiting, answered_at = :now, first_response_at = if_not_exists(first_response_at, :now),"
                             " first_response_seconds = if_not_exists(first_response_seconds, :waited) REMOVE waiting_since",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(merged_into)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_values({
                ":waiting": ConversationStatus.WAITING_ON_CUSTOMER.value, ":now": iso_utc(now),
                ":waited": Decimal(str(round(max(waited.total_seconds(), 0), 3))),
            }),
        )

    def append_acknowledgement(
        self, message: InboundMessage, route: Route, message_id: str, acknowledged: str, began_wait_at: datetime, quiet_since: datetime
    ) -> bool:
        """Our automatic acknowledgement of the customer's message `acknowledged` (its
        message id), stored only while it is still true to send it.

        In the same transaction, the conversation must wait on us since `began_wait_at`
        (the customer message being acknowledged started the wait), no agent may have
        answered since it opened, and nothing may have been acknowledged since
        `quiet_since`. False (nothing written) when any of that is no longer so;
        DuplicateMessage when this acknowledgement is stored already (a retry).
        The customer's wait, the status and the first response are untouched.
        """
        return self._append_if(
            message, route, message_id, Direction.OUTBOUND,
            "SET acknowledged_at = :now, acknowledged_message_id = :acknowledged ADD message_count :one",
            {
                ":acknowledged": acknowledged,
                ":now": iso_utc(message.received_at),
                ":waiting": ConversationStatus.WAITING_ON_US.value,
                ":began": iso_utc(began_wait_at),
                ":quiet": iso_utc(quiet_since),
            },
            {"#status": "status"},
            condition=(
                " AND #status = :waiting AND waiting_since = :began AND attribute_not_exists(answered_at)"
                " AND (attribute_not_exists(acknowledged_at) OR acknowledged_at < :quiet)"
            ),
        )

    def append_internal(self, message: InboundMessage, route: Route, message_id: str) -> None:
        """A note between agents (a takeover): in the stream, but the customer's wait and
        the conversation's status are untouched. DuplicateMessage on a retried request."""
        self._append_by_agent(message, route, message_id, Direction.INTERNAL, "ADD message_count :one", {})

    def _append_by_agent(
        self, message: InboundMessage, route: Route, message_id: str, direction: Direction,
        conversation_update: str, values: dict[str, Any], names: dict[str, str] | None = None, condition: str = "",
        extra: Iterable[dict[str, Any]] = (),
    ) -> None:
        """One transaction: the request id claimed, the message put, the conversation updated
        (counted with `:one`), unless it was merged away meanwhile (or `condition`, ANDed
        on, fails); `extra` items written after it."""
        claims = self._claims(message, route, message_id)
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item(keys.conversation_key(route.conversation_id)),
            "UpdateExpression": conversation_update,
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(merged_into)" + condition,
            "ExpressionAttributeValues": to_values({**values, ":one": 1}),
        }
        if names:
            update["ExpressionAttributeNames"] = names
        transaction = [
            *claims,
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(message_item(message, route, message_id, direction)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Update": update},
            *extra,
        ]
        self._write_claimed(transaction, first_claim=0, claims=len(claims))

    def _append_if(self, *args: Any, extra: Iterable[dict[str, Any]] = (), **kwargs: Any) -> bool:
        """_append_by_agent, with False (nothing written) when the conversation's condition
        or an `extra` item's fails: the write is no longer true to make."""
        extra = list(extra)
        try:
            self._append_by_agent(*args, extra=extra, **kwargs)
        except ClientError as error:
            if is_transaction_cancelled(error) and "ConditionalCheckFailed" in cancellation_codes(error)[-1 - len(extra):]:
                return False
            raise
        return True

    def current_conversation(self, customer_id: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=to_item(keys.customer_key(customer_id)),
            ProjectionExpression="current_conversation_id",
            ConsistentRead=True,
        ).get("Item")
        return from_item(item)["current_conversation_id"] if item else None

    def start_conversation(self, message: InboundMessage, route: Route, previous_conversation_id: str, message_id: str) -> None:
        """A message after the idle period: a new conversation in the same customer's stream.

        Raises ConversationIdle when another message started one first (the customer's
        current conversation is no longer previous_conversation_id): append there.
        """
        claims = self._claims(message, route, message_id)
        transaction = [
            *claims,
            self._put_new(_new_conversation(message, route)),
            {"Put": {"TableName": self._table, "Item": to_item(message_item(message, route, message_id))}},
            {
                "Update": {
                    "TableName": self._table,
                    "Key": to_item(keys.customer_key(route.customer_id)),
                    "UpdateExpression": "SET current_conversation_id = :new ADD conversation_ids :ids",
                    "ConditionExpression": "current_conversation_id = :previous",
                    "ExpressionAttributeValues": to_values(
                        {":new": route.conversation_id, ":ids": {route.conversation_id}, ":previous": previous_conversation_id}
                    ),
                }
            },
        ]
        try:
            self._write_claimed(transaction, first_claim=0, claims=len(claims))
        except ClientError as error:
            if is_transaction_cancelled(error) and cancellation_codes(error)[-1] == "ConditionalCheckFailed":
                raise ConversationIdle(previous_conversation_id) from None
            raise
        self.point_identity(message.sender, route)

    def reply_token(self, conversation_id: str) -> str:
        """The token of the conversation's reply address, made with its first email answer.

        The conversation item keeps it and a token item maps it back (what look_up reads);
        both are written in one transaction, and a concurrent answer's token wins a race.
        """
        key = to_item(keys.conversation_key(conversation_id))
        for _ in range(3):
            item = self._client.get_item(
                TableName=self._table, Key=key, ProjectionExpression="customer_id, reply_token", ConsistentRead=True
            ).get("Item")
            if not item:
                raise KeyError(f"no conversation {conversation_id}")
            values = from_item(item)
            if values.get("reply_token"):
                return values["reply_token"]
            token = new_reply_token()
            try:
                self._client.transact_write_items(TransactItems=[
                    {"Update": {
                        "TableName": self._table, "Key": key,
                        "UpdateExpression": "SET reply_token = :token",
                        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(reply_token)",
                        "ExpressionAttributeValues": to_values({":token": token}),
                    }},
                    self._put_new({
                        **keys.reply_token_key(token), "type": "reply_token",
                        "customer_id": values["customer_id"], "conversation_id": conversation_id,
                    }),
                ])
                return token
            except ClientError as error:
                if not is_transaction_cancelled(error):
                    raise
        raise RuntimeError(f"could not settle the reply token of conversation {conversation_id}")

    def point_identity(self, identity: Identity, route: Route) -> None:
        """Send the identity's next messages to this conversation (its customer's current one)."""
        update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.identity_item_key(identity)),
            UpdateExpression="SET conversation_id = :conversation",
            ConditionExpression="customer_id = :customer",
            ExpressionAttributeValues=to_values({":conversation": route.conversation_id, ":customer": route.customer_id}),
        )

    def update_message(self, route: Route, message_id: str, fields: dict[str, Any]) -> bool:
        """Set fields on a stored message (a voicemail's transcription arriving later).

        Names may be paths into maps ("provider_fields.RecordingSid"). False when the
        message is not there (moved by a merge meanwhile): look it up again.
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        assignments = []
        for index, (name, value) in enumerate(fields.items()):
            path = []
            for depth, part in enumerate(name.split(".")):
                names[f"#f{index}_{depth}"] = part
                path.append(f"#f{index}_{depth}")
            values[f":v{index}"] = value
            assignments.append(f"{'.'.join(path)} = :v{index}")
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.message_key(route.conversation_id, message_id)),
            UpdateExpression="SET " + ", ".join(assignments),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_values(values),
        )

    def message_attribute(self, route: Route, message_id: str, name: str) -> Any:
        """One attribute of a stored message (None when it or the message is missing)."""
        item = self._client.get_item(
            TableName=self._table,
            Key=to_item(keys.message_key(route.conversation_id, message_id)),
            ProjectionExpression="#name",
            ExpressionAttributeNames={"#name": name},
            ConsistentRead=True,
        ).get("Item")
        return from_item(item).get(name) if item else None

    def set_preview(self, conversation_id: str, text: str) -> None:
        """Show these words as the conversation's latest (a voicemail's late transcription)."""
        update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.conversation_key(conversation_id)),
            UpdateExpression="SET last_message_preview = :preview",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=to_values({":preview": " ".join(text.split())[:PREVIEW_LENGTH]}),
        )

    def find_claim(self, provider: str, provider_id: str) -> tuple[Route, str] | None:
        """Where the message known by this id lives: its route and message id."""
        item = self._client.get_item(
            TableName=self._table, Key=to_item(keys.provider_key(provider, provider_id)), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        values = from_item(item)
        return _route(values), values["message_id"]

    def resolve_conversation(self, conversation_id: str, now: datetime) -> bool:
        """Mark a conversation resolved; False when there is no such conversation."""
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.conversation_key(conversation_id)),
            UpdateExpression=_RESOLVED,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_values({":resolved": ConversationStatus.RESOLVED.value, ":now": iso_utc(now)}),
        )

    # ---- "how did we do?" (conversations/satisfaction.py) ----

    def resolve_with_question(self, question: "SurveyQuestion", now: datetime) -> bool:
        """Resolve the conversation and store our satisfaction question in it, in one
        transaction, while it is still true to ask: the conversation was never asked, and
        its customer was not asked since `question.quiet_since` (the customer item keeps
        when). An email question's link token (its digest) is stored in the same write.
        False (nothing written) when either no longer holds; DuplicateMessage on a retry."""
        message, route = question.message, question.route
        at = iso_utc(now)
        customer = {
            "Update": {
                "TableName": self._table,
                "Key": to_item(keys.customer_key(route.customer_id)),
                "UpdateExpression": "SET surveyed_at = :now",
                "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(surveyed_at) OR surveyed_at < :quiet)",
                "ExpressionAttributeValues": to_values({":now": at, ":quiet": iso_utc(question.quiet_since)}),
            }
        }
        extra = [customer]
        if question.token_digest:
            link = {
                **keys.survey_key(question.token_digest),
                "conversation_id": route.conversation_id,
                "customer_id": route.customer_id,
                keys.TTL_ATTRIBUTE: int(question.link_expires_at.timestamp()) if question.link_expires_at else None,
            }
            extra.append({"Put": {"TableName": self._table, "Item": to_item(link), "ConditionExpression": "attribute_not_exists(pk)"}})
        return self._append_if(
            message, route, question.message_id, Direction.OUTBOUND,
            _RESOLVED.replace(" REMOVE", f", surveyed_at = :now, survey_message_id = :question, {_ACTIVE} REMOVE") + " ADD message_count :one",
            {":resolved": ConversationStatus.RESOLVED.value, ":now": at, ":question": question.message_id,
             ":activity": keys.activity_sort_key(at, route.conversation_id)},
            {"#status": "status"},
            condition=" AND attribute_not_exists(survey_message_id)",
            extra=extra,
        )

    def customer_surveyed_at(self, customer_id: str) -> datetime | None:
        """When the customer was last asked how we did, on any conversation."""
        item = self._client.get_item(
            TableName=self._table, Key=to_item(keys.customer_key(customer_id)), ProjectionExpression="surveyed_at", ConsistentRead=True,
        ).get("Item")
        return _moment(from_item(item).get("surveyed_at")) if item else None

    def put_survey_link(self, token_digest: str, route: Route, expires_at: datetime) -> None:
        """A new link token for a question already stored (its email is queued again)."""
        item = {**keys.survey_key(token_digest), "conversation_id": route.conversation_id, "customer_id": route.customer_id,
                keys.TTL_ATTRIBUTE: int(expires_at.timestamp())}
        self._client.put_item(TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")

    def find_survey_link(self, token_digest: str, now: datetime) -> Route | None:
        """The conversation a satisfaction link rates, unless the link is unknown or expired."""
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.survey_key(token_digest)), ConsistentRead=True).get("Item")
        values = from_item(item) if item else None
        if not values or int(values.get(keys.TTL_ATTRIBUTE) or 0) < int(now.timestamp()):
            return None  # TTL deletes lazily: an expired link is refused even while it lingers
        return _route(values)

    def append_rating(self, message: InboundMessage, route: Route, message_id: str, rating: Rating) -> bool:
        """The customer's SMS answer to our question: stored in the stream (its `rating`
        keeps it from the router: it pages nobody) and on the conversation, which stays
        as it is (resolved). Only the first answer rates; False when the conversation was
        not asked or is rated already; DuplicateMessage on a retry."""
        return self._append_if(
            message, route, message_id, Direction.INBOUND, f"SET rating = :rating, {_ACTIVE} ADD message_count :one",
            {":rating": _rating_item(rating), ":now": iso_utc(rating.at), ":activity": keys.activity_sort_key(iso_utc(rating.at), route.conversation_id)},
            condition=" AND attribute_exists(survey_message_id) AND attribute_not_exists(rating)",
        )

    def rate(self, conversation_id: str, rating: Rating) -> bool:
        """A rating from a link: the latest one counts (a customer may change their mind).
        False when the conversation was never asked, or was merged into another since."""
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.conversation_key(conversation_id)),
            UpdateExpression=f"SET rating = :rating, {_ACTIVE}",
            ConditionExpression="attribute_exists(survey_message_id) AND attribute_not_exists(merged_into)",
            ExpressionAttributeValues=to_values({
                ":rating": _rating_item(rating), ":now": iso_utc(rating.at), ":activity": keys.activity_sort_key(iso_utc(rating.at), conversation_id),
            }),
        )

    # ---- waiting on the customer (`12 WAITING`): resolved by itself without their reply ----

    def await_customer(self, conversation_id: str, since: datetime, resolve_at: datetime) -> bool:
        """The conversation waits on the customer from `since`; without their reply it is
        resolved at `resolve_at` (the escalation tick finds it in the ByDue index). False
        when there is no such conversation, or it is resolved or merged away."""
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.conversation_key(conversation_id)),
            UpdateExpression=(
                "SET #status = :awaiting, awaiting_reply_since = :since, auto_resolve_at = :at, due_pk = :due_pk, due_sk = :due_sk"
                " REMOVE waiting_since"
            ),
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(merged_into) AND #status <> :resolved",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_values({
                ":awaiting": ConversationStatus.WAITING_ON_CUSTOMER.value, ":resolved": ConversationStatus.RESOLVED.value,
                ":since": iso_utc(since), ":at": iso_utc(resolve_at),
                ":due_pk": keys.AUTO_RESOLVE_PARTITION, ":due_sk": keys.due_sort_key(iso_utc(resolve_at), conversation_id),
            }),
        )

    def auto_resolve_due(self, now: datetime, limit: int = 500) -> list[Conversation]:
        """Conversations waiting on the customer whose time to resolve has come (a Query on ByDue)."""
        return [
            _conversation(item)
            for item in query_items(
                self._client,
                TableName=self._table,
                IndexName=keys.DUE_INDEX,
                KeyConditionExpression="due_pk = :due AND due_sk <= :now",
                ExpressionAttributeValues=to_values({":due": keys.AUTO_RESOLVE_PARTITION, ":now": keys.due_by(iso_utc(now))}),
                PaginationConfig={"MaxItems": limit},
            )
        ]

    def customer_wrote_since(self, conversation_id: str, since: datetime) -> bool:
        """Whether the customer wrote (not a machine) after `since`: message ids begin with their time."""
        after = keys.MESSAGE_PREFIX + str(ULID.from_datetime(since))[:10]
        for item in query_items(
            self._client,
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk > :after",
            FilterExpression="direction = :inbound AND attribute_not_exists(automated)",
            ExpressionAttributeValues=to_values({":pk": keys.conversation_pk(conversation_id), ":after": after, ":inbound": Direction.INBOUND.value}),
            ProjectionExpression="received_at",
            ConsistentRead=True,
        ):
            if datetime.fromisoformat(item["received_at"]) > since:
                return True
        return False

    def resolve_unanswered(
        self, conversation_id: str, since: datetime, now: datetime, closing: tuple[InboundMessage, Route, str] | None = None,
    ) -> bool:
        """Resolve a conversation that waited on the customer from `since` without their
        reply (marked resolved_automatically); False when anything changed meanwhile.

        With `closing` (our note to the customer, its route and message id) the note is
        stored in the same transaction, and the conversation stays in the ByDue index,
        named by `closing_message_id`, until `closing_queued` says the note left: a tick
        that failed in between queues the stored note again."""
        resolved = "#status = :resolved, resolved_at = :now, resolved_automatically = :true"
        values = {
            ":resolved": ConversationStatus.RESOLVED.value, ":awaiting": ConversationStatus.WAITING_ON_CUSTOMER.value,
            ":since": iso_utc(since), ":now": iso_utc(now), ":true": True,
        }
        condition = "#status = :awaiting AND awaiting_reply_since = :since"
        if closing is None:
            return update_if(
                self._client,
                TableName=self._table,
                Key=to_item(keys.conversation_key(conversation_id)),
                UpdateExpression=f"SET {resolved} REMOVE waiting_since, answered_at, {_AWAITING}",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values(values),
            )
        message, route, message_id = closing
        return self._append_if(
            message, route, message_id, Direction.OUTBOUND,
            f"SET {resolved}, closing_message_id = :closing REMOVE waiting_since, answered_at, awaiting_reply_since, auto_resolve_at"
            " ADD message_count :one",
            {**values, ":closing": message_id}, {"#status": "status"}, condition=" AND " + condition,
        )

    def closing_queued(self, conversation_id: str, message_id: str) -> None:
        """The closing note left for the customer: the conversation leaves the ByDue index."""
        update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.conversation_key(conversation_id)),
            UpdateExpression="REMOVE closing_message_id, due_pk, due_sk",
            ConditionExpression="closing_message_id = :closing",
            ExpressionAttributeValues=to_values({":closing": message_id}),
        )

    def stop_awaiting(self, conversation_id: str, since: datetime) -> bool:
        """The customer answered: the conversation leaves the auto-resolve index."""
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.conversation_key(conversation_id)),
            UpdateExpression=f"REMOVE {_AWAITING}",
            ConditionExpression="awaiting_reply_since = :since",
            ExpressionAttributeValues=to_values({":since": iso_utc(since)}),
        )

    def tag(self, conversation_id: str, components: tuple[str, ...]) -> bool:
        """Say which status-page components a conversation is about; False when there is no such conversation."""
        values: dict[str, Any] = {}
        if components:
            expression = "SET #components = :components"
            values[":components"] = sorted(set(components))
        else:
            expression = "REMOVE #components"
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item(keys.conversation_key(conversation_id)),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": {"#components": "components"},
        }
        if values:
            request["ExpressionAttributeValues"] = to_values(values)
        return update_if(self._client, **request)

    def open_about(self, components: tuple[str, ...], active_since: datetime, cursor: str | None, size: int = 200) -> tuple[list[Conversation], str | None]:
        """One page of open conversations tagged with any of `components`, active since then.

        A Query on the activity index (newest first) with a filter: the page may hold
        fewer than `size`, and the returned cursor (None after the last page) goes on.
        """
        import json

        names = {f":c{index}": component for index, component in enumerate(components)}
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": keys.ACTIVITY_INDEX,
            "KeyConditionExpression": "activity_pk = :partition AND activity_sk >= :since",
            "FilterExpression": "#status <> :resolved AND (" + " OR ".join(f"contains(#components, {name})" for name in names) + ")",
            "ExpressionAttributeNames": {"#status": "status", "#components": "components"},
            "ExpressionAttributeValues": to_values({":partition": keys.ACTIVITY_PARTITION, ":since": iso_utc(active_since), ":resolved": ConversationStatus.RESOLVED.value, **names}),
            "ScanIndexForward": False,
            "Limit": size,
        }
        if not components:
            return [], None
        if cursor:
            request["ExclusiveStartKey"] = json.loads(cursor)
        response = self._client.query(**request)
        last = response.get("LastEvaluatedKey")
        return [_conversation(from_item(item)) for item in response["Items"]], (json.dumps(last) if last else None)

    # ---- reading the stream ---------------------------------------------------------

    def list_conversations(self, limit: int = 50, active_since: datetime | None = None) -> list[Conversation]:
        """Conversations, most recently active first (a Query on the activity index)."""
        condition, values = "activity_pk = :partition", {":partition": keys.ACTIVITY_PARTITION}
        if active_since is not None:
            condition += " AND activity_sk >= :since"
            values[":since"] = iso_utc(active_since)
        items = query_items(
            self._client,
            TableName=self._table,
            IndexName=keys.ACTIVITY_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_values(values),
            ScanIndexForward=False,
            PaginationConfig={"MaxItems": limit, "PageSize": min(limit, 1000)},  # 1,000 summaries fit in a 1 MB page
        )
        return [_conversation(item) for item in items][:limit]

    def waiting_on_us(self, active_since: datetime, limit: int = 200) -> list[Conversation]:
        """Conversations waiting on us, active since `active_since`, oldest wait first (a
        Query on the activity index, filtered on status: no Scan)."""
        items = query_items(
            self._client,
            TableName=self._table,
            IndexName=keys.ACTIVITY_INDEX,
            KeyConditionExpression="activity_pk = :partition AND activity_sk >= :since",
            FilterExpression="#status = :waiting",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_values({
                ":partition": keys.ACTIVITY_PARTITION, ":since": iso_utc(active_since), ":waiting": ConversationStatus.WAITING_ON_US.value,
            }),
        )
        waiting = [_conversation(item) for item in items]
        return sorted(waiting, key=lambda c: c.waiting_since or c.last_activity_at)[:limit]

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The summary and every message in order, from one partition."""
        summary: dict[str, Any] | None = None
        messages: list[Message] = []
        for item in self.query_partition(keys.conversation_pk(conversation_id)):
            if item[keys.SK] == keys.CONVERSATION_SK:
                summary = item
            elif item[keys.SK].startswith(keys.MESSAGE_PREFIX):
                messages.append(_message(item))
        if summary is None:
            return None
        return replace(_conversation(summary), messages=tuple(messages))

    def get_summary(self, conversation_id: str) -> Conversation | None:
        """The conversation's summary item alone (one GetItem)."""
        item = self._client.get_item(
            TableName=self._table, Key=to_item(keys.conversation_key(conversation_id)), ConsistentRead=True
        ).get("Item")
        return _conversation(from_item(item)) if item else None

    def get_conversations(self, conversation_ids: Iterable[str]) -> list[Conversation]:
        """Conversation summaries by id (BatchGetItem), oldest first."""
        wanted = [keys.conversation_key(cid) for cid in dict.fromkeys(conversation_ids)]
        found = [_conversation(item) for item in batch_get(self._client, self._table, wanted, None, True)]
        return sorted(found, key=lambda c: c.created_at)

    # ---- helpers --------------------------------------------------------------------

    def query_partition(self, pk: str, sk_prefix: str | None = None) -> Iterator[dict[str, Any]]:
        condition, values = "pk = :pk", {":pk": pk}
        if sk_prefix:
            condition += " AND begins_with(sk, :prefix)"
            values[":prefix"] = sk_prefix
        yield from query_items(
            self._client, TableName=self._table, KeyConditionExpression=condition, ExpressionAttributeValues=to_values(values), ConsistentRead=True
        )

    def _put_new(self, item: dict[str, Any], return_old: bool = False) -> dict[str, Any]:
        put = {"TableName": self._table, "Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}
        if return_old:
            put["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return {"Put": put}

    def _claims(self, message: InboundMessage, route: Route, message_id: str) -> list[dict[str, Any]]:
        # A failed claim returns the item it collided with, so a duplicate learns where
        # the original lives without another round trip.
        return [
            self._put_new(
                {
                    **keys.provider_key(provider, provider_id),
                    "type": "provider_id",
                    "customer_id": route.customer_id,
                    "conversation_id": route.conversation_id,
                    "message_id": message_id,
                    "created_at": iso_utc(message.received_at),
                },
                return_old=True,
            )
            for provider, provider_id in claims_of(message)
        ]

    def _write_claimed(self, transaction: list[dict[str, Any]], first_claim: int, claims: int) -> None:
        """Write a transaction that claims a message's ids: DuplicateMessage when one of
        them was claimed before; any other cancellation is raised for the caller to read."""
        try:
            retry_conflicts(lambda: self._client.transact_write_items(TransactItems=transaction))
        except ClientError as error:
            failed = cancellation_codes(error)[first_claim : first_claim + claims] if is_transaction_cancelled(error) else []
            if "ConditionalCheckFailed" in failed:
                raise self._duplicate(error, first_claim, claims) from None
            raise

    @staticmethod
    def _duplicate(error: ClientError, first_claim: int, count: int) -> DuplicateMessage:
        for item in cancellation_items(error)[first_claim : first_claim + count]:
            if item and "conversation_id" in item:
                return DuplicateMessage(_route(item) if "customer_id" in item else None, item.get("message_id"))
        return DuplicateMessage(None, None)


def message_item(message: InboundMessage, route: Route, message_id: str, direction: Direction = Direction.INBOUND) -> dict[str, Any]:
    """The stored form of a message (also used when a merge moves it)."""
    return {
        **keys.message_key(route.conversation_id, message_id),
        "type": "message",
        "message_id": message_id,
        "conversation_id": route.conversation_id,
        "customer_id": route.customer_id,
        "channel": message.channel.value,
        "direction": direction.value,
        "kind": message.kind.value,
        "provider": message.provider,
        "provider_id": message.provider_id,
        "claims": [list(claim) for claim in claims_of(message)],
        "sender": message.sender.to_dict(),
        "recipient": message.recipient,
        "subject": message.subject,
        "body": message.body,
        "full_body": message.full_body,
        "media": [{k: v for k, v in asdict(media).items() if v is not None} for media in message.media],
        "received_at": iso_utc(message.received_at),
        "automated": message.automated or None,
        # Never pages (the router's FilterCriteria), and shown as such wherever it is shown.
        "unverified": message.sender.unverified or None,
        "keyword": message.keyword,
        "provider_fields": message.provider_fields or None,
    }


def _new_conversation(message: InboundMessage, route: Route) -> dict[str, Any]:
    """The summary item of a conversation that this message starts."""
    now = iso_utc(message.received_at)
    identity = message.sender
    return {
        **keys.conversation_key(route.conversation_id),
        "type": "conversation",
        "conversation_id": route.conversation_id,
        "customer_id": route.customer_id,
        "customer_name": identity.display_name or identity.handle,
        "customer_identity": identity.to_dict(),
        "reply_to": _reply_to(message),
        # An auto-reply starts a conversation that waits on nobody (and never pages).
        "status": (ConversationStatus.WAITING_ON_US if message.needs_answer else ConversationStatus.WAITING_ON_CUSTOMER).value,
        "channel": message.channel.value,
        "created_at": now,
        "last_activity_at": now,
        "waiting_since": now if message.needs_answer else None,
        "message_count": 1,
        "last_message_preview": _preview(message),
        keys.ACTIVITY_PK: keys.ACTIVITY_PARTITION,
        keys.ACTIVITY_SK: keys.activity_sort_key(now, route.conversation_id),
    }


def message_item_moved(item: dict[str, Any], survivor: Route) -> dict[str, Any]:
    """A stored message item, re-homed into another conversation (a customer merge).

    Marked `moved_from`: the copy is a new item to the table's stream, and the router's
    FilterCriteria skip marked items, so a merge never pages about old messages.
    """
    return {
        **item,
        **keys.message_key(survivor.conversation_id, item["message_id"]),
        "conversation_id": survivor.conversation_id,
        "customer_id": survivor.customer_id,
        "moved_from": item.get("moved_from") or item["conversation_id"],
    }


def _reply_to(message: InboundMessage) -> dict[str, Any]:
    """Where an answer to this message goes: its channel and the customer's address there
    (a voicemail is answered by SMS to the caller; an email in its thread; a post by a reply)."""
    reply = {"channel": message.channel.value, "address": message.sender.value}
    if message.channel is Channel.EMAIL and message.provider_fields.get("message_id"):
        reply["in_reply_to"] = message.provider_fields["message_id"]
        reply["subject"] = message.subject or ""
    if message.channel is Channel.X:
        reply["post_id"] = message.provider_id
    return reply


def _customer_route(identity_values: dict[str, Any]) -> Route | None:
    """An identity's route; None when no customer uses it (unknown, or only an agent's phone)."""
    return _route(identity_values) if "customer_id" in identity_values else None


def _route(values: dict[str, Any]) -> Route:
    return Route(values["customer_id"], values["conversation_id"])


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _conversation(item: dict[str, Any]) -> Conversation:
    return Conversation(
        conversation_id=item["conversation_id"],
        customer_id=item["customer_id"],
        customer_name=item.get("customer_name"),
        customer_identity=Identity.from_dict(item["customer_identity"]),
        status=ConversationStatus(item["status"]),
        channel=Channel(item["channel"]),
        created_at=datetime.fromisoformat(item["created_at"]),
        last_activity_at=datetime.fromisoformat(item["last_activity_at"]),
        waiting_since=_moment(item.get("waiting_since")),
        message_count=int(item.get("message_count", 0)),
        last_message_preview=item.get("last_message_preview", ""),
        merged_into=item.get("merged_into"),
        reply_to=item.get("reply_to", {}),
        short_code=item.get("short_code"),
        first_response_seconds=float(item["first_response_seconds"]) if "first_response_seconds" in item else None,
        first_response_at=_moment(item.get("first_response_at")),
        resolved_at=_moment(item.get("resolved_at")),
        answered_at=_moment(item.get("answered_at")),
        acknowledged_at=_moment(item.get("acknowledged_at")),
        acknowledged_message_id=item.get("acknowledged_message_id"),
        awaiting_reply_since=_moment(item.get("awaiting_reply_since")),
        resolved_automatically=bool(item.get("resolved_automatically", False)),
        closing_message_id=item.get("closing_message_id"),
        surveyed_at=_moment(item.get("surveyed_at")),
        survey_message_id=item.get("survey_message_id"),
        rating=_rating(item["rating"]) if item.get("rating") else None,
        components=tuple(item.get("components") or ()),
    )


def _rating_item(rating: Rating) -> dict[str, Any]:
    return {"score": rating.score, "channel": rating.channel, "at": iso_utc(rating.at), "comment": rating.comment or None}


def _rating(values: dict[str, Any]) -> Rating:
    return Rating(int(values["score"]), values["channel"], datetime.fromisoformat(values["at"]), values.get("comment") or "")


def _message(item: dict[str, Any]) -> Message:
    return Message(
        message_id=item["message_id"],
        conversation_id=item["conversation_id"],
        customer_id=item["customer_id"],
        channel=Channel(item["channel"]),
        direction=Direction(item["direction"]),
        kind=MessageKind(item.get("kind", MessageKind.MESSAGE.value)),
        provider=item["provider"],
        provider_id=item["provider_id"],
        sender=Identity.from_dict(item["sender"]),
        recipient=item.get("recipient"),
        subject=item.get("subject"),
        body=item.get("body", ""),
        full_body=item.get("full_body"),
        media=tuple(
            Media(m["url"], m["content_type"], m.get("filename"), int(m["size"]) if "size" in m else None)
            for m in item.get("media", [])
        ),
        received_at=datetime.fromisoformat(item["received_at"]),
        automated=bool(item.get("automated", False)),
        keyword=item.get("keyword"),
        provider_fields=item.get("provider_fields", {}),
        delivery_status=item.get("delivery_status"),
        delivery_error=item.get("delivery_error"),
    )
