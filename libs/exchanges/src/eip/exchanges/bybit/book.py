"""The Bybit derivatives book adapter for the 2021 ``realtime`` WebSocket API.

``{"op": "subscribe", "args": ["orderBookL2_25.BTCUSD"]}`` answers with a ``snapshot`` (rows
``{price, symbol, id, side, size}``; linear contracts wrap them in ``{"order_book": [...]}``)
and then ``delta`` messages with ``delete``/``update``/``insert`` rows that all carry the price.
Every message has ``cross_seq``, the matching engine's sequence: it must grow, but it counts
every event of the instrument, not book messages, so a lost delta cannot be told from a
quiet stretch — only repeats or reordering can (``gap``). The venue keeps 25 (or 200) levels and
deletes what leaves that range itself. Symbols: ``BTCUSD`` (inverse perpetual, settled in the
base) is ``BTC/USD:BTC``; ``BTCUSDT`` (linear) is ``BTC/USDT:USDT``. Bybit's instrument list is
not needed: books hold 10 price and 8 size decimals, enough for every contract listed.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from eip.book import L2Book
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.machinery.capture import HeaderSymbol, recorded_json
from eip.exchanges.machinery.transport import Received, Transport
from eip.exchanges.machinery.ws_book_feed import BAD_LEVEL, FeedOptions, InstrumentBook, WsBookFeed

log = logging.getLogger(__name__)

WS_URL = "wss://stream.bybit.com/realtime"
TOPICS = ("orderBookL2_25", "orderBook_200.100ms")
PRICE_DECIMALS = 10
SIZE_DECIMALS = 8


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _text(value: Any) -> str:
    """Prices come as strings, sizes as JSON numbers (parsed to Decimal): plain decimal text."""
    return format(Decimal(value) if isinstance(value, (str, int)) else value, "f")


def platform_symbol(venue: str) -> str:
    """``BTCUSD`` → ``BTC/USD:BTC``; ``BTCUSDT`` → ``BTC/USDT:USDT``; other forms are refused."""
    if venue.endswith("USDT") and len(venue) > 4:
        base = normalize_asset(venue[:-4])
        return f"{base}/USDT:USDT"
    if venue.endswith("USD") and len(venue) > 3:
        base = normalize_asset(venue[:-3])
        return f"{base}/USD:{base}"
    raise ValueError(f"not a Bybit perpetual: {venue!r}")


def venue_symbol(symbol: str) -> str:
    pair, _, settle = symbol.partition(":")
    base, _, quote = pair.partition("/")
    if (quote == "USD" and settle == base) or (quote == "USDT" and settle == "USDT"):
        return f"{base}{quote}"
    raise ValueError(f"not a Bybit perpetual symbol: {symbol!r}")


class BybitFeed(WsBookFeed):
    exchange = "bybit"

    def __init__(
        self,
        symbols: list[str],
        transport: Transport,
        options: FeedOptions | None = None,
        topic: str = "orderBookL2_25",
        ws_url: str = WS_URL,
    ) -> None:
        super().__init__(symbols, transport, options)
        if topic not in TOPICS:
            raise ValueError(f"Bybit book topic must be one of {', '.join(TOPICS)}")
        self.topic, self.ws_url = topic, ws_url
        self._seq: dict[str, int] = {}

    async def _prepare(self) -> None:
        for symbol in self.symbols:
            venue_symbol(symbol)  # symbols of other forms fail before connecting

    def _url(self) -> str:
        return self.ws_url

    async def _send_subscribe(self, symbols: list[str]) -> None:
        for symbol in symbols:
            await self._op("subscribe", symbol)

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        for symbol in symbols:
            await self._op("unsubscribe", symbol)

    async def _op(self, op: str, symbol: str) -> None:
        await self._send(json.dumps({"op": op, "args": [f"{self.topic}.{venue_symbol(symbol)}"]}))

    async def _resync(self, state: InstrumentBook) -> None:
        await self._op("unsubscribe", state.key.symbol)
        await self._op("subscribe", state.key.symbol)

    async def _on_frame(self, frame: Received) -> None:
        message = json.loads(frame.data, parse_float=Decimal)
        if not isinstance(message, dict):
            return
        if message.get("success") is False:
            log.error(
                "Bybit refused a request",
                extra={"exchange": self.exchange, "reply": frame.data[:500]},
            )
            return
        topic = str(message.get("topic", ""))
        prefix, _, venue = topic.rpartition(".")
        if prefix != self.topic:
            return
        try:
            symbol = platform_symbol(venue)
        except ValueError:
            return
        if symbol not in self.symbols:
            return
        seq = _int(message.get("cross_seq"))  # linear contracts send it as a string
        kind = message.get("type")
        if kind == "snapshot":
            await self._on_snapshot(symbol, message.get("data"), seq, frame.ts)
        elif kind == "delta":
            await self._on_delta(symbol, message.get("data") or {}, seq, frame.ts)

    @staticmethod
    def _split(rows: list[dict[str, Any]], deleted: bool = False) -> tuple[list[Any], list[Any]]:
        bids: list[list[str]] = []
        asks: list[list[str]] = []
        for row in rows:
            side = row.get("side")
            if side not in ("Buy", "Sell"):
                raise ValueError(f"row without side Buy/Sell: {row!r}"[:300])
            level = [_text(row["price"]), "0" if deleted else _text(row["size"])]
            (bids if side == "Buy" else asks).append(level)
        return bids, asks

    async def _on_snapshot(self, symbol: str, data: Any, seq: int | None, ts: float) -> None:
        rows = data.get("order_book", []) if isinstance(data, dict) else data or []
        state = self.books.get(symbol)
        if state is None:
            state = InstrumentBook(
                BookKey(self.exchange, symbol), L2Book(PRICE_DECIMALS, SIZE_DECIMALS)
            )
            self.books[symbol] = state
        try:
            bids, asks = self._split(rows)
            state.book.replace(bids, asks)
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad snapshot: {exc}"[:500], ts)
            return
        if seq is not None:
            self._seq[symbol] = seq
        await self._synced(state, str(seq or ""), None, ts)

    async def _on_delta(
        self, symbol: str, data: dict[str, Any], seq: int | None, ts: float
    ) -> None:
        state = self.books.get(symbol)
        if state is None or not state.in_sync:
            return
        if seq is not None:
            last = self._seq.get(symbol)
            if last is not None and seq <= last:
                await self._desync(state, "gap", f"cross_seq {seq} after {last}", ts)
                return
            self._seq[symbol] = seq
        try:
            gone = self._split(data.get("delete", []), deleted=True)
            changed = self._split([*data.get("update", []), *data.get("insert", [])])
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad delta: {exc}"[:500], ts)
            return
        bids, asks = gone[0] + changed[0], gone[1] + changed[1]
        await self._apply(state, bids, asks, str(seq or ""), None, ts)


def recorded_book_settings(entries: list[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """The book symbols a capture subscribed, and its topic."""
    symbols: list[str] = []
    settings: dict[str, str] = {}
    for _, message in recorded_json(entries, "send"):
        if not (isinstance(message, dict) and message.get("op") == "subscribe"):
            continue
        for arg in message.get("args", []):
            prefix, _, venue = str(arg).rpartition(".")
            if prefix in TOPICS:
                try:
                    symbols.append(platform_symbol(venue))
                except ValueError:
                    continue
                settings = {"topic": prefix}
    return list(dict.fromkeys(symbols)), settings


def recorded_book_groups(entries: list[dict[str, Any]]) -> list[tuple[str, list[str], str]]:
    """Per recorded connection: its address, the book symbols it subscribed, and the topic.

    Bybit served inverse contracts on ``/realtime`` and linear ones on ``/realtime_public``, so a
    capture can hold books on two connections; each is replayed by its own feed.
    """
    addrs: dict[str, str] = {}
    groups: dict[str, tuple[list[str], str]] = {}
    for entry in entries:
        if entry["t"] == "connect":
            addrs[entry["conn"]] = entry["addr"]
        if entry["t"] != "send":
            continue
        symbols, settings = recorded_book_settings([entry])
        if symbols:
            held, _ = groups.get(entry["conn"], ([], ""))
            groups[entry["conn"]] = (list(dict.fromkeys(held + symbols)), settings["topic"])
    return [(addrs.get(conn, WS_URL), symbols, topic) for conn, (symbols, topic) in groups.items()]


def header_book_symbol(symbol: HeaderSymbol) -> str:
    """The platform symbol a capture header's name means on Bybit: ``BTC-USD-PERP`` is the
    inverse ``BTCUSD`` (``BTC/USD:BTC``), ``BTC-USDT-PERP`` the linear ``BTCUSDT``
    (``BTC/USDT:USDT``). This adapter (the 2021 realtime API) follows nothing else."""
    if symbol.kind == "perpetual" and symbol.quote == "USD":
        return symbol.unified(settle=symbol.base)
    if symbol.kind == "perpetual" and symbol.quote == "USDT":
        return symbol.unified(settle="USDT")
    raise ValueError(
        f"{symbol.name}: the Bybit book adapter follows USD (inverse) and USDT (linear) "
        "perpetuals only (BASE-USD-PERP, BASE-USDT-PERP)"
    )


def unread_book_topics(entries: list[dict[str, Any]]) -> list[str]:
    """Book subscriptions a capture holds that this adapter cannot read: Bybit's v5 API
    (``orderbook.50.BTCUSDT``) names its book topics ``orderbook.<depth>``."""
    found: list[str] = []
    for _, message in recorded_json(entries, "send"):
        if not (isinstance(message, dict) and message.get("op") == "subscribe"):
            continue
        args = message.get("args")
        for arg in args if isinstance(args, list) else []:
            prefix = str(arg).rpartition(".")[0]
            if prefix.lower().startswith("orderbook") and prefix not in TOPICS:
                found.append(str(arg))
    return list(dict.fromkeys(found))


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> BybitFeed:
    """The registry's factory; ``topic``: the book topic, ``ws_url``: the recorded connection."""
    return BybitFeed(
        symbols,
        transport,
        options,
        topic=settings.get("topic", "orderBookL2_25"),
        ws_url=ws_url or WS_URL,
    )
