"""Does template.yaml grant what a function really calls? DynamoDB Local and moto enforce
no IAM, so tests record the calls functions make and check each one against what the
function's role is given once `sam deploy` has expanded the template (the SAM transform
itself: our statements, the policies SAM adds for event sources and destinations, and
the AWS managed policies it attaches): the action, the resource ARN, and
`dynamodb:LeadingKeys`.

- `recorded_calls(client, ...)`: the calls made through some clients (a focused test).
- `every_call()`: every call any in-process client makes, charged to the function whose
  invocation is running (local_stack.invoke.CURRENT_FUNCTION): the integration suite's
  session check (tests/integration/conftest.py).

A call is granted when some Allow statement names its action (wildcards as IAM reads
them), a resource matching its ARN, and a condition the call satisfies. Only the
conditions our template uses are understood; any other makes the check fail loudly.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import os
import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from local_stack.template import ACCOUNT_ID, REGION, Resolver, Template

# What the AWS managed policies SAM attaches allow (beyond CloudWatch Logs, which the
# functions never call themselves): https://docs.aws.amazon.com/aws-managed-policy/latest/reference/
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": [],
    "AWSLambdaSQSQueueExecutionRole": [
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], "Resource": "*"}
    ],
    "AWSLambdaDynamoDBExecutionRole": [
        {"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"], "Resource": "*"}
    ],
}

# TransactWriteItems is authorized per item, by the item's own action.
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
_PARTITION_IN_CONDITION = re.compile(r"\bpk\s*=\s*(:\w+)")


@dataclass(frozen=True)
class Call:
    action: str  # "dynamodb:GetItem"
    resource: str  # the ARN IAM checks
    leading_keys: tuple[str, ...] = ()  # DynamoDB partition key values
    # The API operation that made it ("dynamodb:TransactWriteItems"); not part of what IAM checks.
    operation: str = field(default="", compare=False)

    def __str__(self) -> str:
        keys = f" pk={list(self.leading_keys)}" if self.leading_keys else ""
        return f"{self.action} on {self.resource}{keys}"


@contextlib.contextmanager
def recorded_calls(*clients: Any) -> Iterator[list[Call]]:
    """The AWS calls made through these clients while the block runs."""
    calls: list[Call] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.extend(_calls(model.service_model.signing_name, model.name, params))

    for client in clients:
        client.meta.events.register("provide-client-params.*.*", record)
    try:
        yield calls
    finally:
        for client in clients:
            client.meta.events.unregister("provide-client-params.*.*", record)


@contextlib.contextmanager
def every_call() -> Iterator[dict[str, list[Call]]]:
    """Every AWS call made in this process while the block runs, by the function whose
    invocation made it (calls outside any invocation, the tests' own, are left out)."""
    from botocore.client import BaseClient

    from local_stack.invoke import CURRENT_FUNCTION

    by_function: dict[str, list[Call]] = {}
    lock = threading.Lock()
    original = BaseClient._make_api_call

    def recording(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        function_id = CURRENT_FUNCTION.get()
        if function_id is not None:
            model = client.meta.service_model
            name = model.operation_model(operation_name).name
            calls = [replace(call, operation=f"{model.service_name}:{name}") for call in _calls(model.signing_name, name, api_params)]
            with lock:
                by_function.setdefault(function_id, []).extend(calls)
        return original(client, operation_name, api_params)

    BaseClient._make_api_call = recording
    try:
        yield by_function
    finally:
        BaseClient._make_api_call = original


def refused(function_id: str, calls: list[Call], template: Template | None = None) -> list[str]:
    """The calls the function's role does not grant, each with why (empty: all granted)."""
    statements = policy_statements(function_id, template or Template())
    return [f"{call}: not granted to {function_id}" for call in dict.fromkeys(calls) if not any(_allows(s, call) for s in statements)]


def not_in_the_layer(calls_by_function: dict[str, list]) -> list[str]:
    """The calls whose operation the layer's trimmed botocore has no model for: in AWS
    the client would have no such method."""
    from lambda_artifact import load_build_artifacts  # functions/ is no package

    kept = {f"{service}:{operation}" for service, operations in load_build_artifacts().BOTOCORE_OPERATIONS.items() for operation in operations}
    return sorted({f"{call.operation} by {function_id}: not in BOTOCORE_OPERATIONS"
                   for function_id, calls in calls_by_function.items() for call in calls if call.operation not in kept})


def policy_statements(function_id: str, template: Template) -> list[dict[str, Any]]:
    """The statements of the function's role as `sam deploy` creates it, resolved to local ARNs."""
    resolver = Resolver(template, {"PublicUrl": "https://example.invalid"})
    role = _expanded(str(template.path))[f"{function_id}Role"]["Properties"]
    statements = [statement for policy in role.get("Policies", []) for statement in policy["PolicyDocument"]["Statement"]]
    for arn in role.get("ManagedPolicyArns", []):
        name = str(arn).rsplit("/", 1)[-1]
        if name not in MANAGED_POLICIES:
            raise AssertionError(f"{function_id}: managed policy {arn} is not described in tests/iam_grants.py")
        statements += MANAGED_POLICIES[name]
    return [resolver.resolve(statement) for statement in statements]


@functools.lru_cache(maxsize=4)
def _expanded(template_path: str) -> dict[str, Any]:
    """The template's resources after the SAM transform, as CloudFormation receives them."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:  # the transform asks IAM for managed policy ARNs; ours are inline
        def load(self) -> dict[str, str]:
            return {}

    with open(template_path) as source:
        document = yaml_parse(source.read())
    # The transform wants deployable code (as `sam package` writes it); where the code lives
    # does not change a role.
    document.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://example-bucket/code.zip"
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://example-bucket/layer.zip"
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    try:
        return transform(document, {"PublicUrl": "https://example.invalid"}, NoManagedPolicies())["Resources"]
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


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
        # A batch is authorized as its single action (SendMessageBatch needs sqs:SendMessage).
        return [Call(f"sqs:{operation.removesuffix('Batch')}", f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}")]
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
