"""PostgreSQL history of the market-data service: time-partitioned trades and candles, COPY
writes that never duplicate, 1m rollups, gap detection and the backfill job table."""

from eip.market_data.storage.jobs import JobNotRunning
from eip.market_data.storage.records import (
    BackfillJob,
    CandleSeries,
    Gap,
    JobKind,
    JobStatus,
    StoredCandle,
)
from eip.market_data.storage.store import MIGRATIONS, MarketDataStore

__all__ = [
    "MIGRATIONS",
    "BackfillJob",
    "CandleSeries",
    "Gap",
    "JobKind",
    "JobNotRunning",
    "JobStatus",
    "MarketDataStore",
    "StoredCandle",
]
