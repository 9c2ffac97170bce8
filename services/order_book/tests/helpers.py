"""A scripted feed: a real L2Book changed the way an adapter changes it, reported as events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from eip.book import L2Book
from eip.exchanges.contract.book_events import (
    BookDelta,
    BookDesync,
    BookEvent,
    BookKey,
    BookSnapshot,
)
from eip.exchanges.contract.book_feed import Emit

Side = list[tuple[str, str]]


class ScriptedBook:
    """One instrument of an adapter: applies levels to its book and returns the event."""

    def __init__(self, exchange: str = "binance", symbol: str = "BTC/USDT") -> None:
        self.key = BookKey(exchange, symbol)
        self.book = L2Book(2, 4)
        self.update_id = 0

    def snapshot(self, bids: Side, asks: Side) -> BookSnapshot:
        self.update_id += 1
        self.book = L2Book(2, 4)
        self.book.replace(bids, asks)
        now = datetime.now(UTC)
        return BookSnapshot(self.key, self.book, str(self.update_id), now, now)

    def delta(self, bids: Side = (), asks: Side = ()) -> BookDelta:  # type: ignore[assignment]
        self.update_id += 1
        self.book.apply(bids, asks)
        now = datetime.now(UTC)
        return BookDelta(self.key, self.book, list(bids), list(asks), str(self.update_id), now, now)

    def desync(self, reason: str = "gap") -> BookDesync:
        return BookDesync(self.key, reason, "scripted")  # type: ignore[arg-type]


class ScriptedFeed:
    """A BookFeed whose run() emits a fixed list of events, then waits to be cancelled."""

    def __init__(
        self,
        exchange: str,
        events: list[BookEvent] | None = None,
        symbols: Iterable[str] = (),
    ) -> None:
        self._exchange = exchange
        self._symbols: set[str] = set(symbols)
        self.events = list(events or [])
        self.subscribed: list[str] = []

    @property
    def exchange(self) -> str:
        return self._exchange

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(self._symbols)

    async def run(self, emit: Emit) -> None:
        import asyncio

        for event in self.events:
            await emit(event)
        await asyncio.Event().wait()

    async def subscribe(self, symbol: str) -> None:
        self._symbols.add(symbol)
        self.subscribed.append(symbol)

    async def unsubscribe(self, symbol: str) -> None:
        self._symbols.discard(symbol)
