"""Environment → validated settings, read once per cold start.

Every function reads the same variables; a missing or malformed one fails the cold
start with the variable's name, not a KeyError deep inside a request. A dataclass
with a few checks, not pydantic: importing pydantic would add ~80 ms to every cold
start for eight strings.
"""

from __future__ import annotations

import os
import re
from dataclasses import MISSING, dataclass, fields
from functools import lru_cache
from typing import Mapping


class SettingsError(RuntimeError):
    """The environment does not describe a usable deployment."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    quarantine_bucket: str
    # The URL Twilio is configured to call, without a trailing slash. Signatures are
    # computed over it, so it is configuration, never rebuilt from the Host header.
    public_url: str
    # SSM Parameter Store name of the Twilio auth token (a SecureString).
    twilio_auth_token_parameter: str
    # How long a fetched secret is trusted before it is read again (rotation).
    secret_max_age_seconds: int = 300
    # Region assumed for phone numbers that arrive without a country code.
    default_phone_region: str = "US"
    # Webhook bodies above this are refused with 413: a Twilio SMS webhook with ten
    # media items is under 4 KiB, so 64 KiB leaves room without inviting abuse.
    max_webhook_body_bytes: int = 65536
    # Where refused requests are kept in the quarantine bucket (expired by its lifecycle rule).
    quarantine_prefix: str = "rejected/"


# field → (environment variable, pattern its value must match)
_VARIABLES: dict[str, tuple[str, str]] = {
    "table_name": ("TABLE_NAME", r"[A-Za-z0-9_.-]{3,255}"),
    "quarantine_bucket": ("QUARANTINE_BUCKET", r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
    "public_url": ("SWITCHBOARD_PUBLIC_URL", r"https?://[^\s/]+(/\S*)?"),
    "twilio_auth_token_parameter": ("TWILIO_AUTH_TOKEN_PARAMETER", r"\S+"),
    "secret_max_age_seconds": ("SECRET_MAX_AGE_SECONDS", r"\d+"),
    "default_phone_region": ("DEFAULT_PHONE_REGION", r"[A-Z]{2}"),
    "max_webhook_body_bytes": ("MAX_WEBHOOK_BODY_BYTES", r"[1-9]\d*"),
    "quarantine_prefix": ("QUARANTINE_PREFIX", r"\S*"),
}


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Validate the environment, naming every variable that is missing or wrong."""
    values: dict[str, object] = {}
    problems = []
    for spec in fields(Settings):
        variable, pattern = _VARIABLES[spec.name]
        raw = environ.get(variable)
        if raw is None or raw == "":
            if spec.default is MISSING:
                problems.append(f"{variable} is required")
            continue
        if not re.fullmatch(pattern, raw):
            problems.append(f"{variable}={raw!r} does not match {pattern}")
            continue
        values[spec.name] = int(raw) if isinstance(spec.default, int) else raw
    if problems:
        raise SettingsError("invalid environment: " + "; ".join(problems))
    if "public_url" in values:
        values["public_url"] = str(values["public_url"]).rstrip("/")
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, validated on first use (the cold start)."""
    return load_settings()


def get_secret(parameter_name: str, max_age_seconds: int) -> str:
    """A SecureString from SSM Parameter Store, cached for max_age_seconds (powertools).

    Imported here, not at module top, so functions that need no secret never load it.
    """
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_parameter(parameter_name, decrypt=True, max_age=max_age_seconds)
    if not value:
        raise SettingsError(f"SSM parameter {parameter_name} is empty")
    return str(value)
