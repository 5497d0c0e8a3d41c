"""Lambda event filtering: the FilterCriteria of an event source mapping.

Lambda matches each record against the filter patterns (JSON in `Filters[].Pattern`)
with EventBridge's pattern rules before it batches records; a record no pattern
matches never reaches the function. Implemented here, for the subset Lambda's
event source mappings document:

- literal strings, numbers, booleans and null in a list (any of them);
- `prefix`, `suffix`, `equals-ignore-case` (also `prefix`/`suffix` with
  `equals-ignore-case` inside, as EventBridge allows);
- `anything-but` with a value, a list of values, or a `prefix`/`suffix`/
  `equals-ignore-case` inside;
- `numeric` with one or two comparisons (=, <, <=, >, >=);
- `exists` true/false;
- nested objects, and OR across the filters of one mapping.

EventBridge details that matter and are kept:
- comparisons work on leaf values only: `{"Name": [{"exists": true}]}` does not match
  a DynamoDB attribute `{"Name": {"S": "x"}}` (an object), and `{"Name": [{"exists": false}]}`
  does; write `{"Name": {"S": [{"exists": true}]}}` (aws/event-ruler documents this).
- `numeric` matches JSON numbers only, so DynamoDB's numbers (strings inside `{"N": "5"}`)
  never match it; literal `["5"]` does.
- an array in the record matches when any of its elements does.

Not supported (a clear FilterPatternError when a pattern uses them): `$or`, `wildcard`,
`cidr` and `anything-but` with `wildcard`, which Lambda's filtering does not list.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

# Lambda allows 5 filters per mapping by default, 10 with a quota increase.
MAX_FILTERS = 10

_MISSING = object()
_NUMERIC_OPERATORS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_UNSUPPORTED = {"wildcard", "cidr"}  # EventBridge comparisons Lambda's filtering does not list


class FilterPatternError(ValueError):
    """A pattern Lambda would refuse when the event source mapping is created."""


@dataclass(frozen=True)
class EventFilter:
    """The compiled FilterCriteria of one event source mapping."""

    patterns: tuple[dict[str, Any], ...] = ()

    def matches(self, record: Any) -> bool:
        """True when any pattern matches, or when there are no patterns at all."""
        return not self.patterns or any(pattern_matches(pattern, record) for pattern in self.patterns)

    def __len__(self) -> int:
        return len(self.patterns)


def compile_filter_criteria(criteria: dict[str, Any] | None) -> EventFilter:
    """FilterCriteria as SAM/CloudFormation declare it: `{"Filters": [{"Pattern": "<json>"}]}`."""
    filters = (criteria or {}).get("Filters") or []
    if len(filters) > MAX_FILTERS:
        raise FilterPatternError(f"{len(filters)} filters: Lambda allows at most {MAX_FILTERS} per event source mapping")
    return EventFilter(tuple(parse_pattern(item.get("Pattern")) for item in filters))


def parse_pattern(pattern: str | dict[str, Any] | None) -> dict[str, Any]:
    """A pattern from its JSON text (a dict is taken as already parsed), validated."""
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except ValueError as error:
            raise FilterPatternError(f"a filter pattern is not valid JSON: {error}") from None
    if not isinstance(pattern, dict):
        raise FilterPatternError("a filter pattern must be a JSON object")
    _validate_object(pattern, path="")
    return pattern


def pattern_matches(pattern: dict[str, Any], event: Any) -> bool:
    """Every field of the pattern matches the event (fields it does not name are ignored)."""
    if isinstance(event, list):  # an array of objects matches when one element does
        return any(pattern_matches(pattern, element) for element in event)
    if not isinstance(event, dict):
        event = {}  # a leaf where the pattern expects an object: only "absent" rules can hold
    for key, expected in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(expected, dict):
            if not pattern_matches(expected, {} if value is _MISSING else value):
                return False
        elif not any(_rule_matches(rule, value) for rule in expected):
            return False
    return True


def sqs_filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """The SQS record as Lambda filters it: a body holding a JSON object is matched as that object.

    So `{"body": {"kind": ["page"]}}` matches JSON bodies only, and a plain-string rule
    such as `{"body": [{"prefix": "x"}]}` matches plain-text bodies only, as Lambda does.
    """
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        return record
    return {**record, "body": body} if isinstance(body, dict) else record


# ---- matching one rule against one value -----------------------------------------

def _rule_matches(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict) and "exists" in rule:
        return _is_leaf(value) == rule["exists"]
    if value is _MISSING or isinstance(value, dict):
        return False  # comparisons work on leaf values only
    if isinstance(value, list):
        return any(_rule_matches(rule, element) for element in value)
    if not isinstance(rule, dict):
        return _same_value(rule, value)
    (operator, argument), = rule.items()
    if operator == "anything-but":
        return not _anything_but_excludes(argument, value)
    if operator == "numeric":
        return _is_number(value) and _numeric_matches(argument, value)
    return _string_rule_matches(operator, argument, value)


def _is_leaf(value: Any) -> bool:
    return value is not _MISSING and not isinstance(value, dict)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_value(expected: Any, value: Any) -> bool:
    # true must not equal 1, nor "1" equal 1: JSON types differ.
    if _is_number(expected) and _is_number(value):
        return expected == value
    return type(expected) is type(value) and expected == value


def _string_rule_matches(operator: str, argument: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(argument, dict):  # {"prefix": {"equals-ignore-case": "x"}}
        argument, value = argument["equals-ignore-case"].casefold(), value.casefold()
    if operator == "prefix":
        return value.startswith(argument)
    if operator == "suffix":
        return value.endswith(argument)
    if operator == "equals-ignore-case":
        return value.casefold() == argument.casefold()
    raise AssertionError(f"unvalidated operator {operator}")


def _anything_but_excludes(argument: Any, value: Any) -> bool:
    if isinstance(argument, dict):
        (operator, inner), = argument.items()
        if operator == "equals-ignore-case" and isinstance(inner, list):
            return any(_string_rule_matches(operator, item, value) for item in inner)
        return _string_rule_matches(operator, inner, value)
    excluded = argument if isinstance(argument, list) else [argument]
    return any(_same_value(item, value) for item in excluded)


def _numeric_matches(comparisons: list[Any], value: float) -> bool:
    pairs = zip(comparisons[0::2], comparisons[1::2])
    return all(_NUMERIC_OPERATORS[operator](value, bound) for operator, bound in pairs)


# ---- validation: refuse what Lambda refuses, at start rather than silently -------

def _validate_object(pattern: dict[str, Any], path: str) -> None:
    if not pattern:
        raise FilterPatternError(f"{path or 'the pattern'}: empty objects are not allowed in a pattern")
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":  # a field named "wildcard" or "cidr" is fine; only "$or" is an operator here
            raise FilterPatternError(f"{where}: '$or' is not supported by Lambda event filtering")
        if isinstance(value, dict):
            _validate_object(value, where)
        elif isinstance(value, list):
            for rule in value:
                _validate_rule(rule, where)
        else:
            raise FilterPatternError(f"{where}: values to match must be in a list, e.g. [{json.dumps(value)}]")


def _validate_rule(rule: Any, where: str) -> None:
    if rule is None or isinstance(rule, (str, bool)) or _is_number(rule):
        return
    if not isinstance(rule, dict) or len(rule) != 1:
        raise FilterPatternError(f"{where}: {json.dumps(rule)} is neither a value nor one comparison")
    (operator, argument), = rule.items()
    if operator in _UNSUPPORTED:
        raise FilterPatternError(f"{where}: '{operator}' is not supported by Lambda event filtering")
    checks = {
        "prefix": _validate_string_argument,
        "suffix": _validate_string_argument,
        "equals-ignore-case": _validate_plain_string,
        "anything-but": _validate_anything_but,
        "numeric": _validate_numeric,
        "exists": _validate_exists,
    }
    if operator not in checks:
        raise FilterPatternError(f"{where}: unknown comparison '{operator}'")
    checks[operator](argument, f"{where}: {operator}")


def _validate_plain_string(argument: Any, where: str) -> None:
    if not isinstance(argument, str):
        raise FilterPatternError(f"{where} takes a string")


def _validate_string_argument(argument: Any, where: str) -> None:
    if isinstance(argument, dict) and list(argument) == ["equals-ignore-case"]:
        return _validate_plain_string(argument["equals-ignore-case"], where)
    _validate_plain_string(argument, where)


def _validate_anything_but(argument: Any, where: str) -> None:
    if isinstance(argument, dict):
        if len(argument) != 1 or next(iter(argument)) not in ("prefix", "suffix", "equals-ignore-case"):
            raise FilterPatternError(f"{where} takes a value, a list, or one of prefix/suffix/equals-ignore-case")
        (operator, inner), = argument.items()
        if operator == "equals-ignore-case" and isinstance(inner, list):
            for item in inner:
                _validate_plain_string(item, where)
            return
        return _validate_plain_string(inner, where)
    values = argument if isinstance(argument, list) else [argument]
    if not values or not (all(isinstance(v, str) for v in values) or all(_is_number(v) for v in values)):
        raise FilterPatternError(f"{where} takes all strings or all numbers")


def _validate_numeric(argument: Any, where: str) -> None:
    valid = isinstance(argument, list) and len(argument) in (2, 4)
    valid = valid and all(op in _NUMERIC_OPERATORS for op in argument[0::2])
    valid = valid and all(_is_number(bound) and math.isfinite(bound) for bound in argument[1::2])
    if valid and len(argument) == 4:
        # A range: one lower bound (> or >=) and one upper bound (< or <=), as EventBridge requires.
        lower = [op for op in argument[0::2] if op in (">", ">=")]
        upper = [op for op in argument[0::2] if op in ("<", "<=")]
        valid = len(lower) == 1 and len(upper) == 1
    if not valid:
        raise FilterPatternError(f"{where} takes [op, number] or [>/>=, low, </<=, high]")


def _validate_exists(argument: Any, where: str) -> None:
    if not isinstance(argument, bool):
        raise FilterPatternError(f"{where} takes true or false")
