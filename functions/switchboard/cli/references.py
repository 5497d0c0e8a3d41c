"""What a user types to name a customer: a customer id, or one of their identities."""

from __future__ import annotations

from switchboard.cli.errors import EXIT_USAGE, CliError

CUSTOMER_ID_PATTERN = r"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}"


def parse_customer_reference(text: str, default_region: str = "US"):
    """A customer id, or an identity: +E.164 phone, email address, or x:<numeric user id>."""
    import re

    from switchboard.models import Identity, IdentityKind

    value = text.strip()
    if re.fullmatch(CUSTOMER_ID_PATTERN, value):
        return value.upper()
    if value.lower().startswith("x:"):
        user_id = value[2:]
        if not user_id.isdigit():
            raise CliError(f"{text!r}: an X identity is x:<numeric user id>", EXIT_USAGE)
        return Identity(IdentityKind.X, user_id)
    if value.startswith("@"):
        raise CliError(f"{text!r}: X handles change hands; use x:<numeric user id> (see `customers show`)", EXIT_USAGE)
    if "@" in value:
        return Identity(IdentityKind.EMAIL, value.lower())
    from switchboard.channels.sms import to_e164
    from switchboard.errors import RejectedRequest

    try:
        return Identity(IdentityKind.PHONE, to_e164(value, default_region, "the phone number"))
    except RejectedRequest as error:
        raise CliError(
            f"{text!r} is not a customer id, an email address, x:<user id> or a phone number ({error.reason})", EXIT_USAGE
        ) from None
