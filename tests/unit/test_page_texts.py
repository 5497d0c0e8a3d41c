"""The SMS texts that page the on-call person: GSM-7, one segment, pure."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.models import Channel
from switchboard.oncall.pages import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    PageItem,
    cut,
    digest_text,
    is_gsm7,
    page_text,
    segments,
    septets,
    short_name,
    to_gsm7,
)

LONG_UNICODE = "Bonjour 👋 ma facture “octobre” est fausse — 请帮忙 ✨✨✨ " * 8


def one_gsm7_segment(text: str) -> bool:
    return is_gsm7(text) and segments(text) == 1


# The alphabet and segment counting.


def test_the_tables():
    assert len(GSM7_BASIC) == 127 and len(set(GSM7_BASIC)) == 127  # 128 codes less the escape
    assert "\x1b" not in GSM7_BASIC
    assert set(GSM7_EXTENDED) == set("\x0c^{}\\[~]|€")
    assert not set(GSM7_BASIC) & set(GSM7_EXTENDED)
    for char in "@£$¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà":
        assert is_gsm7(char)
    for char in "`ïçÈ’“—…\u00a0👍ж":
        assert not is_gsm7(char)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("€" * 80, 1),  # 160 septets
        ("€" * 81, 2),
        ("a" * 159 + "€", 2),  # 161 septets
        ("a" * 152 + "€" + "a" * 10, 2),  # the euro sign moves whole to the second part
        ("a" * 152 + "€" + "a" * 152, 3),  # ... so 306 septets need three parts, not two
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("ж" * 134, 2),
        ("ж" * 135, 3),
        ("a" * 69 + "ж", 1),  # one non-GSM character makes the whole text UCS-2
        ("a" * 70 + "ж", 2),
        ("👍" * 35, 1),  # an emoji is two UTF-16 code units
        ("👍" * 36, 2),
        ("a" + "👍" * 33 + "a" * 2, 1),  # 69 units
        ("aa" + "👍" * 66, 3),  # 134 units, but the emoji that would straddle a part moves on
    ],
)
def test_segments(text, expected):
    assert segments(text) == expected


def test_extension_characters_count_two_septets():
    assert septets("€") == 2 and septets("a") == 1
    assert septets("[12] {x} ~|^\\") == 21  # 8 extension characters


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Grüße", "Grüße"),  # ü and ß are GSM-7
        ("naïve café", "naive café"),  # ï is not (→ i), é is
        ("“smart” ‘quotes’", "\"smart\" 'quotes'"),
        ("it’s", "it's"),
        ("a – b — c", "a - b - c"),
        ("wait…", "wait..."),
        ("a\u00a0b", "a b"),
        ("thanks 👍", "thanks ?"),
        ("love ❤️", "love ?"),  # the variation selector is dropped, not a second "?"
        ("line one\nline two\r\n\tend", "line one line two end"),
        ("  lots   of   space  ", "lots of space"),
        ("Ｆｕｌｌ ｗｉｄｔｈ", "Full width"),
        ("½ price", "1/2 price"),
        ("Ça va, François ?", "Ça va, Francois ?"),
        ("Привет", "??????"),
        ("€5 [note]", "€5 [note]"),
        ("ctrl\x00\x1bchars", "ctrlchars"),
    ],
)
def test_to_gsm7(text, expected):
    assert to_gsm7(text) == expected


@given(st.text())
def test_to_gsm7_is_always_gsm7(text):
    folded = to_gsm7(text)
    assert is_gsm7(folded)
    assert folded == folded.strip() and "  " not in folded and "\n" not in folded


@pytest.mark.parametrize(
    "display_name, expected",
    [
        ("Jane Doe", "Jane D"),
        ("Mary Jane Watson", "Mary W"),
        ("Cher", "Cher"),
        ("  jane   doe ", "jane d"),
        ("Doe, Jane", "Jane D"),
        ('"Jane Doe"', "Jane D"),
        ("Jane Doe (Acme)", "Jane D"),
        ("Ana María Ñúñez", "Ana Ñ"),
        (None, "jane@example.com"),
        ("", "jane@example.com"),
        ("   ", "jane@example.com"),
    ],
)
def test_short_name(display_name, expected):
    assert short_name(display_name, "jane@example.com") == expected


def test_cut():
    assert cut("short", 10) == "short"
    assert cut("my invoice shows the wrong amount", 19) == "my invoice shows..."
    assert cut("abcdefghijklmnop", 8) == "abcde..."
    assert septets(cut("€" * 50, 11)) <= 11
    assert cut("anything", 2) == ""


# Pages.


def test_the_page_format():
    item = PageItem(code="12", channel="sms", customer="Jane D", preview="my invoice shows the wrong total")
    assert page_text(item) == '[12] SMS Jane D: "my invoice shows the wrong total" Reply 12 ACK or 12 <answer>'


def test_a_long_preview_is_cut_with_an_ellipsis():
    item = PageItem("12", "sms", "Jane D", "my invoice shows " + "the wrong amount again " * 10)
    text = page_text(item)
    assert one_gsm7_segment(text)
    assert text.startswith('[12] SMS Jane D: "my invoice shows the wrong amount')
    assert text.endswith('..." Reply 12 ACK or 12 <answer>')


@pytest.mark.parametrize(
    "channel, label", [("sms", "SMS"), ("voice", "CALL"), ("email", "EMAIL"), ("x", "X"), (Channel.VOICE, "CALL")]
)
def test_channel_labels(channel, label):
    text = page_text(PageItem("7", channel, "Jane D", LONG_UNICODE))
    assert text.startswith(f"[7] {label} Jane D: ")
    assert one_gsm7_segment(text)


def test_escalated_pages_say_so_first():
    text = page_text(PageItem("12", "email", "bob@example.com", "refund?", escalated=True))
    assert text == 'ESCALATED [12] EMAIL bob@example.com: "refund?" Reply 12 ACK or 12 <answer>'


def test_no_preview():
    text = page_text(PageItem("12", "voice", "+14155550100", ""))
    assert text == "[12] CALL +14155550100. Reply 12 ACK or 12 <answer>"


@pytest.mark.parametrize(
    "customer, preview",
    [
        ("Jane D", "👍" * 500),
        ("Jane D", LONG_UNICODE),
        ("Jane D", "€" * 200),  # two septets each
        ("x" * 500, "hello"),
        ("[" * 500, "]" * 500),
        ("请" * 300, "请" * 300),
        ("", ""),
    ],
)
def test_hard_pages_still_fit_one_segment(customer, preview):
    for escalated in (False, True):
        text = page_text(PageItem("123456", "email", customer, preview, escalated))
        assert one_gsm7_segment(text), text
        assert text.endswith("Reply 123456 ACK or 123456 <answer>")


def test_a_huge_name_is_cut_but_leaves_room_for_the_message():
    text = page_text(PageItem("12", "email", "a-very-long-address-" * 20 + "@example.com", "my invoice is wrong"))
    assert one_gsm7_segment(text)
    assert '"my invoice is wrong"' in text


@given(
    code=st.integers(min_value=0, max_value=999_999).map(str),
    channel=st.sampled_from(["sms", "voice", "email", "x"]),
    customer=st.text(max_size=300),
    preview=st.text(max_size=1000),
    escalated=st.booleans(),
)
def test_every_page_is_one_gsm7_segment(code, channel, customer, preview, escalated):
    text = page_text(PageItem(code, channel, customer, preview, escalated))
    assert one_gsm7_segment(text)
    assert f"[{code}]" in text and text.endswith(f"Reply {code} ACK or {code} <answer>")


# Digests.


def item(n: int, preview: str = "my invoice is wrong, please help", customer: str | None = None) -> PageItem:
    return PageItem(str(n), "email" if n % 2 else "sms", customer or f"customer{n}@example.com", preview)


def test_a_few_are_all_listed():
    text = digest_text([item(12, "my invoice"), item(13, "refund?")])
    assert text == (
        'Switchboard: 2 need an answer. [12] SMS customer12@example.com "my invoice" '
        '[13] EMAIL customer13@example.com "refund?" Reply <n> ACK or <n> <answer>'
    )


def test_one():
    text = digest_text([item(12, "my invoice")])
    assert text.startswith("Switchboard: 1 needs an answer. [12] SMS")
    assert "more" not in text


def test_none():
    assert digest_text([]) == "Switchboard: no conversation needs an answer."


def test_many_say_how_many_are_not_shown():
    items = [item(n, LONG_UNICODE) for n in range(1000)]
    text = digest_text(items)
    assert is_gsm7(text) and segments(text) <= 3
    shown = len(re.findall(r"\[\d+\]", text))
    assert 3 <= shown < 1000
    assert text.startswith("Switchboard: 1000 need an answer. [0] SMS ")
    assert f"+{1000 - shown} more (switchboard conversations list)." in text
    assert text.endswith("Reply <n> ACK or <n> <answer>")


@pytest.mark.parametrize("max_segments", [1, 2, 3, 5])
def test_max_segments_is_kept(max_segments):
    items = [item(n, "€" * 40, "[" * 40) for n in range(100)]
    text = digest_text(items, max_segments=max_segments)
    assert is_gsm7(text) and segments(text) <= max_segments
    assert "more" in text


def test_more_segments_list_more():
    items = [item(n) for n in range(100)]
    counts = [len(re.findall(r"\[\d+\]", digest_text(items, m))) for m in (1, 2, 3, 5)]
    assert counts == sorted(counts) and counts[0] >= 1 and counts[-1] > counts[0]


def test_escalated_entries_are_marked():
    text = digest_text([PageItem("12", "sms", "Jane D", "hi", escalated=True)])
    assert '[12] ESC SMS Jane D "hi"' in text


def test_max_segments_must_be_positive():
    with pytest.raises(ValueError):
        digest_text([item(1)], max_segments=0)


page_items = st.builds(
    PageItem,
    code=st.integers(min_value=0, max_value=999_999).map(str),
    channel=st.sampled_from(["sms", "voice", "email", "x"]),
    customer=st.text(max_size=100),
    preview=st.text(max_size=300),
    escalated=st.booleans(),
)


@given(items=st.lists(page_items, max_size=60), max_segments=st.integers(min_value=1, max_value=4))
def test_a_digest_never_exceeds_its_segments(items, max_segments):
    text = digest_text(items, max_segments)
    assert is_gsm7(text) and segments(text) <= max_segments
    if items:
        shown = len(re.findall(r"\[\d+\] (?:ESC )?(?:SMS|CALL|EMAIL|X) ", text))
        assert shown >= 1  # at least the first conversation is always named
        assert str(len(items)) in text


LINK = "https://abcdefghij.execute-api.eu-west-1.amazonaws.com/c/" + "T" * 22


def test_a_page_with_its_link_still_fits_one_segment_the_preview_giving_way():
    long = PageItem("12", "sms", "Jane D", "my invoice for November shows two charges and I was told last week it would be fixed")

    text = page_text(replace(long, link=LINK))

    assert text.endswith(f"Reply 12 ACK or 12 <answer> {LINK}")
    assert segments(text) == 1 and septets(text) <= 160
    assert text.startswith('[12] SMS Jane D: "my invoice') and '..."' in text


def test_a_link_with_no_room_or_outside_gsm7_is_left_out():
    item = PageItem("12", "sms", "Jane D", "hello")

    assert page_text(replace(item, link="https://" + "x" * 140 + "/c/token")) == page_text(item)
    assert page_text(replace(item, link="https://support.łódź.example/c/token")) == page_text(item)


def test_a_digest_links_each_conversation_it_shows_and_the_inbox_for_the_rest():
    items = [replace(PageItem(str(10 + n), "email", f"Customer {n}", "where is my order?"), link=f"{LINK[:-2]}{n:02d}") for n in range(12)]

    text = digest_text(items, inbox_link="https://abcdefghij.execute-api.eu-west-1.amazonaws.com/inbox")

    shown = [item for item in items if item.link in text]
    assert 2 <= len(shown) < 12 and segments(text) <= 3
    assert f"+{12 - len(shown)} more: https://abcdefghij.execute-api.eu-west-1.amazonaws.com/inbox" in text
