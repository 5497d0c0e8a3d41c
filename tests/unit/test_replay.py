"""A quarantined request made back into its event (switchboard/replay.py): pure."""

from __future__ import annotations

import base64

import pytest

from switchboard.replay import NotReplayable, path_parameters, replay_event
from switchboard.webhooks import WebhookRequest

KEPT = {
    "status": 503, "reason": "internal error", "route": "POST /webhooks/statuspage/{secret}", "path": "/webhooks/statuspage/s3cret",
    "headers": {"content-type": "application/json"}, "body": '{"page": 1}', "body_encoding": "text", "body_truncated": False,
    "query": "a=1", "source_ip": "203.0.113.9",
}


def test_a_request_we_failed_to_store_comes_back_as_the_event_it_came_as():
    request = WebhookRequest.from_api_gateway(replay_event(KEPT))
    assert (request.route, request.path, request.query, request.body) == (KEPT["route"], KEPT["path"], "a=1", b'{"page": 1}')
    assert request.path_parameters == {"secret": "s3cret"} and request.source_ip == "203.0.113.9"
    binary = {**KEPT, "body": base64.b64encode(b"\x00\xff").decode(), "body_encoding": "base64"}
    assert WebhookRequest.from_api_gateway(replay_event(binary)).body == b"\x00\xff"


@pytest.mark.parametrize(
    "change, why",
    [
        ({"status": 403, "reason": "X-Twilio-Signature does not match"}, "would be again"),
        ({"body_truncated": True}, "only part of its body"),
        ({"route": "ses:receipt"}, "not an HTTP route"),
        ({"path": "/webhooks/other"}, "is not one of route"),
    ],
)
def test_what_cannot_be_replayed_says_why(change, why):
    with pytest.raises(NotReplayable, match=why):
        replay_event({**KEPT, **change})


def test_path_parameters():
    assert path_parameters("/subscribe/{token}", "/subscribe/abc") == {"token": "abc"}
    assert path_parameters("/subscribe/{token}", "/subscribe/a/b") is None
    assert path_parameters("/webhooks/twilio/sms", "/webhooks/twilio/sms") == {}
