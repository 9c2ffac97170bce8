"""Coinbase Advanced Trade WebSocket (``/coinbase/ws``): the public channels ``level2``
(messages on channel ``l2_data``), ``ticker``, ``ticker_batch``, ``market_trades``, ``candles``,
``status`` and ``heartbeats``, and the authenticated ``user`` channel (the account's orders).

One channel per subscribe message, as on Coinbase; every subscription is answered with its
snapshot (the book, the ticker, recent trades, the current candle, the open orders) and then a
``subscriptions`` message listing them all. ``sequence_num`` counts every message of a
connection, all channels together, from 0; errors are outside that count.

What is subtle:

- Changes of one exchange operation batch (a market step, an order and its fills) are coalesced
  and sent on the next event-loop turn: one ``l2_data`` update per product with the new absolute
  quantity of each changed level, one ``ticker`` and one ``market_trades`` update per product,
  one ``user`` update per account carrying each order change in order.
- ``user`` needs a JWT signed with a Coinbase key (``auth.py``; without ``uri``, reusable while
  valid); a bad one is ``{"type":"error","message":"authentication failure"}``, as Coinbase says.
  ``product_ids`` narrow it; none means every product. Orders placed through any dialect of the
  account appear.
- ``ticker_batch`` sends the products that traded every 5 s; ``candles`` the current
  five-minute candle of the products that traded, every second.
- Faults act per symbol on ``level2`` only: ``skip_sequence`` loses the next messages in transit
  (their numbers are used, so the client sees a jump), ``repeat_sequence`` sends one twice with
  the same number. ``drop`` closes connections carrying a product (either form), ``user`` ones,
  or all with ``coinbase``.
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

from eip.exchange_simulator.coinbase import market_channels, wire
from eip.exchange_simulator.coinbase.auth import Unauthenticated
from eip.exchange_simulator.coinbase.venue import CoinbaseVenue
from eip.exchange_simulator.coinbase.wire import VENUE
from eip.exchange_simulator.core.engine import OrderUpdate, TradeEvent
from eip.exchange_simulator.core.exchange import BookUpdate
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import Side
from eip.exchange_simulator.ws_session import WsSession

SUBSCRIBE_WITHIN_S = 5.0  # Coinbase disconnects a client that has not subscribed by then
TICKER_BATCH_S = 5.0
USER_SNAPSHOT_CHUNK = 50  # orders per user snapshot message, as Coinbase splits them
PRODUCT_CHANNELS = ("level2", "ticker", "ticker_batch", "market_trades", "candles", "status")
NO_POSITIONS: dict[str, list[Any]] = {
    "perpetual_futures_positions": [],
    "expiring_futures_positions": [],
}


@dataclass(eq=False)
class CoinbaseConnection:
    session: WsSession
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(0))
    channels: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # symbols
    heartbeats: bool = False
    heartbeat_counter: int = 0
    user_account: str | None = None
    user_symbols: set[str] | None = None  # the user channel's products; None: all
    subscribed: bool = False

    def subscriptions(self, by_symbol: dict[str, Instrument]) -> dict[str, list[str]]:
        current: dict[str, list[str]] = {}
        for channel in PRODUCT_CHANNELS:
            if self.channels.get(channel):
                current[channel] = sorted(
                    wire.product_id(by_symbol[s]) for s in self.channels[channel]
                )
        if self.user_account is not None:
            symbols = self.user_symbols or set()
            current["user"] = sorted(wire.product_id(by_symbol[s]) for s in symbols)
        if self.heartbeats:
            current["heartbeats"] = ["heartbeats"]
        return current

    def wants_orders_of(self, symbol: str) -> bool:
        return self.user_symbols is None or symbol in self.user_symbols


class RequestError(Exception):
    pass


class CoinbaseStreams:
    def __init__(self, venue: CoinbaseVenue, faults: Faults) -> None:
        self.venue = venue
        self.exchange = venue.exchange
        self.faults = faults
        self.by_product = venue.by_product
        # channel -> symbol -> connections; account -> connections with the user channel
        self.subscribers: dict[str, dict[str, set[CoinbaseConnection]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self.users: dict[str, set[CoinbaseConnection]] = defaultdict(set)
        self.connections: set[CoinbaseConnection] = set()
        self._book: dict[str, dict[tuple[Side, Decimal], Decimal]] = {}
        self._book_ms: dict[str, int] = {}
        self._trades: dict[str, list[TradeEvent]] = {}
        self._orders: dict[str, list[OrderUpdate]] = {}
        self._batched: set[str] = set()  # traded since the last ticker_batch
        self._candled: set[str] = set()  # traded since the last candles update
        self._flush_scheduled = False
        self._started = time.monotonic()
        self.exchange.listeners.book.append(self._on_book)
        self.exchange.listeners.trade.append(self._on_trade)
        self.exchange.listeners.order.append(self._on_order)
        faults.on_drop(VENUE, self.drop)

    # -- what the exchange does ---------------------------------------------------------------

    def _watched(self, channel: str, symbol: str) -> bool:
        subs = self.subscribers.get(channel)
        return bool(subs and subs.get(symbol))

    def _on_book(self, update: BookUpdate) -> None:
        if not self._watched("level2", update.symbol):
            return
        levels = self._book.setdefault(update.symbol, {})
        for side, price, qty in update.changes:
            levels[(side, price)] = qty
        self._book_ms[update.symbol] = update.time_ms
        self._schedule()

    def _on_trade(self, trade: TradeEvent) -> None:
        symbol = trade.symbol
        if self._watched("ticker_batch", symbol):
            self._batched.add(symbol)
        if self._watched("candles", symbol):
            self._candled.add(symbol)
        if self._watched("market_trades", symbol) or self._watched("ticker", symbol):
            self._trades.setdefault(symbol, []).append(trade)
            self._schedule()

    def _on_order(self, account_id: str, update: OrderUpdate) -> None:
        if self.users.get(account_id):
            self._orders.setdefault(account_id, []).append(update)
            self._schedule()

    def _schedule(self) -> None:
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
        book, self._book = self._book, {}
        trades, self._trades = self._trades, {}
        orders, self._orders = self._orders, {}
        for symbol, levels in book.items():
            self._send_book(symbol, levels)
        for symbol, batch in trades.items():
            inst = self.exchange.instruments[symbol]
            if self._watched("market_trades", symbol):
                listed = [wire.market_trade(inst, t) for t in reversed(batch)]
                self._publish("market_trades", symbol, [{"type": "update", "trades": listed}])
            if self._watched("ticker", symbol):
                tickers = [market_channels.ticker(self.exchange, inst)]
                self._publish("ticker", symbol, [{"type": "update", "tickers": tickers}])
        for account_id, updates in orders.items():
            self._send_orders(account_id, updates)

    def _publish(self, channel: str, symbol: str, events: list[dict[str, Any]]) -> None:
        text = json.dumps(events, separators=(",", ":"))
        for conn in list(self.subscribers[channel].get(symbol, ())):
            self._send_json(conn, channel, text)

    def _send_book(self, symbol: str, levels: dict[tuple[Side, Decimal], Decimal]) -> None:
        conns = self.subscribers["level2"].get(symbol)
        if not conns or not levels:
            return
        inst = self.exchange.instruments[symbol]
        ordered = sorted(
            ((side, price, qty) for (side, price), qty in levels.items()),
            key=lambda level: (
                level[0] is Side.SELL,
                -level[1] if level[0] is Side.BUY else level[1],
            ),
        )
        updates = wire.level_updates(inst, ordered, wire.timestamp_us(self._book_ms[symbol]))
        event = {"type": "update", "product_id": wire.product_id(inst), "updates": updates}
        events = json.dumps([event], separators=(",", ":"))
        lost = self.faults.take(self.faults.skip_sequence, symbol, VENUE)
        repeat = not lost and self.faults.take(self.faults.repeat_sequence, symbol, VENUE)
        now = self.exchange.now_ms()
        for conn in list(conns):
            text = wire.envelope("l2_data", now, next(conn.sequence), events)
            if lost:
                continue  # its number is used: the client sees the jump
            for _ in range(2 if repeat else 1):
                conn.session.push(text)

    def _send_orders(self, account_id: str, updates: list[OrderUpdate]) -> None:
        rendered = [(u.order.symbol, self.venue.orders.ws_order(u.order)) for u in updates]
        for conn in list(self.users.get(account_id, ())):
            mine = [order for symbol, order in rendered if conn.wants_orders_of(symbol)]
            if mine:
                self._send(conn, "user", [{"type": "update", "orders": mine}])

    def _send(self, conn: CoinbaseConnection, channel: str, events: list[dict[str, Any]]) -> None:
        self._send_json(conn, channel, json.dumps(events, separators=(",", ":")))

    def _send_json(self, conn: CoinbaseConnection, channel: str, events_json: str) -> None:
        conn.session.push(
            wire.envelope(channel, self.exchange.now_ms(), next(conn.sequence), events_json)
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Once a second: heartbeats and candles; every 5 s: ticker batches."""
        ticks = 0
        while not stop.is_set():
            await asyncio.sleep(1.0)
            ticks += 1
            self._beat()
            candled, self._candled = self._candled, set()
            for symbol in sorted(candled):
                inst = self.exchange.instruments[symbol]
                current = market_channels.candle(self.exchange, inst)
                if current is not None:
                    self._publish("candles", symbol, [{"type": "update", "candles": [current]}])
            if ticks % int(TICKER_BATCH_S) == 0:
                batched, self._batched = self._batched, set()
                for symbol in sorted(batched):
                    tickers = [
                        market_channels.ticker(self.exchange, self.exchange.instruments[symbol])
                    ]
                    self._publish("ticker_batch", symbol, [{"type": "update", "tickers": tickers}])

    def _beat(self) -> None:
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
            for channel, symbols in conn.channels.items():
                for symbol in list(symbols):
                    self._leave(conn, channel, symbol)
            self._leave_user(conn)
            self.connections.discard(conn)

    def drop(self, stream_filter: str | None) -> int:
        """Close connections: all, those with a channel of a product containing the filter
        (either form, ``BTCUSDT`` or ``BTC-USDT``), ``user`` ones, or every one (``coinbase``)."""
        dropped = 0
        for conn in list(self.connections):
            names = {"coinbase"} | {
                n
                for symbols in conn.channels.values()
                for s in symbols
                for n in (s, wire.product_id(self.exchange.instruments[s]))
            }
            if conn.user_account is not None:
                names.add("user")
            if stream_filter is None or any(stream_filter.upper() in n.upper() for n in names):
                conn.session.drop()
                dropped += 1
        return dropped

    def _leave(self, conn: CoinbaseConnection, channel: str, symbol: str) -> None:
        conn.channels[channel].discard(symbol)
        subs = self.subscribers[channel].get(symbol)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.subscribers[channel][symbol]
                if channel == "level2":
                    self._book.pop(symbol, None)

    def _leave_user(self, conn: CoinbaseConnection) -> None:
        if conn.user_account is not None:
            self.users[conn.user_account].discard(conn)
            if not self.users[conn.user_account]:
                del self.users[conn.user_account]
        conn.user_account, conn.user_symbols = None, None

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
        account_id = self._authenticate(request.get("jwt"), required=channel == "user")
        if channel == "heartbeats":
            conn.heartbeats = kind == "subscribe"
        elif channel == "user":
            assert account_id is not None
            if kind == "subscribe":
                self._join_user(conn, account_id, symbols)
            else:
                self._unsubscribe_user(conn, symbols)
        elif channel in PRODUCT_CHANNELS or channel == "l2_data":
            channel = "level2" if channel == "l2_data" else channel
            if kind == "subscribe":
                if not symbols:
                    raise RequestError(f"{channel} needs product_ids")
                for symbol in symbols:
                    conn.channels[channel].add(symbol)
                    self.subscribers[channel][symbol].add(conn)
                    # Subscribing again sends a fresh snapshot: a way to resync in place.
                    self._snapshot(conn, channel, self.exchange.instruments[symbol])
            else:
                for symbol in symbols or list(conn.channels[channel]):
                    self._leave(conn, channel, symbol)
        else:
            raise RequestError(f"channel {channel!r} is not served by the simulator")
        conn.subscribed = True
        events = [{"subscriptions": conn.subscriptions(self.exchange.instruments)}]
        self._send(conn, "subscriptions", events)

    def _authenticate(self, jwt: Any, required: bool) -> str | None:
        if jwt is None and not required:
            return None
        if not isinstance(jwt, str):
            raise RequestError("authentication failure")
        try:
            key = self.venue.verifier.verify_ws(jwt, self.exchange.now_ms() / 1000)
        except Unauthenticated:
            raise RequestError("authentication failure") from None
        return key.account_id

    def _join_user(self, conn: CoinbaseConnection, account_id: str, symbols: list[str]) -> None:
        if conn.user_account not in (None, account_id):
            self._leave_user(conn)
        first = conn.user_account is None
        conn.user_account = account_id
        self.users[account_id].add(conn)
        if not symbols:
            conn.user_symbols = None
        elif first:
            conn.user_symbols = set(symbols)
        elif conn.user_symbols is not None:
            conn.user_symbols.update(symbols)
        wanted = set(symbols)
        open_orders = [
            self.venue.orders.ws_order(o)
            for o in self.venue.orders.open_of(account_id)
            if not wanted or o.symbol in wanted
        ]
        for start in range(0, max(len(open_orders), 1), USER_SNAPSHOT_CHUNK):
            chunk = open_orders[start : start + USER_SNAPSHOT_CHUNK]
            event = {"type": "snapshot", "orders": chunk, "positions": NO_POSITIONS}
            self._send(conn, "user", [event])

    def _unsubscribe_user(self, conn: CoinbaseConnection, symbols: list[str]) -> None:
        if not symbols or conn.user_symbols is None:
            self._leave_user(conn)
            return
        conn.user_symbols.difference_update(symbols)
        if not conn.user_symbols:
            self._leave_user(conn)

    def _snapshot(self, conn: CoinbaseConnection, channel: str, inst: Instrument) -> None:
        """What a subscription to ``channel`` for ``inst`` starts with."""
        if channel == "level2":
            book = self.exchange.engine(inst.symbol).book
            levels = [(Side.BUY, p, q) for p, q in book.bids.depth(len(book.bids))] + [
                (Side.SELL, p, q) for p, q in book.asks.depth(len(book.asks))
            ]
            updates = wire.level_updates(inst, levels, wire.SNAPSHOT_EVENT_TIME)
            product = wire.product_id(inst)
            event = {"type": "snapshot", "product_id": product, "updates": updates}
            self._send(conn, "l2_data", [event])
            return
        event = {"type": "snapshot"}
        if channel in ("ticker", "ticker_batch"):
            event["tickers"] = [market_channels.ticker(self.exchange, inst)]
        elif channel == "market_trades":
            event["trades"] = market_channels.recent_trades(self.exchange, inst)
        elif channel == "candles":
            current = market_channels.candle(self.exchange, inst)
            event["candles"] = [] if current is None else [current]
        else:
            event["products"] = [market_channels.status_product(inst)]
        self._send(conn, channel, [event])
