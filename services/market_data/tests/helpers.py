"""A scripted MarketDataAdapter: emits what a test queues, reports a status it is told."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from eip.exchanges.errors import TransientExchangeError, UnknownSymbol
from eip.exchanges.market_data import (
    Channel,
    Emit,
    MarketEvent,
    Ohlcv,
    StreamStatus,
    Ticker,
    Timeframe,
    Trade,
)


def make_ticker(exchange: str, symbol: str, bid: str, ask: str) -> Ticker:
    now = datetime.now(UTC)
    d = Decimal
    return Ticker(
        exchange, symbol, d(bid), d("1.5"), d(ask), d("2"), d(ask),
        None, None, None, d("10"), None, now, now,
    )  # fmt: skip


def make_trade(exchange: str, symbol: str, price: str, amount: str, trade_id: str = "1") -> Trade:
    now = datetime.now(UTC)
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

    async def load_markets(self) -> list[str]:
        return ["BTC/USDT"]

    async def fetch_ticker(self, symbol: str) -> Ticker:
        raise NotImplementedError

    async def fetch_trades(
        self, symbol: str, since: datetime | None = None, limit: int | None = None
    ) -> list[Trade]:
        raise NotImplementedError

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
        return StreamStatus(self.exchange, self.connected, 0.1, 5.0, 0, False, False, 0.9)

    async def close(self) -> None:
        self.closed = True
