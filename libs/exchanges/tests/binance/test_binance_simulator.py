"""Native Binance adapter against the exchange simulator: streams, faults, limits, breaker."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.binance.market_data import BinanceMarketDataAdapter
from eip.exchanges.contract.errors import (
    CircuitOpen,
    RateLimited,
    TransientExchangeError,
    UnknownSymbol,
)
from eip.exchanges.contract.market_data import MarketEvent, Ticker, Trade
from eip.exchanges.registry import create_market_data_adapter
from eip.resilience import CircuitBreaker, RetryPolicy

pytestmark = pytest.mark.integration

FAST_RECONNECT = RetryPolicy(attempts=1_000_000, base_delay_s=0.05, max_delay_s=0.2)


def make_adapter(sim: SimulatorClient, **options: Any) -> BinanceMarketDataAdapter:
    adapter = create_market_data_adapter(
        "binance", base_url=sim.base_url, reconnect_policy=FAST_RECONNECT, **options
    )
    assert isinstance(adapter, BinanceMarketDataAdapter)
    return adapter


class Collector:
    def __init__(self) -> None:
        self.events: list[MarketEvent] = []

    async def __call__(self, event: MarketEvent) -> None:
        self.events.append(event)

    def trades(self, symbol: str) -> list[Trade]:
        return [e for e in self.events if isinstance(e, Trade) and e.symbol == symbol]

    def tickers(self, symbol: str) -> list[Ticker]:
        return [e for e in self.events if isinstance(e, Ticker) and e.symbol == symbol]


async def until(condition: Callable[[], bool], timeout_s: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(
    adapter: BinanceMarketDataAdapter, emit: Callable[[MarketEvent], Awaitable[None]]
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(adapter.run(emit))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await adapter.close()


async def test_streams_trades_and_tickers_of_subscribed_symbols(
    clean_simulator: SimulatorClient,
) -> None:
    adapter = make_adapter(clean_simulator)
    assert "BTC/USDT" in await adapter.load_markets()
    await adapter.subscribe("trades", "BTC/USDT")
    await adapter.subscribe("ticker", "BTC/USDT")
    got = Collector()
    async with running(adapter, got):
        await until(lambda: adapter.status().connected, what="connected")
        await clean_simulator.print_trades("BTCUSDT", 3, "50000.5", "0.125")
        await until(
            lambda: any(t.price == Decimal("50000.5") for t in got.trades("BTC/USDT")),
            what="printed trades",
        )
        await until(lambda: len(got.tickers("BTC/USDT")) > 0, what="a ticker")
        status = adapter.status()
        assert status.connected
        assert status.last_message_age_s is not None
        assert status.messages_per_second > 0
    assert not adapter.status().connected  # stopped
    printed = [t for t in got.trades("BTC/USDT") if t.price == Decimal("50000.5")]
    assert len(printed) >= 3
    assert all(t.amount == Decimal("0.125") and t.exchange == "binance" for t in printed)
    assert all(t.taker_side in ("buy", "sell") for t in printed)
    assert all(t.exchange_time is not None and t.exchange_time.tzinfo for t in printed)
    assert not got.trades("ETH/USDT")  # not subscribed
    ticker = got.tickers("BTC/USDT")[-1]
    assert ticker.bid is not None
    assert ticker.ask is not None
    assert ticker.bid < ticker.ask


async def test_runtime_subscribe_and_unsubscribe(clean_simulator: SimulatorClient) -> None:
    adapter = make_adapter(clean_simulator)
    await adapter.subscribe("trades", "BTC/USDT")
    got = Collector()
    async with running(adapter, got):
        await until(lambda: len(got.trades("BTC/USDT")) > 0, what="BTC trades")
        await adapter.subscribe("trades", "ETH/USDT")
        await until(lambda: len(got.trades("ETH/USDT")) > 0, what="ETH trades after subscribe")
        await adapter.unsubscribe("trades", "BTC/USDT")
        await asyncio.sleep(0.3)  # frames already in flight
        before = len(got.trades("BTC/USDT"))
        eth_before = len(got.trades("ETH/USDT"))
        await clean_simulator.print_trades("BTCUSDT", 2, "50001", "0.01")
        await clean_simulator.print_trades("ETHUSDT", 2, "3000", "0.01")
        await until(lambda: len(got.trades("ETH/USDT")) >= eth_before + 2, what="ETH prints")
        assert len(got.trades("BTC/USDT")) == before
        assert adapter.stream.connections == 1  # changed in place, not by reconnecting
    with pytest.raises(UnknownSymbol):
        await make_adapter(clean_simulator).subscribe("trades", "NOPE/USDT")


async def test_dropped_connection_recovers_and_resubscribes(
    clean_simulator: SimulatorClient,
) -> None:
    adapter = make_adapter(clean_simulator)
    await adapter.subscribe("trades", "BTC/USDT")
    got = Collector()
    async with running(adapter, got):
        await until(lambda: len(got.trades("BTC/USDT")) > 0, what="first trades")
        await adapter.subscribe("trades", "SOL/USDT")  # added at runtime, must survive too
        assert await clean_simulator.drop_streams() >= 1
        await until(lambda: adapter.stream.connections >= 2, what="reconnect")
        await until(lambda: adapter.status().connected, what="connected again")
        await clean_simulator.print_trades("BTCUSDT", 1, "50002", "0.02")
        await clean_simulator.print_trades("SOLUSDT", 1, "150", "1")
        await until(
            lambda: (
                any(t.price == Decimal("50002") for t in got.trades("BTC/USDT"))
                and any(t.price == Decimal("150") for t in got.trades("SOL/USDT"))
            ),
            what="trades of both symbols after the drop",
        )
    assert adapter.status().errors >= 1


async def test_stall_raises_the_staleness_alarm_then_clears(
    clean_simulator: SimulatorClient,
) -> None:
    adapter = make_adapter(clean_simulator, stale_after_s=0.5)
    await adapter.subscribe("trades", "BTC/USDT")
    await adapter.subscribe("ticker", "BTC/USDT")
    got = Collector()
    async with running(adapter, got):
        await until(lambda: len(got.events) > 0, what="first events")
        assert not adapter.status().stale
        await clean_simulator.stall_streams(3)
        await until(lambda: adapter.status().stale, timeout_s=5, what="stale alarm")
        # a socket silent for 3x the alarm threshold is replaced
        await until(lambda: adapter.stream.connections >= 2, timeout_s=5, what="forced reconnect")
        await until(lambda: not adapter.status().stale, timeout_s=10, what="alarm cleared")


async def test_rest_5xx_is_retried(clean_simulator: SimulatorClient) -> None:
    adapter = make_adapter(
        clean_simulator, retry_policy=RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05)
    )
    try:
        await adapter.load_markets()
        await clean_simulator.print_trades("BTCUSDT", 5, "50003", "0.01")
        await clean_simulator.fail_requests(count=2, status=503, path_prefix="/api/v3/aggTrades")
        trades = await adapter.fetch_trades("BTC/USDT", limit=100)
        assert any(t.price == Decimal("50003") for t in trades)
        assert adapter.status().errors == 2
        assert not adapter.status().circuit_open
        await clean_simulator.fail_requests(count=1, status=502, path_prefix="/api/v3/klines")
        since = datetime.now(UTC) - timedelta(hours=2)
        candles = await adapter.fetch_ohlcv("BTC/USDT", "1m", since=since)
        now = datetime.now(UTC)
        # only closed candles: the simulator's current minute is left out
        assert all(since <= c.open_time <= now - timedelta(minutes=1) for c in candles)
        assert candles == sorted(candles, key=lambda c: c.open_time)
        assert adapter.status().errors == 3
    finally:
        await adapter.close()


async def test_fetch_trades_pages_by_id_without_gaps(clean_simulator: SimulatorClient) -> None:
    adapter = make_adapter(clean_simulator)
    try:
        await clean_simulator.print_trades("BTCUSDT", 60, "50004", "0.01")
        latest = await adapter.fetch_trades("BTC/USDT", limit=50)
        assert len(latest) == 50
        first_id = int(latest[0].trade_id)
        page1 = await adapter.fetch_trades_from_id("BTC/USDT", first_id, limit=20)
        page2 = await adapter.fetch_trades_from_id("BTC/USDT", int(page1[-1].trade_id) + 1, 20)
        ids = [int(t.trade_id) for t in page1 + page2]
        assert ids == list(range(first_id, first_id + 40))
        since = latest[10].exchange_time
        assert since is not None
        window = await adapter.fetch_trades("BTC/USDT", since=since, limit=5)
        assert all(t.exchange_time is not None and t.exchange_time >= since for t in window)
    finally:
        await adapter.close()


async def test_429_retry_after_is_honoured(clean_simulator: SimulatorClient) -> None:
    adapter = make_adapter(clean_simulator, retry_policy=RetryPolicy(attempts=1))
    # the simulator's reset forgets counters but keeps limits: restore them for later tests
    original = await clean_simulator.set_rate_limits()
    try:
        await adapter.load_markets()  # weight 20
        await clean_simulator.set_rate_limits(weight_per_minute=30)
        caught: RateLimited | None = None
        for _ in range(10):  # 2 + 2 weight per call
            try:
                await adapter.fetch_ticker("BTC/USDT")
            except RateLimited as exc:
                caught = exc
                break
        assert caught is not None
        assert caught.retry_after_s is not None
        assert caught.retry_after_s > 0
        assert adapter.status().rate_limit_headroom == 0.0
        assert adapter.limiter.blocked_until > time.time()
        # the next call waits for Retry-After instead of hitting the venue again
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(adapter.fetch_ticker("BTC/USDT"), 0.3)
    finally:
        await clean_simulator.set_rate_limits(**original)
        await adapter.close()


async def test_circuit_opens_on_repeated_failures(clean_simulator: SimulatorClient) -> None:
    breaker = CircuitBreaker("binance", failure_threshold=3, cooldown_s=60)
    adapter = make_adapter(
        clean_simulator,
        breaker=breaker,
        retry_policy=RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.02),
    )
    try:
        await adapter.load_markets()
        await clean_simulator.fail_requests(count=50, status=500, path_prefix="/api/v3/")
        with pytest.raises(TransientExchangeError):
            await adapter.fetch_ticker("BTC/USDT")
        with pytest.raises(CircuitOpen):
            await adapter.fetch_ticker("BTC/USDT")
        status = adapter.status()
        assert status.circuit_open
        assert status.errors >= 3
    finally:
        await adapter.close()
