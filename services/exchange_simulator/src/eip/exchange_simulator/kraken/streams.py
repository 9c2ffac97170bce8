"""Kraken WebSocket v2 public feed (``/kraken/v2``): the ``book`` and ``instrument`` channels,
``ticker``, ``trade`` and ``ohlc`` (market_channels.py), ``ping``, heartbeats.

Every (symbol, depth) subscription shares one ``DepthView``: book changes of one exchange
operation batch are coalesced (flushed on the next loop turn) into one ``update`` per view with
the changed levels and the checksum of the top 10 after them. Faults act per symbol on updates:
``corrupt_checksum`` sends the right levels with a wrong checksum; ``skip_sequence`` loses the
update in transit (v2 has no sequence numbers, so the client notices through the checksum).
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

from eip.exchange_simulator.core.exchange import BookUpdate
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.kraken import wire
from eip.exchange_simulator.kraken.checksum import book_checksum
from eip.exchange_simulator.kraken.depth_view import DepthView
from eip.exchange_simulator.kraken.dialect import VENUE, KrakenDialect
from eip.exchange_simulator.kraken.instruments import instrument_snapshot
from eip.exchange_simulator.kraken.market_channels import (
    CHANNELS,
    ChannelError,
    MarketChannels,
    Sub,
)
from eip.exchange_simulator.kraken.next_turn import NextTurn
from eip.exchange_simulator.ws_session import WsSession

DEPTHS = (10, 25, 100, 500, 1000)
DEFAULT_DEPTH = 10
HEARTBEAT = wire.dumps({"channel": "heartbeat"})


@dataclass(eq=False)
class KrakenConnection:
    session: WsSession
    connection_id: int
    books: dict[str, int] = field(default_factory=dict)  # instrument symbol -> depth
    instrument: bool = False
    market: set[Sub] = field(default_factory=set)  # ticker, trade, ohlc

    @property
    def subscribed(self) -> bool:
        return bool(self.books) or self.instrument or bool(self.market)


class RequestError(Exception):
    pass


class KrakenStreams:
    def __init__(self, dialect: KrakenDialect) -> None:
        exchange, faults = dialect.exchange, dialect.faults
        self.exchange = exchange
        self.faults = faults
        self.market = MarketChannels(dialect)
        self.by_ws_symbol = {wire.ws_symbol(i): i for i in exchange.instruments.values()}
        self.views: dict[tuple[str, int], DepthView] = {}
        self.subscribers: dict[tuple[str, int], set[KrakenConnection]] = defaultdict(set)
        self.connections: set[KrakenConnection] = set()
        self._dirty: dict[str, int] = {}  # symbol -> time of its latest change
        self._next_turn = NextTurn(self.flush)
        exchange.listeners.book.append(self._on_book)
        faults.on_drop(VENUE, self.drop)

    # -- the feed ------------------------------------------------------------------------------

    def _on_book(self, update: BookUpdate) -> None:
        if not any(symbol == update.symbol for symbol, _ in self.views):
            return
        self._dirty[update.symbol] = update.time_ms
        self._next_turn.request()

    def flush(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for symbol, time_ms in dirty.items():
            self._flush_symbol(symbol, time_ms)

    def _take_fault(self, symbol: str) -> str:
        if self.faults.take(self.faults.skip_sequence, symbol, VENUE):
            return "skip"
        if self.faults.take(self.faults.corrupt_checksum, symbol, VENUE):
            return "corrupt"
        return "none"

    def _flush_symbol(self, symbol: str, time_ms: int) -> None:
        inst = self.exchange.instruments[symbol]
        book = self.exchange.engine(symbol).book
        fault: str | None = None  # one decision per symbol and flush, shared by every depth
        for (view_symbol, depth), view in list(self.views.items()):
            if view_symbol != symbol:
                continue
            bids, asks = book.bids.depth(depth), book.asks.depth(depth)
            bid_changes, ask_changes = view.advance(
                bids, asks, book.bids.levels.__contains__, book.asks.levels.__contains__
            )
            if not bid_changes and not ask_changes:
                continue
            if fault is None:
                fault = self._take_fault(symbol)
            if fault == "skip":
                continue
            checksum = book_checksum(asks, bids, inst.price_decimals, inst.qty_decimals)
            if fault == "corrupt":
                checksum = (checksum + 1) & 0xFFFFFFFF
            text = wire.book_message("update", inst, bid_changes, ask_changes, checksum, time_ms)
            for conn in self.subscribers.get((symbol, depth), ()):
                conn.session.push(text)

    def _snapshot(self, inst: Instrument, depth: int) -> str:
        key = (inst.symbol, depth)
        view = self.views.get(key)
        if view is None:
            book = self.exchange.engine(inst.symbol).book
            view = DepthView(depth, book.bids.depth(depth), book.asks.depth(depth))
            self.views[key] = view
        bids, asks = view.top_bids(), view.top_asks()
        checksum = book_checksum(asks, bids, inst.price_decimals, inst.qty_decimals)
        return wire.book_message("snapshot", inst, bids, asks, checksum, self.exchange.now_ms())

    def heartbeat(self) -> None:
        for conn in list(self.connections):
            if conn.subscribed:
                conn.session.push(HEARTBEAT)

    # -- connections ---------------------------------------------------------------------------

    async def serve(self, ws: WebSocket) -> None:
        conn = KrakenConnection(WsSession(ws, self.faults, VENUE), secrets.randbits(62))
        self.connections.add(conn)
        conn.session.push(wire.status_message(conn.connection_id))
        try:
            await conn.session.run(lambda text: self._handle(conn, text))
        finally:
            for symbol in list(conn.books):
                self._unsubscribe(conn, symbol)
            for sub in list(conn.market):
                self.market.remove(conn, sub)
            self.connections.discard(conn)

    def drop(self, stream_filter: str | None) -> int:
        """Close connections: all, or those with a book of a symbol containing the filter (either
        form, ``BTCUSDT`` or ``BTC/USDT``); ``kraken`` matches every Kraken connection."""
        dropped = 0
        for conn in list(self.connections):
            symbols = set(conn.books) | {sub.symbol for sub in conn.market}
            names = {"kraken"} | {
                n for s in symbols for n in (s, wire.ws_symbol(self.exchange.instruments[s]))
            }
            if stream_filter is None or any(stream_filter.upper() in n.upper() for n in names):
                conn.session.drop()
                dropped += 1
        return dropped

    def _unsubscribe(self, conn: KrakenConnection, symbol: str) -> int:
        depth = conn.books.pop(symbol)
        key = (symbol, depth)
        subs = self.subscribers.get(key)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.subscribers[key]
                self.views.pop(key, None)
        return depth

    # -- requests ------------------------------------------------------------------------------

    def _handle(self, conn: KrakenConnection, text: str) -> None:
        time_in = wire.timestamp(self.exchange.now_ms())
        try:
            request = json.loads(text)
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            conn.session.push(self._reply({"error": "EGeneral:Invalid arguments"}, time_in))
            return
        method, req_id = request.get("method"), request.get("req_id")
        head: dict[str, Any] = {"method": method}
        if req_id is not None:
            head["req_id"] = req_id
        try:
            if method == "ping":
                conn.session.push(self._reply({**head, "method": "pong"}, time_in, ok=None))
            elif method in ("subscribe", "unsubscribe"):
                self._subscription(conn, method, request.get("params"), head, time_in)
            else:
                raise RequestError(f"Method not found: {method}")
        except RequestError as exc:
            conn.session.push(self._reply({"error": str(exc), **head}, time_in, ok=False))

    def _subscription(
        self,
        conn: KrakenConnection,
        method: str,
        params: Any,
        head: dict[str, Any],
        time_in: str,
    ) -> None:
        if not isinstance(params, dict):
            raise RequestError("EGeneral:Invalid arguments:params")
        channel = params.get("channel")
        if channel == "instrument":
            self._instrument(conn, method, params, head, time_in)
            return
        if channel in CHANNELS:
            self._market(conn, method, channel, params, head, time_in)
            return
        if channel != "book":
            raise RequestError(f"Channel not supported by the simulator: {channel}")
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            raise RequestError("EGeneral:Invalid arguments:symbol")
        depth = params.get("depth", DEFAULT_DEPTH)
        if isinstance(depth, bool) or depth not in DEPTHS:
            raise RequestError("EGeneral:Invalid arguments:depth")
        snapshot = params.get("snapshot", True)
        if not isinstance(snapshot, bool):
            raise RequestError("EGeneral:Invalid arguments:snapshot")
        for name in symbols:
            inst = self.by_ws_symbol.get(name) if isinstance(name, str) else None
            if inst is None:
                conn.session.push(
                    self._reply(
                        {"error": f"Currency pair not supported {name}", **head, "symbol": name},
                        time_in,
                        ok=False,
                    )
                )
                continue
            if method == "subscribe":
                self._subscribe_one(conn, inst, depth, snapshot, head, time_in)
            else:
                self._unsubscribe_one(conn, inst, head, time_in)

    def _market(
        self,
        conn: KrakenConnection,
        method: str,
        channel: str,
        params: dict[str, Any],
        head: dict[str, Any],
        time_in: str,
    ) -> None:
        """``ticker``, ``trade`` and ``ohlc``: one ack (or error) per symbol, then its snapshot."""
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            raise RequestError("EGeneral:Invalid arguments:symbol")
        snapshot = params.get("snapshot", self.market.default_snapshot(channel))
        if not isinstance(snapshot, bool):
            raise RequestError("EGeneral:Invalid arguments:snapshot")
        for name in symbols:
            inst = self.by_ws_symbol.get(name) if isinstance(name, str) else None
            if inst is None:
                error = {"error": f"Currency pair not supported {name}", **head, "symbol": name}
                conn.session.push(self._reply(error, time_in, ok=False))
                continue
            try:
                if method == "subscribe":
                    sub = self.market.sub_for(channel, inst, params)
                    text = self.market.subscribe(conn, sub, snapshot)
                    result = self.market.ack_result(sub, snapshot, name)
                    conn.session.push(self._reply({**head, "result": result}, time_in, ok=True))
                    if text is not None:
                        conn.session.push(text)
                else:
                    sub = self.market.unsubscribe(conn, channel, inst)
                    result = self.market.ack_result(sub, snapshot, name)
                    result.pop("snapshot")
                    conn.session.push(self._reply({**head, "result": result}, time_in, ok=True))
            except ChannelError as exc:
                error = {"error": str(exc), **head, "symbol": name}
                conn.session.push(self._reply(error, time_in, ok=False))

    def _instrument(
        self,
        conn: KrakenConnection,
        method: str,
        params: dict[str, Any],
        head: dict[str, Any],
        time_in: str,
    ) -> None:
        snapshot = params.get("snapshot", True)
        if not isinstance(snapshot, bool):
            raise RequestError("EGeneral:Invalid arguments:snapshot")
        subscribing = method == "subscribe"
        if subscribing == conn.instrument:
            raise RequestError("Already subscribed" if subscribing else "Subscription Not Found")
        conn.instrument = subscribing
        result: dict[str, Any] = {"channel": "instrument"}
        if subscribing:
            result["snapshot"] = snapshot
        conn.session.push(self._reply({**head, "result": result}, time_in, ok=True))
        if subscribing and snapshot:
            conn.session.push(instrument_snapshot(self.exchange.instruments.values()))

    def _subscribe_one(
        self,
        conn: KrakenConnection,
        inst: Instrument,
        depth: int,
        snapshot: bool,
        head: dict[str, Any],
        time_in: str,
    ) -> None:
        name = wire.ws_symbol(inst)
        if inst.symbol in conn.books:
            conn.session.push(
                self._reply({"error": "Already subscribed", **head, "symbol": name}, time_in, False)
            )
            return
        conn.books[inst.symbol] = depth
        self.subscribers[(inst.symbol, depth)].add(conn)
        result = {"channel": "book", "depth": depth, "snapshot": snapshot, "symbol": name}
        conn.session.push(self._reply({**head, "result": result}, time_in, ok=True))
        text = self._snapshot(inst, depth)  # also creates the view updates are diffed against
        if snapshot:
            conn.session.push(text)

    def _unsubscribe_one(
        self, conn: KrakenConnection, inst: Instrument, head: dict[str, Any], time_in: str
    ) -> None:
        name = wire.ws_symbol(inst)
        if inst.symbol not in conn.books:
            conn.session.push(
                self._reply(
                    {"error": "Subscription Not Found", **head, "symbol": name}, time_in, False
                )
            )
            return
        depth = self._unsubscribe(conn, inst.symbol)
        result = {"channel": "book", "depth": depth, "symbol": name}
        conn.session.push(self._reply({**head, "result": result}, time_in, ok=True))

    def _reply(self, body: dict[str, Any], time_in: str, ok: bool | None = False) -> str:
        return wire.reply(body, time_in, self.exchange.now_ms(), ok)
