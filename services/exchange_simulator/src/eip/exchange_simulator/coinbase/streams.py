"""Coinbase Advanced Trade market-data WebSocket (``/coinbase/ws``): ``level2`` (messages on
channel ``l2_data``) and ``heartbeats``.

``sequence_num`` counts every message of a connection, all channels together, from 0. Book
changes of one exchange operation batch are coalesced (flushed on the next loop turn) into one
``l2_data`` update per product with the new absolute quantity of each changed level. Faults act
per symbol: ``skip_sequence`` loses the next level2 messages in transit (their numbers are used,
so the client sees a jump), ``repeat_sequence`` sends one twice with the same number.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.websockets import WebSocket

from eip.exchange_simulator.coinbase import wire
from eip.exchange_simulator.core.exchange import BookUpdate, Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import Side
from eip.exchange_simulator.ws_session import WsSession

VENUE = "coinbase"
SUBSCRIBE_WITHIN_S = 5.0  # Coinbase disconnects a client that has not subscribed by then


@dataclass(eq=False)
class CoinbaseConnection:
    session: WsSession
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(0))
    level2: set[str] = field(default_factory=set)  # instrument symbols
    heartbeats: bool = False
    heartbeat_counter: int = 0
    subscribed: bool = False

    def subscriptions(self, by_symbol: dict[str, Instrument]) -> dict[str, list[str]]:
        current: dict[str, list[str]] = {}
        if self.level2:
            current["level2"] = sorted(wire.product_id(by_symbol[s]) for s in self.level2)
        if self.heartbeats:
            current["heartbeats"] = ["heartbeats"]
        return current


class RequestError(Exception):
    pass


def _book_order(level: tuple[Side, Decimal, Decimal]) -> tuple[bool, Decimal]:
    """Bids best first, then offers best first, as Coinbase lists a snapshot."""
    side, price, _ = level
    return (side is Side.SELL, -price if side is Side.BUY else price)


class CoinbaseStreams:
    def __init__(self, exchange: Exchange, faults: Faults) -> None:
        self.exchange = exchange
        self.faults = faults
        self.by_product = {wire.product_id(i): i for i in exchange.instruments.values()}
        self.subscribers: dict[str, set[CoinbaseConnection]] = defaultdict(set)
        self.connections: set[CoinbaseConnection] = set()
        self._pending: dict[str, dict[tuple[Side, Decimal], Decimal]] = {}
        self._pending_ms: dict[str, int] = {}
        self._flush_scheduled = False
        self._started = time.monotonic()
        exchange.listeners.book.append(self._on_book)
        faults.on_drop(VENUE, self.drop)

    # -- the feed ------------------------------------------------------------------------------

    def _on_book(self, update: BookUpdate) -> None:
        if not self.subscribers.get(update.symbol):
            return
        levels = self._pending.setdefault(update.symbol, {})
        for side, price, qty in update.changes:
            levels[(side, price)] = qty
        self._pending_ms[update.symbol] = update.time_ms
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, {}
        for symbol, levels in pending.items():
            conns = self.subscribers.get(symbol)
            if not conns or not levels:
                continue
            inst = self.exchange.instruments[symbol]
            time_ms = self._pending_ms[symbol]
            ordered = sorted(
                ((side, price, qty) for (side, price), qty in levels.items()),
                key=lambda level: (
                    level[0] is Side.SELL,
                    -level[1] if level[0] is Side.BUY else level[1],
                ),
            )
            events = json.dumps(
                [
                    {
                        "type": "update",
                        "product_id": wire.product_id(inst),
                        "updates": wire.level_updates(inst, ordered, wire.timestamp_us(time_ms)),
                    }
                ],
                separators=(",", ":"),
            )
            lost = self.faults.take(self.faults.skip_sequence, symbol, VENUE)
            copies = (
                2
                if not lost and self.faults.take(self.faults.repeat_sequence, symbol, VENUE)
                else 1
            )
            now = self.exchange.now_ms()
            for conn in list(conns):
                text = wire.envelope("l2_data", now, next(conn.sequence), events)
                if lost:
                    continue  # its number is used: the client sees the jump
                for _ in range(copies):
                    conn.session.push(text)

    def _snapshot(self, conn: CoinbaseConnection, inst: Instrument) -> None:
        book = self.exchange.engine(inst.symbol).book
        levels = [(Side.BUY, p, q) for p, q in book.bids.depth(len(book.bids))] + [
            (Side.SELL, p, q) for p, q in book.asks.depth(len(book.asks))
        ]
        events = [
            {
                "type": "snapshot",
                "product_id": wire.product_id(inst),
                "updates": wire.level_updates(inst, levels, wire.SNAPSHOT_EVENT_TIME),
            }
        ]
        self._send(conn, "l2_data", events)

    def _send(self, conn: CoinbaseConnection, channel: str, events: list[dict[str, Any]]) -> None:
        events_json = json.dumps(events, separators=(",", ":"))
        conn.session.push(
            wire.envelope(channel, self.exchange.now_ms(), next(conn.sequence), events_json)
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Heartbeats: once a second to every connection subscribed to them."""
        while not stop.is_set():
            await asyncio.sleep(1.0)
            now = self.exchange.now_ms()
            uptime = time.monotonic() - self._started
            for conn in list(self.connections):
                if conn.heartbeats:
                    conn.heartbeat_counter += 1
                    event = {
                        "current_time": wire.go_time(now, uptime),
                        "heartbeat_counter": conn.heartbeat_counter,
                    }
                    self._send(conn, "heartbeats", [event])

    # -- connections ---------------------------------------------------------------------------

    async def serve(self, ws: WebSocket) -> None:
        conn = CoinbaseConnection(WsSession(ws, self.faults, VENUE))
        self.connections.add(conn)
        deadline = asyncio.get_running_loop().call_later(
            SUBSCRIBE_WITHIN_S, lambda: None if conn.subscribed else conn.session.drop()
        )
        try:
            await conn.session.run(lambda text: self._handle(conn, text))
        finally:
            deadline.cancel()
            for symbol in list(conn.level2):
                self._leave(conn, symbol)
            self.connections.discard(conn)

    def drop(self, stream_filter: str | None) -> int:
        """Close connections: all, or those with level2 of a symbol containing the filter (either
        form, ``BTCUSDT`` or ``BTC-USDT``); ``coinbase`` matches every Coinbase connection."""
        dropped = 0
        for conn in list(self.connections):
            names = {"coinbase"} | {
                n for s in conn.level2 for n in (s, wire.product_id(self.exchange.instruments[s]))
            }
            if stream_filter is None or any(stream_filter.upper() in n.upper() for n in names):
                conn.session.drop()
                dropped += 1
        return dropped

    def _leave(self, conn: CoinbaseConnection, symbol: str) -> None:
        conn.level2.discard(symbol)
        subs = self.subscribers.get(symbol)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.subscribers[symbol]
                self._pending.pop(symbol, None)

    # -- requests ------------------------------------------------------------------------------

    def _handle(self, conn: CoinbaseConnection, text: str) -> None:
        try:
            self._request(conn, text)
        except RequestError as exc:
            conn.session.push(json.dumps({"type": "error", "message": str(exc)}))

    def _request(self, conn: CoinbaseConnection, text: str) -> None:
        try:
            request = json.loads(text)
        except ValueError:
            raise RequestError("failure to parse the request: invalid JSON") from None
        if not isinstance(request, dict):
            raise RequestError("failure to parse the request: expected an object")
        kind, channel = request.get("type"), request.get("channel")
        if kind not in ("subscribe", "unsubscribe"):
            raise RequestError(f"unsupported message type {kind!r}")
        raw_ids = request.get("product_ids") or []
        if not isinstance(raw_ids, list) or not all(isinstance(p, str) for p in raw_ids):
            raise RequestError("product_ids must be a list of product ids")
        unknown = [p for p in raw_ids if p not in self.by_product]
        if unknown:
            raise RequestError(f"Failed to subscribe: unknown product ids {unknown}")
        symbols = [self.by_product[p].symbol for p in raw_ids]
        if channel == "heartbeats":
            conn.heartbeats = kind == "subscribe"
        elif channel == "level2":
            if kind == "subscribe":
                if not symbols:
                    raise RequestError("level2 needs product_ids")
                for symbol in symbols:
                    conn.level2.add(symbol)
                    self.subscribers[symbol].add(conn)
                    # Subscribing again sends a fresh snapshot: a way to resync in place.
                    self._snapshot(conn, self.exchange.instruments[symbol])
            else:
                for symbol in symbols or list(conn.level2):
                    self._leave(conn, symbol)
        else:
            raise RequestError(f"channel {channel!r} is not served by the simulator")
        conn.subscribed = True
        self._send(conn, "subscriptions", [{"subscriptions": conn.subscriptions(self._by_symbol)}])

    @property
    def _by_symbol(self) -> dict[str, Instrument]:
        return self.exchange.instruments
