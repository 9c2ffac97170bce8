from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eip.config import ServiceSettings


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "auth"

    http_port: int = Field(default=8105, ge=0, le=65535)
