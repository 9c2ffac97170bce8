from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import SettingsConfigDict

from eip.config import ProtectedServiceSettings
from eip.observability.inputs import Text


class SubscriptionConfig(BaseModel):
    """One stream: an exchange (ccxt id), a normalized symbol and a channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: Text = Field(min_length=1, max_length=40, examples=["binance"])
    symbol: Text = Field(min_length=3, max_length=40, examples=["BTC/USDT"])
    channel: Literal["trades", "ticker"]

    @field_validator("symbol")
    @classmethod
    def _base_quote(cls, value: str) -> str:
        base, sep, quote = value.partition("/")
        if not (sep and base and quote) or "/" in quote:
            raise ValueError("symbol is not BASE/QUOTE")
        return value


class MarketDataSettings(ProtectedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MARKET_DATA_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "market-data"

    http_port: int = Field(default=8101, ge=0, le=65535)

    # MARKET_DATA_SUBSCRIPTIONS='[{"exchange":"binance","symbol":"BTC/USDT","channel":"trades"}]'
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list)
    # exchange -> one host serving its REST and streams instead of production (the exchange
    # simulator): MARKET_DATA_EXCHANGE_URLS='{"binance":"http://127.0.0.1:8300"}'
    exchange_urls: dict[str, str] = Field(default_factory=dict)
    # Trades and tickers waiting for Kafka. When full, new records are dropped and counted
    # (eip_market_data_outbox_dropped_total): adapters are never held back by a slow broker.
    outbox_size: int = Field(default=100_000, ge=10)
    # An exchange with no message for this long is stale: shown so in status and left out of
    # the cross-exchange view.
    stale_after_s: float = Field(default=30.0, gt=0)
    # Trades of the last this-many seconds make the cross-exchange volume-weighted price.
    vwap_window_s: float = Field(default=60.0, gt=0, le=86_400)
    # In-progress candles are published at most this often per candle.
    candle_update_interval_s: float = Field(default=1.0, ge=0)
    # A candle closes once its market's progress (its latest trade's venue time or receipt,
    # the earlier) passes its end by this much (the watermark: docs/MARKET_DATA.md, Candles).
    candle_close_grace_s: float = Field(default=2.0, ge=0)
    # A venue where nothing trades closes its candles on our clock (corrected by the venue's
    # estimated offset when it is behind) this long after their end. Trades arriving later
    # (a gap fetched after longer than this) are late. Longer than a market-data restart or
    # a stream stall plus the gap's fetch.
    candle_quiet_close_s: float = Field(default=60.0, ge=0)
    # A venue whose estimated clock offset exceeds this (either way) raises an alarm
    # (eip_md_venue_clock_offset_alarm, a warning log).
    clock_offset_alarm_s: float = Field(default=2.0, gt=0)
    # Trades the stream missed (a restart, reconnect, stall) are fetched over REST at most this
    # far back and this many pages (of history_backfill_page_limit) per market; beyond, the
    # gap is queued as a backfill job (docs/MARKET_DATA.md, Missed trades).
    gap_max_age_s: float = Field(default=900.0, gt=0, le=86_400)
    gap_max_pages: int = Field(default=50, ge=1, le=1000)
    # Build candles from md.trades.v1 in this instance (one consumer group for all instances).
    candles_enabled: bool = True
    candles_group_id: str = "market-data-candles"
    # How long reading a day of md.candles.v1 back (at start and at each rebalance) may take
    # before the stage gives up and restarts rather than resume from part of its state.
    candles_restore_timeout_s: float = Field(default=300.0, gt=0)

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
