from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eip.config import ProtectedServiceSettings


class OrderManagementSettings(ProtectedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_MANAGEMENT_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "order-management"

    http_port: int = Field(default=8104, ge=0, le=65535)
