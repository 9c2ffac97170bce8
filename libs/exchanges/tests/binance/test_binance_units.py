"""Binance pieces without a network: weight budget, ticker merging, wire parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from eip.exchanges.binance.weights import WEIGHTS, WeightLimiter
from eip.exchanges.binance.wire import TickerMerger, agg_trade, kline
from eip.exchanges.machinery.health import StreamHealth

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_weight_budget_waits_for_the_next_minute() -> None:
    clock = Clock(6_000.0)  # the start of a minute
    limiter = WeightLimiter(limit_per_minute=10, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        await limiter.acquire("/api/v3/klines")  # weight 2
    assert limiter.used == 10
    assert limiter.headroom() == 0.0
    await limiter.acquire("/api/v3/klines")
    assert clock.slept
    assert clock.now >= 6_060
    assert limiter.used == 2


async def test_venue_count_and_retry_after_override_the_estimate() -> None:
    clock = Clock(6_000.0)
    limiter = WeightLimiter(limit_per_minute=100, clock=clock, sleep=clock.sleep)
    limiter.configure(
        {
            "rateLimits": [
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 5},
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 1200,
                },
            ]
        }
    )
    assert limiter.limit == 1200
    limiter.observe({"x-mbx-used-weight-1m": "900"})
    assert limiter.headroom() == pytest.approx(0.25)
    limiter.block(7.5)
    assert limiter.headroom() == 0.0
    await limiter.acquire("/api/v3/aggTrades")
    assert clock.slept == [7.5]
    assert limiter.used == 900 + WEIGHTS["/api/v3/aggTrades"]


def test_agg_trade_side_and_exact_decimals() -> None:
    raw = {"a": 26129, "p": "0.01633102", "q": "4.70443515", "T": 1498793709153, "m": True}
    trade = agg_trade("BNB/BTC", raw, NOW)
    assert trade.trade_id == "26129"
    assert trade.price == Decimal("0.01633102")
    assert trade.amount == Decimal("4.70443515")
    assert trade.taker_side == "sell"  # the buyer was the maker
    assert trade.exchange_time == datetime(2017, 6, 30, 3, 35, 9, 153000, tzinfo=UTC)
    with pytest.raises(ValueError, match="decimal string"):
        agg_trade("BNB/BTC", {**raw, "p": 0.1}, NOW)


def test_kline_row() -> None:
    row = [
        1499040000000,
        "0.01634790",
        "0.80000000",
        "0.01575800",
        "0.01577100",
        "148976.11427815",
        1499644799999,
        "2434.19055334",
        308,
        "1756.87402397",
        "28.46694368",
        "0",
    ]
    candle = kline("BNB/BTC", "1d", row)
    assert candle.open == Decimal("0.01634790")
    assert candle.high == Decimal("0.80000000")
    assert candle.close == Decimal("0.01577100")
    assert candle.base_volume == Decimal("148976.11427815")
    assert candle.quote_volume == Decimal("2434.19055334")
    assert candle.trade_count == 308
    assert candle.open_time == datetime(2017, 7, 3, tzinfo=UTC)


def test_ticker_merger_prefers_book_ticker_top_of_book() -> None:
    merger = TickerMerger("BNB/USDT")
    day = {
        "E": 1672515782136,
        "c": "0.0025",
        "o": "0.0010",
        "h": "0.0025",
        "l": "0.0010",
        "v": "10000",
        "q": "18",
        "b": "0.0024",
        "B": "10",
        "a": "0.0026",
        "A": "100",
    }
    first = merger.on_day(day, NOW)
    assert first.bid == Decimal("0.0024")
    assert first.last == Decimal("0.0025")
    assert first.exchange_time is not None
    book = {"u": 400900217, "s": "BNBUSDT", "b": "25.35190000", "B": "31.21000000"}
    book |= {"a": "25.36520000", "A": "40.66000000"}
    second = merger.on_book(book, NOW)
    assert second.bid == Decimal("25.35190000")
    assert second.ask_size == Decimal("40.66000000")
    assert second.last == Decimal("0.0025")  # statistics kept
    assert second.exchange_time is None  # bookTicker has no event time
    third = merger.on_day(day, NOW)
    assert third.bid == Decimal("25.35190000")  # the 24 h ticker's slower top does not win
    older = merger.on_book({**book, "u": 400900000, "b": "1"}, NOW)
    assert older.bid == Decimal("25.35190000")  # an out-of-order bookTicker is ignored


def test_health_staleness_alarm_raises_and_clears() -> None:
    clock = Clock(0.0)
    health = StreamHealth("unit-test", stale_after_s=5, clock=clock)
    health.set_connected(True)
    health.message()
    clock.now = 4
    assert not health.check_stale(subscribed=True)
    clock.now = 10
    assert health.check_stale(subscribed=True)
    status = health.status(circuit_open=False, headroom=None)
    assert status.stale
    assert status.last_message_age_s == 10
    health.message()
    assert not health.status(circuit_open=False, headroom=None).stale
    clock.now = 100
    assert not health.check_stale(subscribed=False)  # nothing subscribed: nothing to miss
