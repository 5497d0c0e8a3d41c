"""Whether a machine wrote the message (auto-replies, bounces, reports, bulk mail), and why."""

from __future__ import annotations

from email.message import Message

from switchboard.channels.mime.headers import get_header, raw_header
from switchboard.channels.mime.message import content_param, content_type_of


AUTOMATED_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
# X-Auto-Response-Suppress is deliberately absent: Exchange sets it on ordinary mail to
# ask *others* not to auto-reply, so it says nothing about this message.
AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-AutoReply-From", "X-Mail-Autoreply")
BOUNCE_MAILBOXES = frozenset({"mailer-daemon", "postmaster"})


def automated(msg: Message, sender_address: str, defects: list[str]) -> str | None:
    """Why a machine wrote this message (RFC 3834 and common practice), or None."""
    auto_submitted = get_header(msg, "Auto-Submitted", defects)
    if auto_submitted is not None:
        value = str(auto_submitted).split(";")[0].strip().lower()
        if value and value != "no":
            return f"Auto-Submitted: {value}"
    local_part = sender_address.rsplit("@", 1)[0]
    if local_part in BOUNCE_MAILBOXES:
        return f"bounce from {local_part}"
    if content_type_of(msg) == "multipart/report":
        report_type = content_param(msg, "report-type").lower()
        if report_type == "disposition-notification":
            return "read receipt"
        if report_type in ("delivery-status", ""):
            return "delivery status report"
        return f"{report_type} report"
    for name in AUTOREPLY_HEADERS:
        if get_header(msg, name, defects) is not None:
            return name
    precedence = str(get_header(msg, "Precedence", defects) or "").strip().lower()
    if precedence in AUTOMATED_PRECEDENCE:
        return f"Precedence: {precedence}"
    if (raw_header(msg, "Return-Path") or "").strip() == "<>":
        return "empty Return-Path (bounce or auto-reply)"
    return None
