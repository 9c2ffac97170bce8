"""The HTX (ex-Huobi) spot book adapter for ``market.$symbol.depth.step0`` (2021 API).

``{"sub": "market.btcusdt.depth.step0", "id": 1}`` answers with a full book (150 levels a side,
JSON numbers) in every message: ``{"ch", "ts", "tick": {"bids", "asks", "version", "ts"}}``.
So a lost message is harmless — the next one carries the whole book — and the integrity check
is only that ``tick.version`` never goes back (an older or repeated version is ignored, not
applied over a newer book). Each message after the first is reported as the difference from the
book held (levels gone reported with size zero). Frames are gzip (``wire.py``); the venue's
``{"ping": n}`` is answered with ``{"pong": n}`` (a replay records the answer, nothing more).
Decimals: ``/v1/common/symbols`` ``price-precision`` / ``amount-precision``, widened as for
other venues whose resting orders can carry more digits. The incremental ``mbp`` channels
(``seqNum``/``prevSeqNum``) are not implemented: no capture of them exists here.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from eip.book import L2Book
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.htx.wire import frame_text
from eip.exchanges.machinery.capture import recorded_json
from eip.exchanges.machinery.transport import Received, Transport
from eip.exchanges.machinery.ws_book_feed import (
    BAD_LEVEL,
    FeedOptions,
    InstrumentBook,
    WsBookFeed,
    utc,
)

log = logging.getLogger(__name__)

REST_URL = "https://api.huobi.pro"
WS_URL = "wss://api.huobi.pro/ws"
SYMBOLS_PATH = "/v1/common/symbols"
MIN_PRICE_DECIMALS = 10
MIN_SIZE_DECIMALS = 16


def _text(value: Any) -> str:
    return format(Decimal(value) if isinstance(value, (str, int)) else value, "f")


def _side(rows: Any) -> dict[Decimal, Decimal]:
    return {Decimal(_text(p)): Decimal(_text(q)) for p, q in rows or []}


def _diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]) -> list[list[str]]:
    gone = [[f"{p:f}", "0"] for p in old if p not in new]
    changed = [[f"{p:f}", f"{q:f}"] for p, q in new.items() if old.get(p) != q]
    return gone + changed


class HtxFeed(WsBookFeed):
    exchange = "htx"

    def __init__(
        self,
        symbols: list[str],
        transport: Transport,
        options: FeedOptions | None = None,
        rest_url: str = REST_URL,
        ws_url: str = WS_URL,
    ) -> None:
        super().__init__(symbols, transport, options)
        self.rest_url, self.ws_url = rest_url.rstrip("/"), ws_url
        self._venue: dict[str, str] = {}
        self._platform: dict[str, str] = {}
        self._decimals: dict[str, tuple[int, int]] = {}
        self._version: dict[str, int] = {}
        self._next_id = 0

    async def _prepare(self) -> None:
        body = json.loads((await self.transport.get(self.rest_url + SYMBOLS_PATH)).data)
        for item in body.get("data") or []:
            base = normalize_asset(str(item["base-currency"]).upper())
            quote = normalize_asset(str(item["quote-currency"]).upper())
            symbol = f"{base}/{quote}"
            self._venue[symbol] = item["symbol"]
            self._platform[item["symbol"]] = symbol
            self._decimals[symbol] = (
                max(int(item["price-precision"]), MIN_PRICE_DECIMALS),
                max(int(item["amount-precision"]), MIN_SIZE_DECIMALS),
            )
        unknown = [s for s in self.symbols if s not in self._venue]
        if unknown:
            raise ValueError(f"HTX lists no {', '.join(unknown)}")

    def _url(self) -> str:
        return self.ws_url

    def _channel(self, symbol: str) -> str:
        return f"market.{self._venue[symbol]}.depth.step0"

    async def _send_subscribe(self, symbols: list[str]) -> None:
        for symbol in symbols:
            await self._op("sub", symbol)

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        for symbol in symbols:
            await self._op("unsub", symbol)

    async def _op(self, op: str, symbol: str) -> None:
        self._next_id += 1
        await self._send(json.dumps({op: self._channel(symbol), "id": self._next_id}))

    async def _resync(self, state: InstrumentBook) -> None:
        # Every message is a whole book: the next one rebuilds it.
        self._version.pop(state.key.symbol, None)

    async def _on_frame(self, frame: Received) -> None:
        message = json.loads(frame_text(frame.data), parse_float=Decimal)
        if not isinstance(message, dict):
            return
        if "ping" in message:
            await self._send(json.dumps({"pong": message["ping"]}))
            return
        if message.get("status") == "error":
            log.error(
                "HTX refused a request",
                extra={"exchange": self.exchange, "reply": str(message)[:500]},
            )
            return
        channel = str(message.get("ch", ""))
        parts = channel.split(".")
        if len(parts) != 4 or parts[0] != "market" or parts[2:] != ["depth", "step0"]:
            return
        symbol = self._platform.get(parts[1])
        if symbol is None or symbol not in self.symbols:
            return
        await self._on_book(symbol, message.get("tick") or {}, frame.ts)

    async def _on_book(self, symbol: str, tick: dict[str, Any], ts: float) -> None:
        version = tick.get("version")
        version = version if isinstance(version, int) else None
        last = self._version.get(symbol)
        if version is not None and last is not None and version <= last:
            return  # an older book than the one held
        when = tick.get("ts")
        exchange_time = utc(when / 1000) if isinstance(when, int) else None
        state = self.books.get(symbol)
        if state is None:
            state = InstrumentBook(BookKey(self.exchange, symbol), L2Book(*self._decimals[symbol]))
            self.books[symbol] = state
        try:
            bids, asks = _side(tick.get("bids")), _side(tick.get("asks"))
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad book: {exc!r}"[:500], ts)
            return
        if version is not None:
            self._version[symbol] = version
        sequence = str(version or "")
        if not state.in_sync:
            try:
                state.book.replace(
                    [[f"{p:f}", f"{q:f}"] for p, q in bids.items()],
                    [[f"{p:f}", f"{q:f}"] for p, q in asks.items()],
                )
            except BAD_LEVEL as exc:
                await self._desync(state, "error", f"bad book: {exc!r}"[:500], ts, resync=False)
                return
            await self._synced(state, sequence, exchange_time, ts)
            return
        bid_changes = _diff(dict(state.book.bids()), bids)
        ask_changes = _diff(dict(state.book.asks()), asks)
        await self._apply(state, bid_changes, ask_changes, sequence, exchange_time, ts)


def recorded_book_symbols(entries: list[dict[str, Any]]) -> list[str]:
    """The book symbols a capture subscribed (``market.omgbtc.depth.step0``), in platform form
    through the recorded ``/v1/common/symbols``."""
    platform: dict[str, str] = {}
    subscribed: list[str] = []
    for url, body in recorded_json(entries, "http"):
        if SYMBOLS_PATH in url and isinstance(body, dict):
            for item in body.get("data") or []:
                base = normalize_asset(str(item["base-currency"]).upper())
                quote = normalize_asset(str(item["quote-currency"]).upper())
                platform[item["symbol"]] = f"{base}/{quote}"
    for _, message in recorded_json(entries, "send"):
        if isinstance(message, dict):
            parts = str(message.get("sub", "")).split(".")
            if len(parts) == 4 and parts[0] == "market" and parts[2:] == ["depth", "step0"]:
                subscribed.append(parts[1])
    return list(dict.fromkeys(platform[v] for v in subscribed if v in platform))


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> HtxFeed:
    """The registry's factory."""
    return HtxFeed(symbols, transport, options)
