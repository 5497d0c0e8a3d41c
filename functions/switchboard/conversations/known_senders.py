"""What a warm instance remembers of the senders it has stored: identity → customer and
conversation, so a known customer's next message costs one transaction and no read.

A remembered route is never trusted on its own: it is returned as a Lookup marked
`remembered`, and the message's transaction checks that the sender's identity item still
routes there and is no agent's phone (store/conversations.py, RouteChanged). A merge, a
link, a new conversation started by another instance or an agent registering the number
fails that check, writes nothing, and the message is routed again from a fresh read: it
lands exactly where it would have without the memory.
"""

from __future__ import annotations

from collections import OrderedDict

from switchboard.models import Identity
from switchboard.store.conversations import Lookup, Route

# Entries are ~200 bytes: 10,000 senders are 2 MB of a 512 MB function.
DEFAULT_CAPACITY = 10_000


class KnownSenders:
    """The most recently stored senders' routes, least recently used forgotten first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._routes: OrderedDict[tuple[str, str], Route] = OrderedDict()

    def lookup(self, sender: Identity) -> Lookup | None:
        route = self._routes.get(_key(sender))
        if route is None:
            return None
        self._routes.move_to_end(_key(sender))
        return Lookup(route, remembered=True)

    def remember(self, sender: Identity, route: Route) -> None:
        self._routes[_key(sender)] = route
        self._routes.move_to_end(_key(sender))
        while len(self._routes) > self._capacity:
            self._routes.popitem(last=False)

    def forget(self, sender: Identity) -> None:
        self._routes.pop(_key(sender), None)

    def __len__(self) -> int:
        return len(self._routes)


def _key(sender: Identity) -> tuple[str, str]:
    return (sender.kind.value, sender.value)
