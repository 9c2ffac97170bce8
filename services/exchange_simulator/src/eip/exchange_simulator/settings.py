from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eip.config import ServiceSettings

DEFAULT_MARKET = Path(__file__).parent / "config" / "default-market.toml"


class SimulatorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "exchange-simulator"

    http_port: int = Field(default=8300, ge=0, le=65535)
    instruments_file: Path = DEFAULT_MARKET
    # generate: a seeded random market per instrument (how each behaves: its
    # [instrument.market] table); replay: a recorded capture (instruments come from the
    # capture's exchangeInfo); none: only what clients do.
    market: Literal["generate", "replay", "none"] = "generate"
    seed: int = 42
    step_seconds: float = Field(default=0.1, gt=0)
    # Seconds of generated market run before serving, stamped as the past: the tape, candles
    # and tickers start with a history, as on an exchange that has been running. 0: none.
    warmup_seconds: float = Field(default=60.0, ge=0, le=3600)
    replay_file: Path | None = None
    replay_speed: float = Field(default=1.0, ge=0)  # 0 = as fast as possible
    connection_lifetime_s: float = Field(default=24 * 3600.0, gt=0)
    ws_messages_per_second: int = Field(default=5, ge=1)
    weight_per_minute: int = Field(default=6000, ge=1)
    orders_per_10s: int = Field(default=100, ge=1)
    orders_per_day: int = Field(default=200_000, ge=1)
