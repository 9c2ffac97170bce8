"""The Binance spot book adapter (combined stream, one connection for all instruments)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlencode

import orjson

from eip.book import L2Book
from eip.exchanges.binance.book_sync import DepthSync, Verdict
from eip.exchanges.binance.symbols import binance_symbol_map
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.contract.symbols import SymbolMap
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
from eip.resilience import retry_async

log = logging.getLogger(__name__)

REST_URL = "https://api.binance.com"
WS_URL = "wss://stream.binance.com:9443"
SNAPSHOT_LIMIT = 1000
MAX_BUFFERED = 10_000  # diffs held for one symbol while its snapshot loads


class BinanceFeed(WsBookFeed):
    exchange = "binance"

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
        self.ws_url = ws_url.rstrip("/")
        self.symbol_map = SymbolMap()
        self._precision: dict[str, tuple[int, int]] = {}
        self._sync: dict[str, DepthSync] = {}
        self._request_id = 0
        self._buffers: dict[str, list[tuple[dict[str, Any], float]]] = {}
        self._loading: dict[str, asyncio.Task[None]] = {}

    async def _prepare(self) -> None:
        info = json.loads((await self._rest("/api/v3/exchangeInfo")).data)
        self.symbol_map = binance_symbol_map(info)
        for entry in info["symbols"]:
            # Not tickSize/stepSize: resting sizes need not sit on today's lot step (filters
            # change, fills leave odd remainders), while the wire always fits these precisions.
            self._precision[entry["symbol"]] = (
                int(entry.get("quoteAssetPrecision", entry.get("quotePrecision", 8))),
                int(entry.get("baseAssetPrecision", 8)),
            )
        for symbol in self.symbols:
            self.symbol_map.exchange_id(symbol)  # unknown symbols fail before connecting

    def _url(self) -> str:
        streams = "/".join(self._stream(s) for s in self.symbols)
        return f"{self.ws_url}/stream?streams={streams}" if streams else f"{self.ws_url}/stream"

    def _stream(self, symbol: str) -> str:
        return f"{self.symbol_map.exchange_id(symbol).lower()}@depth@100ms"

    async def _on_open(self) -> None:
        # The URL already names every stream.
        for symbol in self.symbols:
            await self._resync(self._state(symbol))

    def _loading_in_background(self) -> bool:
        return bool(self._loading)

    async def _settle(self) -> None:
        while self._loading:  # a load may find a gap in its buffer and start another
            await asyncio.gather(*self._loading.values(), return_exceptions=True)

    async def _on_close(self) -> None:
        for task in self._loading.values():
            task.cancel()
        self._loading.clear()
        self._buffers.clear()

    async def _send_subscribe(self, symbols: list[str]) -> None:
        await self._control("SUBSCRIBE", symbols)
        for symbol in symbols:
            await self._resync(self._state(symbol))

    async def _send_unsubscribe(self, symbols: list[str]) -> None:
        await self._control("UNSUBSCRIBE", symbols)
        for symbol in symbols:
            self._sync.pop(symbol, None)
            self._buffers.pop(symbol, None)
            task = self._loading.pop(symbol, None)
            if task is not None:
                task.cancel()

    async def _control(self, method: str, symbols: list[str]) -> None:
        self._request_id += 1
        params = [self._stream(s) for s in symbols]
        await self._send(json.dumps({"method": method, "params": params, "id": self._request_id}))

    def _state(self, symbol: str) -> InstrumentBook:
        state = self.books.get(symbol)
        if state is None:
            price, size = self._precision[self.symbol_map.exchange_id(symbol)]
            state = InstrumentBook(BookKey(self.exchange, symbol), L2Book(price, size))
            self.books[symbol] = state
        return state

    async def _rest(self, path: str, **params: Any) -> Received:
        url = f"{self.rest_url}{path}" + (f"?{urlencode(params)}" if params else "")
        return await retry_async(
            lambda: self.transport.get(url), self.options.rest_retry, retry_on=(TransportError,)
        )

    async def _resync(self, state: InstrumentBook) -> None:
        """Buffer the symbol's diffs and load a REST snapshot in the background (Binance's
        procedure): the connection keeps being read meanwhile, so no venue send buffer fills."""
        symbol = state.key.symbol
        self._sync.pop(symbol, None)
        self._buffers[symbol] = []
        previous = self._loading.pop(symbol, None)
        if previous is not None and previous is not asyncio.current_task():
            previous.cancel()  # (a load that finds a gap in its own buffer just finishes)
        self._loading[symbol] = asyncio.create_task(
            self._load_snapshot(state), name=f"binance-snapshot-{symbol}"
        )

    async def _load_snapshot(self, state: InstrumentBook) -> None:
        try:
            await self._load_snapshot_once(state)
        finally:
            if self._loading.get(state.key.symbol) is asyncio.current_task():
                del self._loading[state.key.symbol]

    async def _load_snapshot_once(self, state: InstrumentBook) -> None:
        symbol = state.key.symbol
        exchange_id = self.symbol_map.exchange_id(symbol)
        while True:
            try:
                response = await self._rest(
                    "/api/v3/depth", symbol=exchange_id, limit=SNAPSHOT_LIMIT
                )
                break
            except TransportExhausted:
                return  # a replay without a later snapshot: the book stays untrusted
            except TransportError as exc:  # retries spent: the book waits, the feed goes on
                log.warning(
                    "Binance snapshot failed",
                    extra={"exchange": self.exchange, "symbol": symbol, "error": str(exc)},
                )
                await asyncio.sleep(self.options.reconnect.max_delay_s)
        if self.books.get(symbol) is not state:
            return  # unsubscribed while the snapshot loaded
        try:
            # a body that is no depth snapshot (not JSON, fields missing) is a bad snapshot too:
            # this runs in its own task, where an exception would vanish with the book unsynced
            # The core reads the body itself (no Python object per level) and validates every
            # level before the book changes.
            last_update_id = state.book.replace_binance_depth_snapshot(response.data)
        except BAD_LEVEL as exc:
            self._buffers.pop(symbol, None)
            await self._desync(
                state, "error", f"bad snapshot: {exc!r}"[:500], response.ts, resync=False
            )
            return
        self._sync[symbol] = DepthSync(last_update_id)
        buffered = self._buffers.get(symbol, [])
        await self._synced(state, str(last_update_id), None, response.ts)
        # Frames that arrive while emitting join the same list; drain until it is empty. A
        # desync on the way (crossed snapshot, gap) starts a new load with a new list: stop.
        while buffered and self._buffers.get(symbol) is buffered and state.in_sync:
            event, ts = buffered.pop(0)
            await self._on_event(symbol, event, ts)
        if self._buffers.get(symbol) is buffered:
            del self._buffers[symbol]

    async def _on_frame(self, frame: Received) -> None:
        message = orjson.loads(frame.data)  # prices and sizes are strings on this stream
        event = message.get("data", message)  # combined streams wrap events
        if not isinstance(event, dict) or event.get("e") != "depthUpdate":
            return  # control replies, other streams
        try:
            symbol = self.symbol_map.symbol(event["s"])
        except KeyError:
            return
        buffer = self._buffers.get(symbol)
        if buffer is not None:
            if len(buffer) >= MAX_BUFFERED:
                # The snapshot is taking too long to be useful; start over with a new one.
                await self._resync(self.books[symbol])
                return
            buffer.append((event, frame.ts))
            return
        await self._on_event(symbol, event, frame.ts)

    async def _on_event(self, symbol: str, event: dict[str, Any], ts: float) -> None:
        state = self.books.get(symbol)
        sync = self._sync.get(symbol)
        if state is None or sync is None or not state.in_sync:
            return  # unsubscribed, or waiting for a snapshot
        verdict = sync.check(int(event["U"]), int(event["u"]))
        if verdict is Verdict.SKIP:
            return
        if verdict is Verdict.GAP:
            await self._desync(
                state,
                "gap",
                f"event U={event['U']} u={event['u']} after update id {sync.last_update_id}",
                ts,
            )
            return
        await self._apply(
            state, event["b"], event["a"], str(event["u"]), utc(event["E"] / 1000), ts
        )


def create_feed(
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
    **settings: Any,
) -> BinanceFeed:
    """The registry's factory: ``rest_url``/``ws_url`` point it at the exchange simulator."""
    return BinanceFeed(symbols, transport, options, rest_url or REST_URL, ws_url or WS_URL)
