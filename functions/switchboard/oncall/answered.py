""""12 answered by Ana Lima": when an agent answers or resolves a conversation, every other
agent paged about it within the last hour hears so, so nobody calls a customer who is
already helped.

The note is bundled like a digest (oncall/bundling.on_note): it waits for the end of the
agent's bundling window (the next tick, when none is open) and goes in the digest SMS, or
alone in its place; it counts against the agent's SMS cap like any SMS. A setting turns
it off (TELL_OTHER_AGENTS).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from switchboard.oncall.bundling import PagerState, on_note
from switchboard.store.pagers import WRITE_ATTEMPTS, PagerStore
from switchboard.store.pages import Page

# Agents paged about the conversation this recently hear that it was answered.
RECENT = timedelta(hours=1)


def agents_to_tell(page: Page, acting_agent_id: str, now: datetime) -> list[str]:
    """The other agents paged about this page's conversation within RECENT of now. Pure."""
    return sorted(agent for agent, paged in page.paged_at.items() if agent != acting_agent_id and paged >= now - RECENT)


def tell_others(page: Page | None, acting_agent_id: str, note: str, now: datetime, pagers: PagerStore) -> list[str]:
    """Leave `note` for each agent to tell (in their pager state); who they are."""
    told = agents_to_tell(page, acting_agent_id, now) if page else []
    for agent_id in told:
        for _ in range(WRITE_ATTEMPTS):  # routers and the tick write the same pager: optimistic
            document, version = pagers.get(agent_id)
            decision = on_note(PagerState.from_document(document), note, now)
            if pagers.put(agent_id, decision.state.to_document(), version):
                break
        else:
            raise RuntimeError(f"pager of {agent_id} kept changing under us")
    return told
