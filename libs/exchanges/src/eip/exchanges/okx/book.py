"""The OKX v5 book adapter: snapshot + incremental updates, checked by CRC32 after each.

``wss://ws.okx.com:8443/ws/v5/public`` subscribes with ``{"op": "subscribe", "args":
[{"channel": "books", "instId": "BTC-USDT"}]}``; each instrument gets an ``action``
``snapshot`` then ``update`` messages whose levels are ``[price, size, "0", orders]`` (size
"0" removes). Every message carries the checksum of the resulting top 25 (``checksum.py``),
so a lost or corrupted update is caught at the next message. Newer messages also carry
``seqId``/``prevSeqId``: when present, ``prevSeqId`` must be the previous ``seqId``. The channel
is a setting: ``books`` (400 levels, public) live; captures may hold ``books-l2-tbt`` and are
replayed with the channel they recorded. Any failure desyncs the instrument, which is
unsubscribed and subscribed again for a fresh snapshot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eip.book import L2Book
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.machinery.book_metrics import CHECKSUMS
from eip.exchanges.machinery.capture import recorded_json
from eip.exchanges.machinery.transport import (
    Received,
    Transport,
    TransportError,
    TransportExhausted,
)
from eip.exchanges.machinery.ws_book_feed import BAD_LEVEL, FeedOptions, InstrumentBook, WsBookFeed
from eip.exchanges.okx.checksum import DEPTH, checksum
from eip.exchanges.okx.symbols import instrument_queries, instrument_symbol
from eip.resilience import retry_async

log = logging.getLogger(__name__)

REST_URL = "https://www.okx.com"
WS_URL = "wss://ws.okx.com:8443/ws/v5/public"
CHANNELS = ("books", "books5", "books50-l2-tbt", "books-l2-tbt", "bbo-tbt")
# OKX sizes can be finer than lotSz (contracts vs. coin, odd lots); hold at least eight places.
SIZE_DECIMALS = 8


def decimals_of(text: str) -> int:
    exponent = Decimal(text).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


class OkxFeed(WsBookFeed):
    exchange = "okx"

    def __init__(
        self,
        symbols: list[str],
        transport: Transport,
        options: FeedOptions | None = None,
        channel: str = "books",
        rest_url: str = REST_URL,
        ws_url: str = WS_URL,
    ) -> None:
        super().__init__(symbols, transport, options)
        if channel not in CHANNELS:
            raise ValueError(f"OKX book channel must be one of {', '.join(CHANNELS)}")
        self.channel = channel
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url
        self._venue: dict[str, str] = {}  # platform symbol -> instId
        self._symbol: dict[str, str] = {}  # instId -> platform symbol
        self._decimals: dict[str, tuple[int, int]] = {}  # by instId
        # The venue's own strings per level, for the checksum: symbol -> side -> price -> (p, s)
        self._strings: dict[str, dict[str, dict[Decimal, tuple[str, str]]]] = {}
        self._seq: dict[str, int] = {}
        self.checksums_matched = 0
        self.checksums_failed = 0
        self.gaps = 0

    async def _prepare(self) -> None:
        for query in instrument_queries(self.symbols):
            url = f"{self.rest_url}/api/v5/public/instruments?{query}"
            try:
                response = await retry_async(
                    self._getter(url), self.options.rest_retry, retry_on=(TransportError,)
                )
            except TransportExhausted:
                continue  # a replay that recorded only some instrument types
            body = json.loads(response.data)
            if str(body.get("code")) != "0":
                raise ValueError(f"GET {url}: {response.data[:200]!r}")
            for row in body.get("data", []):
                symbol = instrument_symbol(row)
                if symbol is None:
                    continue
                inst = str(row["instId"])
                self._venue[symbol] = inst
                self._symbol[inst] = symbol
                self._decimals[inst] = (
                    decimals_of(row["tickSz"]),
                    max(SIZE_DECIMALS, decimals_of(row["lotSz"])),
                )
        for symbol in self.symbols:
            self._inst(symbol)  # unknown symbols fail before connecting

    def _getter(self, url: str) -> Callable[[], Awaitable[Received]]:
        return lambda: self.transport.get(url)

    def _inst(self, symbol: str) -> str:
        inst = self._venue.get(symbol)
        if inst is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        return inst

    def _url(self) -> str:
        return self.ws_url

    async def _send_subscribe(self, symbols: list[str]) -> None:
        if symbols:
            await self._op("subscribe", symbols)

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        if symbols:
            await self._op("unsubscribe", symbols)

    async def _op(self, op: str, symbols: list[str]) -> None:
        args = [{"channel": self.channel, "instId": self._inst(s)} for s in symbols]
        await self._send(json.dumps({"op": op, "args": args}))

    async def _resync(self, state: InstrumentBook) -> None:
        await self._op("unsubscribe", [state.key.symbol])
        await self._op("subscribe", [state.key.symbol])

    async def _on_frame(self, frame: Received) -> None:
        if frame.data == "pong":
            return
        message = json.loads(frame.data)
        if not isinstance(message, dict):
            return
        if message.get("event") == "error":
            log.error(
                "OKX reported an error",
                extra={"exchange": self.exchange, "reply": frame.data[:500]},
            )
            return
        arg = message.get("arg") or {}
        if arg.get("channel") != self.channel or "action" not in message:
            return  # acks, trades, tickers
        symbol = self._symbol.get(str(arg.get("instId")))
        if symbol is None or symbol not in self.symbols:
            return
        for data in message.get("data", []):
            if message["action"] == "snapshot":
                await self._on_snapshot(symbol, data, frame.ts)
            else:
                await self._on_update(symbol, data, frame.ts)

    async def _on_snapshot(self, symbol: str, data: dict[str, Any], ts: float) -> None:
        state = self.books.get(symbol)
        if state is None:
            price, size = self._decimals[self._venue[symbol]]
            state = InstrumentBook(BookKey(self.exchange, symbol), L2Book(price, size))
            self.books[symbol] = state
        bids = [lvl[:2] for lvl in data.get("bids", [])]
        asks = [lvl[:2] for lvl in data.get("asks", [])]
        try:
            state.book.replace(bids, asks)
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad snapshot: {exc}"[:500], ts)
            return
        self._strings[symbol] = {"bid": {}, "ask": {}}
        self._remember(symbol, bids, asks)
        self._seq.pop(symbol, None)
        if isinstance(data.get("seqId"), int):
            self._seq[symbol] = data["seqId"]
        if not await self._verify(state, data, ts):
            return
        await self._synced(state, _sequence(data), _time(data), ts)

    async def _on_update(self, symbol: str, data: dict[str, Any], ts: float) -> None:
        state = self.books.get(symbol)
        if state is None or not state.in_sync:
            return
        seq, prev = data.get("seqId"), data.get("prevSeqId")
        if isinstance(seq, int) and isinstance(prev, int):
            last = self._seq.get(symbol)
            if last is not None and prev != last:
                self.gaps += 1
                await self._desync(state, "gap", f"prevSeqId {prev} after seqId {last}", ts)
                return
            self._seq[symbol] = seq
        bids = [lvl[:2] for lvl in data.get("bids", [])]
        asks = [lvl[:2] for lvl in data.get("asks", [])]

        async def check() -> bool:
            self._remember(symbol, bids, asks)
            return await self._verify(state, data, ts)

        await self._apply(state, bids, asks, _sequence(data), _time(data), ts, check=check)

    def _remember(self, symbol: str, bids: list[list[str]], asks: list[list[str]]) -> None:
        sides = self._strings[symbol]
        for side, levels in (("bid", bids), ("ask", asks)):
            for price, size in levels:
                key = Decimal(price)
                if Decimal(size) == 0:
                    sides[side].pop(key, None)
                else:
                    sides[side][key] = (price, size)

    async def _verify(self, state: InstrumentBook, data: dict[str, Any], ts: float) -> bool:
        expected = data.get("checksum")
        if not isinstance(expected, int):
            return True
        sides = self._strings[state.key.symbol]
        bids = [sides["bid"][p] for p, _ in state.book.bids(DEPTH)]
        asks = [sides["ask"][p] for p, _ in state.book.asks(DEPTH)]
        actual = checksum(bids, asks)
        if actual == expected:
            self.checksums_matched += 1
            CHECKSUMS.labels(self.exchange, "match").inc()
            return True
        self.checksums_failed += 1
        CHECKSUMS.labels(self.exchange, "mismatch").inc()
        await self._desync(state, "checksum", f"venue {expected}, local {actual}", ts)
        return False


def _sequence(data: dict[str, Any]) -> str:
    seq = data.get("seqId")
    return str(seq) if seq is not None else str(data.get("ts", ""))


def _time(data: dict[str, Any]) -> datetime | None:
    ts = data.get("ts")
    return datetime.fromtimestamp(int(ts) / 1000, UTC) if ts else None


def recorded_book_channel(entries: list[dict[str, Any]]) -> str:
    """The book channel a capture subscribed (``books`` when it names none)."""
    for _, message in recorded_json(entries, "send"):
        for arg in message.get("args", []) if isinstance(message, dict) else []:
            if isinstance(arg, dict) and arg.get("channel") in CHANNELS:
                return str(arg["channel"])
    return "books"


def recorded_book_symbols(entries: list[dict[str, Any]]) -> list[str]:
    """Platform symbols of the instruments whose book channel a capture subscribed.

    The header's names are the recorder's own (``ETH-USD-20000-22M24-call``); the recorded
    instrument lists and subscriptions say exactly which instrument was meant.
    """
    to_symbol: dict[str, str] = {}
    insts: list[str] = []
    for url, body in recorded_json(entries, "http"):
        if "/api/v5/public/instruments" in url and isinstance(body, dict):
            for row in body.get("data", []):
                symbol = instrument_symbol(row)
                if symbol is not None:
                    to_symbol[str(row["instId"])] = symbol
    for _, message in recorded_json(entries, "send"):
        for arg in message.get("args", []) if isinstance(message, dict) else []:
            if isinstance(arg, dict) and arg.get("channel") in CHANNELS:
                insts.append(str(arg.get("instId")))
    return list(dict.fromkeys(to_symbol[i] for i in insts if i in to_symbol))


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> OkxFeed:
    """The registry's factory; ``channel``: the book channel."""
    return OkxFeed(symbols, transport, options, channel=settings.get("channel", "books"))
