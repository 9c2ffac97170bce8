"""The Coinbase Advanced Trade book adapter.

Every message of a connection carries ``sequence_num``, one counter across all channels
(heartbeats and subscription acks included) that must grow by exactly one. A jump means a
message was lost, and since the lost one may have been any product's update, every book of the
connection desyncs and ``level2`` is resubscribed for a fresh snapshot. A smaller number is a
late duplicate and is ignored. ``heartbeats`` is subscribed too, so quiet products still keep
the connection (and the staleness check) alive.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from eip.book import L2Book
from eip.exchanges.coinbase.symbols import coinbase_product_id, coinbase_symbol
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.contract.errors import UnknownSymbol
from eip.exchanges.machinery.timeparse import parse_rfc3339
from eip.exchanges.machinery.transport import Received, Transport, TransportError
from eip.exchanges.machinery.ws_book_feed import BAD_LEVEL, FeedOptions, InstrumentBook, WsBookFeed
from eip.resilience import retry_async

log = logging.getLogger(__name__)

REST_URL = "https://api.coinbase.com"
WS_URL = "wss://advanced-trade-ws.coinbase.com"


def decimals_of(increment: str) -> int:
    exponent = Decimal(increment).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


class CoinbaseFeed(WsBookFeed):
    exchange = "coinbase"

    def __init__(
        self,
        symbols: list[str],
        transport: Transport,
        options: FeedOptions | None = None,
        rest_url: str = REST_URL,
        ws_url: str = WS_URL,
    ) -> None:
        super().__init__(symbols, transport, options)
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url
        self._decimals: dict[str, tuple[int, int]] = {}  # by product id
        self._sequence: int | None = None
        self.gaps = 0

    async def _prepare(self) -> None:
        await self._load_products()
        for symbol in self.symbols:
            self._product(symbol)  # unknown symbols fail before connecting

    async def _load_products(self) -> None:
        url = f"{self.rest_url}/api/v3/brokerage/market/products"
        response = await retry_async(
            lambda: self.transport.get(url), self.options.rest_retry, retry_on=(TransportError,)
        )
        for product in json.loads(response.data).get("products", []):
            self._decimals[product["product_id"]] = (
                decimals_of(product["quote_increment"]),
                decimals_of(product["base_increment"]),
            )

    async def _check_symbol(self, symbol: str) -> None:
        """The product listing this feed's books need anyway decides (loaded once, and again
        for a symbol it lacks: the venue may have listed it since); a venue that cannot be
        asked now checks nothing, as for any other venue."""
        try:
            product = coinbase_product_id(symbol)
        except ValueError:
            raise UnknownSymbol(self.exchange, f"unknown symbol {symbol!r}") from None
        if product not in self._decimals:
            try:
                await self._load_products()
            except TransportError:
                return
        self._product(symbol)

    def _product(self, symbol: str) -> str:
        try:
            product = coinbase_product_id(symbol)
        except ValueError:
            product = ""
        if product not in self._decimals:
            raise UnknownSymbol(self.exchange, f"unknown symbol {symbol!r}")
        return product

    def _url(self) -> str:
        return self.ws_url

    async def _on_open(self) -> None:
        self._sequence = None  # the counter is per connection
        await self._send_subscribe(list(self.symbols))

    async def _send_subscribe(self, symbols: list[str]) -> None:
        if symbols:
            products = [self._product(s) for s in symbols]
            for channel in ("heartbeats", "level2"):
                await self._control("subscribe", channel, products)

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        # a symbol the venue does not list was never subscribed there: nothing to undo
        products = [coinbase_product_id(s) for s in symbols if self._listed(s)]
        if products:
            await self._control("unsubscribe", "level2", products)

    def _listed(self, symbol: str) -> bool:
        try:
            self._product(symbol)
        except UnknownSymbol:
            return False
        return True

    async def _control(self, kind: str, channel: str, products: list[str]) -> None:
        await self._send(json.dumps({"type": kind, "product_ids": products, "channel": channel}))

    async def _resync(self, state: InstrumentBook) -> None:
        # Updates for the product are ignored (not in sync) until the new snapshot.
        products = [self._product(state.key.symbol)]
        await self._control("unsubscribe", "level2", products)
        await self._control("subscribe", "level2", products)

    async def _on_frame(self, frame: Received) -> None:
        message = json.loads(frame.data)
        if not isinstance(message, dict):
            return
        if message.get("type") == "error":
            log.error(
                "Coinbase reported an error",
                extra={"exchange": self.exchange, "reply": frame.data[:500]},
            )
            return
        sequence = message.get("sequence_num")
        if isinstance(sequence, int):
            if self._sequence is not None and sequence <= self._sequence:
                return  # late or repeated: everything in it was already seen
            lost = self._sequence is not None and sequence != self._sequence + 1
            previous = self._sequence
            self._sequence = sequence
            if lost:
                self.gaps += 1
                for state in list(self.books.values()):
                    await self._desync(
                        state, "gap", f"sequence_num {sequence} after {previous}", frame.ts
                    )
                return  # part of the connection's stream is missing; wait for new snapshots
        if message.get("channel") != "l2_data":
            return
        for event in message.get("events", []):
            await self._on_event(event, str(sequence), frame.ts)

    async def _on_event(self, event: dict[str, Any], sequence: str, ts: float) -> None:
        try:
            symbol = coinbase_symbol(event["product_id"])
        except (KeyError, ValueError):
            return
        if symbol not in self.symbols:
            return
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        times: list[datetime] = []
        for update in event.get("updates", []):
            level = [update["price_level"], update["new_quantity"]]
            (bids if update["side"] == "bid" else asks).append(level)
            when = parse_rfc3339(update.get("event_time", ""))
            if when is not None:
                times.append(when)
        exchange_time = max(times) if times else None
        if event.get("type") == "snapshot":
            state = self.books.get(symbol)
            if state is None:
                price, size = self._decimals[event["product_id"]]
                state = InstrumentBook(BookKey(self.exchange, symbol), L2Book(price, size))
                self.books[symbol] = state
            try:
                state.book.replace(bids, asks)
            except BAD_LEVEL as exc:
                await self._desync(state, "error", f"bad snapshot: {exc}", ts)
                return
            await self._synced(state, sequence, exchange_time, ts)
        elif event.get("type") == "update":
            state = self.books.get(symbol)
            if state is not None and state.in_sync:
                await self._apply(state, bids, asks, sequence, exchange_time, ts)


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> WsBookFeed:
    """The registry's factory: ``api`` ``advanced`` (default) or ``exchange``, the ex-Pro feed
    of older captures; ``rest_url``/``ws_url`` point it at the exchange simulator."""
    api = settings.get("api", "advanced")
    if api == "exchange":
        # imported here: the Exchange dialect reads its decimals with this module's helper
        from eip.exchanges.coinbase import book_exchange

        if rest_url or ws_url:
            raise ValueError("the simulator serves Coinbase Advanced Trade, not api='exchange'")
        return book_exchange.CoinbaseExchangeFeed(
            symbols, transport, options, book_exchange.REST_URL, book_exchange.WS_URL
        )
    if api != "advanced":
        raise ValueError(f"Coinbase API must be advanced or exchange, not {api!r}")
    return CoinbaseFeed(symbols, transport, options, rest_url or REST_URL, ws_url or WS_URL)
