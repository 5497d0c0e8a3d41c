"""One question after the answer: "How did we do?", on the customer's own channel.

Who is asked: a customer whose conversation an agent resolves after an agent answered it
(none for one resolved without an answer, or resolved by itself after `12 WAITING`), on
a channel the setting names (SMS; email; voicemail callers by SMS; X is off by default,
a public reply), once per conversation, never when the customer was asked within the
quiet days (the customer item keeps when), never to an opted-out address or a withheld
number. The question is stored with the resolution, in one transaction.

How they answer:
- by SMS, a reply that is only a score ("4", "4/5", "5 stars") within the answer days,
  while the conversation is unrated (sms_webhook asks `rating_reply` before anything
  else happens to a customer's SMS). Anything else is a new message as usual.
- by email, five links to `/rate/<token>?score=N`: a GET shows the score with a field for
  an optional comment and a button, the POST records (handlers/satisfaction_links.py), so
  a mail scanner that follows every link records nothing. The token is random (128 bits);
  only its SHA-256 digest is stored.

The rating lands on the conversation (Conversation.rating: score, comment, channel, time)
without reopening it or paging anyone: the router's FilterCriteria skip kind "rating".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ulid import ULID

from switchboard.conversations.replies import SMS_REPLY_CHANNELS, CannotReply, opted_out, reply_destination, stored_form, to_customer
from switchboard.link_tokens import new_token, plausible, token_digest
from switchboard.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Identity,
    IdentityKind,
    InboundMessage,
    MessageKind,
    OutboundMessage,
    OutboundPurpose,
    Rating,
)
from switchboard.store.conversations import ConversationStore, DuplicateMessage, Route
from switchboard.store.queue import OutboxQueue
from switchboard.store.subscribers import SubscriberStore

SURVEY_PROVIDER = "satisfaction"  # the stored question's provider: "survey-<conversation id>" is claimed once
SCORES = range(1, 6)
SCORE_WORDS = {1: "poor", 2: "not good", 3: "okay", 4: "good", 5: "great"}
MAX_COMMENT_LENGTH = 1000
# A reply that is a score and nothing else: "4", " 4 ", "4/5", "4 out of 5", "5 stars", "5!".
_SCORE_REPLY = re.compile(r"\s*([1-5])\s*(?:/\s*5|out\s+of\s+5|stars?)?\s*[.!]?\s*", re.IGNORECASE)
# Again within this long of the question is a retried RESOLVE: the stored question is queued again.
_RETRY_WINDOW = timedelta(hours=1)


def parse_score(text: str) -> int | None:
    """The score an SMS reply gives, when the reply is a score and nothing else."""
    match = _SCORE_REPLY.fullmatch(text)
    return int(match.group(1)) if match else None


class Outcome(StrEnum):
    ASKED = "asked"
    ASKED_AGAIN = "asked_again"  # a retried resolution: the stored question queued again (sent once)
    OFF = "off"  # not asked on this channel (a setting)
    NOT_ANSWERED = "not_answered"  # no agent answered since the conversation opened
    ALREADY = "already"  # this conversation was asked already
    QUIET = "quiet"  # the customer was asked within the quiet days
    OPTED_OUT = "opted_out"
    UNREACHABLE = "unreachable"  # a withheld number; an email customer with no support address to write from


@dataclass(frozen=True)
class SatisfactionPolicy:
    channels: frozenset[str]  # the channels asked: sms, email, voice (by SMS), x
    quiet: timedelta  # a customer is asked at most once in this long
    answer_within: timedelta  # an SMS score counts, and an email link works, this long after the question
    text_sms: str  # "{brand}"
    text_email: str  # "{brand}"; the five links follow it
    brand: str
    public_url: str  # where the links point (the API's public URL)

    @classmethod
    def from_settings(cls, settings: Any) -> "SatisfactionPolicy":
        return cls(
            channels=frozenset(settings.satisfaction_channel_list),
            quiet=timedelta(days=settings.satisfaction_quiet_days),
            answer_within=timedelta(days=settings.satisfaction_answer_days),
            text_sms=settings.satisfaction_text_sms,
            text_email=settings.satisfaction_text_email,
            brand=settings.brand_name,
            public_url=settings.public_url,
        )


@dataclass(frozen=True)
class Survey:
    """What asking works with."""

    policy: SatisfactionPolicy
    conversations: ConversationStore
    subscribers: SubscriberStore
    outbox: OutboxQueue
    support_email_address: str = ""


@dataclass(frozen=True)
class SurveyQuestion:
    """A question ready to store with the resolution (ConversationStore.resolve_with_question)."""

    message: InboundMessage  # its stored form
    route: Route
    message_id: str
    quiet_since: datetime  # the customer must not have been asked since
    token_digest: str | None = None  # an email question's link token
    link_expires_at: datetime | None = None


def resolve_and_ask(conversation: Conversation, now: datetime, survey: Survey) -> Outcome:
    """Resolve `conversation` (its summary, read before) and ask how we did when that is
    due: stored with the resolution in one transaction, then queued. Otherwise (or when
    the customer was asked meanwhile) the conversation is resolved without a question."""
    outcome = _due(conversation, now, survey)
    if outcome is Outcome.ASKED_AGAIN:
        _queue_again(conversation, now, survey)
        return outcome
    if outcome is Outcome.ASKED:
        outcome = _ask(conversation, now, survey)
        if outcome in (Outcome.ASKED, Outcome.ASKED_AGAIN):
            return outcome  # resolved with the question
    survey.conversations.resolve_conversation(conversation.conversation_id, now)
    return outcome


def _ask(conversation: Conversation, now: datetime, survey: Survey) -> Outcome:
    """Store the question with the resolution, then queue it; any other outcome wrote nothing."""
    prepared = _question(conversation, now, survey)
    if isinstance(prepared, Outcome):
        return prepared
    question, outbound = prepared
    try:
        if not survey.conversations.resolve_with_question(question, now):
            return Outcome.QUIET  # the customer was asked on another conversation meanwhile
    except DuplicateMessage:
        return Outcome.ASKED_AGAIN  # a concurrent retry stored it, and queues it
    survey.outbox.send(replace(outbound, stream_message_id=question.message_id))
    return Outcome.ASKED


def _due(conversation: Conversation, now: datetime, survey: Survey) -> Outcome:
    policy = survey.policy
    if conversation.survey_message_id:
        retried = (conversation.status is ConversationStatus.RESOLVED and conversation.surveyed_at is not None
                   and now - conversation.surveyed_at <= _RETRY_WINDOW)
        return Outcome.ASKED_AGAIN if retried else Outcome.ALREADY
    if conversation.channel.value not in policy.channels:
        return Outcome.OFF
    if conversation.answered_at is None or conversation.status is ConversationStatus.RESOLVED:
        return Outcome.NOT_ANSWERED
    asked_before = survey.conversations.customer_surveyed_at(conversation.customer_id)
    if asked_before is not None and asked_before >= now - policy.quiet:
        return Outcome.QUIET
    if opted_out(conversation, survey.subscribers):
        return Outcome.OPTED_OUT
    return Outcome.ASKED


def _question(conversation: Conversation, now: datetime, survey: Survey) -> tuple[SurveyQuestion, OutboundMessage] | Outcome:
    policy = survey.policy
    token = new_token() if _by_email(conversation) else None
    try:
        outbound, also_known_as = _outbound(conversation, token, survey)
    except CannotReply:
        return Outcome.UNREACHABLE
    message_id = str(ULID.from_datetime(now))
    sender = Identity(IdentityKind.AUTOMATIC, "satisfaction", display_name=policy.brand)
    # The stream keeps the question without its links: only the customer holds the token.
    stored = replace(
        stored_form(outbound, SURVEY_PROVIDER, _request_id(conversation), sender, now, also_known_as, MessageKind.SATISFACTION_QUESTION),
        body=_question_text(conversation, policy),
    )
    route = Route(conversation.customer_id, conversation.conversation_id)
    expires = now + policy.answer_within
    question = SurveyQuestion(stored, route, message_id, now - policy.quiet, token_digest(token) if token else None, expires if token else None)
    return question, outbound


def _queue_again(conversation: Conversation, now: datetime, survey: Survey) -> None:
    """Queue the stored question again, under the same outbox key: however often a retry
    queues it, the sender sends it once. An email gets a fresh link token (only digests are
    stored); whichever email arrives, its links work."""
    token = new_token() if _by_email(conversation) else None
    route = Route(conversation.customer_id, conversation.conversation_id)
    if token:
        survey.conversations.put_survey_link(token_digest(token), route, now + survey.policy.answer_within)
    try:
        outbound, _ = _outbound(conversation, token, survey)
    except CannotReply:
        return
    survey.outbox.send(replace(outbound, stream_message_id=conversation.survey_message_id))


def _outbound(conversation: Conversation, token: str | None, survey: Survey) -> tuple[OutboundMessage, tuple[tuple[str, str], ...]]:
    text = _question_text(conversation, survey.policy)
    if token:
        text = email_question(text, survey.policy, token)
    return to_customer(
        conversation, text, OutboundPurpose.SATISFACTION, _request_id(conversation), survey.support_email_address,
        survey.conversations.reply_token,
    )


def _request_id(conversation: Conversation) -> str:
    return f"survey-{conversation.conversation_id}"  # one question per conversation, whoever resolves it


def _by_email(conversation: Conversation) -> bool:
    return reply_destination(conversation)["channel"] == Channel.EMAIL.value


def _question_text(conversation: Conversation, policy: SatisfactionPolicy) -> str:
    by_sms = reply_destination(conversation)["channel"] in SMS_REPLY_CHANNELS
    return (policy.text_sms if by_sms else policy.text_email).format(brand=policy.brand)


def email_question(text: str, policy: SatisfactionPolicy, token: str) -> str:
    """The email's body: the question, then one link per score, best first."""
    links = "\n".join(f"{score} ({SCORE_WORDS[score]}): {rating_link(policy.public_url, token, score)}" for score in reversed(SCORES))
    return f"{text}\n\n{links}\n\nOne click is all it takes; you can add a comment on the page it opens.\n\n{policy.brand}"


def rating_link(public_url: str, token: str, score: int) -> str:
    return f"{public_url}/rate/{token}?score={score}"


# ---- the answer ----


def rating_reply(message: InboundMessage, route: Route | None, now: datetime, policy: SatisfactionPolicy,
                 conversations: ConversationStore) -> Rating | None:
    """The rating a customer's SMS gives, stored on their conversation and in its stream;
    None when the SMS is not one (not a bare score, no question pending on the sender's
    conversation, or answered already): then it is a message as usual.

    A retry of a rating SMS already stored gives the rating again, and stores nothing.
    """
    score = parse_score(message.body) if not message.media else None
    if score is None or route is None:
        return None
    conversation = conversations.get_summary(route.conversation_id)
    if (conversation is None or not conversation.survey_message_id or conversation.surveyed_at is None
            or not _asked_by_sms(conversation) or now - conversation.surveyed_at > policy.answer_within):
        return None
    rating = Rating(score, Channel.SMS.value, now)
    try:  # rated already: the write is refused (None), unless it is this SMS's retry
        stored = conversations.append_rating(
            replace(message, kind=MessageKind.RATING), route, str(ULID.from_datetime(now)), rating,
        )
    except DuplicateMessage:
        return rating  # Twilio's retry
    return rating if stored else None


def _asked_by_sms(conversation: Conversation) -> bool:
    return reply_destination(conversation)["channel"] in SMS_REPLY_CHANNELS


def rated_by_link(token: str, now: datetime, conversations: ConversationStore) -> Route | None:
    """The conversation an email link rates; None when the link is malformed, unknown or expired."""
    if not plausible(token):
        return None
    return conversations.find_survey_link(token_digest(token), now)


def link_rating(token: str, score: int, comment: str, now: datetime, conversations: ConversationStore) -> Rating | None:
    """Record a rating from an email link; None when the link is unknown or expired."""
    route = rated_by_link(token, now, conversations) if score in SCORES else None
    if route is None:
        return None
    rating = Rating(score, Channel.EMAIL.value, now, " ".join(comment.split())[:MAX_COMMENT_LENGTH])
    return rating if conversations.rate(route.conversation_id, rating) else None
