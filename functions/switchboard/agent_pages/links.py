"""The link in a page SMS: `/c/<token>`, bound to one agent and one conversation.

The token is random and only its digest is stored (link_tokens.py); the link works until
the conversation is resolved or `valid_for` passes, whichever is first, and never for an
agent removed or signed out everywhere since it was issued (agent_pages/access.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from switchboard.link_tokens import new_token, token_digest
from switchboard.store.agent_access import AgentAccessStore, Grant

CONVERSATION_PATH = "/c/"
INBOX_PATH = "/inbox"


@dataclass(frozen=True)
class PageLinks:
    access: AgentAccessStore
    public_url: str
    valid_for: timedelta

    def issue(self, agent_id: str, conversation_id: str, now: datetime) -> str:
        """A new link, stored before it is returned: it works by the time the SMS arrives."""
        token = new_token()
        self.keep(token, agent_id, conversation_id, now)
        return self.url(token)

    def keep(self, token: str, agent_id: str, conversation_id: str, now: datetime) -> None:
        self.access.put_link(token_digest(token), Grant(agent_id, now, now + self.valid_for, conversation_id))

    def url(self, token: str) -> str:
        return f"{self.public_url}{CONVERSATION_PATH}{token}"

    @property
    def inbox(self) -> str:
        return f"{self.public_url}{INBOX_PATH}"
