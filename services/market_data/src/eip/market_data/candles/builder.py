"""OHLCV candles of every timeframe from a stream of trades, as pure state.

A trade belongs to the interval of its *venue* time (``exchange_time``; the received time when
the venue sends none). Candles are closed by a **watermark** the caller computes per key
(``close_due``): every open candle whose interval ended ``close_grace_s`` before the watermark
closes, and everything before it is closed for good. A closed candle is final: a trade for an
interval that has already closed (for any timeframe) is *late*: counted, reported, part of no
candle, and never reopens one. Intervals without trades produce no candle.

What is subtle: several candles of one key may be open at once. A trade does not close the
candle before it: when a venue's clock jumps back (a skew of +120 s that ends), its next trades
belong to intervals before the newest open one, and those must still be open to count them.
The caller's watermark decides when an interval is complete (see ``candles/stream.py``: the
venue's own time progress, never ahead of our clock).

Each candle remembers the position (trades partition, offset) of the newest trade folded in, so
that state restored from published candles skips exactly the replayed trades it already holds:
per open interval by the position of its restored record, and for closed intervals by the
newest position of any restored record of the key (a replayed trade there was counted, or
counted late, before the restart).
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
class _Open:
    """One open candle and what publishing it needs."""

    candle: Candle
    last_published: float = float("-inf")  # monotonic time of the last in-progress update
    held_back: bool = False  # it has trades its last published version lacks
    unpublished_from: int | None = None  # offset of the oldest of those trades
    # After a restore: trades already folded into the restored record (the consumer replays
    # records after its last commit) are skipped, not counted twice: by position when the
    # record carries one, else (records published before positions) by time.
    resume_position: Position | None = None
    resume_after: datetime | None = None


@dataclass(slots=True)
class _Slot:
    open: dict[datetime, _Open] = field(default_factory=dict)  # by open time
    closed_until: datetime | None = None  # every interval before this instant is closed
    # The newest position of any restored record of the key: a replayed trade of a closed
    # interval at or before it was counted (or counted late) before the restart.
    replay_mark: Position | None = None


Watermark = datetime | Callable[[CandleKey], datetime | None]
"""One instant for every key, or a function giving each key's (None: nothing to close)."""


@dataclass
class CandleBuilder:
    timeframes: tuple[Timeframe, ...] = TIMEFRAMES
    update_interval_s: float = 1.0
    close_grace_s: float = 2.0
    late_trades: int = 0
    _slots: dict[CandleKey, _Slot] = field(default_factory=dict)

    def add(self, trade: Trade, now: float, position: Position | None = None) -> list[Candle]:
        """Fold one trade in; returns the in-progress versions to publish.

        ``now`` is a monotonic clock reading that throttles in-progress updates; ``position``
        is the trade's place in md.trades.v1. Nothing is closed here (``close_due`` does).
        """
        when = trade_time(trade)
        plan: list[tuple[CandleKey, _Slot, datetime, _Open | None]] = []
        for timeframe in self.timeframes:
            key = CandleKey(trade.exchange, trade.symbol, timeframe)
            slot = self._slots.setdefault(key, _Slot())
            start = interval_start(when, timeframe)
            if slot.closed_until is not None and start < slot.closed_until:
                if _replayed(slot.replay_mark, position):
                    continue  # counted before the restart (or counted late then)
                # Late for at least one timeframe: counted in none, so every timeframe's
                # candles stay the rollup of the same trades.
                self.late_trades += 1
                return []
            entry = slot.open.get(start)
            if entry is not None and _already_folded(entry, when, position):
                continue
            plan.append((key, slot, start, entry))
        out: list[Candle] = []
        for key, slot, start, entry in plan:
            if entry is None:
                entry = slot.open[start] = _Open(
                    Candle(
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
                )
            entry.resume_after = entry.resume_position = None
            current = entry.candle
            current.high = max(current.high, trade.price)
            current.low = min(current.low, trade.price)
            current.close = trade.price
            current.base_volume += trade.amount
            current.quote_volume += trade.amount * trade.price
            current.trade_count += 1
            current.exchange_time = trade.exchange_time
            current.received_time = trade.received_time
            current.position = position
            if position is not None and entry.unpublished_from is None:
                entry.unpublished_from = position[1]
            if now - entry.last_published >= self.update_interval_s:
                entry.last_published = now
                out.append(_emit(entry, current.snapshot()))
            else:
                entry.held_back = True
        return out

    def held_back_updates(self, now: float) -> list[Candle]:
        """In-progress versions the throttle held back, once it allows them: a candle's last
        trades reach the topic within about ``update_interval_s`` even when no trade follows
        (so the topic, which a restore starts from, lags the state by no more than that)."""
        out = []
        for slot in self._slots.values():
            for entry in slot.open.values():
                if entry.held_back and now - entry.last_published >= self.update_interval_s:
                    entry.last_published = now
                    out.append(_emit(entry, entry.candle.snapshot()))
        return out

    def close_due(
        self, watermark: Watermark, which: Callable[[CandleKey], bool] = lambda _: True
    ) -> list[Candle]:
        """Close every open candle (of the keys ``which`` selects) whose interval ended
        ``close_grace_s`` before its key's watermark, oldest first; the intervals before the
        newest one closed are closed for good."""
        grace = timedelta(seconds=self.close_grace_s)
        out = []
        for key, slot in self._slots.items():
            if not slot.open or not which(key):
                continue
            mark = watermark(key) if callable(watermark) else watermark
            if mark is None:
                continue
            for start in sorted(slot.open):
                entry = slot.open[start]
                if entry.candle.close_time + grace > mark:
                    break  # the later ones end later still
                out.append(self._close(slot, start))
        return out

    def restore(self, candles: Iterable[Candle]) -> None:
        """Resume from published state (after a restart or when a partition moves here):
        closed candles mark their intervals done (never closed twice); the newest record of
        each interval still open becomes an open candle again. ``candles`` are in publication
        order per key."""
        for candle in sorted(candles, key=lambda c: c.open_time):  # stable: keeps that order
            slot = self._slots.setdefault(candle.key, _Slot())
            if candle.position is not None and (
                slot.replay_mark is None or candle.position > slot.replay_mark
            ):
                slot.replay_mark = candle.position
            if candle.closed:
                slot.closed_until = max(slot.closed_until or candle.close_time, candle.close_time)
                for start in [s for s in slot.open if s < slot.closed_until]:
                    del slot.open[start]
            elif slot.closed_until is None or candle.open_time >= slot.closed_until:
                slot.open[candle.open_time] = _Open(
                    candle.snapshot(closed=False),
                    resume_position=candle.position,
                    resume_after=None
                    if candle.position is not None
                    else candle.exchange_time or candle.received_time,
                )

    def drop(self, which: Callable[[CandleKey], bool]) -> list[Candle]:
        """Forget the keys ``which`` selects (their partition moved away); returns their open
        candles as they stand, for a last in-progress update."""
        gone = [key for key in self._slots if which(key)]
        out = []
        for key in gone:
            slot = self._slots.pop(key)
            for start in sorted(slot.open):
                entry = slot.open[start]
                out.append(_emit(entry, entry.candle.snapshot()))
        return out

    def unpublished_from(self, which: Callable[[CandleKey], bool]) -> int | None:
        """The oldest offset among the trades of the keys ``which`` selects that no emitted
        version holds (None: every trade folded in was emitted)."""
        marks = [
            entry.unpublished_from
            for key, slot in self._slots.items()
            if which(key)
            for entry in slot.open.values()
            if entry.unpublished_from is not None
        ]
        return min(marks, default=None)

    def held_keys(self) -> list[CandleKey]:
        return list(self._slots)

    def open_candles(self) -> list[Candle]:
        return [
            entry.candle.snapshot()
            for slot in self._slots.values()
            for _, entry in sorted(slot.open.items())
        ]

    def current(self, key: CandleKey) -> Candle | None:
        """The newest open candle of ``key``."""
        slot = self._slots.get(key)
        if slot is None or not slot.open:
            return None
        return slot.open[max(slot.open)].candle.snapshot()

    @staticmethod
    def _close(slot: _Slot, start: datetime) -> Candle:
        entry = slot.open.pop(start)
        candle = entry.candle
        slot.closed_until = max(slot.closed_until or candle.close_time, candle.close_time)
        candle.closed = True
        return _emit(entry, candle)


def _emit(entry: _Open, candle: Candle) -> Candle:
    """``candle`` leaves the builder to be published: it now carries what was unpublished."""
    candle.since = entry.unpublished_from
    entry.unpublished_from = None
    entry.held_back = False
    return candle


def _replayed(mark: Position | None, position: Position | None) -> bool:
    return (
        mark is not None
        and position is not None
        and mark[0] == position[0]
        and (position[1] <= mark[1])
    )


def _already_folded(entry: _Open, when: datetime, position: Position | None) -> bool:
    mark = entry.resume_position
    if mark is not None and position is not None and mark[0] == position[0]:
        return position[1] <= mark[1]
    return entry.resume_after is not None and when <= entry.resume_after
