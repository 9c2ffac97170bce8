"""A venue's clock offset: estimated from its events, exported, alarmed on; and the candle
stage's watermark, which such an offset cannot fool (issue 11 §10)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY

from eip.bus import Record
from eip.events.topics import MD_CANDLES, MD_TRADES, TopicSpec
from eip.exchanges.contract.market_data import Trade
from eip.market_data.candles.builder import Candle, CandleKey
from eip.market_data.candles.stream import CandleStream
from eip.market_data.clock import ClockOffsetEstimator, VenueClocks
from eip.market_data.settings import MarketDataSettings
from eip.market_data.wire import trade_message

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_the_estimate_is_the_offset_less_the_smallest_delays_not_the_typical_one() -> None:
    clock = ClockOffsetEstimator()
    for i in range(200):
        received = T0 + timedelta(seconds=i * 0.1)
        delay = 0.005 + (i % 10) * 0.05  # 5 ms to 455 ms
        clock.add(received - timedelta(seconds=delay) + timedelta(seconds=120), received)
    offset = clock.estimate()
    assert offset is not None
    assert 119.9 < offset < 120.0  # 120 s minus the short delays, not minus the average


def test_late_events_and_a_few_bogus_stamps_do_not_move_the_estimate() -> None:
    clock = ClockOffsetEstimator()
    for i in range(100):
        received = T0 + timedelta(seconds=i * 0.1)
        clock.add(received - timedelta(milliseconds=20), received)
    for i in range(60):  # a burst delivered 40 s late (a stalled stream)
        received = T0 + timedelta(seconds=10 + i * 0.01)
        clock.add(received - timedelta(seconds=40), received)
    clock.add(T0 + timedelta(days=1), T0 + timedelta(seconds=11))  # one nonsense stamp
    offset = clock.estimate()
    assert offset is not None
    assert -0.05 < offset < 0


def test_the_estimate_follows_a_step_within_its_window_and_needs_a_few_samples() -> None:
    clock = ClockOffsetEstimator(window_s=60)
    clock.add(T0, T0)
    assert clock.estimate() is None  # one sample is no estimate
    for i in range(300):  # 0 s, then +120 s from the 150th second on
        received = T0 + timedelta(seconds=i)
        skew = 120 if i >= 150 else 0
        clock.add(received + timedelta(seconds=skew), received)
        if i == 149:
            before = clock.estimate()
            assert before is not None
            assert abs(before) < 0.01
    assert clock.estimate() == pytest.approx(120)


def sample(name: str, exchange: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"exchange": exchange})


def test_an_offset_above_the_threshold_is_exported_alarmed_once_and_cleared(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clocks = VenueClocks(alarm_s=2.0)
    exchange = "offset-test"
    alarms_before = sample("eip_md_venue_clock_offset_alarms_total", exchange) or 0
    with caplog.at_level(logging.INFO, logger="eip.market_data.clock"):
        for i in range(10):
            now = T0 + timedelta(seconds=i)
            clocks.observe(exchange, now + timedelta(seconds=120), now)
            clocks.check()
        assert sample("eip_md_venue_clock_offset_seconds", exchange) == pytest.approx(120)
        assert sample("eip_md_venue_clock_offset_alarm", exchange) == 1
        assert clocks.alarmed(exchange)
        for i in range(200):
            now = T0 + timedelta(seconds=100 + i)
            clocks.observe(exchange, now, now)
            clocks.check()
    assert sample("eip_md_venue_clock_offset_seconds", exchange) == pytest.approx(0)
    assert sample("eip_md_venue_clock_offset_alarm", exchange) == 0
    assert sample("eip_md_venue_clock_offset_alarms_total", exchange) == alarms_before + 1
    warnings = [r for r in caplog.records if "above the alarm threshold" in r.getMessage()]
    assert len(warnings) == 1  # once per episode
    assert any("back within the threshold" in r.getMessage() for r in caplog.records)


# --- the candle stage's watermark -----------------------------------------------------------


class Producer:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def publish_nowait(
        self, spec: TopicSpec, key: bytes, message: Any, extra_headers: Any = ()
    ) -> Any:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append(message)
        future.set_result(None)
        return future


class Sink:
    async def store_trades(self, trades: Sequence[Trade]) -> None:
        pass

    async def store_candles(self, candles: Sequence[Candle]) -> None:
        pass


class Stage:
    """The candle stage's handler and close timer, on a clock the test moves."""

    def __init__(self, **settings: Any) -> None:
        self.now = T0
        self.producer = Producer()
        self.stream = CandleStream(
            MarketDataSettings(candle_update_interval_s=3600, **settings),
            lambda: self.producer,  # type: ignore[arg-type, return-value]
            lambda: Sink(),
            MD_TRADES,
            MD_CANDLES,
            wall=lambda: self.now,
        )
        self.stream.builder.timeframes = ("1m",)
        self.stream._partition_ids = list(range(MD_TRADES.partitions))  # as an assignment sets
        self.partition = self.stream._partition_of(CandleKey("binance", "BTC/USDT", "1m"))
        self.made: list[Trade] = []

    async def trade(self, stamped: datetime, price: int) -> None:
        made = Trade(
            "binance", "BTC/USDT", str(len(self.made)), Decimal(price), Decimal(1), None,
            stamped, self.now,
        )  # fmt: skip
        offset = len(self.made)
        self.made.append(made)
        await self.stream._handle(
            Record(MD_TRADES.name, self.partition, offset, b"k", trade_message(made), [], 0)
        )

    async def replay(self, offset: int) -> None:
        """A trade handled before, delivered again (the consumer resumes from its commit)."""
        made = self.made[offset]
        await self.stream._handle(
            Record(MD_TRADES.name, self.partition, offset, b"k", trade_message(made), [], 0)
        )

    async def tick(self) -> None:
        """The close timer, the partition settled."""
        self.stream._to_publish += self.stream._close_due({self.partition})
        await self.stream._flush()

    def closed(self) -> dict[datetime, tuple[int, str, str, str, str]]:
        out = {}
        for m in self.producer.sent:
            if m.closed:
                start = m.open_time.ToDatetime(tzinfo=UTC)
                assert start not in out, "closed twice"
                out[start] = (m.trade_count, m.open, m.high, m.low, m.close)
        return out

    def naive(self) -> dict[datetime, tuple[int, str, str, str, str]]:
        """The trades grouped by the minute of their stamp, in the order they were made."""
        groups: dict[datetime, list[Trade]] = {}
        for t in self.made:
            assert t.exchange_time is not None
            groups.setdefault(t.exchange_time.replace(second=0, microsecond=0), []).append(t)
        return {
            start: (
                len(ts),
                str(ts[0].price),
                str(max(t.price for t in ts)),
                str(min(t.price for t in ts)),
                str(ts[-1].price),
            )
            for start, ts in groups.items()
        }


def at(minutes: int, seconds: int = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


async def test_with_the_venue_two_minutes_ahead_candles_close_on_our_clock_and_none_is_late() -> (
    None
):
    """The simulator's skew of +120 s, and its end: the trades stamped in the future wait in
    open candles until our clock reaches them, so those stamped in the same minutes after the
    skew ends still find them open."""
    stage = Stage()
    stage.now = at(0, 10)
    await stage.trade(stage.now, 100)  # before the skew
    for second in range(20, 100, 10):  # our 0:20 to 1:30, stamped 2:20 to 3:30
        stage.now = at(0, second)
        await stage.trade(stage.now + timedelta(seconds=120), 100 + second)
        await stage.tick()
    # only minute 0, once our clock passed 1:02; the venue's own time was at 3:30 by then
    assert list(stage.closed()) == [at(0)]
    for second in range(100, 200, 10):  # the skew is over: our 1:40 to 3:10, stamped so
        stage.now = at(0, second)
        await stage.trade(stage.now, 200 + second)
        await stage.tick()
        assert at(2) not in stage.closed() or stage.now >= at(3, 2)
    stage.now = at(4, 2)
    await stage.tick()
    # the market's latest stamp is 3:10: minute 3 waits for its trades (or the quiet bound)
    assert list(stage.closed()) == [at(0), at(1), at(2)]
    stage.now = at(4, 5)
    await stage.trade(stage.now, 400)
    assert stage.stream.builder.late_trades == 0
    assert list(stage.closed()) == [at(0), at(1), at(2), at(3)]
    assert stage.closed() == {k: v for k, v in stage.naive().items() if k < at(4)}


async def test_with_the_venue_two_minutes_behind_candles_wait_for_its_trades() -> None:
    """A constant negative offset: our clock alone would close each minute two minutes before
    the venue's trades of it arrive; the venue's own progress does not."""
    stage = Stage()
    for second in range(0, 300, 15):
        stage.now = at(0, second)
        await stage.trade(stage.now - timedelta(seconds=120), 1000 + second)
        await stage.tick()
    assert stage.stream.builder.late_trades == 0
    closed = stage.closed()
    assert closed == {k: v for k, v in stage.naive().items() if k in closed}
    # by our 4:45 the venue's time is 2:45: its minutes up to 1:00 are complete, 2:00 is not
    assert list(closed) == [at(-2), at(-1), at(0), at(1)]


async def test_a_quiet_venue_closes_on_our_clock_after_the_quiet_bound_corrected_when_behind() -> (
    None
):
    ahead, behind = Stage(candle_quiet_close_s=60), Stage(candle_quiet_close_s=60)
    for second in range(0, 60, 5):
        ahead.now = behind.now = at(0, second)
        await ahead.trade(ahead.now + timedelta(seconds=120), 1)  # stamped 2:00 to 2:55
        await behind.trade(behind.now - timedelta(seconds=120), 1)  # stamped -2:00 to -1:05
    # Both fall silent. A minute closes 60 s after its end on the venue's clock: ahead's
    # minute 2 (our 0:00 to 0:59) at our 4:00 — on our clock, since the venue's runs ahead —
    # and behind's minute -2 at its -1:00 + 60 s = 0:00, which is our 2:00.
    ahead.now = behind.now = at(1, 59)
    await ahead.tick()
    await behind.tick()
    assert list(ahead.closed()) == list(behind.closed()) == []
    ahead.now = behind.now = at(2, 0)
    await ahead.tick()
    await behind.tick()
    assert list(ahead.closed()) == []
    assert list(behind.closed()) == [at(-2)]
    ahead.now = at(3, 59)
    await ahead.tick()
    assert list(ahead.closed()) == []
    ahead.now = at(4, 0)
    await ahead.tick()
    assert list(ahead.closed()) == [at(2)]
    assert ahead.stream.builder.late_trades == behind.stream.builder.late_trades == 0
    assert ahead.closed() == ahead.naive()
    assert behind.closed() == behind.naive()


async def test_a_restart_after_a_skew_resumes_from_the_latest_stamp_not_the_newest() -> None:
    """Restored from candles stamped two minutes ahead, the stage must not take the venue's
    progress for our clock: the trades printed while it was down, stamped at our time and
    replayed now, still find their minute open."""
    before = Stage()
    for second in range(0, 30, 5):  # skewed, then the skew ends
        before.now = at(0, second)
        await before.trade(before.now + timedelta(seconds=120), 100)
    for second in range(30, 50, 5):
        before.now = at(0, second)
        await before.trade(before.now, 200)
    published = before.stream.builder.open_candles()  # what the topic holds at the crash
    after = Stage()
    after.made = list(before.made)
    after.stream.builder.restore(published)
    after.stream._resume_progress(published)
    after.now = at(1, 10)  # restarted: our clock is past minute 0's end
    await after.tick()
    assert list(after.closed()) == []  # the market's latest stamp is 0:45
    for offset in range(len(before.made)):  # replayed from the last commit, skewed ones too
        await after.replay(offset)
    assert list(after.closed()) == []  # each closes no more than it did the first time
    for second in range(50, 60, 2):  # the gap: printed while it was down, fetched now
        await after.trade(at(0, second), 300)
    await after.trade(at(1, 5), 400)
    assert after.stream.builder.late_trades == 0
    closed = after.closed()
    assert list(closed) == [at(0)]
    assert closed[at(0)] == after.naive()[at(0)]
