"""Does template.yaml grant what a function really calls? DynamoDB Local and moto enforce
no IAM, so tests record the calls a function makes (botocore's before-call event, on the
very clients the function uses) and check each one against that function's own
Policies statements: the action, the resource ARN, and `dynamodb:LeadingKeys`.

A call is granted when some Allow statement names its action (wildcards as IAM reads
them), a resource matching its ARN, and a condition the call satisfies. Only the
conditions our template uses are understood; any other makes the check fail loudly.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Iterator

from local_stack.template import ACCOUNT_ID, REGION, Resolver, Template

# TransactWriteItems is authorized per item, by the item's own action.
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
_PARTITION_IN_CONDITION = re.compile(r"\bpk\s*=\s*(:\w+)")


@dataclass(frozen=True)
class Call:
    action: str  # "dynamodb:GetItem"
    resource: str  # the ARN IAM checks
    leading_keys: tuple[str, ...] = ()  # DynamoDB partition key values

    def __str__(self) -> str:
        keys = f" pk={list(self.leading_keys)}" if self.leading_keys else ""
        return f"{self.action} on {self.resource}{keys}"


@contextlib.contextmanager
def recorded_calls(*clients: Any) -> Iterator[list[Call]]:
    """The AWS calls made through these clients while the block runs."""
    calls: list[Call] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.extend(_calls(model.service_model.endpoint_prefix, model.name, params))

    for client in clients:
        client.meta.events.register("provide-client-params.*.*", record)
    try:
        yield calls
    finally:
        for client in clients:
            client.meta.events.unregister("provide-client-params.*.*", record)


def refused(function_id: str, calls: list[Call], template: Template | None = None) -> list[str]:
    """The calls the function's own policy does not grant, each with why (empty: all granted)."""
    template = template or Template()
    statements = policy_statements(function_id, template)
    return [f"{call}: not granted to {function_id}" for call in dict.fromkeys(calls) if not any(_allows(s, call) for s in statements)]


def policy_statements(function_id: str, template: Template) -> list[dict[str, Any]]:
    resolver = Resolver(template, {"PublicUrl": "https://example.invalid"})
    statements = []
    for policy in template.resources[function_id]["Properties"].get("Policies", []):
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise AssertionError(f"{function_id}: only inline Statement policies are understood, not {policy!r}")
        statements += [resolver.resolve(statement) for statement in policy["Statement"]]
    return statements


def _allows(statement: dict[str, Any], call: Call) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    if not any(fnmatch.fnmatchcase(call.action.lower(), action.lower()) for action in actions):
        return False
    if not any(fnmatch.fnmatchcase(call.resource, resource) for resource in resources):
        return False
    return _condition_holds(statement.get("Condition") or {}, call)


def _condition_holds(condition: dict[str, Any], call: Call) -> bool:
    for operator, tests in condition.items():
        for key, allowed in tests.items():
            patterns = allowed if isinstance(allowed, list) else [allowed]
            if (operator, key) == ("ForAllValues:StringLike", "dynamodb:LeadingKeys"):
                if not all(any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns) for value in call.leading_keys):
                    return False
            elif (operator, key) == ("ForAllValues:StringEquals", "dynamodb:LeadingKeys"):
                if not all(value in patterns for value in call.leading_keys):
                    return False
            else:
                raise AssertionError(f"condition {operator} {key} is not understood by tests/iam_grants.py")
    return True


def _calls(service: str, operation: str, params: dict[str, Any]) -> list[Call]:
    if service == "dynamodb":
        return _dynamodb_calls(operation, params)
    if service == "sqs":
        queue = str(params.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
        return [Call(f"sqs:{operation}", f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}")]
    if service == "s3":
        key = f"/{params['Key']}" if "Key" in params else ""
        return [Call(f"s3:{_S3_ACTIONS.get(operation, operation)}", f"arn:aws:s3:::{params.get('Bucket', '')}{key}")]
    if service == "ssm":
        return [Call(f"ssm:{operation}", f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{params.get('Name', '')}")]
    return [Call(f"{service}:{operation}", "*")]


_S3_ACTIONS = {"ListObjectsV2": "ListBucket", "HeadObject": "GetObject"}


def _dynamodb_calls(operation: str, params: dict[str, Any]) -> list[Call]:
    if operation == "TransactWriteItems":
        calls = []
        for entry in params["TransactItems"]:
            (kind, request), = entry.items()
            key = request.get("Key") or request.get("Item") or {}
            calls.append(Call(f"dynamodb:{_TRANSACT_ACTIONS[kind]}", _table_arn(request["TableName"]), _pk(key)))
        return calls
    if operation in ("BatchGetItem", "BatchWriteItem"):
        calls = []
        for table, request in params["RequestItems"].items():
            keys = request["Keys"] if operation == "BatchGetItem" else [next(iter(r.values())).get("Key") or next(iter(r.values())).get("Item") for r in request]
            calls.append(Call(f"dynamodb:{operation}", _table_arn(table), tuple(value for key in keys for value in _pk(key))))
        return calls
    table = params.get("TableName", "")
    resource = _table_arn(table) + (f"/index/{params['IndexName']}" if params.get("IndexName") else "")
    if operation == "Query":
        found = _PARTITION_IN_CONDITION.search(params.get("KeyConditionExpression", ""))
        value = params.get("ExpressionAttributeValues", {}).get(found.group(1), {}) if found else {}
        return [Call("dynamodb:Query", resource, tuple(value.values()) if value else ())]
    key = params.get("Key") or params.get("Item") or {}
    return [Call(f"dynamodb:{operation}", resource, _pk(key))]


def _pk(key: dict[str, Any]) -> tuple[str, ...]:
    value = key.get("pk")
    return tuple(value.values()) if isinstance(value, dict) else ()


def _table_arn(table: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"
