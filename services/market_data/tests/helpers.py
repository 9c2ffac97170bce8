"""Test helpers: a scripted MarketDataAdapter (emits what a test queues, reports a status it is
told), an in-memory candle sink, a condition wait and a topic reader."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, TopicPartition

from eip.bus import decode
from eip.events.topics import TopicSpec
from eip.events.v1 import market_data_pb2
from eip.exchanges.contract.errors import TransientExchangeError, UnknownSymbol
from eip.exchanges.contract.market_data import (
    Channel,
    Emit,
    MarketEvent,
    Ohlcv,
    StreamStatus,
    Ticker,
    Timeframe,
    Trade,
)
from eip.market_data.candles.builder import Candle


def make_ticker(exchange: str, symbol: str, bid: str, ask: str) -> Ticker:
    now = datetime.now(UTC)
    d = Decimal
    return Ticker(
        exchange, symbol, d(bid), d("1.5"), d(ask), d("2"), d(ask),
        None, None, None, d("10"), None, now, now,
    )  # fmt: skip


_TRADE_IDS = itertools.count(1)


def make_trade(
    exchange: str, symbol: str, price: str, amount: str, trade_id: str | None = None
) -> Trade:
    """A trade of now; ids count up (a venue never sends two trades with one id)."""
    now = datetime.now(UTC)
    trade_id = trade_id or str(next(_TRADE_IDS))
    return Trade(exchange, symbol, trade_id, Decimal(price), Decimal(amount), "buy", now, now)


class ScriptedAdapter:
    """``unknown`` symbols are refused as the venue would (``UnknownSymbol``); while
    ``unreachable`` every subscribe fails as with the venue down (``TransientExchangeError``)."""

    def __init__(
        self, exchange: str, fail_runs: int = 0, unknown: frozenset[str] = frozenset()
    ) -> None:
        self.exchange = exchange
        self.unknown = unknown
        self.unreachable = False
        self.queue: asyncio.Queue[MarketEvent] = asyncio.Queue()
        self.subscribed: set[tuple[Channel, str]] = set()
        self.fail_runs = fail_runs
        self.runs = 0
        self.closed = False
        self.connected = True
        self.stale = False
        self.history: list[Trade] = []  # what REST serves (fetch_trades)

    async def load_markets(self) -> list[str]:
        return ["BTC/USDT"]

    async def fetch_ticker(self, symbol: str) -> Ticker:
        raise NotImplementedError

    async def fetch_trades(
        self, symbol: str, since: datetime | None = None, limit: int | None = None
    ) -> list[Trade]:
        """``history`` as the venue's REST would page it: at or after ``since``, oldest
        first, at most ``limit``."""
        if self.unreachable:
            raise TransientExchangeError(self.exchange, "connection refused")
        found = [
            t
            for t in self.history
            if t.symbol == symbol and (since is None or (t.exchange_time or since) >= since)
        ]
        return found[: limit or 500]

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: Timeframe,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Ohlcv]:
        raise NotImplementedError

    async def subscribe(self, channel: Channel, symbol: str) -> None:
        if symbol in self.unknown:
            raise UnknownSymbol(self.exchange, f"unknown symbol {symbol!r}")
        if self.unreachable:
            raise TransientExchangeError(self.exchange, "connection refused")
        self.subscribed.add((channel, symbol))

    async def unsubscribe(self, channel: Channel, symbol: str) -> None:
        self.subscribed.discard((channel, symbol))

    async def run(self, emit: Emit) -> None:
        self.runs += 1
        if self.runs <= self.fail_runs:
            raise ConnectionError(f"{self.exchange} unreachable")
        while True:
            await emit(await self.queue.get())

    def status(self) -> StreamStatus:
        return StreamStatus(self.exchange, self.connected, 0.1, 5.0, 0, self.stale, False, 0.9)

    async def close(self) -> None:
        self.closed = True


async def read_topic(bootstrap: str, spec: TopicSpec) -> list[market_data_pb2.Candle]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    out: list[market_data_pb2.Candle] = []
    try:
        partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 60
        while True:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{spec.name} not read to its end in 60 s")
            batch = await consumer.getmany(*partitions, timeout_ms=300)
            for records in batch.values():
                out.extend(decode(spec, r.value, list(r.headers)) for r in records)  # type: ignore[misc]
    finally:
        await consumer.stop()
    return out


class MemorySink:
    def __init__(self) -> None:
        self.trades: list[Trade] = []
        self.candles: list[Candle] = []

    async def store_trades(self, trades: Sequence[Trade]) -> None:
        self.trades.extend(trades)

    async def store_candles(self, candles: Sequence[Candle]) -> None:
        self.candles.extend(candles)


async def wait_until(predicate: object, timeout_s: float = 90.0, state: object = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time; {state() if callable(state) else ''}")
        await asyncio.sleep(0.2)
