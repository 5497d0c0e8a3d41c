"""The public subscribe form's input rules and the local gateway's throttle: pure, no AWS."""

from __future__ import annotations

import pytest

from local_stack.gateway import TokenBucket
from local_stack.template import Throttle
from switchboard.incidents.subscriptions import SubscriptionError, email_address, requested_components
from switchboard.store.rate_limits import source_key

KNOWN = {"api": "API", "billing": "Billing & invoices"}


@pytest.mark.parametrize("text, address", [(" Reader@Customer.Example ", "reader@customer.example"), ("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk")])
def test_an_address_is_kept_lower_cased(text, address):
    assert email_address(text) == address


@pytest.mark.parametrize(
    "text",
    [
        "reader@customer.example\r\nBcc: victim@bigcorp.example",
        "reader@customer.example\nBcc: x@y.example",
        "reader\u2028@customer.example",  # a Unicode line separator
        "read\u200ber@customer.example",  # an invisible format character
        "reader@customer.example\x00",
    ],
)
def test_line_breaks_and_control_characters_are_refused_by_name(text):
    with pytest.raises(SubscriptionError, match="line breaks or control characters"):
        email_address(text)


@pytest.mark.parametrize("text", ['"Eve" <eve@evil.example>', "eve@evil.example, victim@x.example", "eve@evil", "eve", "", "a@-x.example", "x" * 65 + "@a.example"])
def test_anything_but_one_plain_address_is_refused(text):
    with pytest.raises(SubscriptionError):
        email_address(text)


def test_components_are_ours_or_refused_by_name():
    assert requested_components(" Billing, api ,,", KNOWN) == ("api", "billing")
    assert requested_components("", KNOWN) == ()
    with pytest.raises(SubscriptionError, match=r"We have no component web\?\?bcc: x. Ours: api, billing\."):
        requested_components("api,web\r\nBcc: x", KNOWN)
    with pytest.raises(SubscriptionError, match=r"a, b, c and 2 more"):
        requested_components("a,b,c,d,e", KNOWN)


@pytest.mark.parametrize(
    "ip, key",
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),  # the same /64: the same caller
        (None, "unknown"),
        ("not-an-ip", "unknown"),
    ],
)
def test_a_source_is_an_ipv4_address_or_an_ipv6_64(ip, key):
    assert source_key(ip) == key


def test_the_gateway_bucket_spends_its_burst_then_refills_at_its_rate():
    now = [100.0]
    bucket = TokenBucket(Throttle(rate_per_second=2, burst=3), clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back at 2 per second
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 60
    assert sum(bucket.take() for _ in range(10)) == 3, "never more than the burst"
