"""template.yaml as the local stack sees it: functions, routes, tables, buckets.

Intrinsic functions are resolved against the local names of resources and the
parameters' local values, so the local stack runs what the template declares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfn_flip import load_yaml

from local_stack.paths import TEMPLATE

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # may hold {name} and {name+} parameters, as API Gateway's paths do
    function_id: str

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


class Template:
    def __init__(self, path: Path = TEMPLATE) -> None:
        self.path = path
        self.document: dict[str, Any] = load_yaml(path.read_text())
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

    def http_routes(self) -> list[Route]:
        routes = []
        for function in self.functions().values():
            for event in function.events.values():
                if event.get("Type") == "HttpApi":
                    props = event.get("Properties", {})
                    routes.append(Route(props.get("Method", "ANY").upper(), props["Path"], function.logical_id))
        # Literal paths before parameterized ones, as API Gateway prefers the most specific.
        return sorted(routes, key=lambda route: (route.path.count("{"), route.path))

    def tables(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::DynamoDB::Table")

    def buckets(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::S3::Bucket")

    def parameter_defaults(self) -> dict[str, str]:
        return {name: str(spec["Default"]) for name, spec in self.parameters.items() if "Default" in spec}


def local_table_name(logical_id: str) -> str:
    return logical_id


def local_bucket_name(logical_id: str) -> str:
    return f"switchboard-local-{logical_id.lower()}"


class Resolver:
    """Resolves Ref, Fn::GetAtt and Fn::Sub against local names and parameter values."""

    def __init__(self, template: Template, parameters: dict[str, str]) -> None:
        self.template = template
        self.names: dict[str, str] = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "switchboard-local",
            **template.parameter_defaults(),
            **parameters,
        }
        for logical_id, resource in template.resources.items():
            if resource["Type"] == "AWS::DynamoDB::Table":
                self.names[logical_id] = local_table_name(logical_id)
            elif resource["Type"] == "AWS::S3::Bucket":
                self.names[logical_id] = local_bucket_name(logical_id)
            else:
                self.names.setdefault(logical_id, logical_id)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self.names[argument]
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self._attribute(logical_id, attribute)
            if key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                extra = {name: self.resolve(v) for name, v in variables.items()}
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(extra.get(m[1]) or self._sub(m[1])), text)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _sub(self, name: str) -> str:
        if "." in name:
            return self._attribute(*name.split(".", 1))
        return self.names[name]

    def _attribute(self, logical_id: str, attribute: str) -> str:
        resource_type = self.template.resources[logical_id]["Type"]
        name = self.names[logical_id]
        if attribute == "Arn" and resource_type == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
        if attribute == "Arn" and resource_type == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        return name
