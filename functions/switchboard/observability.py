"""One place for logging, metrics and masking personal data in logs."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "switchboard"
NAMESPACE = "Switchboard"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def mask_phone(number: str | None) -> str:
    """'+15551234567' → '+1555***4567': enough to tell numbers apart, not to dial one."""
    if not number:
        return ""
    if len(number) <= 6:
        return "***"
    return f"{number[:5]}***{number[-4:]}"


def mask_email(address: str | None) -> str:
    """'jane.doe@example.com' → 'j***@example.com'."""
    if not address:
        return ""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
