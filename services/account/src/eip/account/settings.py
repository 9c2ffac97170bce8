from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eip.config import ServiceSettings


class AccountSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ACCOUNT_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "account"

    http_port: int = Field(default=8103, ge=0, le=65535)

    # Tokens from the auth service: where its public keys are, and what a token must say.
    auth_jwks_url: str = "http://127.0.0.1:8105/v1/.well-known/jwks.json"
    auth_issuer: str = "eip-auth"
    auth_audience: str = "eip"
