"""Who may act on a conversation by SMS: pure, no AWS."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from switchboard.oncall.actions import may_act
from switchboard.store.pages import Page, PageStatus

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


def page(recipients=("ana",), agents=frozenset(), status=PageStatus.OPEN, acked_by=None) -> Page:
    return Page("c1", "4821", status, NOW, 0, 1, tuple(recipients), None, {}, acked_by, frozenset(agents))


@pytest.mark.parametrize(
    "agent, the_page, on_call, allowed",
    [
        ("ana", page(), None, True),  # the page was sent to her
        ("bo", page(), None, False),  # a registered phone, nothing more
        ("bo", page(), "bo", True),  # on call now
        ("bo", page(recipients=("cy",), agents={"ana", "cy"}), None, False),
        ("ana", page(recipients=("cy",), agents={"ana", "cy"}), None, True),  # paged at an earlier level
        ("bo", page(status=PageStatus.ACKED, acked_by="bo"), None, True),  # settled it (pages older than `agents`)
        ("bo", None, None, False),  # never paged
        ("bo", None, "bo", True),
    ],
)
def test_an_agent_acts_on_what_was_paged_to_them_or_while_on_call(agent, the_page, on_call, allowed):
    assert may_act(agent, the_page, on_call) is allowed
