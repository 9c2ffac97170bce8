"""Backfill of trades and OHLCV through the adapters' REST history into ``MarketDataStore``:
resumable jobs, gap detection and repair."""

from eip.market_data.backfill.runner import AdapterFor, BackfillConfig, BackfillRunner

__all__ = ["AdapterFor", "BackfillConfig", "BackfillRunner"]
