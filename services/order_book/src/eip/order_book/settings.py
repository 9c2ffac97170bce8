from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from eip.config import ProtectedServiceSettings
from eip.exchanges import registry


class OrderBookSettings(ProtectedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_BOOK_", extra="ignore", frozen=True)
    service_name: ClassVar[str] = "order-book"

    http_port: int = Field(default=8102, ge=0, le=65535)

    # exchange ccxt id -> normalized symbols:
    # ORDER_BOOK_SUBSCRIPTIONS='{"binance":["BTC/USDT"]}'
    subscriptions: dict[str, list[str]] = Field(default_factory=dict)
    # PostgreSQL schema of the subscription changes made over HTTP (applied at start-up).
    subscriptions_schema: str = Field(default="order_book", pattern=r"^[a-z_][a-z0-9_]*$")
    # exchange -> one host serving its REST and streams instead of production (the exchange
    # simulator): ORDER_BOOK_EXCHANGE_URLS='{"binance":"http://127.0.0.1:8300"}'
    exchange_urls: dict[str, str] = Field(default_factory=dict)
    # A snapshot per in-sync book goes to md.book.snapshots.v1 this often, and at every new epoch.
    snapshot_interval_s: float = Field(default=10.0, gt=0, le=3600)
    # The published book: the top levels per side that snapshots carry and deltas maintain.
    snapshot_depth: int = Field(default=1000, ge=1, le=10_000)
    # A book with no event for this long is reported stale by the API and left out of
    # consolidated books (quiet markets send nothing, so staleness alone is no desync).
    stale_after_s: float = Field(default=30.0, gt=0)
    # Records waiting for Kafka; when full, the books concerned start a new epoch once Kafka
    # is back instead of publishing a gap.
    outbox_size: int = Field(default=100_000, ge=10)

    @field_validator("subscriptions")
    @classmethod
    def _symbols_are_normalized(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for exchange, symbols in value.items():
            if exchange not in registry.book_exchanges():
                raise ValueError(
                    f"no book feed for exchange {exchange!r}; "
                    f"supported: {', '.join(registry.book_exchanges())}"
                )
            for symbol in symbols:
                base, sep, quote = symbol.partition("/")
                if not (sep and base and quote):
                    raise ValueError(f"{exchange}: symbol {symbol!r} is not BASE/QUOTE")
        return value
