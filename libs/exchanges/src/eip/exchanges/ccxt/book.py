"""A book feed for any exchange ccxt.pro supports, with the platform's sync semantics.

ccxt keeps the book and checks the venue's sequence or checksum itself (we switch its
``checksum`` option on); this adapter turns what it returns into the platform's events: the
first book after a (re)subscription is a ``BookSnapshot``, each later one becomes a
``BookDelta`` of the levels that differ from our ``L2Book``. ccxt's ``ChecksumError`` /
``InvalidNonce`` become a ``BookDesync`` and ccxt resubscribes on the next watch; a stale or
broken connection closes the ccxt instance and starts a new one (fresh snapshots), with backoff.

ccxt hands out levels as binary floats; the shortest ``repr`` of a float parsed from a decimal
string gives that string back, and the market's precision decides the book's decimals. A level
that does not fit the precision exactly is refused (desync), never rounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.pro

from eip.book import L2Book
from eip.exchanges.ccxt.decimal_context import in_own_decimal_context
from eip.exchanges.ccxt.urls import rewrite_urls
from eip.exchanges.contract.book_events import (
    BookDelta,
    BookDesync,
    BookKey,
    BookSnapshot,
    DesyncReason,
)
from eip.exchanges.contract.book_feed import Emit
from eip.exchanges.machinery.book_metrics import DESYNCS, RECONNECTS, RESYNCS
from eip.exchanges.machinery.ws_book_feed import (
    BAD_LEVEL,
    FeedOptions,
    InstrumentBook,
    stop_task,
    utc,
)

log = logging.getLogger(__name__)

TICK_SIZE = 4  # ccxt.base.decimal_to_precision.TICK_SIZE; DECIMAL_PLACES is 2


def decimals_of(precision: Any, mode: int) -> int:
    if precision is None:
        return 8
    if mode == TICK_SIZE:
        exponent = Decimal(repr(precision)).normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        return max(0, -exponent)
    return int(precision)


def exact(value: float, places: int) -> str:
    text = Decimal(repr(value))
    fixed = text.quantize(Decimal(1).scaleb(-places))
    if fixed != text:
        raise ValueError(f"{value!r} has more than {places} decimal places")
    return f"{fixed:f}"


class CcxtProFeed:
    def __init__(
        self,
        exchange_id: str,
        symbols: list[str],
        options: FeedOptions | None = None,
        config: dict[str, Any] | None = None,
        base_url: str | None = None,
        limit: int | None = None,
        factory: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        """``base_url`` points every REST and WebSocket URL of ccxt at one host (a simulator,
        a recording proxy, a replay server)."""
        self.exchange = exchange_id
        self.symbols = list(dict.fromkeys(symbols))
        self.options = options or FeedOptions()
        self.config = dict(config or {})
        self.base_url = base_url
        self.limit = limit
        self._factory = factory
        self.books: dict[str, InstrumentBook] = {}
        self.desync_count = 0
        self.client: Any = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._emit: Emit | None = None
        self._broken: asyncio.Event = asyncio.Event()

    def _new_client(self) -> Any:
        if self._factory is not None:
            client = self._factory(self.config)
        else:
            client = getattr(ccxt.pro, self.exchange)(self.config)
        # Verify sequences/checksums where ccxt can (several exchanges default it off).
        client.options["checksum"] = True
        watch = dict(client.options.get("watchOrderBook") or {})
        client.options["watchOrderBook"] = {**watch, "checksum": True}
        if self.base_url:
            client.urls["api"] = rewrite_urls(client.urls["api"], self.base_url)
        return client

    # -- the BookFeed protocol -----------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        delays = self.options.reconnect.delays()
        first = True
        while True:
            self._broken = asyncio.Event()
            self.client = self._new_client()
            if not first:
                RECONNECTS.labels(self.exchange).inc()
            first = False
            try:
                await in_own_decimal_context(self.client.load_markets)
                for symbol in self.symbols:
                    self._start(symbol)
                await self._broken.wait()
            except Exception as exc:  # load_markets: any ccxt error is a reason to retry
                log.warning(
                    "ccxt feed failed", extra={"exchange": self.exchange, "error": repr(exc)}
                )
            finally:
                for task in self._tasks.values():
                    with contextlib.suppress(Exception):
                        await stop_task(task)
                self._tasks.clear()
                with contextlib.suppress(Exception):
                    await self.client.close()
            await asyncio.sleep(next(delays, self.options.reconnect.max_delay_s))

    async def subscribe(self, symbol: str) -> None:
        if symbol not in self.symbols:
            self.symbols.append(symbol)
            if self.client is not None and self.client.markets:
                self._start(symbol)

    async def unsubscribe(self, symbol: str) -> None:
        if symbol in self.symbols:
            self.symbols.remove(symbol)
            task = self._tasks.pop(symbol, None)
            if task is not None:
                task.cancel()
            self.books.pop(symbol, None)
            with contextlib.suppress(Exception):
                await self.client.un_watch_order_book(symbol)

    # -- per symbol ----------------------------------------------------------------------------

    def _start(self, symbol: str) -> None:
        self._tasks[symbol] = asyncio.create_task(self._watch(symbol), name=f"ccxt:{symbol}")

    async def _watch(self, symbol: str) -> None:
        market = self.client.market(symbol)  # BadSymbol ends the feed's run: fix the config
        mode = self.client.precisionMode
        price = decimals_of(market["precision"].get("price"), mode)
        size = decimals_of(market["precision"].get("amount"), mode)
        state = InstrumentBook(BookKey(self.exchange, symbol), L2Book(price, size))
        self.books[symbol] = state
        while True:
            try:
                async with asyncio.timeout(self.options.stale_after_s):
                    book = await in_own_decimal_context(
                        lambda: self.client.watch_order_book(symbol, self.limit)
                    )
            except TimeoutError:
                await self._desync(state, "stale", f"no book for {self.options.stale_after_s}s")
                self._broken.set()
                return
            except ccxt.InvalidNonce as exc:  # ChecksumError is one; ccxt resubscribes next
                reason: DesyncReason = "checksum" if isinstance(exc, ccxt.ChecksumError) else "gap"
                await self._desync(state, reason, str(exc))
                RESYNCS.labels(self.exchange).inc()
                continue
            except ccxt.NetworkError as exc:
                await self._desync(state, "disconnected", str(exc))
                self._broken.set()
                return
            except ccxt.BaseError as exc:
                await self._desync(state, "error", repr(exc))
                self._broken.set()
                return
            if not await self._on_book(state, book):
                # ccxt's own book is wrong (crossed, unparsable): drop its subscription so the
                # next watch starts from a new snapshot.
                RESYNCS.labels(self.exchange).inc()
                with contextlib.suppress(Exception):
                    await self.client.un_watch_order_book(symbol)

    async def _on_book(self, state: InstrumentBook, book: Any) -> bool:
        """Turn ccxt's book into an event; False when it cannot be trusted."""
        try:
            bids = [
                (exact(p, state.book.price_decimals), exact(q, state.book.size_decimals))
                for p, q, *_ in book["bids"]
            ]
            asks = [
                (exact(p, state.book.price_decimals), exact(q, state.book.size_decimals))
                for p, q, *_ in book["asks"]
            ]
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad level: {exc}")
            return False
        nonce = book.get("nonce")
        sequence = "" if nonce is None else str(nonce)
        timestamp = book.get("timestamp")
        exchange_time = utc(timestamp / 1000) if timestamp else None
        now = utc(self.client.milliseconds() / 1000)
        if not state.in_sync:
            try:
                state.book.replace(bids, asks)
            except BAD_LEVEL as exc:
                await self._desync(state, "error", f"bad snapshot: {exc}")
                return False
            if state.book.is_crossed():
                await self._desync(state, "crossed", "snapshot is crossed")
                return False
            state.in_sync = True
            state.sequence = sequence
            await self._send(BookSnapshot(state.key, state.book, sequence, exchange_time, now))
            return True
        zero = f"{Decimal(0).quantize(Decimal(1).scaleb(-state.book.size_decimals)):f}"
        old_bids, old_asks = dict(state.book.bid_strings()), dict(state.book.ask_strings())
        new_bids, new_asks = dict(bids), dict(asks)
        bid_changes = [(p, q) for p, q in bids if old_bids.get(p) != q]
        bid_changes += [(p, zero) for p in old_bids if p not in new_bids]
        ask_changes = [(p, q) for p, q in asks if old_asks.get(p) != q]
        ask_changes += [(p, zero) for p in old_asks if p not in new_asks]
        if not bid_changes and not ask_changes:
            return True
        state.book.apply(bid_changes, ask_changes)  # our own strings at the book's precision
        if state.book.is_crossed():
            await self._desync(state, "crossed", f"best bid {state.book.best_bid()} >= best ask")
            return False
        state.sequence = sequence
        await self._send(
            BookDelta(state.key, state.book, bid_changes, ask_changes, sequence, exchange_time, now)
        )
        return True

    async def _desync(self, state: InstrumentBook, reason: DesyncReason, detail: str) -> None:
        state.in_sync = False
        state.book.clear()
        self.desync_count += 1
        DESYNCS.labels(self.exchange, reason).inc()
        log.warning(
            "book desynced",
            extra={
                "exchange": self.exchange,
                "symbol": state.key.symbol,
                "reason": reason,
                "detail": detail,
            },
        )
        now = utc(self.client.milliseconds() / 1000)
        await self._send(BookDesync(state.key, reason, detail, now))

    async def _send(self, event: Any) -> None:
        assert self._emit is not None
        await self._emit(event)
