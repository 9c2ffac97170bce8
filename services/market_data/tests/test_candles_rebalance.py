"""Against a real broker: candle stages in several instances of one consumer group. Each key's
candles are built by the instance holding its trades partition; when an instance stops, its
partitions move to the other, which resumes their open candles exactly (no trade lost, none
counted twice, every interval closed once)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from eip.bus import Producer, partition_for_key
from eip.events.topics import MD_CANDLES, MD_TRADES, TopicSpec, record_key
from eip.events.v1 import market_data_pb2
from eip.exchanges.contract.market_data import Trade
from eip.market_data.candles.builder import interval_start
from eip.market_data.candles.stream import CandleStream
from eip.market_data.settings import MarketDataSettings
from eip.market_data.wire import trade_key, trade_message
from eip.testing.plugin import TopicFactory

from .helpers import MemorySink, read_topic, wait_until

pytestmark = pytest.mark.integration

# Nine symbols whose trades land on every one of the six partitions, so that whichever way
# the partitions are split, each instance builds some keys.
SYMBOLS = [f"C{i}/USDT" for i in range(9)]


class Stage:
    """One instance's candle stage, its sink and its task."""

    def __init__(
        self,
        settings: MarketDataSettings,
        producer: Producer,
        topics: tuple[TopicSpec, TopicSpec],
        group: str,
    ) -> None:
        self.sink = MemorySink()
        self.stream = CandleStream(
            settings, lambda: producer, lambda: self.sink, topics[0], topics[1], group
        )
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.stream.run())

    async def stop(self) -> None:
        self.stream.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, 60)

    def holds_only_its_keys(self) -> bool:
        s = self.stream
        return all(s._partition_of(k) in s.owned for k in s.builder.held_keys())


async def publish(producer: Producer, topic: TopicSpec, trades: list[Trade]) -> None:
    deliveries = await producer.publish_many(
        topic, [(trade_key(t), trade_message(t)) for t in trades]
    )
    await asyncio.gather(*(d.future for d in deliveries))


def trade(symbol: str, at: datetime, n: int) -> Trade:
    price = Decimal(100 + (n * 7) % 13) + Decimal(SYMBOLS.index(symbol)) / 4
    return Trade("binance", symbol, str(n), price, Decimal("0.5") + n, "buy", at, at)


def naive_1m(
    trades: list[Trade],
) -> dict[tuple[str, datetime], tuple[str, str, str, str, Decimal, int]]:
    """OHLCV per (symbol, minute) straight from the trades, in the order they were produced."""
    groups: dict[tuple[str, datetime], list[Trade]] = {}
    for t in trades:
        groups.setdefault((t.symbol, interval_start(t.received_time, "1m")), []).append(t)
    return {
        key: (
            str(ts[0].price),
            str(max(t.price for t in ts)),
            str(min(t.price for t in ts)),
            str(ts[-1].price),
            sum((t.amount for t in ts), Decimal(0)),
            len(ts),
        )
        for key, ts in groups.items()
    }


def held_by_both(a: Stage, b: Stage, partitions: int) -> bool:
    return (
        a.stream.ready.is_set()
        and b.stream.ready.is_set()
        and bool(a.stream.owned)
        and bool(b.stream.owned)
        and not a.stream.owned & b.stream.owned
        and len(a.stream.owned | b.stream.owned) == partitions
    )


async def test_a_stopped_instance_hands_its_open_candles_to_the_other(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    trades_topic = await make_topic(MD_TRADES)
    candles_topic = await make_topic(MD_CANDLES)
    spread = {
        partition_for_key(record_key("binance", s), range(trades_topic.partitions)) for s in SYMBOLS
    }
    assert len(spread) == trades_topic.partitions, "the symbols must cover every partition"
    # In-progress updates almost never (only a key's first trade and the hand-over publish
    # them) and no closing of a quiet venue on the wall clock: a minute closes when the
    # venue's trades reach the next one (no grace), so the hand-over must carry the exact
    # open state.
    settings = MarketDataSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        candle_update_interval_s=3600,
        candle_close_grace_s=0,
        candle_quiet_close_s=3600,
    )
    group = f"test-candles-scale-{trades_topic.name}"
    topics = (trades_topic, candles_topic)
    a, b = Stage(settings, producer, topics, group), Stage(settings, producer, topics, group)
    start = interval_start(datetime.now(UTC), "1m") - timedelta(minutes=10)

    def minute(m: int, seconds: list[int]) -> list[Trade]:
        return [
            trade(s, start + timedelta(minutes=m, seconds=sec), m * 100 + i)
            for s in SYMBOLS
            for i, sec in enumerate(seconds)
        ]

    # Scale in, then out: b stops while trades keep coming (its partitions move to a), then c
    # joins (some move to c). Minute 2 is open at the first hand-over, minute 3 at the second,
    # where the first trade after it has the timestamp of the last one before it (a restore by
    # time would skip it).
    first = minute(0, [5, 20, 35, 50]) + minute(1, [5, 20, 35, 50]) + minute(2, [5, 20])
    during = minute(2, [35, 50]) + minute(3, [5, 20, 35, 50])
    after = (
        [trade(s, start + timedelta(minutes=3, seconds=50), 390) for s in SYMBOLS]
        + minute(4, [5, 20, 35, 50])
        + minute(5, [1])  # closes minute 4 on trade time
    )
    c = Stage(settings, producer, topics, group)
    stages = (a, b, c)

    def handled() -> int:
        return sum(len(s.sink.trades) for s in stages)

    async with AsyncExitStack() as cleanup:
        a.start()
        await asyncio.wait_for(a.stream.ready.wait(), 60)
        b.start()
        cleanup.push_async_callback(_stop_quietly, *stages)
        await wait_until(lambda: held_by_both(a, b, trades_topic.partitions), 120)

        await publish(producer, trades_topic, first)
        await wait_until(lambda: handled() == len(first), state=handled)
        assert b.stream.builder.held_keys(), "instance b built some keys"
        assert a.holds_only_its_keys()
        assert b.holds_only_its_keys()
        restored = a.stream.restored

        producing = asyncio.create_task(publish(producer, trades_topic, during))
        await b.stop()
        assert b.stream.builder.held_keys() == []  # everything handed over
        await producing
        await wait_until(
            lambda: len(a.stream.owned) == trades_topic.partitions,
            120,
            state=lambda: a.stream.owned,
        )
        await wait_until(lambda: handled() == len(first) + len(during), 120, state=handled)
        assert a.stream.restored > restored  # b's keys came back from md.candles.v1
        assert {k.symbol for k in a.stream.builder.held_keys()} == set(SYMBOLS)

        c.start()
        await wait_until(lambda: held_by_both(a, c, trades_topic.partitions), 120)
        assert c.stream.restored > 0
        await publish(producer, trades_topic, after)
        await wait_until(
            lambda: handled() == len(first) + len(during) + len(after), 120, state=handled
        )
        await wait_until(
            lambda: (
                sum(
                    1
                    for s in stages
                    for x in s.sink.candles
                    if x.closed and x.key.timeframe == "1m"
                )
                >= 5 * len(SYMBOLS)
            ),
            120,
        )
        assert a.holds_only_its_keys()
        assert c.holds_only_its_keys()
        await a.stop()
        await c.stop()

    records = await read_topic(kafka_bootstrap_servers, candles_topic)
    closed = [r for r in records if r.closed]
    per_interval = Counter((r.instrument.symbol, r.timeframe, _open(r)) for r in closed)
    assert max(per_interval.values()) == 1, "an interval was closed twice"
    got = {
        (r.instrument.symbol, _open(r)): (
            r.open, r.high, r.low, r.close, Decimal(r.base_volume), r.trade_count
        )
        for r in closed
        if r.timeframe == "1m"
    }  # fmt: skip
    assert got == naive_1m(first + during + after[: -len(SYMBOLS)])
    assert all(s.stream.builder.late_trades == 0 for s in stages)


async def test_the_close_timer_closes_only_the_keys_held_here(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    trades_topic = await make_topic(MD_TRADES)
    candles_topic = await make_topic(MD_CANDLES)
    settings = MarketDataSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        candle_update_interval_s=0,
        candle_close_grace_s=0,
        candle_quiet_close_s=0,  # a quiet venue closes on our clock at once
    )
    group = f"test-candles-timer-{trades_topic.name}"
    topics = (trades_topic, candles_topic)
    a, b = Stage(settings, producer, topics, group), Stage(settings, producer, topics, group)
    async with AsyncExitStack() as cleanup:
        a.start()
        b.start()
        cleanup.push_async_callback(_stop_quietly, a, b)
        await wait_until(lambda: held_by_both(a, b, trades_topic.partitions), 120)
        # One trade per key in a minute that has ended, then silence: only the wall clock
        # closes it.
        at = interval_start(datetime.now(UTC), "1m") - timedelta(seconds=30)
        await publish(producer, trades_topic, [trade(s, at, 1) for s in SYMBOLS])

        def closed_1m(stage: Stage) -> list[str]:
            return [
                c.key.symbol for c in stage.sink.candles if c.closed and c.key.timeframe == "1m"
            ]

        await wait_until(lambda: len(closed_1m(a)) + len(closed_1m(b)) >= len(SYMBOLS), 120)
        for stage in (a, b):
            assert closed_1m(stage), "both instances closed candles"
            assert all(
                stage.stream._partition_of(c.key) in stage.stream.owned for c in stage.sink.candles
            )
        assert sorted(closed_1m(a) + closed_1m(b)) == sorted(SYMBOLS)
        await a.stop()
        await b.stop()

    records = await read_topic(kafka_bootstrap_servers, candles_topic)
    closed = Counter(r.instrument.symbol for r in records if r.closed and r.timeframe == "1m")
    assert closed == dict.fromkeys(SYMBOLS, 1)


def _open(r: market_data_pb2.Candle) -> datetime:
    return r.open_time.ToDatetime(tzinfo=UTC)


async def _stop_quietly(*stages: Stage) -> None:
    # A failing test still leaves no consumer behind in the session's event loop.
    for stage in stages:
        if stage.task is not None and not stage.task.done():
            stage.stream.stop()
            try:
                await asyncio.wait_for(stage.task, 30)
            except Exception:
                stage.task.cancel()


class SlowSink(MemorySink):
    async def store_trades(self, trades: Sequence[Trade]) -> None:
        await asyncio.sleep(0.05)  # a backlog takes seconds: several timer ticks
        await super().store_trades(trades)


async def test_the_close_timer_waits_until_a_partitions_backlog_is_handled(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    """What a taking-over instance meets: trades of a minute the wall clock says is over are
    still unread. The minute closes once, after all of them."""
    trades_topic = await make_topic(MD_TRADES)
    candles_topic = await make_topic(MD_CANDLES)
    settings = MarketDataSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        candle_update_interval_s=0,
        candle_close_grace_s=0,
    )
    at = interval_start(datetime.now(UTC), "1m") - timedelta(minutes=2)
    backlog = [trade("C0/USDT", at + timedelta(seconds=n % 60), n) for n in range(60)]
    await publish(producer, trades_topic, backlog)
    sink = SlowSink()
    stream = CandleStream(
        settings,
        lambda: producer,
        lambda: sink,
        trades_topic,
        candles_topic,
        f"test-candles-backlog-{trades_topic.name}",
    )
    task = asyncio.create_task(stream.run())
    try:
        await wait_until(
            lambda: any(c.closed and c.key.timeframe == "1m" for c in sink.candles),
            120,
            state=lambda: len(sink.trades),
        )
    finally:
        stream.stop()
        await asyncio.wait_for(task, 60)
    closed = [c for c in sink.candles if c.closed and c.key.timeframe == "1m"]
    assert [(c.open_time, c.trade_count) for c in closed] == [(at, 60)]
    assert stream.builder.late_trades == 0


class BreakableProducer:
    """The test's producer until ``broken``: then Kafka refuses everything this instance sends,
    so its hand-over fails and it leaves no more than a crashed instance would."""

    def __init__(self, real: Producer) -> None:
        self.real = real
        self.broken = False

    async def publish_nowait(
        self, spec: TopicSpec, key: bytes, message: Any, extra_headers: Any = ()
    ) -> Any:
        if self.broken:
            refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            refused.set_exception(ConnectionError("Kafka unreachable"))
            return refused
        return await self.real.publish_nowait(spec, key, message, extra_headers)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_an_instance_that_could_not_hand_over_loses_no_trade(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    """Throttled in-progress updates leave trades in no published candle for a while; their
    offsets are not committed until one is, so the next holder replays them."""
    trades_topic = await make_topic(MD_TRADES)
    candles_topic = await make_topic(MD_CANDLES)
    settings = MarketDataSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        candle_update_interval_s=3600,
        candle_close_grace_s=0,
        candle_quiet_close_s=3600,
    )
    group = f"test-candles-crash-{trades_topic.name}"
    start = interval_start(datetime.now(UTC), "1m") - timedelta(minutes=10)

    def minute(m: int, seconds: list[int]) -> list[Trade]:
        return [
            trade(s, start + timedelta(minutes=m, seconds=sec), m * 100 + i)
            for s in SYMBOLS
            for i, sec in enumerate(seconds)
        ]

    # Minute 1 is open with three trades of which only the first was published.
    first = minute(0, [5, 20, 35, 50]) + minute(1, [5, 20, 35])
    rest = minute(1, [50]) + minute(2, [1])  # the last closes minute 1 on trade time
    breakable = BreakableProducer(producer)
    a = Stage(settings, cast(Producer, breakable), (trades_topic, candles_topic), group)
    b = Stage(settings, producer, (trades_topic, candles_topic), group)
    async with AsyncExitStack() as cleanup:
        a.start()
        cleanup.push_async_callback(_stop_quietly, a, b)
        await asyncio.wait_for(a.stream.ready.wait(), 60)
        await publish(producer, trades_topic, first)
        await wait_until(lambda: len(a.sink.trades) == len(first), state=lambda: len(a.sink.trades))
        breakable.broken = True
        await a.stop()  # its hand-over is refused
        b.start()
        await asyncio.wait_for(b.stream.ready.wait(), 60)
        await publish(producer, trades_topic, rest)
        await wait_until(
            lambda: (
                sum(1 for c in b.sink.candles if c.closed and c.key.timeframe == "1m")
                >= len(SYMBOLS)
            ),
            120,
            state=lambda: len(b.sink.trades),
        )
        # b replayed what a had handled but no published candle held (every timeframe counts:
        # the 1h candles were published at their first trade only)
        assert len(b.sink.trades) > len(rest)
        await b.stop()

    records = await read_topic(kafka_bootstrap_servers, candles_topic)
    closed = [r for r in records if r.closed and r.timeframe == "1m"]
    assert max(Counter((r.instrument.symbol, _open(r)) for r in closed).values()) == 1
    got = {
        (r.instrument.symbol, _open(r)): (
            r.open, r.high, r.low, r.close, Decimal(r.base_volume), r.trade_count
        )
        for r in closed
    }  # fmt: skip
    assert got == naive_1m(first + rest[: -len(SYMBOLS)])
