from switchboard.conversations.known_senders import KnownSenders
from switchboard.models import Identity, IdentityKind
from switchboard.store.conversations import Route


def phone(n: int) -> Identity:
    return Identity(IdentityKind.PHONE, f"+1415555{n:04d}")


def test_a_remembered_route_comes_back_marked_for_the_write_to_check():
    known = KnownSenders()
    assert known.lookup(phone(1)) is None
    known.remember(phone(1), Route("c1", "v1"))
    lookup = known.lookup(phone(1))
    assert lookup.identity == Route("c1", "v1") and lookup.remembered and lookup.agent_id is None
    known.remember(phone(1), Route("c1", "v2"))
    assert known.lookup(phone(1)).identity == Route("c1", "v2")
    known.forget(phone(1))
    assert known.lookup(phone(1)) is None
    known.forget(phone(1))  # forgetting twice is fine


def test_the_least_recently_used_sender_is_forgotten_first():
    known = KnownSenders(capacity=2)
    known.remember(phone(1), Route("c1", "v1"))
    known.remember(phone(2), Route("c2", "v2"))
    known.lookup(phone(1))  # used: phone 2 is now the oldest
    known.remember(phone(3), Route("c3", "v3"))
    assert len(known) == 2
    assert known.lookup(phone(2)) is None
    assert known.lookup(phone(1)) is not None and known.lookup(phone(3)) is not None


def test_an_email_and_a_phone_with_the_same_text_are_different_senders():
    known = KnownSenders()
    known.remember(Identity(IdentityKind.PHONE, "same"), Route("c1", "v1"))
    assert known.lookup(Identity(IdentityKind.EMAIL, "same")) is None
