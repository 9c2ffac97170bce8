"""The candle stage: the service's own consumer (``eip.bus.Consumer``) on md.trades.v1, the
candle builder, md.candles.v1 and the store. Any number of instances share one consumer group.

Why our consumer and not faust-streaming: faust brings its own consumer, producer, offset
commits and RocksDB tables beside the platform's wrappers; ``eip.bus.Consumer`` already gives
at-least-once with commit after handling, a dead-letter topic for poison records and lag
metrics, and the builder's state is small (one open candle per key and timeframe).

Ownership: trades are keyed ``exchange:symbol``, so each key's trades are in one partition and
the instance holding that partition owns the key's candles (every timeframe). The stage is the
consumer's rebalance listener: when partitions arrive it restores their keys from md.candles.v1
(the last record per key: closed intervals stay closed, the open candle resumes, replayed
trades already inside it are skipped by their position); when they leave it publishes the
current state of their open candles, waits for Kafka's acknowledgement and forgets them, and
only then are their offsets committed. The close timer only sees keys held here.

Delivery: the handler awaits Kafka's acknowledgement of every candle it publishes before the
trade's offset is committed, and no offset is committed past a trade that no acknowledged
candle holds yet (``commit_limit``: in-progress updates are throttled), so after a crash the
next holder replays what the topic lacks. A closed candle is published once per interval and
key.

Closing (the watermark): candles are bucketed by the venue's time, so they close on the venue's
own progress, never ahead of ours. A market's interval closes once ``close_grace_s`` has passed
its end on the market's *progress*: the smaller of (a) the venue time of its latest trade
consumed here and (b) the time we received that trade. A market's trades come in order on its
partition, and the live side publishes what a gap missed before the trades after it, so (a)
says how far the market's stream has been handled: a venue whose clock is behind, a restart, a
stalled stream and a gap being fetched hold the interval open until its trades have come. It
is the *latest* trade, not the newest stamp: after a venue's clock jumps back (a skew of +120 s
ends) its progress is where its stream is now, not two minutes ahead. (b) keeps a venue whose
clock is ahead from closing intervals early, so when its offset shrinks the trades stamped in
those two minutes still find their intervals open; it is the trade's receipt, not our clock
now, so trades replayed after a restart close no more than they did the first time. A market
where nothing trades closes on our clock, corrected by the venue's estimated offset when it is
behind (``eip.market_data.clock``), ``candle_quiet_close_s`` after the end. Trades are late
only when a venue's clock jumps back below ours, or when they arrive after that quiet bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aiokafka import TopicPartition

from eip.bus import Consumer, ConsumerConfig, PoisonMessage, Producer, Record, partition_for_key
from eip.events.topics import MD_CANDLES, MD_TRADES, TopicSpec, record_key
from eip.exchanges.contract.market_data import TIMEFRAME_SECONDS, Trade
from eip.market_data.candles.builder import Candle, CandleBuilder, CandleKey, trade_time
from eip.market_data.candles.restore import position_header, read_recent_candles
from eip.market_data.clock import ClockOffsetEstimator
from eip.market_data.metrics import CANDLES, LATE_TRADES
from eip.market_data.settings import MarketDataSettings
from eip.market_data.wire import candle_key, candle_message, trade_from_message

log = logging.getLogger(__name__)


class CandleSink(Protocol):
    """Where trades and candles are stored (``MarketDataStore`` from the history side)."""

    async def store_trades(self, trades: Sequence[Trade]) -> None: ...

    async def store_candles(self, candles: Sequence[Candle]) -> None: ...


class CandleStream:
    def __init__(
        self,
        settings: MarketDataSettings,
        producer: Callable[[], Producer | None],
        sink: Callable[[], CandleSink | None] = lambda: None,
        trades_topic: TopicSpec = MD_TRADES,
        candles_topic: TopicSpec = MD_CANDLES,
        group_id: str | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._wall = wall  # our clock, which the watermark is never ahead of
        self.builder = self._new_builder()
        self._producer = producer
        self._sink = sink
        self._trades_topic = trades_topic
        self._candles_topic = candles_topic
        self._group_id = group_id or settings.candles_group_id
        self._lock = asyncio.Lock()  # the handler, the close timer and rebalances share state
        self._applied: dict[tuple[str, int], int] = {}  # the last offset folded in
        self._to_publish: list[Candle] = []
        self._to_store: list[Candle] = []
        self.ready = asyncio.Event()  # set once the first assignment is restored
        self._consumer: Consumer | None = None
        self._stopped = False
        self.owned: frozenset[int] = frozenset()  # md.trades.v1 partitions held here
        self._partition_ids: list[int] = []  # md.trades.v1's partitions at the last assignment
        self._key_partitions: dict[tuple[str, str], int] = {}
        self.restored = 0  # candle records restored into state since the stage started
        # The watermark's inputs: each market's progress (its latest trade's venue time or
        # receipt, whichever is earlier), and each venue's clock offset as its trades show it.
        self._market_time: dict[tuple[str, str], datetime] = {}
        self._clocks: dict[str, ClockOffsetEstimator] = {}

    def _new_builder(self) -> CandleBuilder:
        return CandleBuilder(
            update_interval_s=self.settings.candle_update_interval_s,
            close_grace_s=self.settings.candle_close_grace_s,
        )

    async def supervise(self) -> None:
        """``run`` until ``stop``; a crash (Kafka unreachable at start, a bug) is logged and
        the stage restarts after a backoff, restoring its state again from the topic."""
        delay = 1.0
        while not self._stopped:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.ready.clear()
                log.error(
                    "candle stage failed; restarting",
                    extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def run(self) -> None:
        """Consume (state is restored per assigned partition) and close candles on the wall
        clock, until cancelled or stopped."""
        producer = await _wait_for(self._producer)
        # Uncommitted trades are replayed and rebuild what was not published; closed candles
        # published but not yet stored stay pending (the restore marks them closed for good).
        self.builder = self._new_builder()
        self._applied = {}
        self._to_publish = []
        self.owned = frozenset()
        self.restored = 0
        self._market_time, self._clocks = {}, {}
        self._consumer = Consumer(
            ConsumerConfig(
                self.settings.kafka_bootstrap_servers,
                group_id=self._group_id,
                client_id=f"{self.settings.service_name}-candles",
            ),
            [self._trades_topic],
            self._handle,
            producer,
            rebalance_listener=self,
            commit_limit=self.commit_limit,
        )
        await self._consumer.start()
        timer = asyncio.create_task(self._close_timer(), name="md-candle-timer")
        try:
            await self._consumer.run()
        finally:
            timer.cancel()
            await asyncio.gather(timer, return_exceptions=True)

    async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        """Restore the keys of partitions new here from md.candles.v1 before their first
        record is handled (the consumer keeps them paused until this returns). Cancelled if
        they are revoked meanwhile: the state changes all at once at the end."""
        assert self._consumer is not None
        ids = self._consumer.partitions_for(self._trades_topic.name)
        if not ids:
            raise RuntimeError(f"no metadata for {self._trades_topic.name} at assignment")
        if ids != self._partition_ids:
            self._partition_ids, self._key_partitions = ids, {}
        mine = frozenset(tp.partition for tp in partitions if tp.topic == self._trades_topic.name)
        new = mine - self.owned
        if not new:
            self.owned = mine
        else:
            # The longest interval plus the grace bounds how far back an open candle starts.
            since = datetime.now(UTC) - timedelta(
                seconds=max(TIMEFRAME_SECONDS.values()) + self.settings.candle_close_grace_s + 60
            )
            theirs = await read_recent_candles(
                self.settings.kafka_bootstrap_servers,
                self._candles_topic,
                since,
                timeout_s=self.settings.candles_restore_timeout_s,
                keep=lambda key: self._partition_of(key) in new,
            )
            async with self._lock:
                self.builder.restore(theirs)
                self._resume_progress(theirs)
                for partition in new:
                    self._applied.pop((self._trades_topic.name, partition), None)
                self.owned = mine
                self.restored += len(theirs)
            log.info(
                "candle state restored for assigned partitions",
                extra={"partitions": sorted(new), "records": len(theirs)},
            )
        self.ready.set()

    async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        """Hand the keys of these partitions over: publish their open candles as they stand
        (the next owner restores exactly this state and resumes after the committed offset),
        then forget them. If Kafka refuses, this raises and the offsets not yet committed stay
        so: the next owner restores what reached the topic and replays from the commit."""
        gone = (
            frozenset(tp.partition for tp in partitions if tp.topic == self._trades_topic.name)
            & self.owned
        )
        self.owned -= gone
        if not gone:
            return
        async with self._lock:

            def leaving(key: CandleKey) -> bool:
                return self._partition_of(key) in gone

            self._to_publish += self.builder.drop(leaving)
            for partition in gone:
                self._applied.pop((self._trades_topic.name, partition), None)
            try:
                await self._publish()
            finally:
                # Unpublished ones are the next owner's to rebuild.
                self._to_publish = [c for c in self._to_publish if not leaving(c.key)]
            # The hand-over hangs on Kafka only: a database outage must not hold the rebalance
            # up or keep the offsets uncommitted (closed candles wait for the next store).
            try:
                await self._store()
            except Exception as exc:
                log.warning("storing handed-over candles failed", extra={"error": repr(exc)})
            # An in-progress version stored late could hide a newer one the next owner stored;
            # closed ones are final, so they are still stored.
            self._to_store = [c for c in self._to_store if c.closed or not leaving(c.key)]
        log.info("candle partitions handed over", extra={"partitions": sorted(gone)})

    def commit_limit(self, tp: TopicPartition) -> int | None:
        """Trades of this partition from the returned offset on are in no candle Kafka has
        acknowledged yet (in-progress updates are throttled): committing past it would let a
        crash lose them, the next holder restoring from md.candles.v1."""
        if tp.topic != self._trades_topic.name:
            return None
        partition: int = tp.partition

        def here(key: CandleKey) -> bool:
            return self._partition_of(key) == partition

        marks = [c.since for c in self._to_publish if c.since is not None and here(c.key)]
        held = self.builder.unpublished_from(here)
        if held is not None:
            marks.append(held)
        return min(marks, default=None)

    def _close_due(self, partitions: set[int]) -> list[Candle]:
        """Candles of these (settled) partitions' keys that their watermark closes."""
        wall = self._wall()
        return self.builder.close_due(
            lambda key: self._watermark(key.exchange, key.symbol, wall),
            lambda key: self._partition_of(key) in partitions,
        )

    def _watermark(self, exchange: str, symbol: str, wall: datetime) -> datetime:
        """See the module docstring: the market's progress, never ahead of our clock, or for a
        quiet market our clock (corrected when the venue is behind) minus the quiet bound."""
        s = self.settings
        clock = self._clocks.get(exchange)
        offset = (clock.estimate() if clock is not None else None) or 0.0
        quiet = wall + timedelta(
            seconds=min(0.0, offset) - (s.candle_quiet_close_s - s.candle_close_grace_s)
        )
        progress = self._market_time.get((exchange, symbol))
        return quiet if progress is None else max(min(progress, wall), quiet)

    def _observe(self, trade: Trade) -> datetime:
        """A consumed trade: its market's progress (returned), and a sample of its venue's
        offset."""
        progress = self._market_time[(trade.exchange, trade.symbol)] = min(
            trade_time(trade), trade.received_time
        )
        if trade.exchange_time is not None:
            self._clock(trade.exchange).add(trade.exchange_time, trade.received_time)
        return progress

    def _clock(self, exchange: str) -> ClockOffsetEstimator:
        clock = self._clocks.get(exchange)
        if clock is None:
            # One sample is enough: an estimate is at most the offset (delays only lower it),
            # so the quiet bound built on it can only close later.
            clock = self._clocks[exchange] = ClockOffsetEstimator(min_samples=1)
        return clock

    def _resume_progress(self, restored: Sequence[Candle]) -> None:
        """After a restore: each market's progress is that of its newest trade in the restored
        records (by position), and their times are the venues' first offset samples."""
        latest: dict[tuple[str, str], Candle] = {}
        for candle in restored:
            if candle.exchange_time is None:
                continue
            self._clock(candle.key.exchange).add(
                candle.exchange_time, candle.received_time or candle.exchange_time
            )
            market = (candle.key.exchange, candle.key.symbol)
            held = latest.get(market)
            if held is None or (candle.position or (-1, -1)) > (held.position or (-1, -1)):
                latest[market] = candle
        for market, candle in latest.items():
            assert candle.exchange_time is not None
            received = candle.received_time or candle.exchange_time
            self._market_time[market] = min(candle.exchange_time, received)

    async def _settled(self) -> set[int]:
        """Held partitions whose every fetched record has been handled."""
        consumer = self._consumer
        if consumer is None:
            return set()
        topic = self._trades_topic.name
        return {p for p in self.owned if await consumer.caught_up(TopicPartition(topic, p))}

    def _partition_of(self, key: CandleKey) -> int:
        """The md.trades.v1 partition holding this key's trades, placed as the producer
        places them (``record_key(exchange, symbol)``, default partitioner)."""
        market = (key.exchange, key.symbol)
        partition = self._key_partitions.get(market)
        if partition is None:
            partition = self._key_partitions[market] = partition_for_key(
                record_key(*market), self._partition_ids
            )
        return partition

    async def _handle(self, record: Record) -> None:
        try:
            trade = trade_from_message(record.message)  # type: ignore[arg-type]
        except ValueError as exc:
            raise PoisonMessage(str(exc)) from None
        async with self._lock:
            # A record redelivered after a failed publish or store is folded in only once;
            # what it produced is still waiting in the pending lists.
            tp = (record.topic, record.partition)
            progress = self._observe(trade)
            if record.offset > self._applied.get(tp, -1):
                sink = self._sink()
                if sink is not None:
                    await sink.store_trades([trade])  # refuses before changing anything
                late_before = self.builder.late_trades
                self._to_publish += self.builder.add(
                    trade, time.monotonic(), (record.partition, record.offset)
                )
                self._applied[tp] = record.offset
                if self.builder.late_trades > late_before:
                    LATE_TRADES.inc()
                    log.info(
                        "late trade for a closed candle, not counted",
                        extra={
                            "exchange": trade.exchange,
                            "symbol": trade.symbol,
                            "trade_id": trade.trade_id,
                        },
                    )
                # The market's own trades come in order on its partition: everything it
                # traded before this one is handled, so its intervals ended by its progress
                # close (see the module docstring).
                market = (trade.exchange, trade.symbol)
                self._to_publish += self.builder.close_due(
                    progress, lambda key: (key.exchange, key.symbol) == market
                )
            await self._flush()

    async def _close_timer(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                # The builder only holds keys of partitions held here (see the listener). Of
                # those, only partitions without a backlog: after a restore or a pause their
                # unread trades may belong to the candle the wall clock says is over.
                settled = await self._settled()
                async with self._lock:
                    self._to_publish += self._close_due(settled)
                    self._to_publish += self.builder.held_back_updates(time.monotonic())
                    await self._flush()
            except Exception as exc:  # kept pending; the next record or tick retries
                log.warning("publishing closed candles failed", extra={"error": repr(exc)})

    async def _flush(self) -> None:
        """Publish pending candles (then they are never published again), then store them.
        Raises on failure with everything unsent still pending, in order."""
        await self._publish()
        await self._store()

    async def _publish(self) -> None:
        if self._to_publish:
            producer = await _wait_for(self._producer)
            candles = self._to_publish
            futures = [
                await producer.publish_nowait(
                    self._candles_topic,
                    candle_key(c),
                    candle_message(c),
                    () if c.position is None else (position_header(c.position),),
                )
                for c in candles
            ]
            results = await asyncio.gather(*futures, return_exceptions=True)
            failed = [
                c for c, r in zip(candles, results, strict=True) if isinstance(r, BaseException)
            ]
            sent = [
                c for c, r in zip(candles, results, strict=True) if not isinstance(r, BaseException)
            ]
            self._to_publish = failed
            for c in sent:
                CANDLES.labels(c.key.timeframe, "closed" if c.closed else "open").inc()
            self._to_store += sent
            if failed:
                raise ConnectionError(f"{len(failed)} candles not acknowledged by Kafka")

    async def _store(self) -> None:
        sink = self._sink()
        if self._to_store and sink is not None:
            await sink.store_candles(_newest(self._to_store))
            self._to_store = []

    def stop(self) -> None:
        """Finish the record in hand, hand every held partition over (as on a rebalance),
        commit and leave the group."""
        self._stopped = True
        if self._consumer is not None:
            self._consumer.stop()


def _newest(candles: list[Candle]) -> list[Candle]:
    """One version per candle: the last, and a closed one over any in-progress one."""
    latest: dict[tuple[CandleKey, datetime], Candle] = {}
    for c in candles:
        key = (c.key, c.open_time)
        held = latest.get(key)
        if held is None or not held.closed:
            latest[key] = c
    return list(latest.values())


async def _wait_for(getter: Callable[[], Producer | None], wait_s: float = 0.2) -> Producer:
    # The runtime opens Kafka in the background and offers no event for it; poll.
    while True:
        value = getter()
        if value is not None:
            return value
        await asyncio.sleep(wait_s)


Runner = Callable[[], Awaitable[None]]
