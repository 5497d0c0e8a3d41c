"""Sending email answers: a reply in the customer's own thread, through SES (or the local outbox).

The reply carries In-Reply-To and References so it threads in the customer's mail
client, a Message-ID of ours (claimed in the stream, so the customer's next reply finds
the conversation) and the conversation's reply address as Reply-To.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

from switchboard.errors import PermanentSendFailure
from switchboard.models import OutboundMessage, OutboundPurpose
from switchboard.plain_text import has_unprintable, one_line


AUTO_SUBMITTED = {
    OutboundPurpose.NOTICE: "auto-generated",
    OutboundPurpose.SUBSCRIPTION: "auto-generated",
    OutboundPurpose.SIGN_IN: "auto-generated",
    OutboundPurpose.ACKNOWLEDGEMENT: "auto-replied",
    OutboundPurpose.CLOSING: "auto-generated",
    OutboundPurpose.SATISFACTION: "auto-generated",
}


def reply_subject(subject: str) -> str:
    """ "Re: " once, whatever the customer's client did to the subject."""
    subject = one_line(subject) or "Your message"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def build_email(message: OutboundMessage, from_address: str, from_name: str = "Support") -> bytes:
    """The raw RFC 5322 reply (UTF-8, quoted-printable where needed).

    Every header is one line (plain_text.one_line): a title or subject with a line break
    must neither add a header nor fail the send. An address with one is refused for good.
    """
    fields = message.email
    if has_unprintable(message.to):
        raise PermanentSendFailure(None, "the address holds a line break or a control character")
    email = EmailMessage()
    email["From"] = formataddr((one_line(from_name) or "Support", from_address))
    email["To"] = message.to
    # Notices are news, not answers: their subject stands alone.
    notice = message.purpose in (OutboundPurpose.NOTICE, OutboundPurpose.SUBSCRIPTION, OutboundPurpose.SIGN_IN)
    email["Subject"] = one_line(fields.get("subject", "")) if notice else reply_subject(fields.get("subject", ""))
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = f"<{fields['message_id']}>" if fields.get("message_id") else make_msgid(domain=from_address.partition("@")[2])
    if fields.get("in_reply_to"):
        email["In-Reply-To"] = f"<{fields['in_reply_to']}>"
        references = [ref for ref in fields.get("references", "").split() if ref] + [fields["in_reply_to"]]
        email["References"] = " ".join(f"<{ref.strip('<>')}>" for ref in dict.fromkeys(references))
    if fields.get("reply_to"):
        email["Reply-To"] = fields["reply_to"]
    if fields.get("unsubscribe_url"):
        # RFC 8058 one-click: mail providers show an unsubscribe button that POSTs here.
        email["List-Unsubscribe"] = f"<{fields['unsubscribe_url']}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # RFC 3834: notices are machine-made, an acknowledgement answers the customer's message
    # automatically (auto-responders leave both alone, so two of them cannot loop); an
    # agent's answer is a person's.
    email["Auto-Submitted"] = AUTO_SUBMITTED.get(message.purpose, "no")
    email.set_content(message.body)
    return bytes(email)


class SesEmail:
    def __init__(self, ses_client: Any, from_address: str) -> None:
        self._ses = ses_client
        self._from = from_address

    def send(self, message: OutboundMessage) -> str:
        response = self._ses.send_raw_email(Source=self._from, Destinations=[message.to], RawMessage={"Data": build_email(message, self._from)})
        return response["MessageId"]


class LocalEmailOutbox:
    """EMAIL_DELIVERY=outbox (the local stack): the raw reply is kept in the table's outbox."""

    def __init__(self, outbox: Any, from_address: str) -> None:
        self._outbox = outbox
        self._from = from_address

    def send(self, message: OutboundMessage) -> str:
        raw = build_email(message, self._from)
        return self._outbox.put("email", message.to, message.body, {"raw": raw.decode("utf-8", errors="replace"), **message.email})
