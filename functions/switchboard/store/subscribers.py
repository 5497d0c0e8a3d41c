"""Subscribers to incident notices, their link tokens, and opt-outs.

An opt-out is its own item per address, read with one GetItem at send time, so an
address that opted out after a fan-out is still never sent to. Opting out also flags
the address's subscriptions (same transaction), so a fan-out skips them without a read
per subscriber; opting back in clears the flags and every subscription counts again.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator

from botocore.exceptions import ClientError

from switchboard.models import iso_utc
from switchboard.store import keys
from switchboard.store.dynamo import from_item, to_item, to_values, update_if

# How long an emailed "confirm your subscription" link stays valid.
CONFIRMATION_LIFETIME = timedelta(days=2)


@dataclass(frozen=True)
class Subscriber:
    channel: str  # sms, email, x
    address: str  # E.164 number, lower-cased address, X user id
    components: tuple[str, ...] = ()  # empty: every component
    token: str = ""  # names the subscription in its unsubscribe link
    source: str = "cli"  # sms-keyword, email-link, cli, api, conversation
    customer_id: str | None = None
    opted_out: bool = False
    created_at: str = ""

    def wants(self, affected: tuple[str, ...]) -> bool:
        """Whether an update touching `affected` components concerns this subscriber."""
        return not self.components or not affected or bool(set(self.components) & set(affected))


@dataclass(frozen=True)
class SubscriberPage:
    subscribers: list[Subscriber]
    cursor: str | None  # where the next page starts; None after the last


class SubscriberStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ---- subscriptions ----

    def subscribe(self, channel: str, address: str, components: tuple[str, ...], source: str, now: datetime, customer_id: str | None = None) -> Subscriber:
        """Add or change a subscription (its components); keeps its token and opt-out state."""
        existing = self.get(channel, address)
        token = existing.token if existing else secrets.token_urlsafe(18)
        subscriber = Subscriber(
            channel=channel,
            address=address,
            components=tuple(sorted(set(components))),
            token=token,
            source=existing.source if existing else source,
            customer_id=customer_id or (existing.customer_id if existing else None),
            opted_out=self.is_opted_out(channel, address),
            created_at=existing.created_at if existing else iso_utc(now),
        )
        writes = [{"Put": {"TableName": self._table, "Item": to_item(_subscriber_item(subscriber))}}]
        if not existing:
            writes.append({"Put": {"TableName": self._table, "Item": to_item({**keys.token_key(token), "type": "token", "purpose": "unsubscribe", "channel": channel, "address": address})}})
        self._client.transact_write_items(TransactItems=writes)
        return subscriber

    def unsubscribe(self, channel: str, address: str) -> bool:
        existing = self.get(channel, address)
        if not existing:
            return False
        self._client.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": self._table, "Key": to_item(keys.subscriber_key(channel, address))}},
                {"Delete": {"TableName": self._table, "Key": to_item(keys.token_key(existing.token))}},
            ]
        )
        return True

    def get(self, channel: str, address: str) -> Subscriber | None:
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.subscriber_key(channel, address)), ConsistentRead=True).get("Item")
        return _subscriber(from_item(item)) if item else None

    def page(self, cursor: str | None = None, size: int = 500) -> SubscriberPage:
        """One page of subscribers, in key order; `cursor` comes from the previous page."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_values({":pk": keys.SUBSCRIBERS_PK}),
            "Limit": size,
        }
        if cursor:
            request["ExclusiveStartKey"] = json.loads(cursor)
        response = self._client.query(**request)
        last = response.get("LastEvaluatedKey")
        return SubscriberPage([_subscriber(from_item(item)) for item in response["Items"]], json.dumps(last) if last else None)

    def all(self) -> Iterator[Subscriber]:
        cursor: str | None = None
        while True:
            page = self.page(cursor)
            yield from page.subscribers
            if not page.cursor:
                return
            cursor = page.cursor

    # ---- link tokens ----

    def find_token(self, token: str, now: datetime) -> dict[str, Any] | None:
        """What a link's token stands for: {"purpose", "channel", "address", ...}, or None."""
        if not token or len(token) > 100:
            return None
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.token_key(token)), ConsistentRead=True).get("Item")
        if not item:
            return None
        values = from_item(item)
        expires = values.get(keys.TTL_ATTRIBUTE)
        if expires is not None and int(expires) < int(now.timestamp()):
            return None  # TTL deletes lazily: an expired link is refused even while it lingers
        return values

    def confirmation_token(self, channel: str, address: str, components: tuple[str, ...], now: datetime) -> str:
        """A token for an emailed "confirm your subscription" link (double opt-in); the
        public form's rate limits (store/rate_limits.py) decide whether one is made."""
        token = secrets.token_urlsafe(18)
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    **keys.token_key(token),
                    "type": "token",
                    "purpose": "confirm",
                    "channel": channel,
                    "address": address,
                    "components": list(components) or None,
                    keys.TTL_ATTRIBUTE: int((now + CONFIRMATION_LIFETIME).timestamp()),
                }
            ),
            ConditionExpression="attribute_not_exists(pk)",
        )
        return token

    def mark_used(self, token: str, now: datetime) -> bool:
        """Spend a single-use (confirmation) token; False when it was spent already."""
        return update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.token_key(token)),
            UpdateExpression="SET used_at = :now",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used_at)",
            ExpressionAttributeValues=to_values({":now": iso_utc(now)}),
        )

    def link_token(self, channel: str, address: str) -> str:
        """A lasting unsubscribe token for an address that is not a subscriber (a customer
        notified about their open conversation's component), kept on its opt-out item."""
        token = secrets.token_urlsafe(18)
        response = self._client.update_item(
            TableName=self._table,
            Key=to_item(keys.opt_out_key(channel, address)),
            UpdateExpression="SET #token = if_not_exists(#token, :token), channel = :channel, address = :address, #type = :type",
            ExpressionAttributeNames={"#token": "token", "#type": "type"},
            ExpressionAttributeValues=to_values({":token": token, ":channel": channel, ":address": address, ":type": "opt_out"}),
            ReturnValues="ALL_NEW",
        )
        kept = from_item(response["Attributes"])["token"]
        if kept == token:  # new: make the link work
            self._client.put_item(TableName=self._table, Item=to_item({**keys.token_key(token), "type": "token", "purpose": "unsubscribe", "channel": channel, "address": address}))
        return kept

    # ---- opt-outs ----

    def is_opted_out(self, channel: str, address: str) -> bool:
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.opt_out_key(channel, address)), ConsistentRead=True).get("Item")
        return bool(item and from_item(item).get("opted_out"))

    def opt_out(self, channel: str, address: str, source: str, now: datetime) -> bool:
        """Opt the address out of every notice; returns False when it already was."""
        return self._set_opt_out(channel, address, True, source, now)

    def opt_in(self, channel: str, address: str, source: str, now: datetime) -> bool:
        """Undo an opt-out; returns False when the address was not opted out."""
        return self._set_opt_out(channel, address, False, source, now)

    def _set_opt_out(self, channel: str, address: str, opted_out: bool, source: str, now: datetime) -> bool:
        was = self.is_opted_out(channel, address)
        if was == opted_out:
            return False
        writes: list[dict[str, Any]] = [
            {
                "Update": {  # an update, not a put: the item may hold the address's link token
                    "TableName": self._table,
                    "Key": to_item(keys.opt_out_key(channel, address)),
                    "UpdateExpression": "SET #type = :type, channel = :channel, address = :address, opted_out = :opted_out, #source = :source, changed_at = :now",
                    "ExpressionAttributeNames": {"#type": "type", "#source": "source"},
                    "ExpressionAttributeValues": to_values(
                        {":type": "opt_out", ":channel": channel, ":address": address, ":opted_out": opted_out, ":source": source, ":now": iso_utc(now)}
                    ),
                }
            }
        ]
        if self.get(channel, address):
            writes.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_item(keys.subscriber_key(channel, address)),
                        "UpdateExpression": "SET opted_out = :opted_out",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": to_values({":opted_out": opted_out}),
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            # The subscription went away meanwhile: the opt-out alone still counts.
            self._client.transact_write_items(TransactItems=writes[:1])
        return True

    def opt_out_condition(self, channel: str, address: str) -> dict[str, Any]:
        """A transaction entry that fails when the address is opted out (send-time check)."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": to_item(keys.opt_out_key(channel, address)),
                # An opt-out item may exist only to hold a link token (link_token): not opted out.
                "ConditionExpression": "attribute_not_exists(pk) OR attribute_not_exists(opted_out) OR opted_out = :false",
                "ExpressionAttributeValues": to_values({":false": False}),
            }
        }


def _subscriber_item(subscriber: Subscriber) -> dict[str, Any]:
    return {
        **keys.subscriber_key(subscriber.channel, subscriber.address),
        "type": "subscriber",
        "channel": subscriber.channel,
        "address": subscriber.address,
        "components": list(subscriber.components) or None,
        "token": subscriber.token,
        "source": subscriber.source,
        "customer_id": subscriber.customer_id,
        "opted_out": subscriber.opted_out,
        "created_at": subscriber.created_at,
    }


def _subscriber(values: dict[str, Any]) -> Subscriber:
    return Subscriber(
        channel=values["channel"],
        address=values["address"],
        components=tuple(values.get("components") or ()),
        token=values.get("token", ""),
        source=values.get("source", "cli"),
        customer_id=values.get("customer_id"),
        opted_out=bool(values.get("opted_out", False)),
        created_at=values.get("created_at", ""),
    )
