"""The order books of every followed venue as the order-book service publishes them
(``md.book.snapshots.v1`` + ``md.book.deltas.v1``), held by the platform's one consumer-side
copy, ``eip.order_book.rebuild.BookRebuilder``, with each book's freshness beside it.

Every instance reads every book (the topics are keyed by market, rules and opportunities by
account and symbol): two consumers of groups of this process's own — the compacted snapshots
from their beginning, the deltas from their end — since a book is only usable from its latest
snapshot on anyway. A delta that arrives before the snapshot it continues leaves the copy out of
sync until the next periodic snapshot (10 s by default) repairs it.

A book is **usable** only while it is in sync and its last record was received less than
``stale_after_s`` ago (the service publishes a snapshot of every in-sync book every 10 s, so a
quiet book still refreshes). Out-of-sync or stale books make book conditions false and are left
out of arbitrage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from eip.book import Level
from eip.bus import Record
from eip.events.v1 import order_book_pb2
from eip.exchanges.contract.book_events import BookKey
from eip.order_book.analysis.stats import BPS, imbalance, mid, spread
from eip.order_book.rebuild import BookRebuilder

Listener = Callable[[str, str], None]  # (exchange, symbol) whose book changed


class BookFollower:
    def __init__(self, stale_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._books = BookRebuilder()
        self._seen: dict[BookKey, float] = {}  # our clock at the last record of each book
        self.received = 0

    def handle(self, record: Record) -> tuple[str, str] | None:
        """Fold one record in; the (exchange, symbol) it was about."""
        message = record.message
        if isinstance(message, order_book_pb2.BookSnapshot):
            self._books.on_snapshot(message)
        elif isinstance(message, order_book_pb2.BookDelta):
            self._books.on_delta(message)
        else:
            return None
        key = BookKey(message.instrument.exchange, message.instrument.symbol)
        self._seen[key] = self._clock()
        self.received += 1
        return key.exchange, key.symbol

    def levels(
        self, exchange: str, symbol: str, depth: int | None = None
    ) -> tuple[list[Level], list[Level]] | None:
        """(bids, asks) best first, or None when the book is not usable."""
        key = BookKey(exchange, symbol)
        book = self._books.get(key)
        if book is None or not book.in_sync:
            return None
        if self._clock() - self._seen.get(key, float("-inf")) > self.stale_after_s:
            return None
        return book.book.bids(depth), book.book.asks(depth)

    def venues(self, symbol: str) -> list[str]:
        return sorted(k.exchange for k in self._books.keys() if k.symbol == symbol)  # noqa: SIM118 - a method

    def state(self, exchange: str, symbol: str) -> str:
        """``usable``, ``unknown``, ``stale`` or ``out_of_sync:<why>``."""
        key = BookKey(exchange, symbol)
        book = self._books.get(key)
        if book is None:
            return "unknown"
        if not book.in_sync:
            return f"out_of_sync:{book.problem}"
        if self._clock() - self._seen.get(key, float("-inf")) > self.stale_after_s:
            return "stale"
        return "usable"

    # -- the engine's BookView ------------------------------------------------------------------

    def spread_bps(self, exchange: str, symbol: str) -> Decimal | None:
        levels = self.levels(exchange, symbol, 1)
        if levels is None:
            return None
        bids, asks = levels
        the_spread, the_mid = spread(bids, asks), mid(bids, asks)
        if the_spread is None or not the_mid:
            return None
        return the_spread / the_mid * BPS

    def imbalance(self, exchange: str, symbol: str, depth: int) -> Decimal | None:
        levels = self.levels(exchange, symbol, depth)
        if levels is None:
            return None
        return imbalance(levels[0], levels[1], depth).imbalance
