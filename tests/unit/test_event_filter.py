"""Lambda event filtering (FilterCriteria) as the local drivers apply it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local_stack.event_filter import (
    FilterPatternError,
    compile_filter_criteria,
    parse_pattern,
    pattern_matches,
    sqs_filter_view,
)

# A DynamoDB stream record as Lambda delivers it.
RECORD = {
    "eventID": "1",
    "eventName": "INSERT",
    "eventVersion": "1.1",
    "eventSource": "aws:dynamodb",
    "awsRegion": "us-east-1",
    "dynamodb": {
        "Keys": {"pk": {"S": "CONV#01J"}, "sk": {"S": "MSG#01K"}},
        "NewImage": {
            "pk": {"S": "CONV#01J"},
            "type": {"S": "message"},
            "direction": {"S": "inbound"},
            "attempt": {"N": "2"},
            "urgent": {"BOOL": True},
            "note": {"NULL": True},
            "tags": {"SS": ["billing", "vip"]},
        },
        "SequenceNumber": "111",
        "SizeBytes": 26,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    },
    "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Table/stream/x",
}


def matches(pattern: dict, event=RECORD) -> bool:
    return pattern_matches(parse_pattern(json.dumps(pattern)), event)


def image(**fields) -> dict:
    return {"dynamodb": {"NewImage": fields}}


def test_the_routers_pattern_matches_inbound_messages_only():
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["message"]}, "direction": {"S": ["inbound"]}}}}
    assert matches(pattern)
    assert not matches({**pattern, "eventName": ["MODIFY", "REMOVE"]})
    assert not matches(image(direction={"S": ["outbound"]}))


def test_literals_strings_numbers_booleans_and_null_keep_their_json_types():
    assert matches(image(attempt={"N": ["2"]}))
    assert not matches(image(attempt={"N": [2]}))  # DynamoDB numbers are strings in the record
    assert matches({"dynamodb": {"SizeBytes": [26]}}) and matches({"dynamodb": {"SizeBytes": [26.0]}})
    assert not matches({"dynamodb": {"SizeBytes": ["26"]}})
    assert matches(image(urgent={"BOOL": [True]})) and not matches(image(urgent={"BOOL": [1]}))
    assert matches({"a": [None]}, {"a": None}) and not matches({"a": [None]}, {}) and not matches({"a": [None]}, {"a": ""})
    assert matches({"a": [""]}, {"a": ""})


def test_prefix_suffix_and_equals_ignore_case():
    assert matches({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "CONV#"}]}}}})
    assert not matches({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "CUST#"}]}}}})
    assert matches({"dynamodb": {"Keys": {"sk": {"S": [{"suffix": "01K"}]}}}})
    assert matches(image(direction={"S": [{"equals-ignore-case": "INBOUND"}]}))
    assert matches({"a": [{"prefix": {"equals-ignore-case": "conv#"}}]}, {"a": "CONV#1"})
    assert matches({"a": [{"suffix": {"equals-ignore-case": ".PNG"}}]}, {"a": "x.png"})
    assert not matches({"a": [{"prefix": "1"}]}, {"a": 12})  # string comparisons need strings


def test_anything_but_values_lists_and_prefixes():
    assert matches({"eventName": [{"anything-but": "REMOVE"}]})
    assert not matches({"eventName": [{"anything-but": ["INSERT", "MODIFY"]}]})
    assert matches({"a": [{"anything-but": [1, 2]}]}, {"a": 3}) and not matches({"a": [{"anything-but": [1, 2]}]}, {"a": 2})
    assert not matches({"a": [{"anything-but": "x"}]}, {})  # a missing field is not "anything else"
    assert matches({"a": [{"anything-but": {"prefix": "us-"}}]}, {"a": "eu-west-1"})
    assert not matches({"a": [{"anything-but": {"prefix": "us-"}}]}, {"a": "us-east-1"})
    assert not matches({"a": [{"anything-but": {"equals-ignore-case": ["X", "y"]}}]}, {"a": "Y"})


def test_numeric_comparisons_need_json_numbers():
    assert matches({"dynamodb": {"SizeBytes": [{"numeric": [">", 10, "<=", 26]}]}})
    assert not matches({"dynamodb": {"SizeBytes": [{"numeric": [">", 26]}]}})
    assert matches({"a": [{"numeric": ["=", 3]}]}, {"a": 3.0})
    assert not matches(image(attempt={"N": [{"numeric": ["=", 2]}]}))  # "2" is a string
    assert not matches({"a": [{"numeric": [">", 0]}]}, {"a": True})


def test_exists_works_on_leaves_only():
    assert matches(image(type={"S": [{"exists": True}]}))
    assert not matches(image(missing={"S": [{"exists": True}]}))
    assert matches(image(missing={"S": [{"exists": False}]}))
    assert not matches(image(type={"S": [{"exists": False}]}))
    # As in EventBridge (aws/event-ruler documents it): an attribute is an object
    # ({"S": ...}), not a leaf, so "exists" never sees it: true never matches, false always
    # does. {"automated": [{"exists": false}]} lets {"automated": {"BOOL": true}} through;
    # {"automated": {"BOOL": [{"exists": false}]}} is the filter that keeps it out.
    assert not matches(image(type=[{"exists": True}]))
    assert matches(image(type=[{"exists": False}]))
    automated = {**RECORD, "dynamodb": {"NewImage": {"automated": {"BOOL": True}}}}
    assert matches(image(automated=[{"exists": False}]), automated)
    assert not matches(image(automated={"BOOL": [{"exists": False}]}), automated)
    assert matches(image(automated={"BOOL": [{"exists": False}]}))
    assert matches({"dynamodb": {"OldImage": {"type": {"S": [{"exists": False}]}}}})


def test_arrays_in_the_record_match_when_any_element_does():
    assert matches(image(tags={"SS": ["vip"]}))
    assert not matches(image(tags={"SS": ["enterprise"]}))
    assert matches({"items": {"sku": ["B"]}}, {"items": [{"sku": "A"}, {"sku": "B"}]})


def test_filters_are_ored_and_no_filters_pass_everything():
    criteria = compile_filter_criteria({"Filters": [
        {"Pattern": json.dumps({"eventName": ["REMOVE"]})},
        {"Pattern": json.dumps(image(type={"S": ["message"]}))},
    ]})
    assert len(criteria) == 2 and criteria.matches(RECORD)
    assert not criteria.matches({**RECORD, "eventName": "MODIFY", "dynamodb": {}})
    assert compile_filter_criteria(None).matches({"anything": 1})
    assert compile_filter_criteria({"Filters": []}).matches({})


def test_sqs_bodies_are_matched_as_json_only_when_they_hold_an_object():
    json_body = {"body": json.dumps({"kind": "page", "to": "+1415"}), "messageId": "m"}
    plain_body = {"body": "PAGE now", "messageId": "m"}
    object_pattern = parse_pattern({"body": {"kind": ["page"]}})
    string_pattern = parse_pattern({"body": [{"prefix": "PAGE"}]})
    assert pattern_matches(object_pattern, sqs_filter_view(json_body))
    assert not pattern_matches(object_pattern, sqs_filter_view(plain_body))  # Lambda drops it
    assert pattern_matches(string_pattern, sqs_filter_view(plain_body))
    assert not pattern_matches(string_pattern, sqs_filter_view(json_body))  # and this one
    assert sqs_filter_view({"body": "[1, 2]"}) == {"body": "[1, 2]"}


@pytest.mark.parametrize("pattern, reason", [
    ("not json", "not valid JSON"),
    ("[1]", "must be a JSON object"),
    ({"a": "x"}, "must be in a list"),
    ({"a": {}}, "empty objects"),
    ({"a": [{"prefix": 1}]}, "takes a string"),
    ({"a": [{"numeric": [">", "1"]}]}, "numeric"),
    ({"a": [{"numeric": [">", 1, ">", 2]}]}, "numeric"),
    ({"a": [{"numeric": ["!=", 1]}]}, "numeric"),
    ({"a": [{"exists": "yes"}]}, "true or false"),
    ({"a": [{"like": "x"}]}, "unknown comparison 'like'"),
    ({"a": [{"prefix": "x", "suffix": "y"}]}, "one comparison"),
    ({"$or": [{"a": ["x"]}, {"b": ["y"]}]}, "not supported"),
    ({"a": [{"wildcard": "*.png"}]}, "not supported"),
    ({"a": [{"anything-but": {"wildcard": "x*"}}]}, "anything-but"),
    ({"a": [{"anything-but": ["x", 1]}]}, "all strings or all numbers"),
])
def test_patterns_lambda_would_refuse_are_refused(pattern, reason):
    with pytest.raises(FilterPatternError, match=reason):
        parse_pattern(pattern if isinstance(pattern, str) else json.dumps(pattern))


def test_at_most_ten_filters():
    with pytest.raises(FilterPatternError, match="at most 10"):
        compile_filter_criteria({"Filters": [{"Pattern": '{"a": ["x"]}'}] * 11})


# ---- properties ----------------------------------------------------------------------

keys = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8)
leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=12))
events = st.recursive(
    st.dictionaries(keys, leaves, min_size=1, max_size=4),
    lambda children: st.dictionaries(keys, st.one_of(leaves, children), min_size=1, max_size=4),
    max_leaves=12,
)


def leaf_paths(event: dict, prefix: tuple[str, ...] = ()):
    for key, value in event.items():
        if isinstance(value, dict):
            yield from leaf_paths(value, prefix + (key,))
        else:
            yield prefix + (key,), value


def nested(path: tuple[str, ...], rules: list) -> dict:
    pattern: object = rules
    for key in reversed(path):
        pattern = {key: pattern}
    return pattern  # type: ignore[return-value]


@given(events, st.data())
def test_a_leaf_matches_itself_and_not_anything_but_itself(event, data):
    path, value = data.draw(st.sampled_from(list(leaf_paths(event))))
    assert matches(nested(path, [value]), event)
    assert matches(nested(path, [{"exists": True}]), event)
    assert not matches(nested(path, [{"exists": False}]), event)
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        assert not matches(nested(path, [{"anything-but": [value]}]), event)
    if isinstance(value, str):
        assert matches(nested(path, [{"prefix": value[: len(value) // 2]}]), event)
        assert matches(nested(path, [{"suffix": value[len(value) // 2:]}]), event)
        assert matches(nested(path, [{"equals-ignore-case": value.swapcase()}]), event) == (value.swapcase().casefold() == value.casefold())


@given(events, st.data())
def test_a_missing_field_matches_only_does_not_exist(event, data):
    path, _ = data.draw(st.sampled_from(list(leaf_paths(event))))
    missing = path[:-1] + (path[-1] + "_missing",)
    assert matches(nested(missing, [{"exists": False}]), event)
    for rule in (None, "x", 1, {"exists": True}, {"anything-but": "x"}, {"prefix": ""}, {"numeric": [">", -10**9]}):
        assert not matches(nested(missing, [rule]), event)


@given(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_numeric_ranges_agree_with_arithmetic(low, high, value):
    pattern = {"n": [{"numeric": [">", low, "<=", high]}]}
    assert matches(pattern, {"n": value}) == (low < value <= high)
    assert matches({"n": [{"numeric": [">=", low]}]}, {"n": value}) == (value >= low)


@given(events, events, events)
def test_filters_or_together(first, second, event):
    criteria = compile_filter_criteria({"Filters": [{"Pattern": json.dumps(p)} for p in (as_pattern(first), as_pattern(second))]})
    assert criteria.matches(event) == (matches(as_pattern(first), event) or matches(as_pattern(second), event))
    assert criteria.matches(first) and criteria.matches(second)


def as_pattern(event: dict) -> dict:
    """The pattern that asks for exactly this event's leaves."""
    return {key: as_pattern(value) if isinstance(value, dict) else [value] for key, value in event.items()}


def test_the_templates_stream_filters_page_for_customer_messages_only_and_fan_out_jobs_only():
    """template.yaml's own FilterCriteria: keywords (STOP, HELP...), auto-replies, ratings and
    email from senders SES could not authenticate never reach the router; fan-out jobs reach the fan-out function and nothing else does."""
    from local_stack.template import Template

    functions = Template().functions()

    def stream_filter(function_id: str):
        (properties,) = functions[function_id].events_of_type("DynamoDB").values()
        return compile_filter_criteria(properties.get("FilterCriteria"))

    def inserted(**image) -> dict:
        return {**RECORD, "eventName": "INSERT", "dynamodb": {"NewImage": {key: value for key, value in image.items()}}}

    message = {"type": {"S": "message"}, "direction": {"S": "inbound"}, "kind": {"S": "message"}}
    router, fanout = stream_filter("RouterFunction"), stream_filter("NoticeFanoutFunction")
    assert router.matches(inserted(**message))
    assert not router.matches(inserted(**message, keyword={"S": "STOP"}))
    assert not router.matches(inserted(**message, automated={"BOOL": True}))
    assert not router.matches(inserted(**message, unverified={"BOOL": True}))
    assert router.matches(inserted(**{**message, "kind": {"S": "voicemail"}}))
    assert not router.matches(inserted(**{**message, "kind": {"S": "rating"}})), "a satisfaction score pages nobody"
    assert not router.matches(inserted(**{**message, "kind": {"S": "call"}})), "a call an agent took live pages nobody"
    assert router.matches(inserted(**{**message, "kind": {"S": "missed_call"}})), "a missed call pages"
    assert not router.matches(inserted(type={"S": "message"}, direction={"S": "outbound"}))
    job = inserted(type={"S": "fanout"}, update_id={"S": "u1"})
    assert fanout.matches(job) and not router.matches(job)
    assert not fanout.matches(inserted(**message))
    assert not fanout.matches({**job, "eventName": "MODIFY"}), "moving the job's cursor never starts another fan-out"
