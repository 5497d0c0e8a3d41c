"""Inbound email through SES: the receipt event, its verdicts, reply addresses → InboundMessage.

SES's receipt rule first stores the raw message in S3, then invokes the email
function with a receipt event that names it. The MIME itself is read by
`channels.mime`; this module decides what SES's verdicts mean and how the parsed mail
becomes a message in the stream. Pure: no AWS calls, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone

from switchboard.channels.mime import ParsedEmail
from switchboard.models import Channel, Identity, IdentityKind, InboundMessage, Media
from switchboard.plain_text import one_line
from switchboard.reply_address import reply_token_in_addresses
from switchboard.store.keys import EMAIL_MESSAGE_ID

PROVIDER = "ses"


class MalformedReceipt(ValueError):
    """The event is not an SES receipt we can act on."""


@dataclass(frozen=True)
class SesReceipt:
    message_id: str  # SES's id, also the raw message's S3 object name
    timestamp: datetime
    recipients: tuple[str, ...]  # the envelope recipients on our domain
    spam: str
    virus: str
    spf: str
    dkim: str
    dmarc: str


def receipt_from_record(record: dict) -> SesReceipt:
    """One record of an SES receipt event (the Lambda action's event shape)."""
    try:
        ses = record["ses"]
        mail, receipt = ses["mail"], ses["receipt"]
        message_id = mail["messageId"]
        if not re.fullmatch(r"[A-Za-z0-9-]{1,100}", message_id):
            raise MalformedReceipt(f"messageId {message_id[:40]!r} is not an SES message id")
        timestamp = datetime.fromisoformat(mail["timestamp"].replace("Z", "+00:00"))
        return SesReceipt(
            message_id=message_id,
            # SES writes UTC with a Z; a time without a zone is UTC too, never the host's.
            timestamp=timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=timezone.utc),
            recipients=tuple(address.lower() for address in receipt.get("recipients") or mail.get("destination") or ()),
            spam=_verdict(receipt, "spamVerdict"),
            virus=_verdict(receipt, "virusVerdict"),
            spf=_verdict(receipt, "spfVerdict"),
            dkim=_verdict(receipt, "dkimVerdict"),
            dmarc=_verdict(receipt, "dmarcVerdict"),
        )
    except MalformedReceipt:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedReceipt(f"not an SES receipt record: {type(error).__name__} {error}") from None


def _verdict(receipt: dict, name: str) -> str:
    """PASS, FAIL, GRAY or PROCESSING_FAILED as SES reports it; NOT_CHECKED when the
    rule has scanning off (SES then omits the verdict)."""
    if name not in receipt:
        return "NOT_CHECKED"
    return str((receipt[name] or {}).get("status") or "PROCESSING_FAILED")


def authenticated(receipt: SesReceipt) -> bool:
    """Whether SES vouches for the sender: DMARC, SPF or DKIM passed. Without any, the
    From: header is only what the sender chose to write."""
    return "PASS" in (receipt.dmarc, receipt.spf, receipt.dkim)


def authentication_summary(receipt: SesReceipt) -> str:
    return f"SPF {receipt.spf}, DKIM {receipt.dkim}, DMARC {receipt.dmarc}"


def refusal(receipt: SesReceipt, unverified_email: str = "mark") -> str | None:
    """Why a message must not reach the stream (it goes to quarantine), or None.

    `unverified_email` is the UNVERIFIED_EMAIL setting: "mark" stores unauthenticated
    mail apart from the address's verified stream (to_inbound), "quarantine" refuses it.
    """
    if receipt.virus == "FAIL":
        return "SES virus verdict FAIL"
    if receipt.spam == "FAIL":
        return "SES spam verdict FAIL"
    if receipt.dmarc == "FAIL":
        return "SES DMARC verdict FAIL: the sender's domain says it did not send this message"
    if unverified_email == "quarantine" and not authenticated(receipt):
        return f"sender not authenticated ({authentication_summary(receipt)}) and UNVERIFIED_EMAIL=quarantine"
    return None


def attachment_name(index: int, filename: str | None) -> str:
    """An S3-safe object name that keeps the original name readable and unique per message."""
    # Composed form (macOS sends "é" as e + U+0301), and combining marks kept: \w alone
    # would cut "résumé" to "re_sume_" and every Devanagari or Thai word into pieces.
    name = unicodedata.normalize("NFC", filename or "")
    kept = "".join(ch if ch in "._-" or ch.isalnum() or unicodedata.category(ch).startswith("M") else "\0" for ch in name)
    safe = re.sub("\0+", "_", kept).strip("._")[:100]
    return f"{index:02d}-{safe or 'attachment'}"


# What of an email the stream item holds (a DynamoDB item is at most 400 KB, the message
# shares its transaction with the conversation): past these, the text is cut with a note,
# and the whole message stays in the mail bucket (`raw_url`).
MAX_STORED_TEXT_BYTES = 64 * 1024  # the new text, and the whole text with quotes, each
MAX_STORED_ATTACHMENTS = 25


def fit_text(text: str | None, limit: int = MAX_STORED_TEXT_BYTES) -> tuple[str | None, bool]:
    """The text cut to `limit` UTF-8 bytes (on a character boundary), and whether it was cut."""
    if text is None or len(text.encode("utf-8")) <= limit:
        return text, False
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore"), True


def to_inbound(
    parsed: ParsedEmail, receipt: SesReceipt, media: tuple[Media, ...], support_address: str, raw_url: str = "", attachments_not_stored: int = 0
) -> InboundMessage:
    """A parsed email and its receipt → the message stored in the stream.

    A sender SES could not authenticate is an unverified identity: its mail never threads
    into a conversation it names (a reply address, In-Reply-To, References), since anyone
    who saw one of our answers could write those, and never joins the verified address's
    customer.
    """
    addresses = receipt.recipients + parsed.to + parsed.cc
    body, body_cut = fit_text(parsed.new_text)
    full_text, full_cut = fit_text(parsed.text if parsed.new_text.strip() != parsed.text.strip() else None)
    verified = authenticated(receipt)
    fields = {
        "message_id": parsed.message_id,
        "spf": receipt.spf,
        "dkim": receipt.dkim,
        "dmarc": receipt.dmarc,
        "unverified": None if verified else authentication_summary(receipt),
        "body_source": parsed.body_source,
        "automated": parsed.automated,
        "reply_to": parsed.reply_to if parsed.reply_to != parsed.sender_address else None,
        "defects": "; ".join(parsed.defects)[:1000] or None,
        "cut": f"the text is longer than we store; the whole message: {raw_url or 'the mail bucket'}" if body_cut or full_cut else None,
        "attachments_not_stored": f"{attachments_not_stored} more attachments (in the whole message)" if attachments_not_stored else None,
    }
    return InboundMessage(
        channel=Channel.EMAIL,
        provider=PROVIDER,
        provider_id=receipt.message_id,
        also_known_as=((EMAIL_MESSAGE_ID, parsed.message_id),) if parsed.message_id else (),
        sender=Identity(IdentityKind.EMAIL, parsed.sender_address, display_name=one_line(parsed.sender_name) or None, unverified=not verified),
        recipient=_our_address(addresses, support_address),
        received_at=receipt.timestamp,
        subject=parsed.subject[:998] if parsed.subject else parsed.subject,  # RFC 5322's line limit
        body=body or "",
        full_body=full_text,
        media=media,
        automated=parsed.automated is not None,
        thread_refs=tuple(ref for ref in (parsed.in_reply_to, *reversed(parsed.references)) if ref) if verified else (),
        reply_token=reply_token_in_addresses(addresses, support_address) if verified else None,
        provider_fields={name: value for name, value in fields.items() if value},
    )


def _our_address(addresses: tuple[str, ...], support_address: str) -> str | None:
    domain = support_address.lower().partition("@")[2]
    for address in addresses:
        if domain and address.lower().endswith("@" + domain):
            return address.lower()
    return addresses[0].lower() if addresses else None
