"""The BitMEX ``orderBookL2`` book adapter (full depth, levels keyed by id).

``wss://ws.bitmex.com/realtime`` subscribes with ``{"op": "subscribe", "args":
["orderBookL2:XBTUSD", ...]}``. Each instrument starts with a ``partial`` (the whole book), then
``insert``/``update``/``delete`` rows keyed by level id; rows before the partial are dropped, as
BitMEX documents. The stream has no sequence number and no checksum: what can be checked is
that every update/delete names an id the book holds, that no insert repeats one, and that the
book never crosses. Any failure desyncs the instrument, which is unsubscribed and subscribed
again for a fresh partial. Prices arrive as JSON numbers: they are parsed straight to Decimal
from the frame text, never through float.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from eip.book import L2Book
from eip.exchanges.bitmex.book_levels import LevelTable, LevelTableError, decimal_text
from eip.exchanges.bitmex.symbols import instrument_symbol
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.machinery.capture import HeaderSymbol, recorded_json
from eip.exchanges.machinery.timeparse import parse_rfc3339
from eip.exchanges.machinery.transport import Received, Transport, TransportError
from eip.exchanges.machinery.ws_book_feed import BAD_LEVEL, FeedOptions, InstrumentBook, WsBookFeed
from eip.resilience import retry_async

log = logging.getLogger(__name__)

REST_URL = "https://www.bitmex.com"
WS_URL = "wss://ws.bitmex.com/realtime"
TABLE = "orderBookL2"


def decimals_of(value: Any) -> int:
    exponent = Decimal(decimal_text(value)).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def parse(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


class BitmexFeed(WsBookFeed):
    exchange = "bitmex"

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
        self._venue: dict[str, str] = {}  # platform symbol -> BitMEX symbol
        self._symbol: dict[str, str] = {}  # BitMEX symbol -> platform symbol
        self._decimals: dict[str, tuple[int, int]] = {}  # by BitMEX symbol
        self._levels: dict[str, LevelTable] = {}  # by platform symbol
        self.rows_before_partial = 0

    async def _prepare(self) -> None:
        url = f"{self.rest_url}/api/v1/instrument/active"
        response = await retry_async(
            lambda: self.transport.get(url), self.options.rest_retry, retry_on=(TransportError,)
        )
        rows = parse(response.data)
        if not isinstance(rows, list):
            raise ValueError(
                f"GET {url}: expected a list of instruments, got {response.data[:200]!r}"
            )
        for row in rows:
            symbol = instrument_symbol(row)
            if symbol is None or row.get("tickSize") is None:
                continue
            venue = str(row["symbol"])
            self._venue[symbol] = venue
            self._symbol[venue] = symbol
            self._decimals[venue] = (decimals_of(row["tickSize"]), decimals_of(row["lotSize"]))
        for symbol in self.symbols:
            self._instrument(symbol)  # unknown symbols fail before connecting

    def _instrument(self, symbol: str) -> str:
        venue = self._venue.get(symbol)
        if venue is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        return venue

    def _url(self) -> str:
        return self.ws_url

    async def _on_open(self) -> None:
        self._levels.clear()  # every instrument starts again from its partial
        await self._send_subscribe(list(self.symbols))

    async def _send_subscribe(self, symbols: list[str]) -> None:
        if symbols:
            await self._op("subscribe", symbols)

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        if symbols:
            await self._op("unsubscribe", symbols)

    async def _op(self, op: str, symbols: list[str]) -> None:
        args = [f"{TABLE}:{self._instrument(s)}" for s in symbols]
        await self._send(json.dumps({"op": op, "args": args}))

    async def _resync(self, state: InstrumentBook) -> None:
        self._levels.pop(state.key.symbol, None)  # rows are dropped until the new partial
        await self._op("unsubscribe", [state.key.symbol])
        await self._op("subscribe", [state.key.symbol])

    async def _on_frame(self, frame: Received) -> None:
        message = parse(frame.data)
        if not isinstance(message, dict):
            return
        if "error" in message:
            log.error(
                "BitMEX reported an error",
                extra={"exchange": self.exchange, "reply": frame.data[:500]},
            )
            return
        if message.get("table") != TABLE:
            return  # trades, quotes, subscription acks, the welcome message
        action = str(message.get("action", ""))
        by_venue: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in message.get("data", []):
            by_venue[str(row.get("symbol", ""))].append(row)
        if action == "partial" and not by_venue:
            # An empty book still has a partial; its filter names the instrument.
            venue = str((message.get("filter") or {}).get("symbol", ""))
            by_venue[venue] = []
        for venue, rows in by_venue.items():
            symbol = self._symbol.get(venue)
            if symbol is None or symbol not in self.symbols:
                continue
            if action == "partial":
                await self._on_partial(symbol, venue, rows, frame.ts)
            else:
                await self._on_change(symbol, action, rows, frame.ts)

    async def _on_partial(
        self, symbol: str, venue: str, rows: list[dict[str, Any]], ts: float
    ) -> None:
        state = self.books.get(symbol)
        if state is None:
            price, size = self._decimals[venue]
            state = InstrumentBook(BookKey(self.exchange, symbol), L2Book(price, size))
            self.books[symbol] = state
        table = LevelTable()
        try:
            bids, asks = table.load(rows)
            state.book.replace(bids, asks)
        except (LevelTableError, *BAD_LEVEL) as exc:
            await self._desync(state, "error", f"bad partial: {exc}"[:500], ts)
            return
        self._levels[symbol] = table
        await self._synced(state, "", _latest(rows), ts)

    async def _on_change(
        self, symbol: str, action: str, rows: list[dict[str, Any]], ts: float
    ) -> None:
        state = self.books.get(symbol)
        table = self._levels.get(symbol)
        if state is None or table is None or not state.in_sync:
            self.rows_before_partial += len(rows)
            return
        try:
            bids, asks = table.change(action, rows)
        except LevelTableError as exc:
            self._levels.pop(symbol, None)
            await self._desync(state, "gap", f"{action}: {exc}"[:500], ts)
            return
        if not await self._apply(state, bids, asks, "", _latest(rows), ts):
            self._levels.pop(symbol, None)


def _latest(rows: list[dict[str, Any]]) -> datetime | None:
    """The newest row ``timestamp`` (newer API versions send one per row), else None."""
    times = [t for t in (parse_rfc3339(str(r.get("timestamp") or "")) for r in rows) if t]
    return max(times) if times else None


def recorded_book_symbols(entries: list[dict[str, Any]]) -> list[str]:
    """The platform symbols whose ``orderBookL2`` a capture subscribed, in subscription order.

    Captures name their symbols in the recorder's own notation (``EOS-BTC-M21``), which says
    nothing about settlement or expiry; the recorded instrument list and subscriptions do.
    """
    venues: list[str] = []
    to_symbol: dict[str, str] = {}
    for entry in entries:
        if entry["t"] == "http" and "/instrument" in entry["url"]:
            rows = parse(entry["data"])
            for row in rows if isinstance(rows, list) else []:
                symbol = instrument_symbol(row)
                if symbol is not None:
                    to_symbol[str(row["symbol"])] = symbol
    for _, message in recorded_json(entries, "send"):
        if isinstance(message, dict) and message.get("op") == "subscribe":
            for arg in message.get("args", []):
                table, _, venue = str(arg).partition(":")
                if table == TABLE and venue:
                    venues.append(venue)
    return list(dict.fromkeys(to_symbol[v] for v in venues if v in to_symbol))


def header_book_symbol(symbol: HeaderSymbol) -> str:
    """The platform symbol a capture header's name means on BitMEX: ``BTC-USD-PERP`` is
    ``XBTUSD`` (``BTC/USD:BTC``), ``ETH-USD-PERP`` the quanto ``ETHUSD`` (also settled in XBt),
    ``BTC-USDT-PERP`` the linear ``XBTUSDT``; futures add their expiry. The instrument list
    then finds the BitMEX symbol, as for any platform symbol."""
    if symbol.kind == "spot":
        return symbol.unified()
    if symbol.kind == "option":
        raise ValueError(f"{symbol.name}: BitMEX books are spot pairs, perpetuals and futures")
    return symbol.unified(settle=symbol.quote if symbol.quote in ("USDT", "USDC") else "BTC")


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> BitmexFeed:
    """The registry's factory."""
    return BitmexFeed(symbols, transport, options, REST_URL, WS_URL)
