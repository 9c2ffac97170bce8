"""Backfill through the platform's adapters against the simulator: a millisecond more crowded
than a page pages past by id, and stored OHLCV equals the venue's own klines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.contract.market_data import MarketDataAdapter
from eip.exchanges.registry import create_market_data_adapter
from eip.market_data.backfill import BackfillConfig, BackfillRunner
from eip.market_data.storage import MarketDataStore
from eip.testing.simulator import SimulatorProcess

from .helpers import ms_floor, utc_now, venue_trade_ids

pytestmark = pytest.mark.integration


def runner(store: MarketDataStore, adapter: MarketDataAdapter, page: int) -> BackfillRunner:
    async def adapter_for(exchange: str) -> MarketDataAdapter:
        return adapter

    return BackfillRunner(store, adapter_for, BackfillConfig(page_limit=page))


async def test_native_binance_pages_past_a_crowded_millisecond_by_id(
    store: MarketDataStore, clean_simulator: SimulatorClient, simulator_process: SimulatorProcess
) -> None:
    start = ms_floor(utc_now())
    await clean_simulator.print_trades("BTCUSDT", 150, "50001.5", "0.002")  # one instant
    end = ms_floor(utc_now()) + timedelta(milliseconds=1)
    adapter = create_market_data_adapter("binance", base_url=simulator_process.base_url)
    try:
        job = await store.create_job("binance", "BTC/USDT", "trades", None, start, end)
        await runner(store, adapter, page=20).run_pending(until_idle=True)
    finally:
        await adapter.close()
    done = await store.job(job.id)
    assert done is not None
    assert (done.status, done.gaps) == ("done", 0)
    venue = await venue_trade_ids(simulator_process.base_url, start, end)
    stored = await store.trades("binance", "BTC/USDT", start, end, 5000)
    assert sorted(int(t.trade_id) for t in stored) == venue
    assert len(venue) >= 150


async def test_ohlcv_backfill_equals_the_venue_klines(
    store: MarketDataStore, clean_simulator: SimulatorClient, simulator_process: SimulatorProcess
) -> None:
    # the session's simulator is young: print history into past minutes on a skewed clock
    await clean_simulator.pause_market()
    try:
        for minutes_ago in range(12, 2, -1):
            await clean_simulator.skew_clock(-minutes_ago * 60_000)
            await clean_simulator.print_trades("BTCUSDT", 3, f"{50000 + minutes_ago}.25", "0.01")
    finally:
        await clean_simulator.skew_clock(0)
        await clean_simulator.resume_market()
    now = datetime.now(UTC)
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=15)
    adapter = create_market_data_adapter("binance", base_url=simulator_process.base_url)
    try:
        job = await store.create_job("binance", "BTC/USDT", "ohlcv", "1m", start, now)
        # one page: the simulator lists minutes in the order they were first traded
        await runner(store, adapter, page=1000).run_pending(until_idle=True)
    finally:
        await adapter.close()
    async with httpx.AsyncClient(base_url=simulator_process.base_url) as http:
        rows = (
            await http.get(
                "/api/v3/klines",
                params={
                    "symbol": "BTCUSDT",
                    "interval": "1m",
                    "startTime": int(start.timestamp() * 1000),
                    "limit": 1000,
                },
            )
        ).json()
    closed = sorted(r for r in rows if r[6] < int(now.timestamp() * 1000))
    assert len(closed) >= 10
    series = await store.candles("binance", "BTC/USDT", "1m", start, now)
    assert [
        (int(c.open_time.timestamp() * 1000), c.close, c.base_volume) for c in series.candles
    ] == [(r[0], Decimal(r[4]), Decimal(r[5])) for r in closed]
    done = await store.job(job.id)
    assert done is not None
    assert done.status == "done"
    assert done.rows_inserted == len(closed)
