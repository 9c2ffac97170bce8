"""OHLCV candles of every timeframe from a stream of trades, as pure state.

One candle per (exchange, symbol, timeframe) is open at a time. A trade in a later interval
closes it; so does the wall clock once the interval's end plus a grace period has passed
(``close_due``), so quiet markets still close candles. A closed candle is final: a trade for an
interval that has already closed (for any timeframe) is *late*: counted, reported, part of no
candle, and never reopens one.
Intervals without trades produce no candle.

Each candle remembers the position (trades partition, offset) of the newest trade folded in, so
that state restored from published candles skips exactly the replayed trades it already holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from eip.exchanges.contract.market_data import TIMEFRAME_SECONDS, TIMEFRAMES, Timeframe, Trade

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def interval_start(time: datetime, timeframe: Timeframe) -> datetime:
    """The start of the interval holding ``time`` (aligned to the Unix epoch, UTC)."""
    seconds = TIMEFRAME_SECONDS[timeframe]
    elapsed = int((time - EPOCH) // timedelta(seconds=1))
    return EPOCH + timedelta(seconds=elapsed - elapsed % seconds)


@dataclass(frozen=True, slots=True)
class CandleKey:
    exchange: str
    symbol: str
    timeframe: Timeframe


@dataclass(slots=True)
class Candle:
    key: CandleKey
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    base_volume: Decimal
    quote_volume: Decimal
    trade_count: int
    closed: bool = False
    # the newest trade's times: the candle's freshness
    exchange_time: datetime | None = None
    received_time: datetime | None = None
    # (partition, offset) of the newest trade in md.trades.v1, when it came from there
    position: Position | None = None
    # offset of the oldest trade in this version that no earlier version emitted holds: while
    # this version is unpublished, offsets from here on must not be committed
    since: int | None = None

    @property
    def close_time(self) -> datetime:
        return self.open_time + timedelta(seconds=TIMEFRAME_SECONDS[self.key.timeframe])

    def snapshot(self, closed: bool | None = None) -> Candle:
        c = Candle(
            self.key,
            self.open_time,
            self.open,
            self.high,
            self.low,
            self.close,
            self.base_volume,
            self.quote_volume,
            self.trade_count,
            self.closed if closed is None else closed,
            self.exchange_time,
            self.received_time,
            self.position,
        )
        return c


def trade_time(trade: Trade) -> datetime:
    """The time a trade belongs to: the exchange's when it sends one."""
    return trade.exchange_time or trade.received_time


Position = tuple[int, int]
"""Where a trade sits in md.trades.v1: (partition, offset)."""


@dataclass(slots=True)
class _Slot:
    current: Candle | None = None
    closed_until: datetime | None = None  # every interval before this instant is closed
    last_published: float = float("-inf")  # monotonic time of the last in-progress update
    held_back: bool = False  # the open candle has trades its last published version lacks
    unpublished_from: int | None = None  # offset of the oldest of those trades
    # After a restore: trades already folded into the restored state (the consumer replays
    # records after its last commit) are skipped, not counted twice: by position when the
    # restored record carries one, else (records published before positions) by time.
    resume_position: Position | None = None
    resume_after: datetime | None = None


@dataclass
class CandleBuilder:
    timeframes: tuple[Timeframe, ...] = TIMEFRAMES
    update_interval_s: float = 1.0
    close_grace_s: float = 2.0
    late_trades: int = 0
    _slots: dict[CandleKey, _Slot] = field(default_factory=dict)

    def add(self, trade: Trade, now: float, position: Position | None = None) -> list[Candle]:
        """Fold one trade in; returns the candles to publish (closed ones first).

        ``now`` is a monotonic clock reading that throttles in-progress updates; ``position``
        is the trade's place in md.trades.v1.
        """
        when = trade_time(trade)
        plan: list[tuple[CandleKey, _Slot, datetime]] = []
        for timeframe in self.timeframes:
            key = CandleKey(trade.exchange, trade.symbol, timeframe)
            slot = self._slots.setdefault(key, _Slot())
            if _already_folded(slot, when, position):
                continue
            start = interval_start(when, timeframe)
            current = slot.current
            if (slot.closed_until is not None and start < slot.closed_until) or (
                current is not None and start < current.open_time
            ):
                # Late for at least one timeframe: counted in none, so every timeframe's
                # candles stay the rollup of the same trades.
                self.late_trades += 1
                return []
            plan.append((key, slot, start))
        out: list[Candle] = []
        for key, slot, start in plan:
            slot.resume_after = slot.resume_position = None
            current = slot.current
            if current is not None and start > current.open_time:
                out.append(self._close(slot, current))
                current = None
            if current is None:
                slot.current = current = Candle(
                    key,
                    start,
                    trade.price,
                    trade.price,
                    trade.price,
                    trade.price,
                    Decimal(0),
                    Decimal(0),
                    0,
                )
            current.high = max(current.high, trade.price)
            current.low = min(current.low, trade.price)
            current.close = trade.price
            current.base_volume += trade.amount
            current.quote_volume += trade.amount * trade.price
            current.trade_count += 1
            current.exchange_time = trade.exchange_time
            current.received_time = trade.received_time
            current.position = position
            if position is not None and slot.unpublished_from is None:
                slot.unpublished_from = position[1]
            if now - slot.last_published >= self.update_interval_s:
                slot.last_published = now
                out.append(_emit(slot, current.snapshot()))
            else:
                slot.held_back = True
        return out

    def held_back_updates(self, now: float) -> list[Candle]:
        """In-progress versions the throttle held back, once it allows them: a candle's last
        trades reach the topic within about ``update_interval_s`` even when no trade follows
        (so the topic, which a restore starts from, lags the state by no more than that)."""
        out = []
        for slot in self._slots.values():
            current = slot.current
            if (
                current is not None
                and slot.held_back
                and now - slot.last_published >= self.update_interval_s
            ):
                slot.last_published = now
                out.append(_emit(slot, current.snapshot()))
        return out

    def close_due(
        self, wall: datetime, which: Callable[[CandleKey], bool] = lambda _: True
    ) -> list[Candle]:
        """Close every open candle (of the keys ``which`` selects) whose interval ended
        ``close_grace_s`` before ``wall``."""
        grace = timedelta(seconds=self.close_grace_s)
        out = []
        for key, slot in self._slots.items():
            current = slot.current
            if current is not None and current.close_time + grace <= wall and which(key):
                out.append(self._close(slot, current))
        return out

    def restore(self, candles: Iterable[Candle]) -> None:
        """Resume from published state (after a restart or when a partition moves here):
        closed candles mark their intervals done (never closed twice); the newest open candle
        per key becomes current again. ``candles`` are in publication order per key."""
        for candle in sorted(candles, key=lambda c: c.open_time):  # stable: keeps that order
            slot = self._slots.setdefault(candle.key, _Slot())
            if candle.position is not None:
                slot.resume_position = candle.position
            if candle.closed:
                slot.closed_until = max(slot.closed_until or candle.close_time, candle.close_time)
                if slot.current is not None and slot.current.open_time < slot.closed_until:
                    slot.current = None
                    slot.resume_after = None
            elif slot.closed_until is None or candle.open_time >= slot.closed_until:
                slot.current = candle.snapshot(closed=False)
                slot.resume_after = (
                    None
                    if candle.position is not None
                    else candle.exchange_time or candle.received_time
                )

    def drop(self, which: Callable[[CandleKey], bool]) -> list[Candle]:
        """Forget the keys ``which`` selects (their partition moved away); returns their open
        candles as they stand, for a last in-progress update."""
        gone = [key for key in self._slots if which(key)]
        out = []
        for key in gone:
            slot = self._slots.pop(key)
            if slot.current is not None:
                out.append(_emit(slot, slot.current.snapshot()))
        return out

    def unpublished_from(self, which: Callable[[CandleKey], bool]) -> int | None:
        """The oldest offset among the trades of the keys ``which`` selects that no emitted
        version holds (None: every trade folded in was emitted)."""
        marks = [
            slot.unpublished_from
            for key, slot in self._slots.items()
            if slot.unpublished_from is not None and which(key)
        ]
        return min(marks, default=None)

    def held_keys(self) -> list[CandleKey]:
        return list(self._slots)

    def open_candles(self) -> list[Candle]:
        return [s.current.snapshot() for s in self._slots.values() if s.current is not None]

    def current(self, key: CandleKey) -> Candle | None:
        slot = self._slots.get(key)
        return None if slot is None or slot.current is None else slot.current.snapshot()

    @staticmethod
    def _close(slot: _Slot, candle: Candle) -> Candle:
        slot.current = None
        slot.closed_until = candle.close_time
        candle.closed = True
        return _emit(slot, candle)


def _emit(slot: _Slot, candle: Candle) -> Candle:
    """``candle`` leaves the builder to be published: it now carries what was unpublished."""
    candle.since = slot.unpublished_from
    slot.unpublished_from = None
    slot.held_back = False
    return candle


def _already_folded(slot: _Slot, when: datetime, position: Position | None) -> bool:
    mark = slot.resume_position
    if mark is not None and position is not None and mark[0] == position[0]:
        return position[1] <= mark[1]
    return slot.resume_after is not None and when <= slot.resume_after
