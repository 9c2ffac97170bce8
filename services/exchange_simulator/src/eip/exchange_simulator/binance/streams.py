"""Binance market streams over WebSocket: subscriptions and every stream's events.

Diff depth events are built from the exchange's book updates: each operation that changes a
book has its own update id, and a ``<symbol>@depth[@100ms]`` event covers every id since the
previous event (``U`` = first, ``u`` = last), so ids are contiguous across events and a client
can follow Binance's snapshot + diff procedure. Faults act here: a skipped event leaves a gap
in the ids, a repeated one arrives twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from eip.exchange_simulator.binance import wire
from eip.exchange_simulator.binance.ratelimit import RateLimits
from eip.exchange_simulator.binance.tickers import best, ticker_event
from eip.exchange_simulator.binance.venue import VENUE
from eip.exchange_simulator.core.candles import INTERVAL_MS
from eip.exchange_simulator.core.engine import TradeEvent
from eip.exchange_simulator.core.exchange import BookUpdate, Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.core.orders import Side

log = logging.getLogger(__name__)

_STREAM = re.compile(
    r"^(?P<symbol>[a-z0-9]+)@(?P<kind>depth(?:5|10|20)?(?:@(?:100|1000)ms)?|trade|aggTrade|"
    r"kline_(?:1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w)|bookTicker|ticker|miniTicker)$"
)
MAX_STREAMS_PER_CONNECTION = 1024
QUEUE_LIMIT = 200_000  # a client this far behind is dropped, as Binance drops slow readers


@dataclass
class StreamSettings:
    connection_lifetime_s: float = 24 * 3600.0


def parse_stream(name: str, symbols: Iterable[str]) -> tuple[str, str] | None:
    """(SYMBOL, kind) of a valid stream name for a listed symbol, else None."""
    match = _STREAM.match(name)
    if match is None:
        return None
    symbol = match["symbol"].upper()
    return (symbol, match["kind"]) if symbol in set(symbols) else None


class Connection:
    def __init__(self, ws: WebSocket, hub: MarketStreams, combined: bool) -> None:
        self.ws = ws
        self.hub = hub
        self.combined = combined
        self.streams: set[str] = set()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = False

    def push(self, text: str) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            log.warning("dropping a client that stopped reading")
            self.close()
            return
        self.queue.put_nowait(text)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    async def writer(self) -> None:
        faults = self.hub.faults
        while True:
            text = await self.queue.get()
            if text is None:
                break
            await faults.before_send(VENUE)
            await self.ws.send_text(text)


@dataclass
class _DiffBuffer:
    first_id: int = 0
    last_id: int = 0
    levels: dict[tuple[Side, Decimal], Decimal] = field(default_factory=dict)


class MarketStreams:
    def __init__(
        self,
        exchange: Exchange,
        faults: Faults,
        limits: RateLimits,
        settings: StreamSettings,
    ) -> None:
        self.exchange = exchange
        self.faults = faults
        self.limits = limits
        self.settings = settings
        self.subscribers: dict[str, set[Connection]] = defaultdict(set)
        self.connections: set[Connection] = set()
        self._diffs: dict[tuple[str, int], _DiffBuffer] = {}
        self._book_top: dict[str, tuple[Any, Any]] = {}
        self._kline_open: dict[str, int] = {}
        exchange.listeners.book.append(self._on_book)
        exchange.listeners.trade.append(self._on_trade)
        faults.on_drop(VENUE, self.drop)

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(self, conn: Connection, names: list[str]) -> str | None:
        """Add streams to a connection; an error text for the first invalid name, else None."""
        for name in names:
            if parse_stream(name, self.exchange.instruments) is None:
                return f"Invalid request: unknown stream {name!r}"
        if len(conn.streams | set(names)) > MAX_STREAMS_PER_CONNECTION:
            return "Invalid request: too many streams"
        for name in names:
            conn.streams.add(name)
            self.subscribers[name].add(conn)
            symbol, kind = parse_stream(name, self.exchange.instruments)  # type: ignore[misc]
            if kind.startswith("depth") and kind[5:6] in ("", "@"):
                self._diffs.setdefault((symbol, _speed(kind)), _DiffBuffer())
        return None

    def unsubscribe(self, conn: Connection, names: Iterable[str]) -> None:
        for name in names:
            conn.streams.discard(name)
            subs = self.subscribers.get(name)
            if subs is not None:
                subs.discard(conn)
                if not subs:
                    del self.subscribers[name]

    def detach(self, conn: Connection) -> None:
        self.unsubscribe(conn, list(conn.streams))
        self.connections.discard(conn)

    def drop(self, stream_filter: str | None) -> int:
        dropped = 0
        for conn in list(self.connections):
            if stream_filter is None or any(stream_filter in s for s in conn.streams):
                conn.close()
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().create_task(conn.ws.close(1001))
                dropped += 1
        return dropped

    def _emit(self, name: str, payload: dict[str, Any]) -> None:
        conns = self.subscribers.get(name)
        if not conns:
            return
        raw: str | None = None
        wrapped: str | None = None
        for conn in list(conns):
            if conn.combined:
                if wrapped is None:
                    wrapped = json.dumps({"stream": name, "data": payload}, separators=(",", ":"))
                conn.push(wrapped)
            else:
                if raw is None:
                    raw = json.dumps(payload, separators=(",", ":"))
                conn.push(raw)

    def _wanted(self, name: str) -> bool:
        return bool(self.subscribers.get(name))

    # -- event sources -------------------------------------------------------------------------

    def _on_book(self, update: BookUpdate) -> None:
        for (symbol, _), buffer in self._diffs.items():
            if symbol != update.symbol:
                continue
            if buffer.first_id == 0:
                buffer.first_id = update.update_id
            buffer.last_id = update.update_id
            for side, price, qty in update.changes:
                buffer.levels[(side, price)] = qty
        name = f"{update.symbol.lower()}@bookTicker"
        if self._wanted(name):
            bid, ask = best(self.exchange, update.symbol)
            if self._book_top.get(update.symbol) != (bid, ask):
                self._book_top[update.symbol] = (bid, ask)
                self._emit(
                    name,
                    {
                        "u": update.update_id,
                        "s": update.symbol,
                        "b": wire.d8(bid[0]),
                        "B": wire.d8(bid[1]),
                        "a": wire.d8(ask[0]),
                        "A": wire.d8(ask[1]),
                    },
                )

    def _on_trade(self, trade: TradeEvent) -> None:
        lower = trade.symbol.lower()
        now = self.exchange.now_ms()
        if self._wanted(f"{lower}@trade"):
            self._emit(
                f"{lower}@trade",
                {
                    "e": "trade",
                    "E": now,
                    "s": trade.symbol,
                    "t": trade.trade_id,
                    "p": wire.d8(trade.price),
                    "q": wire.d8(trade.qty),
                    "T": trade.time_ms,
                    "m": trade.buyer_is_maker,
                    "M": True,
                },
            )
        if self._wanted(f"{lower}@aggTrade"):
            self._emit(
                f"{lower}@aggTrade",
                {
                    "e": "aggTrade",
                    "E": now,
                    "s": trade.symbol,
                    **wire.agg_trade_json(trade),
                },
            )

    def flush_depth(self, speed_ms: int) -> None:
        now = self.exchange.now_ms()
        for (symbol, speed), buffer in list(self._diffs.items()):
            if speed != speed_ms:
                continue
            name = f"{symbol.lower()}@depth" + ("@100ms" if speed == 100 else "")
            alt = f"{symbol.lower()}@depth@1000ms" if speed == 1000 else None
            if not self._wanted(name) and not (alt and self._wanted(alt)):
                del self._diffs[(symbol, speed)]
                continue
            if buffer.first_id == 0:
                continue
            event = {
                "e": "depthUpdate",
                "E": now,
                "s": symbol,
                "U": buffer.first_id,
                "u": buffer.last_id,
                "b": [
                    [wire.d8(p), wire.d8(q)]
                    for (s, p), q in sorted(buffer.levels.items(), key=lambda kv: -kv[0][1])
                    if s is Side.BUY
                ],
                "a": [
                    [wire.d8(p), wire.d8(q)]
                    for (s, p), q in sorted(buffer.levels.items(), key=lambda kv: kv[0][1])
                    if s is Side.SELL
                ],
            }
            self._diffs[(symbol, speed)] = _DiffBuffer()
            if self.faults.take(self.faults.skip_sequence, symbol):
                continue  # lost in transit: the next event's U leaves a gap
            copies = 2 if self.faults.take(self.faults.repeat_sequence, symbol) else 1
            for _ in range(copies):
                self._emit(name, event)
                if alt:
                    self._emit(alt, event)

    def flush_partial_depth(self) -> None:
        for name in list(self.subscribers):
            parsed = parse_stream(name, self.exchange.instruments)
            if parsed is None or not re.match(r"depth(5|10|20)", parsed[1]):
                continue
            symbol, kind = parsed
            levels = int(re.match(r"depth(\d+)", kind)[1])  # type: ignore[index]
            update_id, bids, asks = self.exchange.depth(symbol, levels)
            self._emit(
                name,
                {
                    "lastUpdateId": update_id,
                    "bids": [[wire.d8(p), wire.d8(q)] for p, q in bids],
                    "asks": [[wire.d8(p), wire.d8(q)] for p, q in asks],
                },
            )

    def flush_slow(self) -> None:
        """The once-a-second streams: tickers and klines."""
        now = self.exchange.now_ms()
        for name in list(self.subscribers):
            parsed = parse_stream(name, self.exchange.instruments)
            if parsed is None:
                continue
            symbol, kind = parsed
            inst = self.exchange.instruments[symbol]
            if kind == "ticker":
                self._emit(name, ticker_event(self.exchange, inst, now))
            elif kind == "miniTicker":
                t = ticker_event(self.exchange, inst, now)
                self._emit(
                    name,
                    {
                        "e": "24hrMiniTicker",
                        "E": now,
                        "s": symbol,
                        "c": t["c"],
                        "o": t["o"],
                        "h": t["h"],
                        "l": t["l"],
                        "v": t["v"],
                        "q": t["q"],
                    },
                )
            elif kind.startswith("kline_"):
                self._kline(name, symbol, kind[6:], now)

    def _kline(self, name: str, symbol: str, interval: str, now: int) -> None:
        history = self.exchange.history[symbol]
        latest = history.candles(interval, None, None, 1)
        if not latest:
            return
        candle = latest[-1]
        previous_open = self._kline_open.get(name)
        if previous_open is not None and previous_open < candle.open_time:
            closed = history.candles(interval, previous_open, previous_open, 1)
            if closed:
                self._emit(name, wire.kline_event(symbol, interval, closed[0], True, now))
        self._kline_open[name] = candle.open_time
        size = INTERVAL_MS[interval]
        self._emit(
            name,
            wire.kline_event(
                symbol,
                interval,
                candle,
                now >= candle.open_time + size,
                now,
            ),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """The clock of the periodic streams."""
        tick = 0
        while not stop.is_set():
            await asyncio.sleep(0.1)
            tick += 1
            try:
                self.flush_depth(100)
                if tick % 10 == 0:
                    self.flush_depth(1000)
                    self.flush_partial_depth()
                    self.flush_slow()
            except Exception:
                log.exception("stream flush failed")

    # -- one connection ------------------------------------------------------------------------

    async def serve(self, ws: WebSocket, initial: list[str], combined: bool) -> None:
        conn = Connection(ws, self, combined)
        self.connections.add(conn)
        error = self.subscribe(conn, initial) if initial else None
        if error is not None:
            await ws.close(1008, error[:120])
            self.connections.discard(conn)
            return
        writer = asyncio.create_task(conn.writer())
        lifetime = asyncio.get_running_loop().call_later(
            self.settings.connection_lifetime_s,
            conn.close,
        )
        try:
            await self._read(conn, writer)
        finally:
            lifetime.cancel()
            conn.close()
            self.detach(conn)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 2)
            writer.cancel()
            if ws.application_state is not WebSocketState.DISCONNECTED:
                with contextlib.suppress(Exception):
                    await ws.close(1000)

    async def _read(self, conn: Connection, writer: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        window_start, count = loop.time(), 0
        while not conn.closed and not writer.done():
            receive = asyncio.create_task(conn.ws.receive_text())
            done, _ = await asyncio.wait({receive, writer}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                return
            try:
                text = receive.result()
            except (WebSocketDisconnect, RuntimeError):
                return
            now = loop.time()
            if now - window_start >= 1:
                window_start, count = now, 0
            count += 1
            if count > self.limits.ws_messages_per_second:
                log.info("closing a connection over the message rate limit")
                return
            conn.push(self._control(conn, text))

    def _control(self, conn: Connection, text: str) -> str:
        try:
            request = json.loads(text)
            method, req_id = request.get("method"), request.get("id")
        except (ValueError, AttributeError):
            return json.dumps({"code": 3, "msg": "Invalid JSON: expected a request object"})
        params = request.get("params") or []
        if method == "SUBSCRIBE":
            error = self.subscribe(conn, [str(p) for p in params])
            if error:
                return json.dumps({"code": 2, "msg": error, "id": req_id})
            return json.dumps({"result": None, "id": req_id})
        if method == "UNSUBSCRIBE":
            self.unsubscribe(conn, [str(p) for p in params])
            return json.dumps({"result": None, "id": req_id})
        if method == "LIST_SUBSCRIPTIONS":
            return json.dumps({"result": sorted(conn.streams), "id": req_id})
        if method == "SET_PROPERTY" and params and params[0] == "combined":
            conn.combined = bool(params[1]) if len(params) > 1 else conn.combined
            return json.dumps({"result": None, "id": req_id})
        if method == "GET_PROPERTY" and params and params[0] == "combined":
            return json.dumps({"result": conn.combined, "id": req_id})
        return json.dumps(
            {"code": 1, "msg": f"Invalid request: unknown method {method!r}", "id": req_id}
        )


def _speed(kind: str) -> int:
    return 100 if kind.endswith("@100ms") else 1000
