from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from eip.exchanges.contract.market_data import TIMEFRAMES, Trade
from eip.market_data.candles.builder import Candle, CandleBuilder, CandleKey, interval_start
from eip.market_data.candles.restore import RestoreState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def trade(seconds: float, price: str, amount: str = "1", trade_id: str = "1") -> Trade:
    when = T0 + timedelta(seconds=seconds)
    return Trade(
        "binance", "BTC/USDT", trade_id, Decimal(price), Decimal(amount), "buy", when, when
    )


def test_interval_start_aligns_to_the_timeframe() -> None:
    t = datetime(2026, 1, 1, 13, 47, 12, 500_000, tzinfo=UTC)
    assert interval_start(t, "1m") == datetime(2026, 1, 1, 13, 47, tzinfo=UTC)
    assert interval_start(t, "15m") == datetime(2026, 1, 1, 13, 45, tzinfo=UTC)
    assert interval_start(t, "4h") == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert interval_start(t, "1d") == datetime(2026, 1, 1, tzinfo=UTC)


def test_in_progress_updates_are_marked_and_throttled() -> None:
    b = CandleBuilder(timeframes=("1m",), update_interval_s=1.0)
    first = b.add(trade(1, "100"), now=10.0)
    assert [(c.closed, c.close) for c in first] == [(False, Decimal("100"))]
    assert b.add(trade(2, "101"), now=10.5) == []  # within the throttle interval
    later = b.add(trade(3, "99"), now=11.0)
    assert [(c.closed, c.high, c.low, c.trade_count) for c in later] == [
        (False, Decimal("101"), Decimal("99"), 3)
    ]


def test_the_watermark_closes_a_candle_once_and_a_later_trade_alone_does_not() -> None:
    b = CandleBuilder(timeframes=("1m",), update_interval_s=0, close_grace_s=2)
    b.add(trade(1, "100", "2"), now=0)
    b.add(trade(30, "102", "1"), now=0)
    out = b.add(trade(61, "105"), now=0)
    assert [c.closed for c in out] == [False]  # the next minute opens; the first stays open
    assert b.close_due(T0 + timedelta(seconds=61.9)) == []  # within the grace period
    closed = b.close_due(T0 + timedelta(seconds=62))
    assert len(closed) == 1
    c = closed[0]
    assert (c.closed, c.open, c.high, c.low, c.close) == (
        True,
        Decimal(100),
        Decimal(102),
        Decimal(100),
        Decimal(102),
    )
    assert c.base_volume == Decimal(3)
    assert c.quote_volume == Decimal(302)
    assert c.trade_count == 2
    assert b.close_due(T0 + timedelta(seconds=119)) == []  # the next one is still open


def test_a_trade_stamped_before_the_newest_open_candle_counts_while_its_interval_is_open() -> None:
    """A venue clock running ahead jumps back: its next trades belong to an earlier interval,
    which the watermark (never ahead of our clock) has not closed."""
    b = CandleBuilder(timeframes=("1m",), update_interval_s=0, close_grace_s=2)
    b.add(trade(125, "100"), now=0)  # stamped 2 minutes ahead
    b.add(trade(70, "90"), now=0)  # the skew is over: an earlier interval, still open
    b.add(trade(130, "101"), now=0)
    assert b.late_trades == 0
    closed = b.close_due(T0 + timedelta(minutes=5))
    assert [(c.open_time, c.open, c.close, c.trade_count) for c in closed] == [
        (T0 + timedelta(minutes=1), Decimal(90), Decimal(90), 1),
        (T0 + timedelta(minutes=2), Decimal(100), Decimal(101), 2),
    ]


def test_the_wall_clock_closes_quiet_candles_and_late_trades_never_reopen() -> None:
    b = CandleBuilder(timeframes=("1m",), update_interval_s=0, close_grace_s=2)
    b.add(trade(10, "100"), now=0)
    assert b.close_due(T0 + timedelta(seconds=61)) == []  # within the grace period
    closed = b.close_due(T0 + timedelta(seconds=62))
    assert [(c.closed, c.open_time) for c in closed] == [(True, T0)]
    assert b.close_due(T0 + timedelta(seconds=600)) == []  # closed exactly once
    assert b.add(trade(20, "90"), now=0) == []  # late for a closed interval
    assert b.late_trades == 1
    assert b.current(CandleKey("binance", "BTC/USDT", "1m")) is None


def test_restore_keeps_closed_intervals_closed_and_resumes_the_open_candle() -> None:
    key = CandleKey("binance", "BTC/USDT", "1m")
    d = Decimal
    closed = Candle(key, T0, d(1), d(2), d(1), d(2), d(1), d(2), 2, closed=True)
    open_ = Candle(key, T0 + timedelta(minutes=1), d(5), d(6), d(5), d(6), d(2), d(11), 2)
    b = CandleBuilder(timeframes=("1m",), update_interval_s=0)
    b.restore([open_, closed])
    assert b.add(trade(30, "3"), now=0) == []  # its interval was closed before the restart
    out = b.add(trade(70, "7"), now=0)
    assert [(c.closed, c.open, c.high, c.trade_count) for c in out] == [(False, d(5), d(7), 3)]


Ohlcv = tuple[Decimal, Decimal, Decimal, Decimal, Decimal, Decimal, int]


def ohlcv_of(closed: list[Candle]) -> dict[tuple[str, datetime], Ohlcv]:
    """Each closed candle's figures by (timeframe, open time); fails on one closed twice."""
    got: dict[tuple[str, datetime], Ohlcv] = {
        (c.key.timeframe, c.open_time): (
            c.open, c.high, c.low, c.close, c.base_volume, c.quote_volume, c.trade_count,
        )
        for c in closed
    }  # fmt: skip
    assert len(got) == len(closed), "an interval closed twice"
    return got


def naive_ohlcv(trades: list[Trade]) -> dict[tuple[str, datetime], Ohlcv]:
    """The trades grouped by the interval of their venue time, in the order given."""
    groups: dict[tuple[str, datetime], list[Trade]] = {}
    for tf in TIMEFRAMES:
        for t in trades:
            assert t.exchange_time is not None
            groups.setdefault((tf, interval_start(t.exchange_time, tf)), []).append(t)
    return {
        k: (
            ts[0].price,
            max(t.price for t in ts),
            min(t.price for t in ts),
            ts[-1].price,
            sum((t.amount for t in ts), Decimal(0)),
            sum((t.amount * t.price for t in ts), Decimal(0)),
            len(ts),
        )
        for k, ts in groups.items()
    }


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)
amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("50"), places=4)
trade_lists = st.lists(
    st.tuples(st.integers(min_value=0, max_value=3 * 86_400), prices, amounts), max_size=60
)


@settings(max_examples=150, deadline=None)
@given(trade_lists)
def test_ohlcv_of_any_trade_sequence_equals_a_naive_computation(
    raw: list[tuple[int, Decimal, Decimal]],
) -> None:
    trades = [
        trade(s, str(p), str(a), str(i))
        for i, (s, p, a) in enumerate(sorted(raw, key=lambda r: r[0]))
    ]
    b = CandleBuilder(update_interval_s=3600)
    published: list[Candle] = []
    for t in trades:
        published += b.add(t, now=0)
    published += b.close_due(T0 + timedelta(days=10))
    closed = [c for c in published if c.closed]
    # each (timeframe, interval) closed exactly once, and nothing stays open
    assert b.open_candles() == []
    assert ohlcv_of(closed) == naive_ohlcv(trades)
    assert all(not c.closed for c in published if c not in closed)


def test_after_restore_replayed_trades_inside_the_open_candle_are_not_counted_twice() -> None:
    b = CandleBuilder(timeframes=("1m",), update_interval_s=0)
    first = [trade(1, "100"), trade(2, "101"), trade(3, "102")]
    published = [c for t in first for c in b.add(t, now=0)]
    restored = CandleBuilder(timeframes=("1m",), update_interval_s=0)
    restored.restore([published[1]])  # the last update that reached the topic: two trades
    out = restored.add(first[1], now=0) + restored.add(first[2], now=0)
    assert [(c.trade_count, c.close) for c in out] == [(3, Decimal(102))]


def test_a_closed_record_after_an_open_one_clears_the_resume_point() -> None:
    key = CandleKey("binance", "BTC/USDT", "1m")
    d = Decimal
    when = T0 + timedelta(seconds=30)
    open_ = Candle(key, T0, d(1), d(1), d(1), d(1), d(1), d(1), 1, False, when, when)
    closed = Candle(key, T0, d(1), d(1), d(1), d(1), d(1), d(1), 1, True, when, when)
    b = CandleBuilder(timeframes=("1m",), update_interval_s=0)
    b.restore([open_, closed])
    assert b.add(trade(20, "5"), now=0) == []
    assert b.late_trades == 1


def test_a_restore_by_position_skips_exactly_the_trades_it_holds() -> None:
    """Several trades share a millisecond: the position, not the time, tells which of them the
    restored candle already holds."""
    b = CandleBuilder(timeframes=("1m",), update_interval_s=0)
    same_ms = [trade(5, "100", trade_id="a"), trade(5, "101", trade_id="b")]
    published = b.add(same_ms[0], now=0, position=(3, 40))
    assert [c.position for c in published] == [(3, 40)]
    restored = CandleBuilder(timeframes=("1m",), update_interval_s=0)
    restored.restore(published)
    # replayed from an older commit: offset 40 is held, offset 41 (same time) is new
    assert restored.add(same_ms[0], now=0, position=(3, 40)) == []
    out = restored.add(same_ms[1], now=0, position=(3, 41))
    assert [(c.trade_count, c.close, c.position) for c in out] == [(2, Decimal(101), (3, 41))]
    # the same time without positions (records published before them) is skipped by time
    by_time = CandleBuilder(timeframes=("1m",), update_interval_s=0)
    published[0].position = None
    by_time.restore(published)
    assert by_time.add(same_ms[1], now=0) == []


def test_a_replayed_trade_of_a_closed_interval_is_skipped_not_late() -> None:
    b = CandleBuilder(timeframes=("1m",), update_interval_s=0)
    b.add(trade(1, "100"), now=0, position=(0, 7))
    b.add(trade(61, "101"), now=0, position=(0, 8))
    closed = b.close_due(T0 + timedelta(seconds=62))
    assert [c.open_time for c in closed] == [T0]
    restored = CandleBuilder(timeframes=("1m",), update_interval_s=0)
    restored.restore(closed)
    assert restored.add(trade(1, "100"), now=0, position=(0, 7)) == []
    assert restored.late_trades == 0


def test_dropping_keys_returns_their_open_candles_and_forgets_them() -> None:
    b = CandleBuilder(timeframes=("1m",), update_interval_s=0)
    b.add(trade(1, "100"), now=0, position=(0, 1))
    other = Trade("kraken", "ETH/EUR", "9", Decimal(7), Decimal(1), None, T0, T0)
    b.add(other, now=0, position=(1, 1))
    gone = b.drop(lambda key: key.exchange == "kraken")
    assert [(c.key.symbol, c.closed, c.trade_count) for c in gone] == [("ETH/EUR", False, 1)]
    assert [k.exchange for k in b.held_keys()] == ["binance"]
    # nothing of the dropped key is closed by the wall clock any more
    assert [c.key.exchange for c in b.close_due(T0 + timedelta(days=2))] == ["binance"]


def test_an_update_held_back_by_the_throttle_goes_out_once_it_allows() -> None:
    b = CandleBuilder(timeframes=("1m",), update_interval_s=1.0)
    b.add(trade(1, "100"), now=10.0)
    assert b.add(trade(2, "101"), now=10.2) == []  # held back
    assert b.held_back_updates(now=10.5) == []  # not yet
    [update] = b.held_back_updates(now=11.0)
    assert (update.closed, update.trade_count, update.close) == (False, 2, Decimal(101))
    assert b.held_back_updates(now=20.0) == []  # nothing new since
    b.add(trade(3, "102"), now=20.1)  # published at once: nothing held back
    assert b.held_back_updates(now=30.0) == []
    b.add(trade(4, "103"), now=20.2)
    b.close_due(T0 + timedelta(minutes=5))  # closing publishes everything
    assert b.held_back_updates(now=30.0) == []


def test_the_oldest_unpublished_trade_bounds_what_may_be_committed() -> None:
    b = CandleBuilder(timeframes=("1m",), update_interval_s=1.0)
    everything = lambda _: True  # noqa: E731
    [first] = b.add(trade(1, "100"), now=10.0, position=(0, 5))
    assert (first.since, b.unpublished_from(everything)) == (5, None)
    b.add(trade(2, "101"), now=10.1, position=(0, 6))  # held back
    b.add(trade(3, "102"), now=10.2, position=(0, 7))
    assert b.unpublished_from(everything) == 6
    assert b.unpublished_from(lambda key: key.exchange == "kraken") is None
    [update] = b.held_back_updates(now=11.0)
    assert (update.trade_count, update.since) == (3, 6)  # pending until Kafka acknowledges it
    assert b.unpublished_from(everything) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4 * 3600), st.integers(1, 50)), min_size=1, max_size=60),
    st.integers(0, 4 * 3600),
)
def test_restoring_from_the_newest_records_per_key_equals_restoring_from_all(
    raw: list[tuple[int, int]], close_at: int
) -> None:
    """What the restore keeps of a day of records (``RestoreState``) gives the same builder
    state as every record would."""
    b = CandleBuilder(update_interval_s=0)
    published: list[Candle] = []
    for i, (s, p) in enumerate(sorted(raw)):
        published += b.add(trade(s, str(p), "1", str(i)), now=float(i), position=(0, i))
        if s >= close_at:
            published += b.close_due(T0 + timedelta(seconds=close_at))
    state = RestoreState()
    for candle in published:
        state.add(candle)
    everything, newest = CandleBuilder(), CandleBuilder()
    everything.restore(published)
    newest.restore(state.candles())
    assert newest._slots == everything._slots


# A venue clock offset over time, in seconds: constant, or a step up and back (a skew that
# starts and ends) — every shape a venue's stamps may take short of falling behind our clock
# while running.
offset_shapes = st.one_of(
    st.integers(-300, 0).map(lambda off: lambda t: off),
    st.tuples(st.integers(0, 600), st.integers(1, 900), st.integers(1, 300)).map(
        lambda spec: lambda t: spec[2] if spec[0] <= t < spec[0] + spec[1] else 0
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1800), prices, amounts), min_size=1, max_size=80),
    offset_shapes,
    st.integers(0, 3),
)
def test_a_watermark_never_ahead_of_our_clock_drops_no_trade_whatever_the_venue_offset(
    raw: list[tuple[int, Decimal, Decimal]], offset: Any, delay: int
) -> None:
    """Trades arrive in the order they were made (``delay`` seconds later), stamped by a venue
    whose clock is off by ``offset(t)``; after each one the watermark of candles/stream.py
    (the market's latest stamp, never ahead of our clock) closes what it may. Every trade
    lands in exactly one closed candle per timeframe, equal to a naive rebuild: the trades
    grouped by the interval of their stamp, in the order they were made."""
    b = CandleBuilder(update_interval_s=3600, close_grace_s=2)
    trades: list[Trade] = []
    closed: list[Candle] = []
    for i, (t, p, a) in enumerate(sorted(raw, key=lambda r: r[0])):
        stamped = T0 + timedelta(seconds=t + offset(t))
        arrived = T0 + timedelta(seconds=t + delay)
        made = Trade("binance", "BTC/USDT", str(i), p, a, "buy", stamped, arrived)
        trades.append(made)
        closed += [c for c in b.add(made, now=0) if c.closed]
        closed += b.close_due(min(stamped, arrived))
    closed += b.close_due(T0 + timedelta(days=3))
    assert b.late_trades == 0
    assert b.open_candles() == []
    assert ohlcv_of(closed) == naive_ohlcv(trades)
