"""Reading what an on-call agent texts to the support number: pure, no AWS."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.oncall.commands import (
    ACK_WORDS,
    HELP_TEXT,
    HELP_WORDS,
    LATER_WORDS,
    NO_CODE_PROBLEM,
    RESOLVE_WORDS,
    TAKE_WORDS,
    WAITING_WORDS,
    AgentCommand,
    CommandKind,
    parse_agent_sms,
)
from switchboard.oncall.pages import is_gsm7, segments

ACK = CommandKind.ACK
RESOLVE = CommandKind.RESOLVE
TAKE = CommandKind.TAKE
REPLY = CommandKind.REPLY
UNKNOWN = CommandKind.UNKNOWN


def reply(code: str, text: str) -> AgentCommand:
    return AgentCommand(REPLY, code=code, text=text)


@pytest.mark.parametrize(
    "body",
    [
        "12 ACK",
        "12 ack",
        "12 Ack",  # iOS capitalises the first letter of a word after a number too
        "12 Ack.",
        "12 OK!",
        "12 a",
        "12 ok",
        "12: ack",
        "12, ACK",
        "12-ack",
        "12 - ack",
        "12 \u2014 ack",  # an em dash typed by the keyboard
        "12\u00a0ack",  # a non-breaking space
        "  12 ack \n",
        "\ufeff12 ack",  # a byte-order mark from a copy-paste
        "#12 ack",
        "[12] ACK",  # copied from the page itself
        "012 ack",
        "ACK 12",
        "ack #12",
        "Ack: 12",
        "\uff21\uff23\uff2b\u3000\uff11\uff12",  # full-width "ACK 12" from a CJK keyboard
        "12\uff1aok",  # a full-width colon
    ],
)
def test_acks(body):
    assert parse_agent_sms(body) == AgentCommand(ACK, code="12")


@pytest.mark.parametrize("word", sorted(RESOLVE_WORDS | {"RESOLVE", "Done", "Closed."}))
def test_resolves(word):
    assert parse_agent_sms(f"12 {word}") == AgentCommand(RESOLVE, code="12")
    assert parse_agent_sms(f"{word} 12") == AgentCommand(RESOLVE, code="12")


@pytest.mark.parametrize("body", ["12 TAKE", "12 take", "12 Take.", "12 take over", "12: mine", "TAKE 12", "take over #12", "Take Over: 12"])
def test_takes(body):
    assert parse_agent_sms(body) == AgentCommand(TAKE, code="12")


def test_take_in_a_sentence_is_an_answer_for_the_customer():
    assert parse_agent_sms("12 take a screenshot please") == reply("12", "take a screenshot please")
    assert parse_agent_sms("please take 12").kind is UNKNOWN


def test_the_keyword_lists_are_what_the_module_documents():
    assert ACK_WORDS == {"ack", "a", "ok"}
    assert RESOLVE_WORDS == {"resolve", "resolved", "done", "close", "closed"}
    assert TAKE_WORDS == {"take", "take over", "takeover", "mine"}


@pytest.mark.parametrize("body", ["help", "HELP", "Help", "?", "info", "Info.", "help?", " help \n"])
def test_help_is_the_whole_message(body):
    assert parse_agent_sms(body) == AgentCommand(CommandKind.HELP)


@pytest.mark.parametrize(
    "body, expected",
    [
        ("12 your invoice is fixed", reply("12", "your invoice is fixed")),
        ("12: thanks", reply("12", "thanks")),
        ("12, on it", reply("12", "on it")),
        ("12. Refund sent", reply("12", "Refund sent")),
        ("12 ack, and I refunded you", reply("12", "ack, and I refunded you")),
        ("12 ok thanks", reply("12", "ok thanks")),
        ("12 done by Friday", reply("12", "done by Friday")),
        ("12 help", reply("12", "help")),  # HELP is only ever the whole message
        ("12 Hi Jane,\n\nIt\u2019s fixed.\n\u2014 Ana ", reply("12", "Hi Jane,\n\nIt\u2019s fixed.\n\u2014 Ana")),
        ("12 \U0001f44d", reply("12", "\U0001f44d")),
        ("12 34 euros back", reply("12", "34 euros back")),
        ("12 - thanks", reply("12", "- thanks")),  # kept as typed: only a keyword forgives the dash
        ("012 hello", reply("12", "hello")),
        ("12:hello", reply("12", "hello")),
    ],
)
def test_replies_keep_the_text_as_typed(body, expected):
    assert parse_agent_sms(body) == expected


@pytest.mark.parametrize("body", ["12", "12 ", "12:", "#12", "12 ?", "12 ...", "012"])
def test_a_code_alone_asks_what_to_do(body):
    assert parse_agent_sms(body) == AgentCommand(
        UNKNOWN, code="12", problem="say what to do with 12: ACK, RESOLVE, TAKE, LATER 3h or your answer"
    )


@pytest.mark.parametrize("body", ["", "   ", "\n\t", "\u00a0", "\u200b", None])
def test_nothing_at_all(body):
    command = parse_agent_sms(body)
    assert command.kind is UNKNOWN and command.code is None and command.problem


@pytest.mark.parametrize("body", ["on it", "ACK", "thanks!", "ack please", "a12", "12.5 is the price", "12,000 thanks"])
def test_text_without_a_leading_code(body):
    assert parse_agent_sms(body) == AgentCommand(UNKNOWN, problem=NO_CODE_PROBLEM)


def test_a_code_glued_to_a_word_is_not_guessed():
    command = parse_agent_sms("12ack")
    assert command.kind is UNKNOWN and command.code == "12"
    assert "space" in command.problem


def test_codes_have_at_most_six_digits():
    assert parse_agent_sms("123456 ack") == AgentCommand(ACK, code="123456")
    command = parse_agent_sms("1234567 ack")
    assert command.kind is UNKNOWN and command.code is None and "6 digits" in command.problem


def test_help_text_fits_one_gsm7_segment():
    assert is_gsm7(HELP_TEXT) and segments(HELP_TEXT) == 1
    for needed in ("12 ACK", "12 RESOLVE", "12 TAKE", "12 LATER 3h", "12 WAITING", "12 CALL", "HELP"):
        assert needed in HELP_TEXT
    # The examples it gives are read as it says.
    assert parse_agent_sms("12 ACK").kind is ACK
    assert parse_agent_sms("12 your answer") == reply("12", "your answer")
    assert parse_agent_sms("12 RESOLVE").kind is RESOLVE
    assert parse_agent_sms("12 TAKE").kind is TAKE
    assert parse_agent_sms("12 LATER 3h") == AgentCommand(CommandKind.LATER, code="12", text="3h")
    assert parse_agent_sms("12 WAITING") == AgentCommand(CommandKind.WAITING, code="12")
    assert parse_agent_sms("12 CALL") == AgentCommand(CommandKind.CALL, code="12")
    assert parse_agent_sms("call back 12") == AgentCommand(CommandKind.CALL, code="12")
    assert parse_agent_sms("12 call me tomorrow") == reply("12", "call me tomorrow"), "only the keyword alone calls"


@pytest.mark.parametrize("body, when", [
    ("12 LATER 3h", "3h"), ("12 later tomorrow 09:00", "tomorrow 09:00"), ("12 snooze 90m", "90m"),
    ("12 Remind: mon 9:30", "mon 9:30"), ("#12 LATER  2d", "2d"),
])
def test_later_says_when_to_page_again(body, when):
    assert parse_agent_sms(body) == AgentCommand(CommandKind.LATER, code="12", text=when)


def test_later_without_a_time_asks_when_rather_than_answering_the_customer():
    command = parse_agent_sms("12 later")
    assert command.kind is UNKNOWN and command.code == "12" and "12 LATER 3h" in command.problem
    assert parse_agent_sms("12 later today we ship it").kind is CommandKind.LATER, "the time check is the action's: it says what is wrong"
    assert parse_agent_sms("12 see you later") == reply("12", "see you later")


# Property tests.

ALL_KEYWORDS = ACK_WORDS | RESOLVE_WORDS | HELP_WORDS | WAITING_WORDS | {word.replace(' ', '') for word in TAKE_WORDS}
codes = st.integers(min_value=0, max_value=999_999).map(str)


def could_be_a_keyword(text: str) -> bool:
    """Wider than the parser's own rule: the text with everything but letters removed, or a
    first word that asks for a follow-up ("REMIND 3h")."""
    letters = re.sub(r"[\W\d_]+", "", unicodedata.normalize("NFKC", text)).casefold()
    words = unicodedata.normalize("NFKC", text).casefold().split()
    first = re.sub(r"[\W\d_]+", "", words[0]) if words else ""
    return letters in ALL_KEYWORDS or not letters or first in LATER_WORDS


reply_texts = st.text(min_size=1, max_size=200).filter(
    lambda text: any(char.isalnum() for char in text) and not could_be_a_keyword(text)
)


@given(code=codes, text=reply_texts)
def test_code_then_text_is_a_reply(code, text):
    assert parse_agent_sms(f"{code} {text}") == reply(code, text.strip())


@given(code=codes, keyword=st.sampled_from(sorted(ACK_WORDS | RESOLVE_WORDS | TAKE_WORDS)), upper=st.booleans())
def test_code_then_keyword_is_never_a_reply(code, keyword, upper):
    command = parse_agent_sms(f"{code} {keyword.upper() if upper else keyword}")
    assert command.kind in (ACK, RESOLVE, TAKE) and command.code == code


@given(st.text(max_size=300))
def test_never_raises(body):
    command = parse_agent_sms(body)
    assert isinstance(command.kind, CommandKind)
    if command.kind is UNKNOWN:
        assert command.problem
    if command.kind is REPLY:
        assert command.code and command.text and command.text == command.text.strip()


@given(st.from_regex(r"\A[ #\[\]0-9:,.\-a-zA-Z\u00a0\u2014\n]{0,20}\Z"))
def test_never_raises_on_command_like_text(body):
    parse_agent_sms(body)


@pytest.mark.parametrize("body", ["12 WAITING", "12 wait", "12 pending.", "waiting 12"])
def test_waiting_says_the_conversation_waits_on_the_customer(body):
    assert parse_agent_sms(body) == AgentCommand(CommandKind.WAITING, code="12")


def test_waiting_with_more_words_is_an_answer():
    assert parse_agent_sms("12 waiting for your reply") == reply("12", "waiting for your reply")
