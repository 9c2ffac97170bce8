from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eip.config import ProtectedServiceSettings


class AccountSettings(ProtectedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ACCOUNT_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "account"

    http_port: int = Field(default=8103, ge=0, le=65535)
