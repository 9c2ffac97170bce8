"""The KuCoin spot book adapter for the ``/market/level2:SYMBOL`` channel (2021 API).

The socket address and token come from ``POST /api/v1/bullet-public``. Each
``trade.l2update`` carries ``sequenceStart``/``sequenceEnd`` and ``changes`` per side as
``[price, size, sequence]``; the book starts from a REST snapshot (``/api/v2`` or ``/api/v3``
``market/orderbook/level2``, or ``/api/v1/.../level2_100``) whose ``sequence`` says which changes
it already holds. Rules (KuCoin's "build a local order book"): a message wholly at or below the
book's sequence is already included; the next one must start at sequence + 1, anything later is
a lost message (``gap``); inside a message only changes above the book's sequence apply; price
``"0"`` entries are sequence placeholders that change nothing. The snapshot is fetched when a
symbol's first update arrives (as clients of that time did, so a capture holds it right there),
the socket keeps buffering meanwhile. Decimals: the ``/api/v1/symbols`` increments, widened
because resting orders older than a tick change carry more digits (a 2021 BSV-USDT snapshot
holds a size with 11 decimals where ``baseIncrement`` has 8).
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from eip.book import L2Book
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.machinery.capture import recorded_json
from eip.exchanges.machinery.transport import (
    Received,
    Transport,
    TransportError,
    TransportExhausted,
)
from eip.exchanges.machinery.ws_book_feed import (
    BAD_LEVEL,
    FeedOptions,
    InstrumentBook,
    WsBookFeed,
    utc,
)

log = logging.getLogger(__name__)

REST_URL = "https://api.kucoin.com"
WS_URL = "wss://ws-api.kucoin.com/endpoint"  # the bullet answer names the real one, with a token
SYMBOLS_PATH = "/api/v1/symbols"
BULLET_PATH = "/api/v1/bullet-public"
SNAPSHOT_PATHS = (
    "/api/v3/market/orderbook/level2",
    "/api/v2/market/orderbook/level2",
    "/api/v1/market/orderbook/level2_100",
)
TOPIC = "/market/level2"
MIN_PRICE_DECIMALS = 10
MIN_SIZE_DECIMALS = 16


def decimals_of(increment: str) -> int:
    exponent = Decimal(increment).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class KucoinFeed(WsBookFeed):
    exchange = "kucoin"

    def __init__(
        self,
        symbols: list[str],
        transport: Transport,
        options: FeedOptions | None = None,
        rest_url: str = REST_URL,
        ws_url: str = WS_URL,
        snapshot_path: str = SNAPSHOT_PATHS[0],
    ) -> None:
        super().__init__(symbols, transport, options)
        if snapshot_path not in SNAPSHOT_PATHS:
            raise ValueError(f"KuCoin snapshot path must be one of {', '.join(SNAPSHOT_PATHS)}")
        self.rest_url, self.ws_url, self.snapshot_path = rest_url.rstrip("/"), ws_url, snapshot_path
        self._venue: dict[str, str] = {}  # BTC/USDT -> BTC-USDT
        self._platform: dict[str, str] = {}
        self._decimals: dict[str, tuple[int, int]] = {}
        self._seq: dict[str, int] = {}
        self._no_snapshot: set[str] = set()

    async def _prepare(self) -> None:
        body = json.loads((await self.transport.get(self.rest_url + SYMBOLS_PATH)).data)
        for item in body.get("data") or []:
            symbol = (
                f"{normalize_asset(item['baseCurrency'])}/{normalize_asset(item['quoteCurrency'])}"
            )
            self._venue[symbol] = item["symbol"]
            self._platform[item["symbol"]] = symbol
            self._decimals[symbol] = (
                max(decimals_of(item["priceIncrement"]), MIN_PRICE_DECIMALS),
                max(decimals_of(item["baseIncrement"]), MIN_SIZE_DECIMALS),
            )
        unknown = [s for s in self.symbols if s not in self._venue]
        if unknown:
            raise ValueError(f"KuCoin lists no {', '.join(unknown)}")
        self.ws_url = await self._endpoint()

    async def _endpoint(self) -> str:
        """The socket address with its token; a capture without the bullet answer keeps the
        default (replays pick the recorded connection, not the address)."""
        try:
            body = json.loads((await self.transport.get(self.rest_url + BULLET_PATH)).data)
        except TransportExhausted:
            return self.ws_url
        data = body.get("data") or {}
        servers = data.get("instanceServers") or []
        if not servers or not data.get("token"):
            raise TransportError(f"KuCoin bullet answer without server or token: {body!r}"[:300])
        return f"{servers[0]['endpoint']}?token={data['token']}"

    def _url(self) -> str:
        return self.ws_url

    async def _send_subscribe(self, symbols: list[str]) -> None:
        await self._op("subscribe", symbols)

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        await self._op("unsubscribe", symbols)

    async def _op(self, op: str, symbols: list[str]) -> None:
        if not symbols:
            return
        topic = f"{TOPIC}:{','.join(self._venue[s] for s in symbols)}"
        message = {"id": 1, "type": op, "topic": topic, "privateChannel": False, "response": True}
        await self._send(json.dumps(message))

    async def _resync(self, state: InstrumentBook) -> None:
        # The next update of the symbol fetches a new snapshot; the stream itself is fine.
        self._seq.pop(state.key.symbol, None)

    async def _on_frame(self, frame: Received) -> None:
        message = json.loads(frame.data)
        if not isinstance(message, dict) or message.get("subject") != "trade.l2update":
            return
        data = message.get("data") or {}
        symbol = self._platform.get(str(data.get("symbol", "")))
        if symbol is None or symbol not in self.symbols or symbol in self._no_snapshot:
            return
        start, end = _int(data.get("sequenceStart")), _int(data.get("sequenceEnd"))
        if start is None or end is None:
            return
        state = self.books.get(symbol)
        if state is None or not state.in_sync:
            state = await self._snapshot(symbol, frame.ts)
            if state is None:
                return
        last = self._seq[symbol]
        if end <= last:
            return  # already in the snapshot
        if start > last + 1:
            await self._desync(state, "gap", f"sequenceStart {start} after {last}", frame.ts)
            return
        changes = data.get("changes") or {}
        try:
            bids = self._levels(changes.get("bids"), last)
            asks = self._levels(changes.get("asks"), last)
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad update: {exc!r}"[:500], frame.ts)
            return
        self._seq[symbol] = end
        await self._apply(state, bids, asks, str(end), None, frame.ts)

    @staticmethod
    def _levels(rows: Any, last: int) -> list[list[str]]:
        levels = []
        for price, size, sequence in rows or []:
            if Decimal(price) == 0 or int(sequence) <= last:
                continue  # a sequence placeholder, or already in the book
            levels.append([price, size])
        return levels

    async def _snapshot(self, symbol: str, ts: float) -> InstrumentBook | None:
        url = f"{self.rest_url}{self.snapshot_path}?symbol={self._venue[symbol]}"
        try:
            received = await self.transport.get(url)
        except TransportExhausted:
            # A replay without a (further) snapshot of this book: it stays untrusted.
            self._no_snapshot.add(symbol)
            log.warning(
                "no snapshot left for the book", extra={"exchange": self.exchange, "symbol": symbol}
            )
            return None
        body = json.loads(received.data)
        data = body.get("data") or {}
        sequence = _int(data.get("sequence"))
        state = self.books.get(symbol)
        if state is None:
            state = InstrumentBook(BookKey(self.exchange, symbol), L2Book(*self._decimals[symbol]))
            self.books[symbol] = state
        if sequence is None:
            await self._desync(state, "error", f"snapshot without sequence: {body!r}"[:500], ts)
            return None
        try:
            state.book.replace(data.get("bids") or [], data.get("asks") or [])
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad snapshot: {exc!r}"[:500], ts, resync=False)
            return None
        self._seq[symbol] = sequence
        when = _int(data.get("time"))
        await self._synced(state, str(sequence), utc(when / 1000) if when else None, received.ts)
        return state if state.in_sync else None


def recorded_snapshot_path(entries: list[dict[str, Any]]) -> str:
    """The snapshot endpoint a capture used (v3 when it recorded none)."""
    for entry in entries:
        if entry["t"] == "http":
            for path in SNAPSHOT_PATHS:
                if path + "?" in entry["url"]:
                    return path
    return SNAPSHOT_PATHS[0]


def recorded_book_symbols(entries: list[dict[str, Any]]) -> list[str]:
    """The book symbols a capture subscribed (``/market/level2:A-B,C-D``), in platform form
    through the recorded ``/api/v1/symbols`` (``BCHSV-USDT`` is ``BSV/USDT``)."""
    platform: dict[str, str] = {}
    for url, body in recorded_json(entries, "http"):
        if SYMBOLS_PATH in url and isinstance(body, dict):
            for item in body.get("data") or []:
                base, quote = item["baseCurrency"], item["quoteCurrency"]
                platform[item["symbol"]] = f"{normalize_asset(base)}/{normalize_asset(quote)}"
    symbols = []
    for _, message in recorded_json(entries, "send"):
        topic = str(message.get("topic", "")) if isinstance(message, dict) else ""
        prefix, _, venues = topic.partition(":")
        if prefix == TOPIC:
            symbols += [platform[v] for v in venues.split(",") if v in platform]
    return list(dict.fromkeys(symbols))


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> KucoinFeed:
    """The registry's factory; ``snapshot_path``: the REST snapshot endpoint."""
    return KucoinFeed(
        symbols,
        transport,
        options,
        snapshot_path=settings.get("snapshot_path", SNAPSHOT_PATHS[0]),
    )
