"""Notices of incident updates: fan-out jobs, one claim per (update, subscriber), counts.

A fan-out job is written with the incident update that asks to notify (same
transaction). The table's stream hands it to the fan-out function, which queues the
notices page by page and moves the job's cursor after each page; a fan-out cut short
resumes from the cursor, and the page it repeats is harmless because the sender claims
each notice before sending it: the conditional write "was this notice already sent?".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Iterator

from botocore.exceptions import ClientError

from switchboard.models import iso_utc
from switchboard.store import keys
from switchboard.store.dynamo import cancellation_codes, from_item, query_items, to_item, to_values, update_if

# A claim left "sending" this long belongs to a sender that died mid-send: it may be retried.
STALE_CLAIM = timedelta(minutes=5)


class NoticeStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"  # opted out


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"
    DUPLICATE = "duplicate"  # claimed or sent before
    OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class FanoutJob:
    update_id: str
    incident_id: str
    cursor: str | None
    queued: int
    skipped: int
    done: bool


class NoticeStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # ---- fan-out jobs ----

    def job_write(self, incident_id: str, update_id: str, now: datetime) -> dict[str, Any]:
        """The TransactWriteItems entry creating an update's fan-out job (once)."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(
                    {**keys.fanout_job_key(update_id), "type": "fanout", "incident_id": incident_id, "update_id": update_id, "queued": 0, "skipped": 0, "done": False, "created_at": iso_utc(now)}
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def job(self, update_id: str) -> FanoutJob | None:
        item = self._client.get_item(TableName=self._table, Key=to_item(keys.fanout_job_key(update_id)), ConsistentRead=True).get("Item")
        if not item:
            return None
        values = from_item(item)
        return FanoutJob(update_id, values["incident_id"], values.get("next_page"), int(values.get("queued", 0)), int(values.get("skipped", 0)), bool(values.get("done")))

    def advance(self, job: FanoutJob, cursor: str | None, queued: int, skipped: int) -> FanoutJob | None:
        """Move the job past one queued page; None when another fan-out moved it first."""
        moved = FanoutJob(job.update_id, job.incident_id, cursor, job.queued + queued, job.skipped + skipped, cursor is None)
        condition = "next_page = :previous" if job.cursor else "attribute_not_exists(next_page)"
        values: dict[str, Any] = {":queued": moved.queued, ":skipped": moved.skipped, ":done": moved.done, ":false": False}
        if job.cursor:
            values[":previous"] = job.cursor
        expression = "SET queued = :queued, skipped = :skipped, done = :done"
        if cursor:
            expression += ", next_page = :cursor"
            values[":cursor"] = cursor
        else:
            expression += " REMOVE next_page"
        ok = update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.fanout_job_key(job.update_id)),
            UpdateExpression=expression,
            ConditionExpression=f"{condition} AND done = :false",
            ExpressionAttributeValues=to_values(values),
        )
        return moved if ok else None

    # ---- notices ----

    def claim(self, update_id: str, channel: str, address: str, opt_out_check: dict[str, Any], now: datetime) -> ClaimOutcome:
        """Claim one notice for sending, if it was never sent and the address has not opted out."""
        claim = {
            "Put": {
                "TableName": self._table,
                "Item": to_item({**keys.notice_key(update_id, channel, address), "type": "notice", "status": NoticeStatus.SENDING.value, "claimed_at": iso_utc(now), "channel": channel}),
                "ConditionExpression": "attribute_not_exists(pk) OR (#status = :sending AND claimed_at < :stale)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": to_values({":sending": NoticeStatus.SENDING.value, ":stale": iso_utc(now - STALE_CLAIM)}),
            }
        }
        try:
            self._client.transact_write_items(TransactItems=[opt_out_check, claim])
        except ClientError as error:
            codes = cancellation_codes(error)
            if not codes:
                raise
            if codes[1] == "ConditionalCheckFailed":
                return ClaimOutcome.DUPLICATE
            if codes[0] == "ConditionalCheckFailed":
                self.skip(update_id, channel, address, now)
                return ClaimOutcome.OPTED_OUT
            raise
        return ClaimOutcome.CLAIMED

    def skip(self, update_id: str, channel: str, address: str, now: datetime) -> None:
        """Record that a notice was not sent because its address opted out."""
        self._settle(update_id, channel, address, NoticeStatus.SKIPPED, now, {"reason": "opted out"})

    def release(self, update_id: str, channel: str, address: str) -> None:
        """Give a claim back after a failure that will be retried."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=to_item(keys.notice_key(update_id, channel, address)),
                ConditionExpression="#status = :sending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values({":sending": NoticeStatus.SENDING.value}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def sent(self, update_id: str, channel: str, address: str, provider_id: str, started_at: float, now: datetime) -> None:
        self._settle(update_id, channel, address, NoticeStatus.SENT, now, {"provider_id": provider_id, "started_at": str(started_at)})

    def failed(self, update_id: str, channel: str, address: str, reason: str, now: datetime) -> None:
        self._settle(update_id, channel, address, NoticeStatus.FAILED, now, {"reason": reason})

    def delivery_status(self, update_id: str, channel: str, address: str, status: NoticeStatus, now: datetime) -> None:
        """A provider's later report (delivered or failed) on a sent notice."""
        update_if(
            self._client,
            TableName=self._table,
            Key=to_item(keys.notice_key(update_id, channel, address)),
            UpdateExpression="SET #status = :status, settled_at = :now",
            ConditionExpression="#status IN (:sent, :delivered)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_values({":status": status.value, ":now": iso_utc(now), ":sent": NoticeStatus.SENT.value, ":delivered": NoticeStatus.DELIVERED.value}),
        )

    def _settle(self, update_id: str, channel: str, address: str, status: NoticeStatus, now: datetime, extra: dict[str, Any]) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_item({**keys.notice_key(update_id, channel, address), "type": "notice", "channel": channel, "status": status.value, "settled_at": iso_utc(now), **extra}),
        )

    def counts(self, update_id: str) -> dict[str, int]:
        """How many notices of the update are in each state, "queued" included."""
        job = self.job(update_id)
        tally = Counter(item["status"] for item in self._notices(update_id, "#status", {"#status": "status"}))
        queued = job.queued if job else 0
        skipped_at_fanout = job.skipped if job else 0
        handled = sum(tally.values())
        return {
            "queued": max(0, queued - handled) + tally[NoticeStatus.SENDING.value],
            "sent": tally[NoticeStatus.SENT.value],
            "delivered": tally[NoticeStatus.DELIVERED.value],
            "failed": tally[NoticeStatus.FAILED.value],
            "skipped": tally[NoticeStatus.SKIPPED.value] + skipped_at_fanout,
            "total": queued + skipped_at_fanout,
        }

    def send_times(self, update_id: str) -> list[float]:
        """When each sent notice's send started (epoch seconds): the pacing's evidence."""
        return [float(item["started_at"]) for item in self._notices(update_id, "started_at") if "started_at" in item]

    def _notices(self, update_id: str, projection: str, names: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """The update's notice items (a Query, page by page), with the projected attributes."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_values({":pk": keys.notices_pk(update_id), ":prefix": keys.NOTICE_PREFIX}),
            "ProjectionExpression": projection,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        yield from query_items(self._client, **request)
