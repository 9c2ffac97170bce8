"""The HTTP API's response bodies. Money is a decimal string everywhere ("65000.10")."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from eip.observability.inputs import Text

Money = str


class Freshness(BaseModel):
    """Every answer about a book says how fresh and how trustworthy it is."""

    exchange: str
    symbol: str
    in_sync: bool
    stale: bool = Field(description="no event for longer than the service's stale-after setting")
    epoch: int
    sequence: int = Field(description="the last published delta sequence of the epoch")
    exchange_time: datetime | None
    received_time: datetime | None
    age_ms: int | None = Field(description="now minus received_time")


class BookStatus(Freshness):
    desync_reason: str | None
    desync_detail: str
    bid_levels: int
    ask_levels: int
    snapshots: int
    deltas: int
    desyncs: int
    dropped_deltas: int


class BookList(BaseModel):
    books: list[BookStatus]


class BookLevels(Freshness):
    depth: int
    bids: list[tuple[Money, Money]] = Field(description="[price, size], best first")
    asks: list[tuple[Money, Money]]


class DepthPointOut(BaseModel):
    price: Money
    size: Money
    cumulative_size: Money
    cumulative_notional: Money


class DepthChart(Freshness):
    bids: list[DepthPointOut]
    asks: list[DepthPointOut]


class LevelOut(BaseModel):
    price: Money
    size: Money


class ImbalanceOut(BaseModel):
    depth: int
    bid_size: Money
    ask_size: Money
    imbalance: str | None = Field(description="(bid - ask) / (bid + ask), in [-1, 1]")


class Stats(Freshness):
    best_bid: LevelOut | None
    best_ask: LevelOut | None
    spread: Money | None
    spread_bps: str | None
    mid: Money | None
    micro_price: Money | None
    imbalance: list[ImbalanceOut]


class Slippage(Freshness):
    side: str
    requested_size: Money | None
    requested_notional: Money | None
    filled_size: Money
    filled_notional: Money
    average_price: Money | None
    best_price: Money | None
    worst_price: Money | None
    levels_used: int
    complete: bool = Field(description="false when the book is too thin for the request")
    shortfall: Money = Field(description="what could not be filled, in the request's unit")
    slippage_vs_best: Money | None
    slippage_vs_best_bps: str | None
    slippage_vs_mid: Money | None
    slippage_vs_mid_bps: str | None


class BucketOut(BaseModel):
    price: Money
    size: Money
    notional: Money
    levels: int


class Clusters(Freshness):
    width: Money
    bids: list[BucketOut]
    asks: list[BucketOut]


class WallOut(BaseModel):
    price: Money
    size: Money
    neighbour_median: Money
    ratio: str


class Walls(Freshness):
    window: int
    factor: str
    bids: list[WallOut]
    asks: list[WallOut]


class ConsolidatedLevelOut(BaseModel):
    price: Money
    size: Money
    venues: dict[str, Money] = Field(description="exchange -> size at this price")


class VenueStatus(Freshness):
    included: bool
    excluded_because: str | None = Field(description="not_in_sync, stale, or null")


class Consolidated(BaseModel):
    symbol: str
    depth: int
    crossed: bool = Field(description="one venue's best bid at or above another's best ask")
    exchanges: list[VenueStatus]
    bids: list[ConsolidatedLevelOut]
    asks: list[ConsolidatedLevelOut]


class Subscription(BaseModel):
    exchange: Text = Field(min_length=1, max_length=40, examples=["binance"])
    symbol: Text = Field(
        min_length=3, max_length=40, pattern=r"^[^/\s]+/[^/\s]+$", examples=["BTC/USDT"]
    )


class SubscriptionOut(BaseModel):
    exchange: str
    symbol: str
    origin: Literal["config", "runtime"] = Field(
        description="config: ORDER_BOOK_SUBSCRIPTIONS; runtime: added over HTTP (stored)"
    )
    updated_at: datetime | None = Field(description="of the runtime change; null from config")
    updated_by: str | None = Field(
        description="the caller's principal, when the request that made the change carried one"
    )


class Subscriptions(BaseModel):
    # exchange -> symbols followed now
    subscriptions: dict[str, list[str]]
    # the same, one entry per symbol, with where it comes from
    entries: list[SubscriptionOut]
