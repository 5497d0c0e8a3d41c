"""An event's Properties, read through the template's Resolver (Ref, Fn::If, ... resolved locally)."""

from __future__ import annotations

from typing import Any

from local_stack.template import Resolver


def resolved(resolver: Resolver, properties: dict[str, Any], name: str, default: Any = None) -> Any:
    value = resolver.resolve(properties.get(name, default))
    return default if value is None else value


def truthy(value: Any) -> bool:
    return str(value).lower() not in ("false", "0", "")


def response_types(resolver: Resolver, properties: dict[str, Any]) -> list[str]:
    return list(resolved(resolver, properties, "FunctionResponseTypes", []))
