"""Gap detection finds a deleted range and repair fills it; pagination, Retry-After and
cancellation with an in-memory venue."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.contract.errors import RateLimited
from eip.exchanges.contract.market_data import MarketDataAdapter, Ohlcv, Timeframe, Trade
from eip.exchanges.registry import create_market_data_adapter
from eip.market_data.backfill import BackfillConfig, BackfillRunner
from eip.market_data.storage import JobNotRunning, MarketDataStore, StoredCandle
from eip.resilience import RetryPolicy
from eip.testing.simulator import SimulatorProcess

from .helpers import ms_floor, print_history, utc_now, venue_trade_ids

pytestmark = pytest.mark.integration

FAST = BackfillConfig(page_limit=50, retry=RetryPolicy(attempts=4, base_delay_s=0.01))


async def stored_seqs(store: MarketDataStore) -> list[int]:
    async with store.pool.connection() as conn:
        cur = await conn.execute(f'SELECT trade_seq FROM "{store.schema}".trades ORDER BY 1')
        return [int(r[0]) for r in await cur.fetchall()]


async def test_trade_gap_found_by_id_and_repaired(
    store: MarketDataStore, clean_simulator: SimulatorClient, simulator_process: SimulatorProcess
) -> None:
    start = ms_floor(utc_now())
    await print_history(clean_simulator, batches=60, per_batch=5)
    end = ms_floor(utc_now()) + timedelta(milliseconds=1)
    adapter = create_market_data_adapter("binance", base_url=simulator_process.base_url)

    async def adapter_for(exchange: str) -> MarketDataAdapter:
        return adapter

    runner = BackfillRunner(store, adapter_for, FAST)
    job = await store.create_job("binance", "BTC/USDT", "trades", None, start, end)
    assert await runner.run_pending(until_idle=True) == 1
    venue = await venue_trade_ids(simulator_process.base_url, start, end)
    assert await stored_seqs(store) == venue

    lost = venue[100:151]
    async with store.pool.connection() as conn:
        await conn.execute(
            f'DELETE FROM "{store.schema}".trades WHERE trade_seq BETWEEN %s AND %s',
            (lost[0], lost[-1]),
        )
    gaps = await runner.gaps(job)
    assert [(g.first_id, g.last_id) for g in gaps] == [(lost[0], lost[-1])]

    repairs = await runner.repair(job)
    assert [r.parent_id for r in repairs] == [job.id]
    assert await runner.run_pending(until_idle=True) == 1
    repaired = await store.job(repairs[0].id)
    assert repaired is not None
    assert repaired.status == "done"
    assert repaired.rows_inserted == len(lost)
    assert await stored_seqs(store) == venue
    assert await runner.gaps(job) == []
    await adapter.close()


T0 = datetime(2024, 2, 28, 22, 0, tzinfo=UTC)  # crosses a day and a month partition


class MemoryVenue:
    """1m candles of a fixed history; refuses the first calls with a rate limit."""

    exchange = "memvenue"

    def __init__(self, minutes: int, rate_limited_calls: int = 0) -> None:
        self.history = [self._candle(m) for m in range(minutes)]
        self.calls = 0
        self.refusals = rate_limited_calls

    @staticmethod
    def _candle(m: int) -> Ohlcv:
        price = Decimal(100 + m % 13) + Decimal("0.25")
        return Ohlcv(
            exchange="memvenue",
            symbol="ETH/USDT",
            timeframe="1m",
            open_time=T0 + timedelta(minutes=m),
            open=price,
            high=price + 1,
            low=price - 1,
            close=price + Decimal("0.5"),
            base_volume=Decimal("2.000001"),
            quote_volume=Decimal("200.5"),
            trade_count=m,
        )

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: Timeframe,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Ohlcv]:
        self.calls += 1
        if self.refusals:
            self.refusals -= 1
            raise RateLimited("memvenue", "429 Too Many Requests", retry_after_s=0.01)
        found = [c for c in self.history if since is None or c.open_time >= since]
        return found[: limit or 500]

    async def close(self) -> None:
        return None


def runner_for(
    store: MarketDataStore, venue: MemoryVenue, config: BackfillConfig
) -> BackfillRunner:
    async def adapter_for(exchange: str) -> MarketDataAdapter:
        return venue  # type: ignore[return-value]  # history only

    return BackfillRunner(store, adapter_for, config, clock=lambda: T0 + timedelta(days=30))


async def test_ohlcv_backfill_pages_survive_rate_limits_and_repairs_a_hole(
    store: MarketDataStore,
) -> None:
    venue = MemoryVenue(minutes=300, rate_limited_calls=2)
    runner = runner_for(store, venue, FAST)
    end = T0 + timedelta(minutes=300)
    job = await store.create_job("memvenue", "ETH/USDT", "ohlcv", "1m", T0, end)
    await runner.run_pending(until_idle=True)
    done = await store.job(job.id)
    assert done is not None
    assert (done.status, done.gaps, done.rows_inserted) == ("done", 0, 300)
    assert venue.calls == 2 + 300 // 50  # two refusals, then pages until the range end
    series = await store.candles("memvenue", "ETH/USDT", "1m", T0, end, now=end)
    assert [c.close for c in series.candles] == [c.close for c in venue.history]
    assert series.complete

    hole = (T0 + timedelta(minutes=118), T0 + timedelta(minutes=125))
    async with store.pool.connection() as conn:
        await conn.execute(
            f'DELETE FROM "{store.schema}".candles WHERE open_time >= %s AND open_time < %s',
            hole,
        )
    gaps = await runner.gaps(job)
    assert [(g.start, g.end) for g in gaps] == [hole]
    hourly = await store.candles("memvenue", "ETH/USDT", "1h", T0, end, now=end)
    # minutes 118..124 straddle midnight: both hours lack minutes
    assert hourly.missing == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    repairs = await runner.repair(job)
    await runner.run_pending(until_idle=True)
    fixed = await store.job(repairs[0].id)
    assert fixed is not None
    assert (fixed.status, fixed.rows_inserted) == ("done", 7)
    assert await runner.gaps(job) == []


async def test_a_venue_that_keeps_refusing_fails_the_job_with_its_error(
    store: MarketDataStore,
) -> None:
    venue = MemoryVenue(minutes=10, rate_limited_calls=1000)
    runner = runner_for(store, venue, FAST)
    job = await store.create_job(
        "memvenue", "ETH/USDT", "ohlcv", "1m", T0, T0 + timedelta(minutes=10)
    )
    await runner.run_pending(until_idle=True)
    failed = await store.job(job.id)
    assert failed is not None
    assert failed.status == "failed"
    assert failed.error == "RateLimited: memvenue: 429 Too Many Requests"
    assert venue.calls == FAST.retry.attempts


async def test_cancelled_job_stops_and_keeps_what_it_stored(store: MarketDataStore) -> None:
    venue = MemoryVenue(minutes=200)
    runner = runner_for(store, venue, FAST)
    job = await store.create_job(
        "memvenue", "ETH/USDT", "ohlcv", "1m", T0, T0 + timedelta(minutes=200)
    )
    original = venue.fetch_ohlcv

    async def cancel_after_two_pages(*args: object, **kwargs: object) -> list[Ohlcv]:
        if venue.calls == 2:
            assert await store.cancel_job(job.id)
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    venue.fetch_ohlcv = cancel_after_two_pages  # type: ignore[method-assign]
    await runner.run_pending(until_idle=True)
    cancelled = await store.job(job.id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.pages, cancelled.rows_inserted) == ("cancelled", 2, 100)
    assert not await store.cancel_job(job.id)  # already ended


async def test_a_worker_that_lost_its_lease_writes_nothing(store: MarketDataStore) -> None:
    job = await store.create_job("memvenue", "ETH/USDT", "ohlcv", "1m", T0, T0 + timedelta(hours=1))
    first = await store.claim_job(timedelta(milliseconds=1), "worker-a")
    assert first is not None
    await asyncio.sleep(0.05)  # worker-a stalls past its lease
    second = await store.claim_job(timedelta(seconds=30), "worker-b")
    assert second is not None
    assert second.id == first.id == job.id
    assert await store.claim_job(timedelta(seconds=30), "worker-c") is None

    venue = MemoryVenue(minutes=2)
    rows = [
        StoredCandle(
            c.exchange,
            c.symbol,
            "1m",
            c.open_time,
            c.open,
            c.high,
            c.low,
            c.close,
            c.base_volume,
            c.quote_volume,
            c.trade_count,
            True,
            T0 + timedelta(days=1),
        )
        for c in venue.history
    ]
    with pytest.raises(JobNotRunning):
        await store.store_candles_page(job.id, "worker-a", rows[:1], T0, timedelta(seconds=30))
    assert (
        await store.store_candles_page(
            job.id, "worker-b", rows, T0 + timedelta(minutes=2), timedelta(seconds=30)
        )
        == 2
    )
    progress = await store.job(job.id)
    assert progress is not None
    assert (progress.pages, progress.rows_inserted, progress.cursor) == (
        1,
        2,
        T0 + timedelta(minutes=2),
    )


class CrowdedTradeVenue:
    """A venue that pages trades only by time, with more trades at one millisecond than a page
    holds (venues like this exist: the page limit is the venue's, not ours)."""

    exchange = "memvenue"

    def __init__(self) -> None:
        crowded = [T0 + timedelta(seconds=1)] * 5
        spread = [T0 + timedelta(seconds=2 + n) for n in range(3)]
        self.history = [
            Trade("memvenue", "ETH/USDT", str(n), Decimal("100.5"), Decimal("1"), "buy", t, t)
            for n, t in enumerate(crowded + spread)
        ]

    async def fetch_trades(
        self, symbol: str, since: datetime | None = None, limit: int | None = None
    ) -> list[Trade]:
        found = [t for t in self.history if since is None or t.exchange_time >= since]  # type: ignore[operator]
        return found[: limit or 500]

    async def close(self) -> None:
        return None


async def test_a_crowded_instant_on_a_time_paged_venue_is_counted_and_logged(
    store: MarketDataStore, caplog: pytest.LogCaptureFixture
) -> None:
    venue = CrowdedTradeVenue()

    async def adapter_for(exchange: str) -> MarketDataAdapter:
        return venue  # type: ignore[return-value]  # history only

    config = dataclasses.replace(FAST, page_limit=3)
    runner = BackfillRunner(store, adapter_for, config, clock=lambda: T0 + timedelta(days=30))
    before = REGISTRY.get_sample_value(
        "eip_market_data_backfill_crowded_instants_total", {"exchange": "memvenue"}
    )
    job = await store.create_job(
        "memvenue", "ETH/USDT", "trades", None, T0, T0 + timedelta(minutes=1)
    )
    await runner.run_pending(until_idle=True)
    done = await store.job(job.id)
    assert done is not None
    assert done.status == "done"
    # three of the five trades at the crowded millisecond, then everything after it
    assert done.rows_inserted == 3 + 3
    after = REGISTRY.get_sample_value(
        "eip_market_data_backfill_crowded_instants_total", {"exchange": "memvenue"}
    )
    assert (after or 0) - (before or 0) == 1
    assert any("more trades at one instant than a page holds" in r.message for r in caplog.records)
