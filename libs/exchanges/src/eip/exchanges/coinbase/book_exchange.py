"""The Coinbase Exchange (formerly Coinbase Pro) ``level2`` dialect, for replays of its captures.

``wss://ws-feed.exchange.coinbase.com`` (``ws-feed.pro.coinbase.com`` until 2022) subscribes with
``{"type": "subscribe", "product_ids": [...], "channels": ["level2"]}`` and answers each product
with one ``snapshot`` (``bids``/``asks`` as ``[price, size]``) followed by ``l2update`` messages
(``changes`` as ``[side, price, size]``, size "0" removes). Unlike Advanced Trade, ``level2``
carries no sequence number, so a lost update cannot be detected from the stream itself: the only
integrity checks are the ones every book gets (well-formed levels, never crossed). The per-product
``sequence`` of other channels counts the full order stream, not level2 messages, so it does not
help. On a desync the product is unsubscribed and subscribed again for a fresh snapshot.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from eip.book import L2Book
from eip.exchanges.coinbase.book import decimals_of
from eip.exchanges.coinbase.symbols import coinbase_product_id, coinbase_symbol
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.machinery.timeparse import parse_rfc3339
from eip.exchanges.machinery.transport import Received, Transport, TransportError
from eip.exchanges.machinery.ws_book_feed import BAD_LEVEL, FeedOptions, InstrumentBook, WsBookFeed
from eip.resilience import retry_async

log = logging.getLogger(__name__)

REST_URL = "https://api.exchange.coinbase.com"
WS_URL = "wss://ws-feed.exchange.coinbase.com"
# Hosts of this dialect, so a capture's recorded connect address can select it.
WS_HOSTS = ("ws-feed.exchange.coinbase.com", "ws-feed.pro.coinbase.com")
# level2 sizes are remaining order quantities in the base asset; Coinbase quotes them with up to
# eight decimals whatever the product's base_increment, so the book must hold eight.
SIZE_DECIMALS = 8


class CoinbaseExchangeFeed(WsBookFeed):
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
        self.updates_without_book = 0

    async def _prepare(self) -> None:
        url = f"{self.rest_url}/products"
        response = await retry_async(
            lambda: self.transport.get(url), self.options.rest_retry, retry_on=(TransportError,)
        )
        products = json.loads(response.data)
        if not isinstance(products, list):
            raise ValueError(f"GET {url}: expected a list of products, got {response.data[:200]!r}")
        for product in products:
            self._decimals[product["id"]] = (
                decimals_of(product["quote_increment"]),
                max(SIZE_DECIMALS, decimals_of(product["base_increment"])),
            )
        for symbol in self.symbols:
            self._product(symbol)  # unknown symbols fail before connecting

    def _product(self, symbol: str) -> str:
        product = coinbase_product_id(symbol)
        if product not in self._decimals:
            raise KeyError(f"unknown symbol {symbol!r}")
        return product

    def _url(self) -> str:
        return self.ws_url

    async def _on_open(self) -> None:
        await self._send_subscribe(list(self.symbols))

    async def _send_subscribe(self, symbols: list[str]) -> None:
        if symbols:
            await self._control("subscribe", [self._product(s) for s in symbols])

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        if symbols:
            await self._control("unsubscribe", [self._product(s) for s in symbols])

    async def _control(self, kind: str, products: list[str]) -> None:
        message = {"type": kind, "product_ids": products, "channels": ["level2"]}
        await self._send(json.dumps(message))

    async def _resync(self, state: InstrumentBook) -> None:
        # Updates for the product are ignored (not in sync) until the new snapshot.
        products = [self._product(state.key.symbol)]
        await self._control("unsubscribe", products)
        await self._control("subscribe", products)

    async def _on_frame(self, frame: Received) -> None:
        message = json.loads(frame.data)
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "error":
            log.error(
                "Coinbase reported an error",
                extra={"exchange": self.exchange, "reply": frame.data[:500]},
            )
            return
        if kind not in ("snapshot", "l2update"):
            return  # tickers, matches, subscription acks, heartbeats share the connection
        try:
            symbol = coinbase_symbol(message["product_id"])
        except (KeyError, ValueError):
            return
        if symbol not in self.symbols:
            return
        if kind == "snapshot":
            await self._on_snapshot(symbol, message, frame.ts)
        else:
            await self._on_update(symbol, message, frame.ts)

    async def _on_snapshot(self, symbol: str, message: dict[str, Any], ts: float) -> None:
        state = self.books.get(symbol)
        if state is None:
            price, size = self._decimals[message["product_id"]]
            state = InstrumentBook(BookKey(self.exchange, symbol), L2Book(price, size))
            self.books[symbol] = state
        try:
            state.book.replace(message.get("bids", []), message.get("asks", []))
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad snapshot: {exc}", ts)
            return
        # level2 has no sequence: the snapshot's receive time names the book's state.
        await self._synced(state, "", None, ts)

    async def _on_update(self, symbol: str, message: dict[str, Any], ts: float) -> None:
        state = self.books.get(symbol)
        if state is None or not state.in_sync:
            self.updates_without_book += 1
            return
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        for change in message.get("changes", []):
            if not (isinstance(change, list) and len(change) == 3 and change[0] in ("buy", "sell")):
                await self._desync(state, "error", f"bad change {change!r}"[:500], ts)
                return
            side, price, size = change
            (bids if side == "buy" else asks).append([price, size])
        when = parse_rfc3339(message.get("time", ""))
        await self._apply(state, bids, asks, "", when, ts)
