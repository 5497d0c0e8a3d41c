"""Tables, buckets and queues created from template.yaml, so the local schema cannot drift."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from local_stack.template import Resolver, Template, local_bucket_name, local_table_name

# CreateQueue takes these CloudFormation properties as string attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
)

# CreateTable accepts these CloudFormation properties as they are.
_CREATE_TABLE_PROPERTIES = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput")


def create_table_request(logical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The CreateTable request for a template table (CloudFormation → API shape)."""
    request = {"TableName": local_table_name(logical_id)}
    request.update({name: properties[name] for name in _CREATE_TABLE_PROPERTIES if name in properties})
    stream = properties.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return request


def ensure_tables(dynamodb: Any, template: Template) -> list[str]:
    """Create missing tables and indexes; existing data is kept. Returns the table names."""
    names = []
    for logical_id, properties in template.tables().items():
        request = create_table_request(logical_id, properties)
        name = request["TableName"]
        names.append(name)
        try:
            description = dynamodb.describe_table(TableName=name)["Table"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            dynamodb.create_table(**request)
            dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
            description = None
        if description is not None:
            _add_missing_indexes(dynamodb, request, description)
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            _enable_ttl(dynamodb, name, ttl["AttributeName"])
    return names


def _add_missing_indexes(dynamodb: Any, request: dict[str, Any], description: dict[str, Any]) -> None:
    existing = {index["IndexName"] for index in description.get("GlobalSecondaryIndexes", [])}
    for index in request.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] not in existing:
            dynamodb.update_table(
                TableName=request["TableName"],
                AttributeDefinitions=request["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": index}],
            )


def _enable_ttl(dynamodb: Any, table: str, attribute: str) -> None:
    current = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return
    dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute})


def ensure_buckets(s3: Any, template: Template, resolver: Resolver) -> list[str]:
    names = []
    for logical_id, properties in template.buckets().items():
        name = local_bucket_name(logical_id)
        names.append(name)
        try:
            s3.head_bucket(Bucket=name)
        except ClientError:
            s3.create_bucket(Bucket=name)
        lifecycle = resolver.resolve(properties.get("LifecycleConfiguration"))
        if lifecycle:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in lifecycle["Rules"]]}
            )
    return names


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    return converted


def put_secret(ssm: Any, name: str, value: str) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def ensure_queues(sqs: Any, template: Template, resolver: Resolver) -> dict[str, str]:
    """Create the template's queues (attributes kept in step). Returns {logical id: queue URL}.

    Every queue is created first and redrive policies are set after, because a
    RedrivePolicy may only name a dead-letter queue that already exists.
    """
    urls = {}
    for logical_id, properties in template.queues().items():
        name = resolver.names[logical_id]
        attributes = _queue_attributes(resolver.resolve(properties))
        # FifoQueue can only be given at creation; the rest is (re)applied every time.
        fifo = {"FifoQueue": "true"} if attributes.pop("FifoQueue", "false") == "true" else {}
        url = sqs.create_queue(QueueName=name, Attributes=fifo)["QueueUrl"]
        if attributes:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        urls[logical_id] = url
    for logical_id, properties in template.queues().items():
        redrive = resolver.resolve(properties.get("RedrivePolicy"))
        if redrive:
            policy = {"deadLetterTargetArn": redrive["deadLetterTargetArn"], "maxReceiveCount": int(redrive["maxReceiveCount"])}
            sqs.set_queue_attributes(QueueUrl=urls[logical_id], Attributes={"RedrivePolicy": json.dumps(policy)})
    return urls


def _queue_attributes(properties: dict[str, Any]) -> dict[str, str]:
    attributes = {}
    for name in _QUEUE_ATTRIBUTES:
        if properties.get(name) is not None:
            value = properties[name]
            attributes[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return attributes
