from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from eip.config import ServiceSettings


class MarketDataSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MARKET_DATA_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "market-data"

    http_port: int = Field(default=8101, ge=0, le=65535)

    # --- history: storage and backfill (eip.market_data.storage / .backfill) ---------------
    # PostgreSQL schema of trades, candles and backfill jobs.
    history_schema: str = Field(default="market_data", pattern=r"^[a-z_][a-z0-9_]*$")
    # Partitions older than this are dropped; unset keeps everything.
    history_trades_retention_days: int | None = Field(default=None, ge=1)
    history_candles_retention_days: int | None = Field(default=None, ge=1)
    # The maintenance task keeps partitions this far ahead, every interval.
    history_partitions_ahead_days: int = Field(default=3, ge=1, le=62)
    history_maintenance_interval_s: float = Field(default=3600.0, gt=0)
    # Records per REST page of a backfill (the venues cap it; Binance at 1000).
    history_backfill_page_limit: int = Field(default=1000, ge=1, le=5000)
    # A backfill worker renews its job's lease with every page; a job whose lease ran out (its
    # worker died) is resumed by the next worker that looks for work.
    history_backfill_lease_s: float = Field(default=30.0, gt=0)
    # Venues whose trade ids are consecutive integers per symbol: gaps are id jumps there.
    history_sequential_id_exchanges: list[str] = Field(default_factory=lambda: ["binance"])
    # Elsewhere a silence longer than this between two stored trades is reported as a gap.
    history_trade_max_quiet_s: float = Field(default=600.0, gt=0)
    # GET /v1/trades and /v1/candles refuse wider ranges (a clear 400 instead of a slow scan).
    history_max_trades_range_days: float = Field(default=7.0, gt=0)
    history_max_candles: int = Field(default=5000, ge=1)
