"""What the store returns: stored candles, candle series with provenance, gaps, backfill jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from eip.exchanges.contract.market_data import Timeframe

JobKind = Literal["trades", "ohlcv"]
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
JOB_STATUSES: tuple[JobStatus, ...] = ("queued", "running", "done", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class StoredCandle:
    exchange: str
    symbol: str
    timeframe: Timeframe
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    base_volume: Decimal
    quote_volume: Decimal | None
    trade_count: int | None
    closed: bool  # False: in progress (live) or, rolled up, not all of its minutes are closed
    received_time: datetime  # the newest received time among its sources


@dataclass(frozen=True, slots=True)
class CandleSeries:
    """Candles of one range, with where they came from and what is missing."""

    candles: list[StoredCandle]
    # rollup: aggregated from stored 1m candles; mixed: stored ones, and rollups where none is
    source: Literal["native", "rollup", "mixed"]
    expected: int  # intervals in the range that have ended by now
    missing: list[datetime]  # open times of ended intervals absent or (rolled up) incomplete

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True, slots=True)
class Gap:
    """A hole in stored history: nothing stored strictly between ``start`` and ``end``.

    ``first_id``/``last_id`` name the missing trade ids when the venue's ids are sequential.
    """

    start: datetime
    end: datetime
    first_id: int | None = None
    last_id: int | None = None


@dataclass(frozen=True, slots=True)
class BackfillJob:
    id: int
    exchange: str
    symbol: str
    kind: JobKind
    timeframe: Timeframe | None
    start: datetime
    end: datetime
    cursor: datetime  # the next page starts here
    status: JobStatus
    pages: int
    rows_fetched: int
    rows_inserted: int
    gaps: int | None  # found after the job finished; None before
    error: str | None
    parent_id: int | None  # set on repair jobs
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def progress(self) -> float:
        """Fraction of the range covered, 0..1."""
        if self.status == "done":
            return 1.0
        span = (self.end - self.start).total_seconds()
        done = (min(self.cursor, self.end) - self.start).total_seconds()
        return max(0.0, min(1.0, done / span)) if span > 0 else 1.0
