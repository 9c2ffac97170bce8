"""The Bitfinex v2 book adapter (``book`` channel, price-aggregated P0..P4).

After ``{"event": "conf", "flags": 65536}`` (``SEQ_ALL``) every channel message of the
connection ends with one sequence number that grows by exactly one across all channels
(tickers, trades, heartbeats included); a jump means a message was lost, possibly a book
update, so every book of the connection desyncs and is resubscribed. Book messages are
``[chanId, [[price, count, amount], ...], seq]`` (snapshot) and ``[chanId, [price, count,
amount], seq]`` (update): amount > 0 is a bid, < 0 an ask, count 0 removes the level. The venue
keeps ``len`` levels per side and says so itself: a level leaving that range is removed
explicitly and one entering it is sent (recorded traffic shows both), so the book is not
truncated here — a local cut could drop a level the venue re-adds before removing another.
The checksum flag (131072) is not requested: captures do not carry it and the sequence already
covers lost messages. Numbers are parsed from the frame text straight to Decimal; Bitfinex
publishes no fixed precision per pair, so books hold 16 price and 18 size decimals.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from eip.book import L2Book
from eip.exchanges.bitfinex.symbols import platform_symbol, venue_symbol
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.machinery.capture import recorded_json
from eip.exchanges.machinery.transport import Received, Transport
from eip.exchanges.machinery.ws_book_feed import BAD_LEVEL, FeedOptions, InstrumentBook, WsBookFeed

log = logging.getLogger(__name__)

WS_URL = "wss://api-pub.bitfinex.com/ws/2"
SEQ_ALL = 65536
PRICE_DECIMALS = 16
SIZE_DECIMALS = 18
PRECISIONS = ("P0", "P1", "P2", "P3", "P4")
LENGTHS = ("1", "25", "100", "250")


def _text(value: Any) -> str:
    number = value if isinstance(value, Decimal) else Decimal(int(value))
    return format(number, "f")


class BitfinexFeed(WsBookFeed):
    exchange = "bitfinex"

    def __init__(
        self,
        symbols: list[str],
        transport: Transport,
        options: FeedOptions | None = None,
        prec: str = "P0",
        length: str = "100",
        ws_url: str = WS_URL,
    ) -> None:
        super().__init__(symbols, transport, options)
        if prec not in PRECISIONS or length not in LENGTHS:
            raise ValueError(f"Bitfinex book needs prec in {PRECISIONS} and len in {LENGTHS}")
        self.prec, self.length, self.ws_url = prec, length, ws_url
        self._channels: dict[int, str] = {}  # chanId -> platform symbol (book channels)
        self._sequence: int | None = None
        self.gaps = 0

    async def _prepare(self) -> None:
        for symbol in self.symbols:
            venue_symbol(symbol)  # malformed symbols fail before connecting

    def _url(self) -> str:
        return self.ws_url

    async def _on_open(self) -> None:
        self._channels.clear()
        self._sequence = None  # the sequence is per connection
        await self._send(json.dumps({"event": "conf", "flags": SEQ_ALL}))
        await self._send_subscribe(list(self.symbols))

    async def _send_subscribe(self, symbols: list[str]) -> None:
        for symbol in symbols:
            message = {
                "event": "subscribe",
                "channel": "book",
                "symbol": venue_symbol(symbol),
                "prec": self.prec,
                "freq": "F0",
                "len": self.length,
            }
            await self._send(json.dumps(message))

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        for chan_id, symbol in list(self._channels.items()):
            if symbol in symbols:
                del self._channels[chan_id]
                await self._send(json.dumps({"event": "unsubscribe", "chanId": chan_id}))

    async def _resync(self, state: InstrumentBook) -> None:
        # Rows of the old channel are ignored once it is forgotten; the new one starts with
        # a snapshot.
        await self._send_unsubscribe([state.key.symbol])
        await self._send_subscribe([state.key.symbol])

    async def _on_frame(self, frame: Received) -> None:
        message = json.loads(frame.data, parse_float=Decimal)
        if isinstance(message, dict):
            await self._on_event(message)
            return
        if not isinstance(message, list) or len(message) < 2:
            return
        sequence = message[-1] if len(message) >= 3 else None
        if isinstance(sequence, int) and not isinstance(sequence, bool):
            if self._sequence is not None and sequence != self._sequence + 1:
                lost = f"sequence {sequence} after {self._sequence}"
                self._sequence = sequence
                self.gaps += 1
                for state in list(self.books.values()):
                    if state.in_sync:
                        await self._desync(state, "gap", lost, frame.ts)
                return
            self._sequence = sequence
        symbol = self._channels.get(message[0]) if isinstance(message[0], int) else None
        if symbol is None or message[1] == "hb":
            return
        payload = message[1]
        if isinstance(payload, list) and payload and isinstance(payload[0], list):
            await self._on_snapshot(symbol, payload, str(sequence or ""), frame.ts)
        elif isinstance(payload, list):
            await self._on_update(symbol, payload, str(sequence or ""), frame.ts)

    async def _on_event(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "subscribed" and message.get("channel") == "book":
            try:
                symbol = platform_symbol(str(message.get("symbol", "")))
            except ValueError:
                return
            if symbol in self.symbols:
                self._channels[int(message["chanId"])] = symbol
        elif event == "error":
            log.error(
                "Bitfinex reported an error",
                extra={"exchange": self.exchange, "reply": json.dumps(message, default=str)[:500]},
            )

    @staticmethod
    def _levels(rows: list[Any]) -> tuple[list[list[str]], list[list[str]]]:
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        for row in rows:
            if not (isinstance(row, list) and len(row) == 3):
                raise ValueError(f"not a [price, count, amount] level: {row!r}")
            price, count, amount = (Decimal(_text(v)) for v in row)
            size = "0" if count == 0 else _text(abs(amount))
            (bids if amount > 0 else asks).append([_text(price), size])
        return bids, asks

    async def _on_snapshot(self, symbol: str, rows: list[Any], seq: str, ts: float) -> None:
        state = self.books.get(symbol)
        if state is None:
            state = InstrumentBook(
                BookKey(self.exchange, symbol), L2Book(PRICE_DECIMALS, SIZE_DECIMALS)
            )
            self.books[symbol] = state
        try:
            bids, asks = self._levels(rows)
            state.book.replace(bids, asks)
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad snapshot: {exc}"[:500], ts)
            return
        await self._synced(state, seq, None, ts)

    async def _on_update(self, symbol: str, row: list[Any], seq: str, ts: float) -> None:
        state = self.books.get(symbol)
        if state is None or not state.in_sync:
            return
        try:
            bids, asks = self._levels([row])
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad update: {exc}"[:500], ts)
            return
        await self._apply(state, bids, asks, seq, None, ts)


def recorded_book_settings(entries: list[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """The book symbols a capture subscribed, and its ``prec``/``len``."""
    symbols: list[str] = []
    settings: dict[str, str] = {}
    for _, message in recorded_json(entries, "send"):
        if not (isinstance(message, dict) and message.get("event") == "subscribe"):
            continue
        if message.get("channel") != "book":
            continue
        symbols.append(platform_symbol(str(message["symbol"])))
        settings = {"prec": str(message.get("prec", "P0")), "length": str(message.get("len", "25"))}
    return list(dict.fromkeys(symbols)), settings


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> BitfinexFeed:
    """The registry's factory; ``prec`` and ``length``: the book channel's."""
    return BitfinexFeed(
        symbols,
        transport,
        options,
        prec=settings.get("prec", "P0"),
        length=settings.get("length", "100"),
    )
