"""The generic ccxt adapter (unmodified ccxt / ccxt.pro) against the simulator's Binance."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from eip.exchange_simulator.client import SimulatorClient
from eip.exchanges.ccxt.market_data import CcxtMarketDataAdapter
from eip.exchanges.contract.errors import CircuitOpen, TransientExchangeError, UnknownSymbol
from eip.exchanges.contract.market_data import MarketEvent, Trade
from eip.exchanges.registry import create_market_data_adapter
from eip.resilience import CircuitBreaker, RetryPolicy

pytestmark = pytest.mark.integration


def make_adapter(sim: SimulatorClient, **options: Any) -> CcxtMarketDataAdapter:
    adapter = create_market_data_adapter("binance", base_url=sim.base_url, native=False, **options)
    assert isinstance(adapter, CcxtMarketDataAdapter)
    return adapter


async def until(condition: Callable[[], bool], timeout_s: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_fetch_trades_paginates_by_time_and_fetch_ohlcv(
    clean_simulator: SimulatorClient,
) -> None:
    adapter = make_adapter(clean_simulator)
    try:
        assert "BTC/USDT" in await adapter.load_markets()
        await clean_simulator.print_trades("BTCUSDT", 30, "50010.25", "0.5")
        start = datetime.now(UTC) - timedelta(minutes=10)
        page1 = await adapter.fetch_trades("BTC/USDT", since=start, limit=20)
        assert len(page1) == 20
        last_time = page1[-1].exchange_time
        assert last_time is not None
        page2 = await adapter.fetch_trades("BTC/USDT", since=last_time, limit=20)
        assert page2
        assert page2[0].exchange_time is not None
        assert page2[0].exchange_time >= last_time
        ids = [int(t.trade_id) for t in page1] + [
            int(t.trade_id) for t in page2 if int(t.trade_id) > int(page1[-1].trade_id)
        ]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # no gap between pages
        for trade in page1 + page2:
            assert isinstance(trade.price, Decimal)
            assert trade.symbol == "BTC/USDT"
        printed = await adapter.fetch_trades("BTC/USDT", limit=500)
        assert [t.price for t in printed].count(Decimal("50010.25")) == 30
        assert all(t.amount == Decimal("0.5") for t in printed if t.price == Decimal("50010.25"))
        candles = await adapter.fetch_ohlcv("BTC/USDT", "1m", since=start)
        now = datetime.now(UTC)
        assert all(start <= c.open_time <= now - timedelta(minutes=1) for c in candles)
        ticker = await adapter.fetch_ticker("BTC/USDT")
        assert ticker.bid is not None
        assert ticker.ask is not None
        assert ticker.bid <= ticker.ask
        with pytest.raises(UnknownSymbol):
            await adapter.fetch_ticker("NOPE/USDT")
    finally:
        await adapter.close()


async def test_watch_trades_streams_subscribed_symbols(clean_simulator: SimulatorClient) -> None:
    adapter = make_adapter(clean_simulator)
    events: list[MarketEvent] = []

    async def emit(event: MarketEvent) -> None:
        events.append(event)

    await adapter.subscribe("trades", "BTC/USDT")
    task = asyncio.create_task(adapter.run(emit))
    try:
        await until(lambda: any(isinstance(e, Trade) for e in events), what="first trade")
        await clean_simulator.print_trades("BTCUSDT", 2, "50020.5", "0.25")
        await until(
            lambda: any(isinstance(e, Trade) and e.price == Decimal("50020.5") for e in events),
            what="printed trade",
        )
        await adapter.subscribe("ticker", "ETH/USDT")
        await until(lambda: any(e.symbol == "ETH/USDT" for e in events), what="ETH ticker")
        status = adapter.status()
        assert status.connected
        assert status.messages_per_second > 0
        await adapter.unsubscribe("trades", "BTC/USDT")
        assert adapter.subscriptions() == {("ticker", "ETH/USDT")}
        await clean_simulator.print_trades("BTCUSDT", 2, "50050.5", "0.25")
        tickers_before = sum(e.symbol == "ETH/USDT" for e in events)
        await until(
            lambda: sum(e.symbol == "ETH/USDT" for e in events) > tickers_before + 1,
            what="ETH tickers go on",
        )
        assert not any(isinstance(e, Trade) and e.price == Decimal("50050.5") for e in events)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await adapter.close()


async def test_rest_failures_retry_then_open_the_circuit(
    clean_simulator: SimulatorClient,
) -> None:
    adapter = make_adapter(
        clean_simulator,
        retry_policy=RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.02),
        breaker=CircuitBreaker("binance", failure_threshold=4, cooldown_s=60),
    )
    try:
        await adapter.load_markets()
        await clean_simulator.fail_requests(count=2, status=503, path_prefix="/api/v3/ticker")
        ticker = await adapter.fetch_ticker("BTC/USDT")
        assert ticker.last is not None
        assert adapter.status().errors == 2
        assert not adapter.status().circuit_open
        await clean_simulator.fail_requests(count=50, status=503, path_prefix="/api/v3/")
        with pytest.raises(TransientExchangeError):
            await adapter.fetch_ticker("BTC/USDT")
        with pytest.raises(CircuitOpen):
            await adapter.fetch_ticker("BTC/USDT")
        assert adapter.status().circuit_open
    finally:
        await adapter.close()


async def test_watch_recovers_from_a_dropped_connection(clean_simulator: SimulatorClient) -> None:
    adapter = make_adapter(
        clean_simulator,
        stream_retry=RetryPolicy(attempts=1_000_000, base_delay_s=0.05, max_delay_s=0.2),
    )
    events: list[MarketEvent] = []

    async def emit(event: MarketEvent) -> None:
        events.append(event)

    await adapter.subscribe("trades", "BTC/USDT")
    task = asyncio.create_task(adapter.run(emit))
    try:
        await until(lambda: bool(events), what="first trade")
        assert await clean_simulator.drop_streams() >= 1
        await until(lambda: adapter.status().errors >= 1, what="the drop noticed")

        # A trade printed while ccxt is still reconnecting is gone for a live stream, so keep
        # printing until the resubscribed stream delivers one.
        def recovered() -> bool:
            return any(isinstance(e, Trade) and e.price == Decimal("50030.75") for e in events)

        deadline = time.monotonic() + 20.0
        while not recovered() and time.monotonic() < deadline:
            await clean_simulator.print_trades("BTCUSDT", 1, "50030.75", "0.5")
            await asyncio.sleep(0.5)
        assert recovered(), "no trade after the drop: the watch did not recover"
        assert adapter.status().connected
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await adapter.close()


async def test_stall_raises_the_staleness_alarm_then_clears(
    clean_simulator: SimulatorClient,
) -> None:
    adapter = make_adapter(clean_simulator, stale_after_s=0.5)
    events: list[MarketEvent] = []

    async def emit(event: MarketEvent) -> None:
        events.append(event)

    await adapter.subscribe("ticker", "BTC/USDT")
    task = asyncio.create_task(adapter.run(emit))
    try:
        await until(lambda: bool(events), what="first ticker")
        await clean_simulator.stall_streams(2.5)
        await until(lambda: adapter.status().stale, timeout_s=5, what="stale alarm")
        await until(lambda: not adapter.status().stale, timeout_s=10, what="alarm cleared")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await adapter.close()
