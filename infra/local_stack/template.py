"""template.yaml as the local stack sees it: functions, routes, tables, buckets, queues.

Intrinsic functions are resolved against the local names of resources and the
parameters' local values, so the local stack runs what the template declares.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from local_stack.paths import TEMPLATE

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

# What a route's authorization may be locally: none, or IAM (a SigV4-signed request), the
# authorization types an HttpApi route takes besides JWT and Lambda authorizers.
AUTHORIZATION_NONE = "NONE"
AUTHORIZATION_IAM = "AWS_IAM"


class TemplateError(ValueError):
    """template.yaml declares something the local stack cannot serve as declared."""


@dataclass(frozen=True)
class Throttle:
    """A route's throttle, as the stage's RouteSettings give it: a token bucket."""

    rate_per_second: float  # ThrottlingRateLimit
    burst: int  # ThrottlingBurstLimit


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # may hold {name} and {name+} parameters, as API Gateway's paths do
    function_id: str
    authorization: str = AUTHORIZATION_NONE  # or AWS_IAM: the gateway verifies SigV4 signatures
    throttle: Throttle | None = None  # None: API Gateway's account limits only

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route serves the request, else None."""
        if self.method not in ("ANY", method):
            return None
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    timeout: int
    memory: int
    environment: dict[str, Any] = field(default_factory=dict)
    events: dict[str, Any] = field(default_factory=dict)

    def events_of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        """{event name: Properties} of this function's events of the given SAM Types."""
        return {
            name: event.get("Properties", {})
            for name, event in self.events.items()
            if event.get("Type") in types
        }


class _TemplateLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML with CloudFormation's short-form intrinsics (`!Ref X`, `!Sub ...`, `!GetAtt A.B`)
    read as their long form, as CloudFormation reads them. libyaml's parser when PyYAML has
    it: every `switchboard` command and most tests read the template, and the pure-Python
    parser takes a third of a second for it."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node).split(".", 1)}
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template(text: str) -> dict[str, Any]:
    return yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 (a safe loader, with the intrinsics added)


class Template:
    def __init__(self, path: Path = TEMPLATE) -> None:
        self.path = path
        self.document: dict[str, Any] = load_template(path.read_text())
        self.resources: dict[str, Any] = self.document.get("Resources", {})
        self.parameters: dict[str, Any] = self.document.get("Parameters", {})

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    def functions(self) -> dict[str, FunctionSpec]:
        defaults = self.document.get("Globals", {}).get("Function", {})
        functions = {}
        for logical_id, props in self.of_type("AWS::Serverless::Function").items():
            environment = {
                **defaults.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                handler=props.get("Handler", defaults.get("Handler", "")),
                timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
                memory=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
                environment=environment,
                events=props.get("Events", {}),
            )
        return functions

    def http_routes(self, parameters: dict[str, str] | None = None) -> list[Route]:
        """Every HttpApi route; a throttle given by parameters (`!Ref ApiRateLimit`) takes
        their values, else the parameters' defaults."""
        resolve = Resolver(self, parameters or {}).resolve
        routes = []
        for function in self.functions().values():
            for event_name, event in function.events.items():
                if event.get("Type") == "HttpApi":
                    props = event.get("Properties", {})
                    method, path = props.get("Method", "ANY").upper(), props["Path"]
                    where = f"{function.logical_id}.Events.{event_name} ({method} {path})"
                    authorization = self._route_authorization(props, where)
                    throttle = self._route_throttle(props, resolve)
                    routes.append(Route(method, path, function.logical_id, authorization, throttle))
        # Literal paths before parameterized ones, as API Gateway prefers the most specific.
        return sorted(routes, key=lambda route: (route.path.count("{"), route.path))

    def http_api_auth(self, api_id: Any = None) -> dict[str, Any]:
        """The Auth of the HttpApi an event names (ApiId: !Ref X; none: SAM's implicit API),
        with Globals.HttpApi.Auth under it, as SAM merges Globals into every HttpApi."""
        return self._http_api_setting(api_id, "Auth")

    def _http_api_setting(self, api_id: Any, name: str) -> dict[str, Any]:
        """One map-valued property of the HttpApi an event names, over Globals.HttpApi's."""
        merged = dict(self.document.get("Globals", {}).get("HttpApi", {}).get(name) or {})
        if isinstance(api_id, dict) and isinstance(api_id.get("Ref"), str):
            merged.update(self.resources.get(api_id["Ref"], {}).get("Properties", {}).get(name) or {})
        return merged

    def _route_throttle(self, props: dict[str, Any], resolve: Callable[[Any], Any]) -> Throttle | None:
        """The event's RouteSettings over its HttpApi's (and Globals.HttpApi's) DefaultRouteSettings, as SAM
        writes them into the stage; None when neither sets both limits."""
        settings = {**self._http_api_setting(props.get("ApiId"), "DefaultRouteSettings"), **(props.get("RouteSettings") or {})}
        rate, burst = resolve(settings.get("ThrottlingRateLimit")), resolve(settings.get("ThrottlingBurstLimit"))
        if rate is None or burst is None:
            return None
        return Throttle(float(rate), int(burst))

    def _route_authorization(self, props: dict[str, Any], where: str) -> str:
        """NONE or AWS_IAM, as SAM decides it: the event's Auth.Authorizer, else the API's
        DefaultAuthorizer; AWS_IAM needs the API's EnableIamAuthorizer: true (else SAM's
        transform fails). JWT and Lambda authorizers are not served locally: fail at load
        rather than serve the route unprotected."""
        api_auth = self.http_api_auth(props.get("ApiId"))
        authorizer = (props.get("Auth") or {}).get("Authorizer") or api_auth.get("DefaultAuthorizer") or AUTHORIZATION_NONE
        if authorizer == AUTHORIZATION_NONE:
            return AUTHORIZATION_NONE
        if authorizer != AUTHORIZATION_IAM:
            raise TemplateError(
                f"{where}: authorizer {authorizer!r} is not supported by the local gateway "
                f"(only {AUTHORIZATION_IAM} and {AUTHORIZATION_NONE} are)"
            )
        if api_auth.get("EnableIamAuthorizer") is not True:
            raise TemplateError(
                f"{where}: Authorizer {AUTHORIZATION_IAM} needs EnableIamAuthorizer: true in the HttpApi's Auth "
                "(or in Globals.HttpApi.Auth); SAM's transform rejects the template without it"
            )
        return AUTHORIZATION_IAM

    def tables(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::DynamoDB::Table")

    def buckets(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::S3::Bucket")

    def queues(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::SQS::Queue")

    def conditions(self) -> dict[str, Any]:
        return self.document.get("Conditions", {})

    def parameter_defaults(self) -> dict[str, str]:
        return {name: str(spec["Default"]) for name, spec in self.parameters.items() if "Default" in spec}

    def parameter_overrides(self, pairs: list[str]) -> dict[str, str]:
        """NAME=VALUE pairs (as `sam deploy --parameter-overrides` takes them), each checked as
        CloudFormation checks a parameter: a name the template declares, a value its Type,
        AllowedValues, AllowedPattern and limits accept. ValueError naming what is wrong."""
        overrides: dict[str, str] = {}
        for pair in pairs:
            name, separator, value = pair.partition("=")
            if not separator or not name:
                raise ValueError(f"{pair!r}: a parameter override is NAME=VALUE")
            if name not in self.parameters:
                raise ValueError(f"{name}: template.yaml declares no such parameter (it declares {', '.join(sorted(self.parameters))})")
            problem = _parameter_problem(self.parameters[name], value)
            if problem:
                raise ValueError(f"{name}={value}: {problem}")
            overrides[name] = value
        return overrides


def _parameter_problem(spec: dict[str, Any], value: str) -> str | None:
    """Why CloudFormation would refuse this value for a parameter, or None."""
    if spec.get("AllowedValues") and value not in [str(allowed) for allowed in spec["AllowedValues"]]:
        return f"must be one of {', '.join(str(allowed) for allowed in spec['AllowedValues'])}"
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return spec.get("ConstraintDescription") or f"must match {spec['AllowedPattern']}"
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return "must be a number"
        if "MinValue" in spec and number < float(spec["MinValue"]) or "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"must be from {spec.get('MinValue', '-inf')} to {spec.get('MaxValue', 'inf')}"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]) or "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return f"must be {spec.get('MinLength', 0)} to {spec.get('MaxLength', 'any')} characters long"
    return None


def local_table_name(logical_id: str) -> str:
    return logical_id


def local_bucket_name(logical_id: str) -> str:
    return f"switchboard-local-{logical_id.lower()}"


def local_queue_name(logical_id: str, properties: dict[str, Any]) -> str:
    """The logical id (a FIFO queue's name must end in .fifo); a literal QueueName wins."""
    name = properties.get("QueueName")
    if isinstance(name, str):
        return name
    fifo = str(properties.get("FifoQueue", "")).lower() == "true"
    return f"{logical_id}.fifo" if fifo else logical_id


def queue_url(name: str) -> str:
    """The queue's URL at the SQS endpoint boto3 uses (moto's, once the local stack is up)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or f"https://sqs.{REGION}.amazonaws.com"
    return f"{endpoint.rstrip('/')}/{ACCOUNT_ID}/{name}"


def table_name_from_arn(arn: str) -> str:
    """The table of a table or stream ARN: arn:aws:dynamodb:<region>:<account>:table/<name>[/stream/<label>]."""
    return arn.split(":table/", 1)[1].split("/", 1)[0]


def queue_name_from_arn(arn: str) -> str:
    return arn.rsplit(":", 1)[1]


class Resolver:
    """Resolves Ref, Fn::GetAtt, Fn::Sub and Fn::If against local names and parameter values.

    Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition) are evaluated with the
    parameters' local values, so `State: !If [PollX, ENABLED, DISABLED]` resolves locally.
    """

    def __init__(self, template: Template, parameters: dict[str, str]) -> None:
        self.template = template
        self.names: dict[str, str] = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "switchboard-local",
            "AWS::NoValue": None,
            **template.parameter_defaults(),
            **parameters,
        }
        for logical_id, resource in template.resources.items():
            if resource["Type"] == "AWS::DynamoDB::Table":
                self.names[logical_id] = local_table_name(logical_id)
            elif resource["Type"] == "AWS::S3::Bucket":
                self.names[logical_id] = local_bucket_name(logical_id)
            elif resource["Type"] == "AWS::SQS::Queue":
                self.names[logical_id] = local_queue_name(logical_id, resource.get("Properties", {}))
            else:
                self.names.setdefault(logical_id, logical_id)
        for logical_id, properties in template.queues().items():
            if not isinstance(properties.get("QueueName", ""), str):  # e.g. !Sub "${AWS::StackName}-outbox"
                self.names[logical_id] = str(self.resolve(properties["QueueName"]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self._attribute(logical_id, attribute)
            if key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                extra = {name: self.resolve(v) for name, v in variables.items()}
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(extra.get(m[1]) or self._sub(m[1])), text)
            if key == "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self.condition(condition) else if_false)
            if key in _CONDITION_FUNCTIONS and (key != "Condition" or isinstance(argument, str)):
                return self._evaluate(value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def rule_failures(self) -> list[str]:
        """The AssertDescription of every template Rule assertion these parameters fail,
        as CloudFormation refuses such a deploy before creating anything."""
        failures = []
        for name, rule in (self.template.document.get("Rules") or {}).items():
            if "RuleCondition" in rule and not self._evaluate(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self._evaluate(assertion["Assert"]):
                    failures.append(f"{name}: {assertion.get('AssertDescription', 'assertion failed')}")
        return failures

    def condition(self, name: str) -> bool:
        """A condition of the template's Conditions section, evaluated locally."""
        return self._evaluate(self.template.conditions()[name])

    def _evaluate(self, expression: Any) -> bool:
        (function, argument), = expression.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            first, second = (self.resolve(item) for item in argument)
            return str(first) == str(second)
        if function == "Fn::Not":
            return not self._evaluate(argument[0])
        if function == "Fn::And":
            return all(self._evaluate(item) for item in argument)
        if function == "Fn::Or":
            return any(self._evaluate(item) for item in argument)
        raise ValueError(f"not a condition: {expression}")

    def _ref(self, name: str) -> Any:
        if self._type(name) == "AWS::SQS::Queue":
            return queue_url(self.names[name])  # Ref of a queue is its URL
        return self.names[name]

    def _type(self, logical_id: str) -> str | None:
        return self.template.resources.get(logical_id, {}).get("Type")

    def _sub(self, name: str) -> str:
        if "." in name:
            return self._attribute(*name.split(".", 1))
        return str(self._ref(name))

    def _attribute(self, logical_id: str, attribute: str) -> str:
        resource_type = self.template.resources[logical_id]["Type"]
        name = self.names[logical_id]
        if attribute == "Arn" and resource_type == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
        if attribute == "StreamArn" and resource_type == "AWS::DynamoDB::Table":
            # The stream's label is known only at run time; the drivers look up the table's
            # LatestStreamArn. "*" is what IAM policies write for "the table's stream".
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}/stream/*"
        if attribute == "Arn" and resource_type == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        if resource_type == "AWS::SQS::Queue":
            return {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}", "QueueUrl": queue_url(name)}.get(attribute, name)
        return name


_CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition")
