"""Environment → validated settings, read once per cold start.

Every function reads the same variables; a missing or malformed one fails the cold
start with the variable's name, not a KeyError deep inside a request.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class SettingsError(RuntimeError):
    """The environment does not describe a usable deployment."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    quarantine_bucket: str = Field(alias="QUARANTINE_BUCKET", min_length=3)
    # The URL Twilio is configured to call, without a trailing slash. Signatures are
    # computed over it, so it is configuration, never rebuilt from the Host header.
    public_url: str = Field(alias="SWITCHBOARD_PUBLIC_URL", pattern=r"^https?://[^\s/]+(/\S*)?$")
    # SSM Parameter Store name of the Twilio auth token (a SecureString).
    twilio_auth_token_parameter: str = Field(alias="TWILIO_AUTH_TOKEN_PARAMETER", min_length=1)
    # How long a fetched secret is trusted before it is read again (rotation).
    secret_max_age_seconds: int = Field(default=300, alias="SECRET_MAX_AGE_SECONDS", ge=0)
    # Region assumed for phone numbers that arrive without a country code.
    default_phone_region: str = Field(default="US", alias="DEFAULT_PHONE_REGION", pattern=r"^[A-Z]{2}$")
    # Webhook bodies above this are refused with 413: a Twilio SMS webhook with ten
    # media items is under 4 KiB, so 64 KiB leaves room without inviting abuse.
    max_webhook_body_bytes: int = Field(default=65536, alias="MAX_WEBHOOK_BODY_BYTES", gt=0)
    # Rejected requests are kept this long (S3 lifecycle in AWS; the prefix carries the date).
    quarantine_prefix: str = Field(default="rejected/", alias="QUARANTINE_PREFIX")

    @field_validator("public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


def load_settings(environ: dict[str, str] | os._Environ[str] = os.environ) -> Settings:
    """Validate the environment, naming every variable that is missing or wrong."""
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    try:
        return Settings.model_validate({k: v for k, v in environ.items() if k in known})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = ".".join(str(part) for part in item["loc"])
            problems.append(f"{name}: {item['msg']}")
        raise SettingsError("invalid environment: " + "; ".join(problems)) from None


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
