"""Who is asking for an agent page: the agent a link or a session was issued to.

A token gets the same answer (None) whether it is malformed, unknown, expired, issued to
an agent since removed, or issued before the agent was signed out everywhere
(Agent.access_since); a conversation link also ends once its conversation is resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from switchboard.link_tokens import plausible, token_digest
from switchboard.models import ConversationStatus
from switchboard.oncall.agents import Agent, get_agent
from switchboard.store.agent_access import AgentAccessStore, Grant
from switchboard.store.conversations import ConversationStore
from switchboard.store.oncall import OncallStore


@dataclass(frozen=True)
class Visitor:
    agent: Agent
    secret: str  # the link's or session's token: the forms' CSRF tokens derive from it
    conversation_id: str | None = None  # a link: the one conversation it opens (merges followed)


def by_link(token: str, now: datetime, access: AgentAccessStore, oncall: OncallStore, conversations: ConversationStore) -> Visitor | None:
    """The agent and conversation a page SMS's link opens; None for any link that does not."""
    grant = access.find_link(token_digest(token), now) if plausible(token) else None
    agent = still_theirs(grant, oncall)
    if grant is None or agent is None or grant.conversation_id is None:
        return None
    route = conversations.follow_conversation(grant.conversation_id)  # a merge may have moved it
    conversation = conversations.get_summary(route.conversation_id) if route else None
    if conversation is None or conversation.status is ConversationStatus.RESOLVED:
        return None
    if conversation.resolved_at is not None and conversation.resolved_at >= grant.issued_at:
        return None  # resolved since the link was sent, and reopened: a new page brings a new link
    return Visitor(agent, token, conversation.conversation_id)


def by_session(token: str, now: datetime, access: AgentAccessStore, oncall: OncallStore) -> Visitor | None:
    grant = access.find_session(token_digest(token), now) if plausible(token) else None
    agent = still_theirs(grant, oncall)
    return Visitor(agent, token) if agent is not None else None


def still_theirs(grant: Grant | None, oncall: OncallStore) -> Agent | None:
    """The grant's agent, unless removed or signed out everywhere since it was issued."""
    if grant is None:
        return None
    agent = get_agent(oncall, grant.agent_id)
    if agent is None or (agent.access_since is not None and grant.issued_at < agent.access_since):
        return None
    return agent
