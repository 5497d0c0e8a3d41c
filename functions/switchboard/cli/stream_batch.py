"""A stream batch that failed every retry, read back from the table's stream as the Lambda
event it was, for `switchboard dlq redrive router|fanout`.

Lambda's OnFailure record names the batch (shard, first and last sequence numbers), not
its records; the stream keeps them 24 hours. Only the records the function's own
FilterCriteria (template.yaml) take are handed to it, as Lambda would.
"""

from __future__ import annotations

from typing import Any

from switchboard.cli.environment import required_env

STREAM_RETENTION = "24 hours"


class StreamTrimmed(RuntimeError):
    """The stream no longer holds the batch (it keeps 24 hours)."""


def _accepts(function_id: str) -> Any:
    """The function's own FilterCriteria (template.yaml), as Lambda applies them."""
    from local_stack.event_filter import compile_filter_criteria
    from local_stack.template import Template

    (source,) = Template().functions()[function_id].events_of_type("DynamoDB").values()
    return compile_filter_criteria(source.get("FilterCriteria"))


def _insert(event_id: str, item: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record inserting `item` (a low-level DynamoDB item), as Lambda delivers one."""
    return {
        "eventID": event_id, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "",
        "eventSourceARN": stream_arn,
        "dynamodb": {"Keys": {"pk": item["pk"], "sk": item["sk"]}, "NewImage": item, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def _since_batch(batch: dict[str, Any]) -> Any:
    """A minute before the batch's first record arrived (None if it does not say)."""
    from datetime import datetime, timedelta

    first = batch.get("approximateArrivalOfFirstRecord")
    return datetime.fromisoformat(first.replace("Z", "+00:00")) - timedelta(minutes=1) if first else None


def stream_event(batch: dict[str, Any], function_id: str) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import ClientError

    from local_stack.drivers.lambda_json import epoch_seconds, jsonable

    table = required_env("TABLE_NAME")
    stream_arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    last = int(batch["endSequenceNumber"])
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=batch["shardId"], ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=batch["startSequenceNumber"]
        )["ShardIterator"]
        raw_records: list[dict[str, Any]] = []
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            inside = [r for r in response["Records"] if int(r["dynamodb"]["SequenceNumber"]) <= last]
            raw_records += inside
            done = not response["Records"] or len(inside) < len(response["Records"])
            iterator = None if done else response.get("NextShardIterator")
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in ("TrimmedDataAccessException", "ResourceNotFoundException", "ExpiredIteratorException"):
            raise StreamTrimmed(
                f"the stream no longer holds this batch (it keeps {STREAM_RETENTION}): its items are in the table, "
                "so check `switchboard conversations list` for what still waits"
            ) from None
        raise
    accepts = _accepts(function_id)
    records = []
    for raw in raw_records:
        dynamodb = dict(raw["dynamodb"])
        if "ApproximateCreationDateTime" in dynamodb and hasattr(dynamodb["ApproximateCreationDateTime"], "timestamp"):
            dynamodb["ApproximateCreationDateTime"] = epoch_seconds(dynamodb["ApproximateCreationDateTime"])
        record = {
            "eventID": raw["eventID"], "eventName": raw["eventName"], "eventVersion": raw.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb", "awsRegion": raw.get("awsRegion", ""), "dynamodb": jsonable(dynamodb),
            "eventSourceARN": batch.get("streamArn", stream_arn),
        }
        if accepts.matches(record):
            records.append(record)
    return {"Records": records}


def waiting_unpaged_event(batch: dict[str, Any], limit: int = 10_000) -> dict[str, Any]:
    """When the stream no longer holds a router batch: the latest customer message of each
    conversation active since the batch that still waits on us, as the stream records the
    router takes. The router pages those without a live page and leaves the rest alone."""
    import boto3

    from switchboard.store import keys
    from switchboard.store.conversations import ConversationStore
    from switchboard.store.dynamo import to_values

    accepts = _accepts("RouterFunction")  # as Lambda filters: no unverified mail, no keyword
    client, table = boto3.client("dynamodb"), required_env("TABLE_NAME")
    records = []
    for conversation in ConversationStore(client, table).list_conversations(limit=limit, active_since=_since_batch(batch)):
        if conversation.status.value != "waiting_on_us":
            continue
        newest = client.query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
            ExpressionAttributeValues=to_values({":pk": keys.conversation_pk(conversation.conversation_id), ":m": keys.MESSAGE_PREFIX}),
            ScanIndexForward=False,
            Limit=20,
        )["Items"]
        inbound = next((item for item in newest if item.get("direction", {}).get("S") == "inbound"), None)
        if inbound is None:
            continue
        record = _insert(f"reconcile-{conversation.conversation_id}", inbound, batch.get("streamArn", ""))
        if accepts.matches(record):
            records.append(record)
    return {"Records": records}


def unfinished_fanouts_event(batch: dict[str, Any]) -> dict[str, Any]:
    """When the stream no longer holds a fan-out batch: the fan-out job of every update made
    since the batch that is not done, as the stream records the fan-out takes (each job
    resumes at its cursor; a done one is left alone)."""
    from datetime import timedelta

    import boto3

    from switchboard.store import keys
    from switchboard.store.dynamo import to_item
    from switchboard.store.incidents import IncidentStore

    client, table = boto3.client("dynamodb"), required_env("TABLE_NAME")
    since = _since_batch(batch)
    records = []
    # Incidents opened up to 30 days before it (an old incident's late update counts), open ones whenever.
    for incident in IncidentStore(client, table).list(since=since - timedelta(days=30) if since else None):
        for update in incident.updates:
            if since is not None and update.created_at < since:
                continue
            job = client.get_item(TableName=table, Key=to_item(keys.fanout_job_key(update.update_id)), ConsistentRead=True).get("Item")
            if job is not None and not job.get("done", {}).get("BOOL"):
                records.append(_insert(f"reconcile-{update.update_id}", job, batch.get("streamArn", "")))
    return {"Records": records}
