"""Against a real broker: adapter trades → md.trades.v1 → the candle stage → md.candles.v1,
closed candles equal to a naive computation, each closed once, also across a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from eip.bus import Producer
from eip.events.topics import MD_CANDLES, MD_TICKERS, MD_TRADES
from eip.exchanges.contract.market_data import MarketDataAdapter, Trade
from eip.market_data.candles.builder import interval_start
from eip.market_data.candles.stream import CandleStream
from eip.market_data.live.service import LiveService
from eip.market_data.settings import MarketDataSettings, SubscriptionConfig
from eip.testing.plugin import TopicFactory

from .helpers import MemorySink, ScriptedAdapter, read_topic, wait_until

pytestmark = pytest.mark.integration


def trades_at(start: datetime, n: int, step_s: int, first_id: int = 0) -> list[Trade]:
    out = []
    for i in range(n):
        at = start + timedelta(seconds=i * step_s)
        price = Decimal(100 + (i * 7) % 13) + Decimal("0.25")
        out.append(
            Trade(
                "binance", "BTC/USDT", str(first_id + i), price, Decimal("0.5") + i, "sell", at, at
            )
        )
    return out


async def trades_of_this_minute(first_id: int) -> list[Trade]:
    """Three trades of the last three seconds, all inside the current minute with time to spare
    before it ends: with no close grace, a minute the wall clock has passed is closed and a
    trade of it is late, so trades straddling a boundary would make the count flaky."""
    now = datetime.now(UTC)
    into = (now - interval_start(now, "1m")).total_seconds()
    if into < 4 or into > 40:
        await asyncio.sleep((64 - into) % 60)  # four seconds into the next minute
    return trades_at(datetime.now(UTC) - timedelta(seconds=3), 3, 1, first_id=first_id)


async def test_trades_flow_to_closed_candles_once_even_across_a_restart(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    trades_topic = await make_topic(MD_TRADES)
    tickers_topic = await make_topic(MD_TICKERS)
    candles_topic = await make_topic(MD_CANDLES)
    settings = MarketDataSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        subscriptions=[SubscriptionConfig(exchange="binance", symbol="BTC/USDT", channel="trades")],
        candle_update_interval_s=0,
        candle_close_grace_s=0,
        candle_quiet_close_s=0,
    )
    adapter = ScriptedAdapter("binance")

    def factory(exchange: str, _: MarketDataSettings) -> MarketDataAdapter:
        return adapter

    group = f"test-candles-{trades_topic.name}"
    live = LiveService(settings, lambda: producer, factory, trades_topic, tickers_topic)
    sink = MemorySink()
    # A clean minute boundary 10 minutes back: the first 1m candles close on trade time, the
    # last on the wall clock.
    start = interval_start(datetime.now(UTC), "1m") - timedelta(minutes=10)
    first = trades_at(start, 12, 20)  # 4 minutes, 3 trades per minute
    async with live.running():
        stream = CandleStream(
            settings, lambda: producer, lambda: sink, trades_topic, candles_topic, group
        )
        task = asyncio.create_task(stream.run())
        await asyncio.wait_for(stream.ready.wait(), 30)
        for t in first:
            adapter.queue.put_nowait(t)
        await wait_until(
            lambda: len([c for c in sink.candles if c.key.timeframe == "1m" and c.closed]) >= 4
        )
        stream.stop()
        await asyncio.wait_for(task, 15)

        # Restart: one trade late for a closed minute, then trades of now (every older interval
        # of every timeframe has closed on the wall clock meanwhile).
        late = trades_at(start + timedelta(seconds=5), 1, 0, first_id=100)
        stream2 = CandleStream(
            settings, lambda: producer, lambda: sink, trades_topic, candles_topic, group
        )
        task2 = asyncio.create_task(stream2.run())
        await asyncio.wait_for(stream2.ready.wait(), 30)
        assert stream2.restored > 0
        second = await trades_of_this_minute(first_id=200)
        minutes = 4 + 1
        for t in late + second:
            adapter.queue.put_nowait(t)
        await wait_until(
            lambda: (
                len([c for c in sink.candles if c.key.timeframe == "1m" and c.closed]) >= minutes
            ),
            state=lambda: (
                len(sink.trades),
                stream2.builder.late_trades,
                stream2.builder.open_candles(),
            ),
        )
        assert stream2.builder.late_trades == 1
        stream2.stop()
        await asyncio.wait_for(task2, 15)

    records = await read_topic(kafka_bootstrap_servers, candles_topic)
    closed_1m = [r for r in records if r.closed and r.timeframe == "1m"]
    opens = [r.open_time.ToDatetime(tzinfo=UTC) for r in closed_1m]
    assert len(opens) == len(set(opens)) == minutes  # each minute closed exactly once
    assert any(not r.closed for r in records)  # in-progress updates were published, marked
    expected: dict[datetime, tuple[str, str, str, str, Decimal, int]] = {}
    for minute in sorted({interval_start(t.received_time, "1m") for t in first + second}):
        ts = [t for t in first + second if interval_start(t.received_time, "1m") == minute]
        expected[minute] = (
            str(ts[0].price),
            str(max(t.price for t in ts)),
            str(min(t.price for t in ts)),
            str(ts[-1].price),
            sum((t.amount for t in ts), Decimal(0)),
            len(ts),
        )
    got = {
        r.open_time.ToDatetime(tzinfo=UTC): (
            r.open, r.high, r.low, r.close, Decimal(r.base_volume), r.trade_count
        )
        for r in closed_1m
    }  # fmt: skip
    assert got == expected
    assert len(sink.trades) == len(first) + len(late) + len(second)
