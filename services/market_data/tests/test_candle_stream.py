"""The candle stage's handler with a scripted producer: a redelivered record (after Kafka
refused the candles it produced) is folded in once, and its candles are sent once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import TopicPartition

from eip.bus import PoisonMessage, Record
from eip.events.topics import MD_CANDLES, MD_TRADES, TopicSpec
from eip.exchanges.contract.market_data import Trade
from eip.market_data.candles.builder import Candle, CandleKey
from eip.market_data.candles.stream import CandleStream
from eip.market_data.settings import MarketDataSettings
from eip.market_data.wire import trade_message

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class FlakyProducer:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[Any] = []

    async def publish_nowait(
        self, spec: TopicSpec, key: bytes, message: Any, extra_headers: Any = ()
    ) -> Any:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures > 0:
            self.failures -= 1
            future.set_exception(ConnectionError("broker away"))
        else:
            self.sent.append(message)
            future.set_result(None)
        return future


class Sink:
    def __init__(self) -> None:
        self.trades: list[Trade] = []
        self.candles: list[Candle] = []

    async def store_trades(self, trades: Sequence[Trade]) -> None:
        self.trades += trades

    async def store_candles(self, candles: Sequence[Candle]) -> None:
        self.candles += candles


def record(offset: int, seconds: int, price: str = "100") -> Record:
    when = T0 + timedelta(seconds=seconds)
    trade = Trade("binance", "BTC/USDT", str(offset), Decimal(price), Decimal(1), None, when, when)
    return Record(MD_TRADES.name, 0, offset, b"k", trade_message(trade), [], 0)


def stage(producer: FlakyProducer, sink: Sink) -> CandleStream:
    settings = MarketDataSettings(candle_update_interval_s=0)
    s = CandleStream(
        settings,
        lambda: producer,  # type: ignore[arg-type, return-value]
        lambda: sink,
        MD_TRADES,
        MD_CANDLES,
    )
    s.builder.timeframes = ("1m",)
    return s


async def test_a_redelivered_record_is_counted_once_and_its_candles_sent_once() -> None:
    producer, sink = FlakyProducer(failures=1), Sink()
    s = stage(producer, sink)
    with pytest.raises(ConnectionError):
        await s._handle(record(0, 1))
    await s._handle(record(0, 1))  # the consumer redelivers it
    assert len(sink.trades) == 1
    assert [(m.trade_count, m.closed) for m in producer.sent] == [(1, False)]
    await s._handle(record(1, 62, "105"))  # the market's own time passed the minute + grace
    closed = [m for m in producer.sent if m.closed]
    assert [(m.trade_count, m.close) for m in closed] == [(1, "100")]
    key = CandleKey("binance", "BTC/USDT", "1m")
    # in-progress versions are stored too (the API shows the current candle), closed ones final
    assert [(c.key, c.open_time, c.closed) for c in sink.candles] == [
        (key, T0, False),
        (key, T0 + timedelta(minutes=1), False),
        (key, T0, True),
    ]


async def test_an_undecodable_trade_is_poison() -> None:
    s = stage(FlakyProducer(0), Sink())
    bad = record(0, 1)
    bad.message.price = "one hundred"  # type: ignore[attr-defined]
    with pytest.raises(PoisonMessage, match="price"):
        await s._handle(bad)


class DownSink(Sink):
    down = False

    async def store_candles(self, candles: Sequence[Candle]) -> None:
        if self.down:
            raise ConnectionError("database down")
        await super().store_candles(candles)


async def test_a_hand_over_publishes_open_candles_even_with_the_database_down() -> None:
    producer, sink = FlakyProducer(failures=0), DownSink()
    s = stage(producer, sink)
    s.builder.update_interval_s = 3600
    s._partition_ids = list(range(MD_TRADES.partitions))  # as an assignment sets them
    s.owned = frozenset(range(MD_TRADES.partitions))
    await s._handle(record(0, 1))
    await s._handle(record(1, 2, "103"))  # throttled: nothing new published
    assert [m.trade_count for m in producer.sent] == [1]
    sink.down = True
    revoked = {TopicPartition(MD_TRADES.name, p) for p in range(MD_TRADES.partitions)}
    await s.on_partitions_revoked(revoked)  # does not raise: the offsets get committed
    assert [(m.trade_count, m.close, m.closed) for m in producer.sent[1:]] == [(2, "103", False)]
    assert s.builder.held_keys() == []
    assert s.owned == frozenset()
