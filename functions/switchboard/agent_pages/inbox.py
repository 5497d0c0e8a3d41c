"""The agents' inbox: the conversations waiting on us, oldest wait first, the signed-in
agent's own open pages on top, and who is on call now. Read with two Queries (the
activity index, filtered on status; the on-call configuration) and one BatchGetItem of
their pages. Pure rendering below the read."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta

from switchboard.agent_pages.conversation_page import CHANNEL_NAMES
from switchboard.models import Conversation
from switchboard.oncall.config import OncallConfig
from switchboard.oncall.schedule import on_call_at
from switchboard.store.conversations import ConversationStore
from switchboard.store.pages import Page, PageStatus, PageStore

# How far back the inbox looks for conversations still waiting (their last activity).
INBOX_DAYS = 30
MAX_ROWS = 200
STYLE = (
    "table{border-collapse:collapse;width:100%}td{padding:.4rem .3rem;border-bottom:1px solid #ddd;vertical-align:top}"
    "tr.mine td{background:#eef4ff}.sub{color:#555;font-size:.85rem}a{color:#1f5fbf}"
    "form.inline{display:inline}button.link{background:none;color:#1f5fbf;padding:0;text-decoration:underline}"
)


@dataclass(frozen=True)
class Row:
    conversation: Conversation
    page: Page | None
    mine: bool  # an open (or acknowledged) page of the signed-in agent's


@dataclass(frozen=True)
class Inbox:
    rows: tuple[Row, ...]
    on_call: str | None  # the agent's name


def read_inbox(agent_id: str, now: datetime, conversations: ConversationStore, pages: PageStore, config: OncallConfig) -> Inbox:
    waiting = conversations.waiting_on_us(now - timedelta(days=INBOX_DAYS), MAX_ROWS)
    found = pages.get_pages([c.conversation_id for c in waiting])
    rows = [Row(c, found.get(c.conversation_id), _mine(found.get(c.conversation_id), agent_id)) for c in waiting]
    rows.sort(key=lambda row: not row.mine)  # stable: each group keeps the oldest wait first
    on_call = on_call_at(config.schedule, now).agent_id
    name = config.agents[on_call].name if on_call in config.agents else on_call
    return Inbox(tuple(rows), name)


def _mine(page: Page | None, agent_id: str) -> bool:
    return page is not None and page.status in (PageStatus.OPEN, PageStatus.ACKED) and page.paged_to(agent_id)


def inbox_page(inbox: Inbox, agent_name: str, now: datetime, sign_out_csrf: str) -> str:
    """The inbox's content (public_page.page wraps it)."""
    on_call = f"On call now: <strong>{_e(inbox.on_call)}</strong>" if inbox.on_call else "Nobody is on call now."
    header = (
        f'<p class="sub">Signed in as {_e(agent_name)} · {on_call} · '
        f'<form method="post" action="/inbox/sign-out" class="inline"><input type="hidden" name="csrf" value="{_e(sign_out_csrf)}">'
        '<button type="submit" class="link">Sign out</button></form></p>'
    )
    if not inbox.rows:
        return header + "<p>Nothing is waiting on us.</p>"
    rows = "".join(_row(row, now) for row in inbox.rows)
    return f'{header}<p class="sub">{len(inbox.rows)} waiting, oldest first; yours on top.</p><table>{rows}</table>'


def _row(row: Row, now: datetime) -> str:
    conversation = row.conversation
    since = conversation.waiting_since or conversation.last_activity_at
    paged = ""
    if row.page is not None:
        who = sorted(row.page.agents | set(row.page.recipients))
        paged = f" · {_e(row.page.status)}{f' by {_e(row.page.acked_by)}' if row.page.acked_by else ''}" + (f", paged {_e(', '.join(who))}" if who else "")
    name = conversation.customer_name or conversation.customer_identity.value
    code = f"[{_e(conversation.short_code)}] " if conversation.short_code else ""
    return (
        f'<tr class="{"mine" if row.mine else ""}"><td><a href="/inbox/c/{_e(conversation.conversation_id)}">{code}{_e(name)}</a>'
        f'<div class="sub">{_e(CHANNEL_NAMES.get(conversation.channel.value, conversation.channel.value))} · waiting {_wait(now - since)}{paged}</div>'
        f"<div>{_e(conversation.last_message_preview)}</div></td></tr>"
    )


def _wait(waited: timedelta) -> str:
    minutes = int(waited.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} days"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
