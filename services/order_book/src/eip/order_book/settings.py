from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eip.config import ServiceSettings


class OrderBookSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_BOOK_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "order-book"

    http_port: int = Field(default=8102, ge=0, le=65535)
