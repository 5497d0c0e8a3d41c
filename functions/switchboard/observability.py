"""One place for logging, metrics and masking personal data in logs."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "switchboard"
NAMESPACE = "Switchboard"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def mask_phone(number: str | None) -> str:
    """'+15551234567' → '***4567': the last 4 digits tell a log reader which of a
    customer's numbers it was, and no more."""
    if not number:
        return ""
    if len(number) <= 6:
        return "***"
    return f"***{number[-4:]}"


def mask_email(address: str | None) -> str:
    """'jane.doe@example.com' → '***@example.com': the domain only."""
    if not address:
        return ""
    _, at, domain = address.rpartition("@")
    return f"***@{domain}" if at and domain else "***"
