from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eip.config import ServiceSettings


class MarketDataSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MARKET_DATA_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "market-data"

    http_port: int = Field(default=8101, ge=0, le=65535)
