"""Response bodies of the live endpoints. Prices and amounts are decimal strings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from eip.market_data.settings import SubscriptionConfig


class Freshness(BaseModel):
    exchange_time: datetime | None
    received_time: datetime
    age_ms: int
    stale: bool


class TickerOut(BaseModel):
    exchange: str
    symbol: str
    bid: str | None
    bid_size: str | None
    ask: str | None
    ask_size: str | None
    last: str | None
    open_24h: str | None
    high_24h: str | None
    low_24h: str | None
    base_volume_24h: str | None
    quote_volume_24h: str | None
    freshness: Freshness


class Tickers(BaseModel):
    tickers: list[TickerOut]


class QuoteOut(BaseModel):
    exchange: str
    price: str
    size: str | None


class ContributionOut(BaseModel):
    exchange: str
    bid: str | None
    ask: str | None
    last: str | None
    volume: str
    volume_share: str | None
    vwap: str | None
    freshness: Freshness


class ExcludedOut(BaseModel):
    exchange: str
    age_ms: int
    reason: str


class CrossOut(BaseModel):
    symbol: str
    as_of: datetime
    best_bid: QuoteOut | None
    best_ask: QuoteOut | None
    vwap: str | None
    volume: str
    window_s: float
    # the newest data that went into the view; null when every exchange is stale
    freshness: Freshness | None
    contributions: list[ContributionOut]
    excluded: list[ExcludedOut]


class LastError(BaseModel):
    """The newest error counted: what kind, what it said (redacted), when."""

    kind: str
    message: str
    time: datetime


class ExchangeStatusOut(BaseModel):
    exchange: str
    connected: bool
    last_message_age_s: float | None
    messages_per_second: float
    errors: int
    stale: bool
    circuit_open: bool
    rate_limit_headroom: float | None
    restarts: int
    # the newest of the errors counted (``errors``, ``restarts``, failed subscriptions and
    # fills of missed trades): kind rest|stream|parse|adapter|subscribe|recovery
    last_error: LastError | None
    detail: str
    # the venue's clock offset (seconds, positive: ahead of ours), estimated from its events
    clock_offset_s: float | None
    clock_offset_alarm: bool
    # waiting while trades it missed are fetched
    filling_gap: bool


class StatusOut(BaseModel):
    exchanges: list[ExchangeStatusOut]
    outbox_records: int
    outbox_dropped: int
    # the service's own newest error counted: a record Kafka refused (publish) or the full
    # outbox dropped (outbox)
    last_error: LastError | None


class SubscriptionOut(BaseModel):
    exchange: str
    symbol: str
    channel: Literal["trades", "ticker"]
    # config: from MARKET_DATA_SUBSCRIPTIONS; runtime: added over HTTP (stored in PostgreSQL)
    origin: Literal["config", "runtime"]
    # of the runtime change; null for a configured subscription
    updated_at: datetime | None
    # the caller's principal, when the request that made the change carried one
    updated_by: str | None


class Subscriptions(BaseModel):
    subscriptions: list[SubscriptionOut]
    # kept while their exchange cannot be reached; retried in the background
    pending: list[SubscriptionConfig]


class SubscriptionChange(BaseModel):
    subscription: SubscriptionConfig
    changed: bool
    pending: bool
