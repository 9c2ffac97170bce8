"""The candle stage: the service's own consumer (``eip.bus.Consumer``) on md.trades.v1, the
candle builder, md.candles.v1 and the store.

Why our consumer and not faust-streaming: faust brings its own consumer, producer, offset
commits and RocksDB tables beside the platform's wrappers; ``eip.bus.Consumer`` already gives
at-least-once with commit after handling, a dead-letter topic for poison records and lag
metrics, and the builder's state is small (one open candle per key and timeframe).

Delivery: the handler awaits Kafka's acknowledgement of every candle it publishes before the
trade's offset is committed. After a restart the builder is restored from md.candles.v1 (the
last record per key: closed intervals stay closed, the open candle resumes, and replayed trades
already inside it are skipped), so a closed candle is published once per interval and key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from eip.bus import Consumer, ConsumerConfig, PoisonMessage, Producer, Record, decode
from eip.events.topics import MD_CANDLES, MD_TRADES, TopicSpec
from eip.events.v1 import market_data_pb2
from eip.exchanges.market_data import TIMEFRAME_SECONDS, Timeframe, Trade
from eip.market_data.candles.builder import Candle, CandleBuilder, CandleKey
from eip.market_data.metrics import CANDLES, LATE_TRADES
from eip.market_data.settings import MarketDataSettings
from eip.market_data.wire import candle_key, candle_message, trade_from_message

log = logging.getLogger(__name__)


class CandleSink(Protocol):
    """Where trades and candles are stored (``MarketDataStore`` from the history side)."""

    async def store_trades(self, trades: Sequence[Trade]) -> None: ...

    async def store_candles(self, candles: Sequence[Candle]) -> None: ...


def candle_from_message(message: market_data_pb2.Candle) -> Candle:
    timeframe: Timeframe = message.timeframe  # type: ignore[assignment]
    if timeframe not in TIMEFRAME_SECONDS:
        raise ValueError(f"unknown timeframe {message.timeframe!r}")
    times = message.times
    return Candle(
        CandleKey(message.instrument.exchange, message.instrument.symbol, timeframe),
        message.open_time.ToDatetime(tzinfo=UTC),
        Decimal(message.open),
        Decimal(message.high),
        Decimal(message.low),
        Decimal(message.close),
        Decimal(message.base_volume),
        Decimal(message.quote_volume or "0"),
        message.trade_count,
        message.closed,
        times.exchange_time.ToDatetime(tzinfo=UTC) if times.HasField("exchange_time") else None,
        times.received_time.ToDatetime(tzinfo=UTC) if times.HasField("received_time") else None,
    )


async def read_recent_candles(
    bootstrap_servers: str, topic: TopicSpec, since: datetime, timeout_s: float = 10.0
) -> list[Candle]:
    """Every candle record published since ``since`` (to the topic's end at call time)."""
    consumer: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await asyncio.wait_for(consumer.start(), timeout_s)
    try:
        # The registry's count, not the consumer's metadata: an unassigned consumer has none yet.
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times(
            {tp: int(since.timestamp() * 1000) for tp in partitions}
        )
        pending = {}
        for tp in partitions:
            start = starts.get(tp)
            if start is None or start.offset >= ends[tp]:
                continue
            consumer.seek(tp, start.offset)
            pending[tp] = ends[tp]
        candles: list[Candle] = []
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            batches = await consumer.getmany(*pending, timeout_ms=500, max_records=5000)
            for tp, records in batches.items():
                for raw in records:
                    if raw.offset < pending.get(tp, 0):
                        message = decode(topic, raw.value, list(raw.headers or []))
                        candles.append(candle_from_message(message))  # type: ignore[arg-type]
                if records and records[-1].offset + 1 >= pending.get(tp, 0):
                    pending.pop(tp, None)
        return candles
    finally:
        await consumer.stop()


class CandleStream:
    def __init__(
        self,
        settings: MarketDataSettings,
        producer: Callable[[], Producer | None],
        sink: Callable[[], CandleSink | None] = lambda: None,
        trades_topic: TopicSpec = MD_TRADES,
        candles_topic: TopicSpec = MD_CANDLES,
        group_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.builder = CandleBuilder(
            update_interval_s=settings.candle_update_interval_s,
            close_grace_s=settings.candle_close_grace_s,
        )
        self._producer = producer
        self._sink = sink
        self._trades_topic = trades_topic
        self._candles_topic = candles_topic
        self._group_id = group_id or settings.candles_group_id
        self._lock = asyncio.Lock()  # the handler and the close timer share the builder
        self._applied: dict[tuple[str, int], int] = {}  # the last offset folded in
        self._to_publish: list[Candle] = []
        self._to_store: list[Candle] = []
        self.ready = asyncio.Event()
        self._consumer: Consumer | None = None
        self._stopped = False
        self.restored = 0  # candle records the last start restored its state from

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
        """Restore, then consume and close candles on the wall clock, until cancelled."""
        producer = await _wait_for(self._producer)
        self.builder = CandleBuilder(
            update_interval_s=self.settings.candle_update_interval_s,
            close_grace_s=self.settings.candle_close_grace_s,
        )
        # Uncommitted trades are replayed and rebuild what was not published; closed candles
        # published but not yet stored stay pending (the restore marks them closed for good).
        self._applied = {}
        self._to_publish = []
        await self._restore()
        self._consumer = Consumer(
            ConsumerConfig(
                self.settings.kafka_bootstrap_servers,
                group_id=self._group_id,
                client_id=f"{self.settings.service_name}-candles",
            ),
            [self._trades_topic],
            self._handle,
            producer,
        )
        await self._consumer.start()
        timer = asyncio.create_task(self._close_timer(), name="md-candle-timer")
        self.ready.set()
        try:
            await self._consumer.run()
        finally:
            timer.cancel()
            await asyncio.gather(timer, return_exceptions=True)

    async def _restore(self) -> None:
        # The longest interval plus the grace bounds how far back an open candle can start.
        since = datetime.now(UTC) - timedelta(
            seconds=max(TIMEFRAME_SECONDS.values()) + self.settings.candle_close_grace_s + 60
        )
        candles = await read_recent_candles(
            self.settings.kafka_bootstrap_servers, self._candles_topic, since
        )
        self.builder.restore(candles)
        self.restored = len(candles)
        log.info("candle state restored", extra={"records": len(candles)})

    async def _handle(self, record: Record) -> None:
        try:
            trade = trade_from_message(record.message)  # type: ignore[arg-type]
        except ValueError as exc:
            raise PoisonMessage(str(exc)) from None
        async with self._lock:
            # A record redelivered after a failed publish or store is folded in only once;
            # what it produced is still waiting in the pending lists.
            tp = (record.topic, record.partition)
            if record.offset > self._applied.get(tp, -1):
                sink = self._sink()
                if sink is not None:
                    await sink.store_trades([trade])  # refuses before changing anything
                late_before = self.builder.late_trades
                self._to_publish += self.builder.add(trade, time.monotonic())
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
            await self._flush()

    async def _close_timer(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                async with self._lock:
                    self._to_publish += self.builder.close_due(datetime.now(UTC))
                    await self._flush()
            except Exception as exc:  # kept pending; the next record or tick retries
                log.warning("publishing closed candles failed", extra={"error": repr(exc)})

    async def _flush(self) -> None:
        """Publish pending candles (then they are never published again), then store the
        closed ones. Raises on failure with everything unsent still pending, in order."""
        if self._to_publish:
            producer = await _wait_for(self._producer)
            candles = self._to_publish
            futures = [
                await producer.publish_nowait(self._candles_topic, candle_key(c), candle_message(c))
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
        sink = self._sink()
        if self._to_store and sink is not None:
            await sink.store_candles(_newest(self._to_store))
            self._to_store = []

    def stop(self) -> None:
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
