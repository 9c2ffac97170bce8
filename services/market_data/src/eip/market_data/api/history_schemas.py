"""Bodies of the history endpoints. Prices and amounts are decimal strings, times UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eip.exchanges.contract.market_data import Timeframe
from eip.observability.inputs import Instant, Text


class HistoryFreshness(BaseModel):
    """How fresh the data in an answer is: its newest record, and its age at ``as_of``."""

    as_of: datetime
    newest_exchange_time: datetime | None
    newest_received_time: datetime | None
    age_s: float | None  # as_of minus the newest record's exchange (else received) time


class TradeOut(BaseModel):
    trade_id: str
    price: str
    amount: str
    taker_side: Literal["buy", "sell"] | None
    exchange_time: datetime | None
    received_time: datetime


class TradesOut(BaseModel):
    exchange: str
    symbol: str
    start: datetime
    end: datetime
    trades: list[TradeOut]
    next_cursor: str | None  # pass as ``cursor`` for the next page; null on the last
    freshness: HistoryFreshness


class CandleOut(BaseModel):
    open_time: datetime
    open: str
    high: str
    low: str
    close: str
    base_volume: str
    quote_volume: str | None
    trade_count: int | None
    closed: bool


class CandlesOut(BaseModel):
    exchange: str
    symbol: str
    timeframe: Timeframe
    start: datetime
    end: datetime
    # rollup: aggregated from stored 1m candles; mixed: stored ones, rollups where none is
    source: Literal["native", "rollup", "mixed"]
    complete: bool  # every interval of the range that has ended is stored in full
    expected: int
    missing: list[datetime]  # open times of ended intervals absent or incomplete
    candles: list[CandleOut]
    freshness: HistoryFreshness


class BackfillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exchange: Text = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_.-]+$")
    symbol: Text = Field(min_length=3, max_length=40, examples=["BTC/USDT"])
    kind: Literal["trades", "ohlcv"]
    timeframe: Timeframe | None = None
    start: Instant
    end: Instant


class BackfillJobOut(BaseModel):
    id: int
    exchange: str
    symbol: str
    kind: Literal["trades", "ohlcv"]
    timeframe: Timeframe | None
    start: datetime
    end: datetime
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    cursor: datetime
    percent: float
    pages: int
    rows_fetched: int
    rows_inserted: int
    gaps: int | None
    error: str | None
    parent_id: int | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class BackfillJobsOut(BaseModel):
    jobs: list[BackfillJobOut]


class GapOut(BaseModel):
    start: datetime
    end: datetime
    first_id: int | None
    last_id: int | None


class GapsOut(BaseModel):
    exchange: str
    symbol: str
    kind: Literal["trades", "ohlcv"]
    timeframe: Timeframe | None
    start: datetime
    end: datetime
    method: Literal["candle_open_times", "trade_ids", "trade_silence"]
    gaps: list[GapOut]


class RepairOut(BaseModel):
    job_id: int
    gaps: list[GapOut]
    repair_jobs: list[BackfillJobOut]
