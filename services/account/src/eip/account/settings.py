from __future__ import annotations

from typing import ClassVar

from pydantic import Field, PositiveFloat, SecretStr
from pydantic_settings import SettingsConfigDict

from eip.config import ProtectedServiceSettings


class AccountSettings(ProtectedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ACCOUNT_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "account"

    http_port: int = Field(default=8103, ge=0, le=65535)

    # PostgreSQL schema of connections, balances, balance history, fills and fill cursors.
    db_schema: str = Field(default="account", pattern=r"^[a-z_][a-z0-9_]*$")
    # Balance history rows older than this are dropped with their daily partitions (unset:
    # kept for ever).
    balance_history_retention_days: int | None = Field(default=None, ge=1)

    # Topics (the registry's names; tests give unique copies).
    balances_topic: str = Field(default="account.balances.v1", min_length=1)
    tickers_topic: str = Field(default="md.tickers.v1", min_length=1)
    credentials_topic: str = Field(default="auth.credentials.v1", min_length=1)
    order_events_topic: str = Field(default="orders.events.v1", min_length=1)
    # Consumer group of the credential lifecycle and order-event consumers: one group for all
    # instances (each connection's sync runs where its credential's partition is owned).
    group_id: str = Field(default="account", min_length=1)

    # The auth service: credential metadata, signing, and this service's own token
    # (client-credentials grant; scopes credentials:use and market:read). Without a client
    # secret no connection is synced (the HTTP API still answers from storage).
    auth_url: str = Field(default="http://127.0.0.1:8105", pattern=r"^https?://")
    auth_client_id: str = Field(default="account", min_length=1)
    auth_client_secret: SecretStr = Field(default=SecretStr(""))
    # The market-data service: ticker seed at start and candles for the trades chart.
    market_data_url: str = Field(default="http://127.0.0.1:8101", pattern=r"^https?://")

    # exchange -> one host serving its REST and private stream instead of production (the
    # exchange simulator): ACCOUNT_EXCHANGE_URLS='{"binance":"http://127.0.0.1:8300"}'
    exchange_urls: dict[str, str] = Field(default_factory=dict)

    # Balances are read over REST this often even while the private stream is live, to correct
    # any drift (a missed push, a deposit the stream does not report).
    reconcile_interval_s: float = Field(default=60.0, gt=0)
    # Own trades are fetched this often per connection (stream fills arrive at once besides).
    trade_sync_interval_s: float = Field(default=30.0, gt=0)
    # Fills per REST page of the trade sync.
    trade_page_limit: int = Field(default=500, ge=1, le=1000)
    # Deposits and withdrawals (where the venue reports them) are read this often; a new or
    # changed one refreshes the balances at once.
    transfer_sync_interval_s: float = Field(default=60.0, gt=0)
    # Per exchange, instead of the above: ACCOUNT_TRANSFER_SYNC_INTERVALS='{"coinbase": 300}'
    # (a venue whose history costs calls per wallet, against an hourly budget).
    transfer_sync_intervals: dict[str, PositiveFloat] = Field(default_factory=dict)
    transfer_page_limit: int = Field(default=1000, ge=1, le=1000)
    # A key that reads balances but may not read transfers (no wallet-read permission) leaves
    # the connection live with its transfers unavailable; they are tried again this often.
    transfers_refused_retry_s: float = Field(default=3600.0, gt=0)
    # A failing REST call or stream is retried after this pause, doubling up to the maximum.
    retry_base_delay_s: float = Field(default=1.0, gt=0)
    retry_max_delay_s: float = Field(default=30.0, gt=0)

    # Valuation: prices older than this are not used (the asset is unvalued, never 0).
    price_max_age_s: float = Field(default=300.0, gt=0)
    default_quote: str = Field(default="USD", min_length=1, max_length=16)
    bridge_assets: list[str] = Field(default_factory=lambda: ["USDT", "USDC", "BTC", "ETH"])
    # Assets that may be valued 1:1 against USD when a caller asks for that fallback
    # (assume_stable_par=true) and no market price exists.
    usd_stablecoins: list[str] = Field(
        default_factory=lambda: ["USDT", "USDC", "DAI", "FDUSD", "TUSD", "USDP", "PYUSD", "BUSD"]
    )
