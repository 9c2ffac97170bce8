"""Kraken WebSocket v2 public ``ticker``, ``trade`` and ``ohlc`` channels over the simulator's tape.

Trades of one exchange operation (a taker sweeping several levels) are coalesced and sent on the
next event-loop turn: one ``trade`` update per symbol with every trade, one ``ticker`` update
(``event_trigger: trades``, the default) and one ``ohlc`` update per subscribed interval with the
current candle. A ``ticker`` with ``event_trigger: bbo`` is sent when the best bid or ask (price
or size) changed instead. Snapshots: ``ticker`` and ``ohlc`` by default, ``trade`` (the last 50)
only when asked, as Kraken documents.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eip.exchange_simulator.core.candles import Candle
from eip.exchange_simulator.core.engine import TradeEvent
from eip.exchange_simulator.core.exchange import BookUpdate
from eip.exchange_simulator.core.instruments import Instrument
from eip.exchange_simulator.core.orders import Side
from eip.exchange_simulator.kraken import wire
from eip.exchange_simulator.kraken.dialect import KrakenDialect
from eip.exchange_simulator.kraken.next_turn import NextTurn
from eip.exchange_simulator.kraken.rest import INTERVALS, taker_order_type
from eip.exchange_simulator.kraken.wire import Num

if TYPE_CHECKING:
    from eip.exchange_simulator.kraken.streams import KrakenConnection

CHANNELS = ("ticker", "trade", "ohlc")
TRADE_SNAPSHOT = 50
OHLC_SNAPSHOT = 720
ZERO = Decimal(0)


class ChannelError(Exception):
    """A request the channel refuses; the text goes in the reply's ``error``."""


@dataclass(frozen=True)
class Sub:
    channel: str
    symbol: str  # core symbol
    interval: int = 0  # ohlc minutes
    bbo: bool = False  # ticker sent on best bid/ask changes rather than trades


class MarketChannels:
    def __init__(self, dialect: KrakenDialect) -> None:
        self.dialect = dialect
        self.exchange = dialect.exchange
        self.subscribers: dict[Sub, set[KrakenConnection]] = defaultdict(set)
        self._trades: dict[str, list[TradeEvent]] = defaultdict(list)
        self._books: set[str] = set()
        self._bbo: dict[str, tuple[Any, ...]] = {}
        self._next_turn = NextTurn(self.flush)
        self.exchange.listeners.trade.append(self._on_trade)
        self.exchange.listeners.book.append(self._on_book)

    # -- subscriptions -------------------------------------------------------------------------

    def sub_for(self, channel: str, inst: Instrument, params: dict[str, Any]) -> Sub:
        if channel == "ohlc":
            interval = params.get("interval", 1)
            if isinstance(interval, bool) or interval not in INTERVALS:
                raise ChannelError("EGeneral:Invalid arguments:interval")
            return Sub(channel, inst.symbol, interval=interval)
        if channel == "ticker":
            trigger = params.get("event_trigger", "trades")
            if trigger not in ("trades", "bbo"):
                raise ChannelError("EGeneral:Invalid arguments:event_trigger")
            return Sub(channel, inst.symbol, bbo=trigger == "bbo")
        return Sub(channel, inst.symbol)

    def ack_result(self, sub: Sub, snapshot: bool, name: str) -> dict[str, Any]:
        result: dict[str, Any] = {"channel": sub.channel}
        if sub.channel == "ohlc":
            result["interval"] = sub.interval
        if sub.channel == "ticker":
            result["event_trigger"] = "bbo" if sub.bbo else "trades"
        result["snapshot"] = snapshot
        result["symbol"] = name
        return result

    def subscribe(self, conn: KrakenConnection, sub: Sub, snapshot: bool) -> str | None:
        """Add the subscription; the snapshot to send after the ack, if one is due."""
        if any(s.channel == sub.channel and s.symbol == sub.symbol for s in conn.market):
            raise ChannelError("Already subscribed")
        conn.market.add(sub)
        self.subscribers[sub].add(conn)
        if not snapshot:
            return None
        inst = self.exchange.instruments[sub.symbol]
        if sub.channel == "ticker":
            return self._ticker_message("snapshot", inst)
        if sub.channel == "trade":
            recent = list(self.exchange.history[sub.symbol].trades)[-TRADE_SNAPSHOT:]
            return self._trade_message("snapshot", inst, recent)
        candles = self._candles(inst, sub.interval)[-OHLC_SNAPSHOT:]
        return self._ohlc_message("snapshot", inst, sub.interval, candles)

    def unsubscribe(self, conn: KrakenConnection, channel: str, inst: Instrument) -> Sub:
        for sub in list(conn.market):
            if sub.channel == channel and sub.symbol == inst.symbol:
                self.remove(conn, sub)
                return sub
        raise ChannelError("Subscription Not Found")

    def remove(self, conn: KrakenConnection, sub: Sub) -> None:
        conn.market.discard(sub)
        subs = self.subscribers.get(sub)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self.subscribers[sub]

    def default_snapshot(self, channel: str) -> bool:
        return channel != "trade"

    # -- the feed ------------------------------------------------------------------------------

    def _wanted(self, symbol: str, channel: str) -> bool:
        return any(s.symbol == symbol and s.channel == channel for s in self.subscribers)

    def _on_trade(self, trade: TradeEvent) -> None:
        if not any(s.symbol == trade.symbol for s in self.subscribers):
            return
        self._trades[trade.symbol].append(trade)
        self._next_turn.request()

    def _on_book(self, update: BookUpdate) -> None:
        if any(s.symbol == update.symbol and s.bbo for s in self.subscribers):
            self._books.add(update.symbol)
            self._next_turn.request()

    def flush(self) -> None:
        trades, self._trades = self._trades, defaultdict(list)
        books, self._books = self._books, set()
        for symbol, batch in trades.items():
            inst = self.exchange.instruments[symbol]
            self._send(Sub("trade", symbol), self._trade_message("update", inst, batch))
            self._send(Sub("ticker", symbol), self._ticker_message("update", inst))
            for sub in [s for s in self.subscribers if s.channel == "ohlc" and s.symbol == symbol]:
                candles = self._candles(inst, sub.interval)[-1:]
                self._send(sub, self._ohlc_message("update", inst, sub.interval, candles))
        for symbol in books:
            inst = self.exchange.instruments[symbol]
            book = self.exchange.engine(symbol).book
            bid, ask = book.bids.best(), book.asks.best()
            top = (
                (bid.price, bid.total) if bid else None,
                (ask.price, ask.total) if ask else None,
            )
            if self._bbo.get(symbol) == top:
                continue
            self._bbo[symbol] = top
            self._send(Sub("ticker", symbol, bbo=True), self._ticker_message("update", inst))

    def _send(self, sub: Sub, text: str) -> None:
        for conn in self.subscribers.get(sub, ()):
            conn.session.push(text)

    # -- messages ------------------------------------------------------------------------------

    def _ticker_message(self, kind: str, inst: Instrument) -> str:
        ex = self.exchange
        engine, history = ex.engine(inst.symbol), ex.history[inst.symbol]
        now = ex.now_ms()
        day = history.window(now)
        last = history.last
        bid, ask = engine.book.bids.best(), engine.book.asks.best()
        pdp, qdp = inst.price_decimals, inst.qty_decimals
        last_price = last.price if last is not None else ZERO
        opened = day.open if day is not None else last_price
        change = last_price - opened
        data = {
            "symbol": wire.ws_symbol(inst),
            "bid": Num(bid.price if bid else ZERO, pdp),
            "bid_qty": Num(bid.total if bid else ZERO, qdp),
            "ask": Num(ask.price if ask else ZERO, pdp),
            "ask_qty": Num(ask.total if ask else ZERO, qdp),
            "last": Num(last_price, pdp),
            "volume": Num(day.volume if day else ZERO, qdp),
            "vwap": Num(_vwap(day, inst), pdp),
            "low": Num(day.low if day else last_price, pdp),
            "high": Num(day.high if day else last_price, pdp),
            "change": Num(change, pdp),
            "change_pct": Num(
                (change * 100 / opened).quantize(Decimal("0.01")) if opened else ZERO, 2
            ),
            "timestamp": wire.timestamp(now),
        }
        return wire.encode({"channel": "ticker", "type": kind, "data": [data]})

    def _trade_message(self, kind: str, inst: Instrument, trades: list[TradeEvent]) -> str:
        data = [
            {
                "symbol": wire.ws_symbol(inst),
                "side": "buy" if t.taker_side is Side.BUY else "sell",
                "price": Num(t.price, inst.price_decimals),
                "qty": Num(t.qty, inst.qty_decimals),
                "ord_type": taker_order_type(self.dialect, t),
                "trade_id": t.trade_id,
                "timestamp": wire.timestamp(t.time_ms),
            }
            for t in trades
        ]
        return wire.encode({"channel": "trade", "type": kind, "data": data})

    def _candles(self, inst: Instrument, interval: int) -> list[Candle]:
        return self.exchange.history[inst.symbol].candles(INTERVALS[interval], None, None, 100_000)

    def _ohlc_message(
        self, kind: str, inst: Instrument, interval: int, candles: list[Candle]
    ) -> str:
        pdp = inst.price_decimals
        now = wire.timestamp(self.exchange.now_ms())
        data = [
            {
                "symbol": wire.ws_symbol(inst),
                "open": Num(c.open, pdp),
                "high": Num(c.high, pdp),
                "low": Num(c.low, pdp),
                "close": Num(c.close, pdp),
                "trades": c.trades,
                "volume": Num(c.volume, inst.qty_decimals),
                "vwap": Num(_vwap(c, inst), pdp),
                "interval_begin": wire.timestamp(c.open_time),
                "interval": interval,
                "timestamp": now,
            }
            for c in candles
        ]
        return wire.encode({"channel": "ohlc", "type": kind, "timestamp": now, "data": data})


def _vwap(candle: Candle | None, inst: Instrument) -> Decimal:
    if candle is None or not candle.volume:
        return ZERO
    return (candle.quote_volume / candle.volume).quantize(Decimal(1).scaleb(-inst.price_decimals))
