"""Trade history rolled into 1-minute candles; every longer interval and the 24 h ticker are
built from them on request, so memory stays bounded however many trades the market makes."""

from __future__ import annotations

import copy
from collections import OrderedDict, deque
from dataclasses import dataclass
from decimal import Decimal

from eip.exchange_simulator.core.engine import TradeEvent

ZERO = Decimal(0)
MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS

INTERVAL_MS = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
}


@dataclass
class Candle:
    open_time: int
    interval_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0
    taker_buy_volume: Decimal = ZERO
    taker_buy_quote_volume: Decimal = ZERO
    first_trade_id: int = -1
    last_trade_id: int = -1

    @property
    def close_time(self) -> int:
        return self.open_time + self.interval_ms - 1

    def add(self, trade: TradeEvent) -> None:
        self.high = max(self.high, trade.price)
        self.low = min(self.low, trade.price)
        self.close = trade.price
        self.volume += trade.qty
        self.quote_volume += trade.qty * trade.price
        self.trades += 1
        if not trade.buyer_is_maker:
            self.taker_buy_volume += trade.qty
            self.taker_buy_quote_volume += trade.qty * trade.price
        if self.first_trade_id < 0:
            self.first_trade_id = trade.trade_id
        self.last_trade_id = trade.trade_id


def _new(open_time: int, interval_ms: int, trade: TradeEvent) -> Candle:
    c = Candle(open_time, interval_ms, trade.price, trade.price, trade.price, trade.price)
    c.add(trade)
    return c


class TradeHistory:
    """Recent trades (for the trades endpoints) and 1 m candles (for klines and tickers)."""

    def __init__(self, max_trades: int = 20_000, max_minutes: int = 60 * 24 * 31) -> None:
        self.trades: deque[TradeEvent] = deque(maxlen=max_trades)
        self.minutes: OrderedDict[int, Candle] = OrderedDict()
        self.max_minutes = max_minutes

    def add(self, trade: TradeEvent) -> None:
        self.trades.append(trade)
        start = trade.time_ms - trade.time_ms % MINUTE_MS
        candle = self.minutes.get(start)
        if candle is None:
            self.minutes[start] = _new(start, MINUTE_MS, trade)
            while len(self.minutes) > self.max_minutes:
                self.minutes.popitem(last=False)
        else:
            candle.add(trade)

    @property
    def last(self) -> TradeEvent | None:
        return self.trades[-1] if self.trades else None

    def candles(
        self,
        interval: str,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
    ) -> list[Candle]:
        """Candles of ``interval`` with open time in [start, end], oldest first; at most limit
        (the newest ones when no start is given, like Binance)."""
        size = INTERVAL_MS[interval]
        merged: OrderedDict[int, Candle] = OrderedDict()
        for minute in self.minutes.values():
            open_time = minute.open_time - minute.open_time % size
            if start_ms is not None and open_time < start_ms - start_ms % size:
                continue
            if end_ms is not None and open_time > end_ms:
                continue
            bucket = merged.get(open_time)
            if bucket is None:
                merged[open_time] = _rolled_up(minute, open_time, size)
            else:
                _absorb(bucket, minute)
        out = list(merged.values())
        return out[:limit] if start_ms is not None else out[-limit:]

    def window(self, now_ms: int, span_ms: int = DAY_MS) -> Candle | None:
        """One candle summarising the trades of the last ``span_ms`` (the 24 h ticker)."""
        since = now_ms - span_ms
        summary: Candle | None = None
        for minute in self.minutes.values():
            if minute.open_time + MINUTE_MS <= since:
                continue
            if summary is None:
                summary = _rolled_up(minute, since, span_ms)
            else:
                _absorb(summary, minute)
        return summary


def _rolled_up(minute: Candle, open_time: int, interval_ms: int) -> Candle:
    """A longer candle that so far holds one minute."""
    rolled = copy.copy(minute)
    rolled.open_time, rolled.interval_ms = open_time, interval_ms
    return rolled


def _absorb(candle: Candle, minute: Candle) -> None:
    """Extend ``candle`` by the next minute in time."""
    candle.high = max(candle.high, minute.high)
    candle.low = min(candle.low, minute.low)
    candle.close = minute.close
    candle.volume += minute.volume
    candle.quote_volume += minute.quote_volume
    candle.trades += minute.trades
    candle.taker_buy_volume += minute.taker_buy_volume
    candle.taker_buy_quote_volume += minute.taker_buy_quote_volume
    candle.last_trade_id = minute.last_trade_id
