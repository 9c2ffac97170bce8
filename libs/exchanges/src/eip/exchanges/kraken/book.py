"""The Kraken book adapter: one connection, a ``book`` subscription of depth N per pair.

Every update is applied, the book truncated to the subscribed depth (Kraken sends no removal
for levels pushed out), and the venue's checksum compared with the local top 10; a mismatch,
crossed book or stale stream desyncs the pair and resubscribes it for a fresh snapshot.

Precision: v2 sends JSON numbers, so the book uses AssetPairs' ``pair_decimals`` /
``lot_decimals``. v1 sends fixed-width strings and its checksum covers every digit it sends,
which can be more than AssetPairs says (the 2021 capture pads XBT/CHF prices to 5 places while
``pair_decimals`` is 1), so a v1 book takes its decimals from the snapshot's strings.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import orjson

from eip.book import L2Book
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.contract.symbols import SymbolMap
from eip.exchanges.kraken.checksum import book_checksum
from eip.exchanges.kraken.symbols import kraken_symbol_map
from eip.exchanges.kraken.wire import (
    BookMessage,
    loads_v2,
    parse_v1,
    parse_v2,
    places,
)
from eip.exchanges.machinery.book_metrics import CHECKSUMS
from eip.exchanges.machinery.transport import Received, Transport, TransportError
from eip.exchanges.machinery.ws_book_feed import BAD_LEVEL, FeedOptions, InstrumentBook, WsBookFeed
from eip.resilience import retry_async

log = logging.getLogger(__name__)

REST_URL = "https://api.kraken.com"
WS_URL_V2 = "wss://ws.kraken.com/v2"
WS_URL_V1 = "wss://ws.kraken.com"
DEPTHS = (10, 25, 100, 500, 1000)


class KrakenFeed(WsBookFeed):
    exchange = "kraken"

    def __init__(
        self,
        symbols: list[str],
        transport: Transport,
        options: FeedOptions | None = None,
        depth: int = 10,
        api: Literal["v1", "v2"] = "v2",
        rest_url: str = REST_URL,
        ws_url: str | None = None,
    ) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"Kraken book depth must be one of {DEPTHS}, not {depth}")
        super().__init__(symbols, transport, options)
        self.depth = depth
        self.api = api
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url or (WS_URL_V2 if api == "v2" else WS_URL_V1)
        self.symbol_map = SymbolMap()
        self._decimals: dict[str, tuple[int, int]] = {}  # by normalized symbol
        self._request_id = 0
        self.checksums_matched = 0
        self.checksums_failed = 0
        # Counter children looked up once: ``labels()`` per frame was a tenth of the frame path.
        self._matched = CHECKSUMS.labels(self.exchange, "match")
        self._mismatched = CHECKSUMS.labels(self.exchange, "mismatch")

    async def _prepare(self) -> None:
        url = f"{self.rest_url}/0/public/AssetPairs"
        response = await retry_async(
            lambda: self.transport.get(url), self.options.rest_retry, retry_on=(TransportError,)
        )
        body = json.loads(response.data)
        if body.get("error"):
            raise TransportError(f"AssetPairs: {body['error']}")
        self.symbol_map = kraken_symbol_map(body)
        for key, entry in body["result"].items():
            if key in self.symbol_map.to_symbol:
                symbol = self.symbol_map.symbol(key)
                self._decimals[symbol] = (int(entry["pair_decimals"]), int(entry["lot_decimals"]))
        for symbol in self.symbols:
            self.symbol_map.exchange_id(symbol)  # unknown symbols fail before connecting

    def _url(self) -> str:
        return self.ws_url

    def _wire_pair(self, symbol: str) -> str:
        # v1 speaks wsname (XBT/USD); v2 speaks the modern BASE/QUOTE, our normalized form.
        return self.symbol_map.exchange_id(symbol) if self.api == "v1" else symbol

    def _symbol_of(self, pair: str) -> str | None:
        if self.api == "v2":
            return pair
        return self.symbol_map.to_symbol.get(pair)

    async def _send_subscribe(self, symbols: list[str]) -> None:
        await self._control("subscribe", symbols)

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        await self._control("unsubscribe", symbols)

    async def _control(self, method: str, symbols: list[str]) -> None:
        if not symbols:
            return
        pairs = [self._wire_pair(s) for s in symbols]
        self._request_id += 1
        if self.api == "v1":
            message: dict[str, Any] = {
                "event": method,
                "pair": pairs,
                "subscription": {"name": "book", "depth": self.depth},
                "reqid": self._request_id,
            }
        else:
            params: dict[str, Any] = {"channel": "book", "symbol": pairs}
            if method == "subscribe":
                params |= {"depth": self.depth, "snapshot": True}
            message = {"method": method, "params": params, "req_id": self._request_id}
        await self._send(json.dumps(message))

    async def _resync(self, state: InstrumentBook) -> None:
        # Updates for the pair are ignored (not in sync) until the new subscription's snapshot.
        await self._control("unsubscribe", [state.key.symbol])
        await self._control("subscribe", [state.key.symbol])

    # -- frames --------------------------------------------------------------------------------

    async def _on_frame(self, frame: Received) -> None:
        if self.api == "v1":
            message = orjson.loads(frame.data)  # v1 levels are strings: no float to guard
            parsed = parse_v1(message)
            books = [parsed] if parsed is not None else []
        else:
            message = loads_v2(frame.data)
            books = parse_v2(message)
        if not books:
            self._control_reply(message)
            return
        for book in books:
            symbol = self._symbol_of(book.pair)
            if symbol is None or symbol not in self.symbols:
                continue
            if book.snapshot:
                await self._on_snapshot(symbol, book, frame.ts)
            else:
                await self._on_update(symbol, book, frame.ts)

    def _control_reply(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        failed = message.get("success") is False or message.get("status") == "error"
        if failed:
            log.error(
                "Kraken refused a request",
                extra={"exchange": self.exchange, "reply": json.dumps(message, default=str)},
            )

    def _new_book(self, symbol: str, book: BookMessage) -> L2Book:
        price, size = self._decimals.get(symbol, (8, 8))
        if self.api == "v1":
            levels = book.asks or book.bids
            if levels:
                price, size = places(levels[0][0]), places(levels[0][1])
        return L2Book(price, size)

    async def _on_snapshot(self, symbol: str, message: BookMessage, ts: float) -> None:
        state = self.books.get(symbol)
        book = self._new_book(symbol, message)
        if state is None or (state.book.price_decimals, state.book.size_decimals) != (
            book.price_decimals,
            book.size_decimals,
        ):
            state = InstrumentBook(BookKey(self.exchange, symbol), book)
            self.books[symbol] = state
        try:
            state.book.replace(message.bids, message.asks)
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad snapshot: {exc}", ts)
            return
        state.book.truncate(self.depth)
        if message.checksum is not None and not await self._verify(state, message.checksum, ts):
            return
        await self._synced(state, "", message.exchange_time, ts)

    async def _on_update(self, symbol: str, message: BookMessage, ts: float) -> None:
        state = self.books.get(symbol)
        if state is None or not state.in_sync:
            return  # waiting for the (re)subscription's snapshot
        check = None
        if message.checksum is not None:
            expected = message.checksum

            async def check() -> bool:
                return await self._verify(state, expected, ts)

        await self._apply(
            state,
            message.bids,
            message.asks,
            "",
            message.exchange_time,
            ts,
            check=check,
            depth=self.depth,
        )

    async def _verify(self, state: InstrumentBook, expected: int, ts: float) -> bool:
        actual = book_checksum(state.book)
        if actual == expected:
            self.checksums_matched += 1
            self._matched.inc()
            return True
        self.checksums_failed += 1
        self._mismatched.inc()
        await self._desync(state, "checksum", f"venue {expected}, local {actual}", ts)
        return False


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> KrakenFeed:
    """The registry's factory; ``depth`` and ``api`` (``v2``, ``v1`` for old captures);
    ``rest_url``/``ws_url`` point it at the exchange simulator."""
    api = settings.get("api", "v2")
    if api not in ("v1", "v2"):
        raise ValueError(f"Kraken API must be v1 or v2, not {api!r}")
    return KrakenFeed(
        symbols,
        transport,
        options,
        depth=int(settings.get("depth", 10)),
        api=api,
        rest_url=rest_url or REST_URL,
        ws_url=ws_url,
    )
