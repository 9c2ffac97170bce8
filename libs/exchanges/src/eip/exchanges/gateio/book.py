"""The Gate.io spot book adapter for the v4 ``spot.order_book_update`` channel (2021 API).

Updates carry the first and last book ids they cover (``U``/``u``) and changed levels ``b``/``a``
(size ``"0"`` removes). The book starts from ``GET /api/v4/spot/order_book?currency_pair=..
&limit=100&with_id=true`` (its ``id`` says which updates it holds), fetched when a pair's first
update arrives — clients of that time did so, and captures hold the answer there. Rules (the
venue's "maintain a local order book"): updates with ``u`` at or below the book's id are already
in it; the first applied one has ``U <= id + 1 <= u``; after that every ``U`` is the previous
``u`` + 1, anything else is a lost update (``gap``: new snapshot).

The first update of a subscription can look like a whole book (one id, no zero sizes): it is
still an update — a pair's first update in the cryptofeed 2021 sample spans ids 1130669..1138115
and removes levels — so it is never taken for a snapshot.

The snapshot holds only the best ``limit`` levels a side, while updates touch any depth. So each
side is kept exact down to the snapshot's worst level (its *horizon*); changes beyond it are
dropped (the levels between the horizon and them are unknown), and the book stays a true top of
the venue's book. A side that came back shorter than ``limit`` is the whole side: no horizon.
Fixed 14 price and 16 size decimals (no instrument list needed).
"""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal
from typing import Any

from eip.book import L2Book
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.machinery.capture import recorded_json
from eip.exchanges.machinery.transport import Received, Transport, TransportExhausted
from eip.exchanges.machinery.ws_book_feed import (
    BAD_LEVEL,
    FeedOptions,
    InstrumentBook,
    WsBookFeed,
    utc,
)

log = logging.getLogger(__name__)

REST_URL = "https://api.gateio.ws"
WS_URL = "wss://api.gateio.ws/ws/v4/"
CHANNEL = "spot.order_book_update"
SNAPSHOT_LIMIT = 100
PRICE_DECIMALS = 14
SIZE_DECIMALS = 16


def venue_symbol(symbol: str) -> str:
    base, _, quote = symbol.partition("/")
    if not base or not quote:
        raise ValueError(f"not a BASE/QUOTE symbol: {symbol!r}")
    return f"{base}_{quote}"


def platform_symbol(venue: str) -> str:
    base, _, quote = venue.partition("_")
    return f"{normalize_asset(base)}/{normalize_asset(quote)}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class GateioFeed(WsBookFeed):
    exchange = "gate"

    def __init__(
        self,
        symbols: list[str],
        transport: Transport,
        options: FeedOptions | None = None,
        rest_url: str = REST_URL,
        ws_url: str = WS_URL,
        interval: str = "100ms",
        venues: dict[str, str] | None = None,
    ) -> None:
        super().__init__(symbols, transport, options)
        self.rest_url, self.ws_url, self.interval = rest_url.rstrip("/"), ws_url, interval
        # Platform symbol -> venue pair when the two do not round-trip (asset aliases).
        self._venues = dict(venues or {})
        self._platforms = {v: s for s, v in self._venues.items()}
        self._id: dict[str, int] = {}
        self._first: dict[str, bool] = {}  # waiting for the update that straddles the id
        self._horizon: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        self._no_snapshot: set[str] = set()

    async def _prepare(self) -> None:
        for symbol in self.symbols:
            self._venue(symbol)

    def _venue(self, symbol: str) -> str:
        return self._venues.get(symbol) or venue_symbol(symbol)

    def _url(self) -> str:
        return self.ws_url

    async def _send_subscribe(self, symbols: list[str]) -> None:
        for symbol in symbols:
            await self._op("subscribe", symbol)

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        for symbol in symbols:
            await self._op("unsubscribe", symbol)

    async def _op(self, event: str, symbol: str) -> None:
        message = {
            "time": int(time.time()),
            "channel": CHANNEL,
            "event": event,
            "payload": [self._venue(symbol), self.interval],
        }
        await self._send(json.dumps(message))

    async def _resync(self, state: InstrumentBook) -> None:
        # The pair's next update fetches a new snapshot; the stream itself is fine.
        self._id.pop(state.key.symbol, None)

    async def _on_frame(self, frame: Received) -> None:
        message = json.loads(frame.data)
        if not isinstance(message, dict) or message.get("channel") != CHANNEL:
            return
        if message.get("event") != "update":
            if message.get("error"):
                log.error(
                    "Gate.io refused a request",
                    extra={"exchange": self.exchange, "reply": frame.data[:500]},
                )
            return
        result = message.get("result") or {}
        pair = str(result.get("s", ""))
        symbol = self._platforms.get(pair) or platform_symbol(pair)
        if symbol not in self.symbols or symbol in self._no_snapshot:
            return
        first, last = _int(result.get("U")), _int(result.get("u"))
        if first is None or last is None:
            return
        state = self.books.get(symbol)
        if state is None or not state.in_sync:
            state = await self._snapshot(symbol, frame.ts)
            if state is None:
                return
        book_id = self._id[symbol]
        if last <= book_id:
            return  # already in the snapshot
        if self._first.get(symbol):
            if first > book_id + 1:
                await self._desync(
                    state, "gap", f"first update U={first} after id {book_id}", frame.ts
                )
                return
            self._first[symbol] = False
        elif first != book_id + 1:
            await self._desync(state, "gap", f"U={first} after u={book_id}", frame.ts)
            return
        low, high = self._horizon[symbol]
        try:
            bids = [b for b in result.get("b") or [] if low is None or Decimal(b[0]) >= low]
            asks = [a for a in result.get("a") or [] if high is None or Decimal(a[0]) <= high]
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad update: {exc!r}"[:500], frame.ts)
            return
        self._id[symbol] = last
        when = _int(result.get("t"))
        await self._apply(
            state, bids, asks, str(last), utc(when / 1000) if when else None, frame.ts
        )

    async def _snapshot(self, symbol: str, ts: float) -> InstrumentBook | None:
        url = (
            f"{self.rest_url}/api/v4/spot/order_book?currency_pair={self._venue(symbol)}"
            f"&limit={SNAPSHOT_LIMIT}&with_id=true"
        )
        try:
            received = await self.transport.get(url)
        except TransportExhausted:
            self._no_snapshot.add(symbol)  # a replay without a (further) snapshot of this pair
            log.warning(
                "no snapshot left for the book", extra={"exchange": self.exchange, "symbol": symbol}
            )
            return None
        body = json.loads(received.data)
        state = self.books.get(symbol)
        if state is None:
            state = InstrumentBook(
                BookKey(self.exchange, symbol), L2Book(PRICE_DECIMALS, SIZE_DECIMALS)
            )
            self.books[symbol] = state
        book_id = _int(body.get("id"))
        if book_id is None:
            await self._desync(state, "error", f"snapshot without id: {body!r}"[:500], ts)
            return None
        bids, asks = body.get("bids") or [], body.get("asks") or []
        try:
            state.book.replace(bids, asks)
            low = Decimal(bids[-1][0]) if len(bids) >= SNAPSHOT_LIMIT else None
            high = Decimal(asks[-1][0]) if len(asks) >= SNAPSHOT_LIMIT else None
        except BAD_LEVEL as exc:
            await self._desync(state, "error", f"bad snapshot: {exc!r}"[:500], ts, resync=False)
            return None
        self._id[symbol], self._first[symbol] = book_id, True
        self._horizon[symbol] = (low, high)
        await self._synced(state, str(book_id), None, received.ts)
        return state if state.in_sync else None


def recorded_book_venues(entries: list[dict[str, Any]]) -> dict[str, str]:
    """Platform symbol → venue pair for every pair a capture subscribed books of."""
    venues: dict[str, str] = {}
    for _, message in recorded_json(entries, "send"):
        if not isinstance(message, dict) or message.get("channel") != CHANNEL:
            continue
        if message.get("event") == "subscribe" and message.get("payload"):
            pair = str(message["payload"][0])
            venues[platform_symbol(pair)] = pair
    return venues


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> GateioFeed:
    """The registry's factory; ``venues``: platform symbol → the pair's recorded spelling."""
    return GateioFeed(symbols, transport, options, venues=settings.get("venues"))
