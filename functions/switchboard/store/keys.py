"""Key formats of the single Switchboard table, and the schema template.yaml must declare.

One table, generic key names, items told apart by their key prefixes:

| item          | pk                                  | sk                 |
|---------------|-------------------------------------|--------------------|
| identity      | IDENTITY#<kind>#<value>             | IDENTITY           |
| customer      | CUSTOMER#<customer id>              | CUSTOMER           |
| conversation  | CONVERSATION#<conversation id>      | CONVERSATION       |
| reply token   | REPLYTOKEN#<token>                  | REPLYTOKEN         |
| survey link   | SURVEY#<sha-256 of the token>       | SURVEY             |
| agent link    | AGENTLINK#<sha-256 of the token>    | AGENTLINK          |
| sign-in link  | SIGNIN#<sha-256 of the token>       | SIGNIN             |
| agent session | SESSION#<sha-256 of the token>      | SESSION            |
| live call     | CALL#<CallSid>                      | CALL               |
| message       | CONVERSATION#<conversation id>      | MESSAGE#<ulid>     |
| provider id   | PROVIDER#<provider>#<provider id>   | PROVIDER           |
| x checkpoint  | CHECKPOINT#x-mentions#<account id>  | CHECKPOINT         |
| page          | PAGE#<conversation id>              | PAGE               |
| short code    | SHORTCODE#<code>                    | SHORTCODE          |
| local outbox  | OUTBOX                              | SMS#<ulid>         |
| pager         | PAGER                               | AGENT#<agent id>   |
| agent         | ONCALL                              | AGENT#<agent id>   |
| schedule      | ONCALL                              | SCHEDULE           |
| override      | ONCALL                              | OVERRIDE#<id>      |
| policy        | ONCALL                              | POLICY             |
| incident      | INCIDENTS                           | INCIDENT#<ulid>    |
| open incident | OPEN_INCIDENTS                      | INCIDENT#<ulid>    |
| component     | COMPONENTS                          | COMPONENT#<id>     |
| subscriber    | SUBSCRIBERS                         | <channel>#<address>|
| link token    | TOKEN#<token>                       | TOKEN              |
| opt-out       | OPTOUT#<channel>#<address>          | OPTOUT             |
| rate limit    | RATE#<limit>#<caller hash>          | WINDOW#<start>     |
| fan-out job   | NOTICES#<update id>                 | JOB                |
| notice        | NOTICES#<update id>                 | TO#<channel>#<address> |
| pacer         | PACER#<channel>                     | PACER              |

An identity item may carry `agent_id` (an agent's phone) besides, or instead of, a
customer's `customer_id`. An email sender SES could not authenticate is the identity
`unverified-email`, apart from the verified address's.

A conversation and its messages share a partition, so one Query returns the summary
and the messages in order (ULIDs sort by time).

Provider-id items ("claims") make every inbound message exactly-once: a message claims
its provider's id (MessageSid, SES messageId, CallSid, tweet id) and any other id it is
known by (an email's Message-ID) in the transaction that stores it. The claim records
where the message lives, which is also how email threading finds the conversation an
In-Reply-To answers: our own outbound Message-IDs are claimed the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from switchboard.models import Identity

PK = "pk"
SK = "sk"

# The "conversations by last activity" index. Its partition key is a constant, which
# makes it one partition: fine for a support team's volume (thousands of writes a
# second per partition). Past that, shard it as ACTIVITY#<n> and merge on read.
ACTIVITY_INDEX = "ByActivity"
ACTIVITY_PK = "activity_pk"
ACTIVITY_SK = "activity_sk"
ACTIVITY_PARTITION = "ACTIVITY"


def activity_sort_key(at: str, conversation_id: str) -> str:
    """A conversation's place in ByActivity: its last activity (ISO 8601 UTC), then its id."""
    return f"{at}#{conversation_id}"

# What is due at a time: a sparse index (only items waiting for the tick carry due_pk),
# so the per-minute tick Queries what is due without a Scan. One partition per kind of
# item, like ByActivity; a team's live pages number in the hundreds at most.
DUE_INDEX = "ByDue"
DUE_PK = "due_pk"
DUE_SK = "due_sk"
DUE_PARTITION = "DUE"  # live and snoozed pages by their next escalation time
AUTO_RESOLVE_PARTITION = "AUTORESOLVE"  # conversations waiting on the customer, by when they resolve


def due_sort_key(at: str, item_id: str) -> str:
    """An item's place in ByDue: its due time (ISO 8601 UTC, as iso_utc writes it), then its id."""
    return f"{at}#{item_id}"


def due_by(now: str) -> str:
    """The ByDue sort key bound that takes every item due at or before `now` (ISO 8601 UTC)."""
    return due_sort_key(now, "~")  # "~" sorts after every id

# Attribute DynamoDB's TTL deletes items by (epoch seconds).
TTL_ATTRIBUTE = "expires_at"

# What template.yaml must declare for the table; tests compare the two.
TABLE_SCHEMA = {
    "key": {PK: "S", SK: "S"},
    "indexes": {ACTIVITY_INDEX: {ACTIVITY_PK: "S", ACTIVITY_SK: "S"}, DUE_INDEX: {DUE_PK: "S", DUE_SK: "S"}},
    "ttl_attribute": TTL_ATTRIBUTE,
}

CONVERSATION_SK = "CONVERSATION"
# The provider namespace of RFC 5322 Message-IDs (ours and customers'), whoever
# delivered the email: In-Reply-To and References are looked up under it.
EMAIL_MESSAGE_ID = "email"
MESSAGE_PREFIX = "MESSAGE#"


def identity_key(kind: str, value: str) -> dict[str, str]:
    return {PK: f"IDENTITY#{kind}#{value}", SK: "IDENTITY"}


def identity_item_key(identity: Identity) -> dict[str, str]:
    """The item of a sender's identity. An unverified sender's address is an identity of
    its own (IDENTITY#unverified-email#...): mail that fails authentication never reaches
    the customer who owns the verified address."""
    return identity_key(_identity_kind(identity), identity.value)


def _identity_kind(identity: Identity) -> str:
    return f"unverified-{identity.kind}" if identity.unverified else str(identity.kind)


def reply_token_key(token: str) -> dict[str, str]:
    """A reply address's token → its conversation (reply_address.py)."""
    return {PK: f"REPLYTOKEN#{token}", SK: "REPLYTOKEN"}


def survey_key(token_digest: str) -> dict[str, str]:
    """A satisfaction link's token (only its digest is stored) → its conversation."""
    return {PK: f"SURVEY#{token_digest}", SK: "SURVEY"}


def agent_link_key(token_digest: str) -> dict[str, str]:
    """An agent's link to one conversation's page (agent_pages/): the agent and the conversation."""
    return {PK: f"AGENTLINK#{token_digest}", SK: "AGENTLINK"}


def sign_in_key(token_digest: str) -> dict[str, str]:
    """A one-time sign-in link sent to an agent's phone or address."""
    return {PK: f"SIGNIN#{token_digest}", SK: "SIGNIN"}


def session_key(token_digest: str) -> dict[str, str]:
    """A signed-in agent's session (the cookie holds the token)."""
    return {PK: f"SESSION#{token_digest}", SK: "SESSION"}


def call_key(call_sid: str) -> dict[str, str]:
    """A call being put through to a person (oncall/live_calls.py): whom it rang, who took it."""
    return {PK: f"CALL#{call_sid}", SK: "CALL"}


def customer_key(customer_id: str) -> dict[str, str]:
    return {PK: f"CUSTOMER#{customer_id}", SK: "CUSTOMER"}


def conversation_pk(conversation_id: str) -> str:
    return f"CONVERSATION#{conversation_id}"


def conversation_key(conversation_id: str) -> dict[str, str]:
    return {PK: conversation_pk(conversation_id), SK: CONVERSATION_SK}


def message_key(conversation_id: str, message_id: str) -> dict[str, str]:
    return {PK: conversation_pk(conversation_id), SK: f"{MESSAGE_PREFIX}{message_id}"}


def provider_key(provider: str, provider_id: str) -> dict[str, str]:
    return {PK: f"PROVIDER#{provider}#{provider_id}", SK: "PROVIDER"}


def identity_map_key(identity: Identity) -> str:
    """The key of one identity in a customer item's identities map."""
    return f"{_identity_kind(identity)}#{identity.value}"


def page_key(conversation_id: str) -> dict[str, str]:
    return {PK: f"PAGE#{conversation_id}", SK: "PAGE"}


def short_code_key(code: str) -> dict[str, str]:
    return {PK: f"SHORTCODE#{code}", SK: "SHORTCODE"}


PAGER_PK = "PAGER"


def pager_key(agent_id: str) -> dict[str, str]:
    return {PK: PAGER_PK, SK: f"AGENT#{agent_id}"}


OUTBOX_PK = "OUTBOX"


def outbox_key(outbox_id: str) -> dict[str, str]:
    return {PK: OUTBOX_PK, SK: f"SMS#{outbox_id}"}


ONCALL_PK = "ONCALL"


def agent_key(agent_id: str) -> dict[str, str]:
    return {PK: ONCALL_PK, SK: f"AGENT#{agent_id}"}


def schedule_key() -> dict[str, str]:
    return {PK: ONCALL_PK, SK: "SCHEDULE"}


def policy_key() -> dict[str, str]:
    return {PK: ONCALL_PK, SK: "POLICY"}


def override_key(override_id: str) -> dict[str, str]:
    return {PK: ONCALL_PK, SK: f"OVERRIDE#{override_id}"}


def checkpoint_key(name: str) -> dict[str, str]:
    return {PK: f"CHECKPOINT#{name}", SK: "CHECKPOINT"}


INCIDENTS_PK = "INCIDENTS"
INCIDENT_PREFIX = "INCIDENT#"
OPEN_INCIDENTS_PK = "OPEN_INCIDENTS"
COMPONENTS_PK = "COMPONENTS"


def incident_key(incident_id: str) -> dict[str, str]:
    return {PK: INCIDENTS_PK, SK: f"{INCIDENT_PREFIX}{incident_id}"}


def open_incident_key(incident_id: str) -> dict[str, str]:
    return {PK: OPEN_INCIDENTS_PK, SK: f"{INCIDENT_PREFIX}{incident_id}"}


def component_key(component_id: str) -> dict[str, str]:
    return {PK: COMPONENTS_PK, SK: f"COMPONENT#{component_id}"}


# Every subscriber in one partition, read page by page for a fan-out. 10,000 subscribers
# are ~2 MB: a handful of Query pages. Past a few hundred thousand, shard it
# (SUBSCRIBERS#<n>) and fan out the shards in parallel.
SUBSCRIBERS_PK = "SUBSCRIBERS"


def subscriber_key(channel: str, address: str) -> dict[str, str]:
    return {PK: SUBSCRIBERS_PK, SK: f"{channel}#{address}"}


def token_key(token: str) -> dict[str, str]:
    return {PK: f"TOKEN#{token}", SK: "TOKEN"}


def rate_limit_key(limit: str, caller_hash: str, window_start: int) -> dict[str, str]:
    return {PK: f"RATE#{limit}#{caller_hash}", SK: f"WINDOW#{window_start}"}


def opt_out_key(channel: str, address: str) -> dict[str, str]:
    return {PK: f"OPTOUT#{channel}#{address}", SK: "OPTOUT"}


def notices_pk(update_id: str) -> str:
    return f"NOTICES#{update_id}"


NOTICE_PREFIX = "TO#"


def fanout_job_key(update_id: str) -> dict[str, str]:
    return {PK: notices_pk(update_id), SK: "JOB"}


def notice_key(update_id: str, channel: str, address: str) -> dict[str, str]:
    return {PK: notices_pk(update_id), SK: f"{NOTICE_PREFIX}{channel}#{address}"}


def pacer_key(channel: str) -> dict[str, str]:
    return {PK: f"PACER#{channel}", SK: "PACER"}
