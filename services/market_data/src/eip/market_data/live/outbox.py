"""Records on their way to Kafka, and the task that sends them with the one producer wrapper.

Adapters never await Kafka: ``offer`` queues and returns at once. The queue is bounded; when
Kafka falls behind and it is full, the *new* record is dropped and counted per topic
(``eip_market_data_outbox_dropped_total``, and a warning every 10,000 drops) — live market data
is worth more fresh than complete, and the history side repairs gaps in stored trades by
backfill. A record Kafka refuses is counted in ``eip_market_data_publish_failures_total``.
Both are told to ``on_lost`` (the live service: a trade's venue then fetches what the topic
lacks, ``live.gaps``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from eip.bus import BatchDelivery, PartialSend, Producer
from eip.bus.outbox import OutboxPublisher
from eip.events.topics import TopicSpec
from eip.market_data.metrics import OUTBOX, OUTBOX_DROPPED, PUBLISH_FAILURES

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    spec: TopicSpec
    key: bytes
    message: Message


OnLost = Callable[[OutboundRecord, BaseException | None], None]
"""Told of a record that will not reach Kafka: refused (with the error) or dropped (None)."""


def _ignore(record: OutboundRecord, error: BaseException | None) -> None:
    pass


class Outbox:
    def __init__(self, capacity: int, on_drop: OnLost = _ignore) -> None:
        self._queue: asyncio.Queue[OutboundRecord] = asyncio.Queue(capacity)
        self._on_drop = on_drop
        self.dropped = 0
        # read at scrape time: setting a gauge per record cost more than the queue itself
        OUTBOX.set_function(self._queue.qsize)

    def offer(self, record: OutboundRecord) -> bool:
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            OUTBOX_DROPPED.labels(record.spec.name).inc()
            if self.dropped % 10_000 == 1:
                log.warning(
                    "outbox full, dropping records",
                    extra={"topic": record.spec.name, "dropped_total": self.dropped},
                )
            self._on_drop(record, None)
            return False
        return True

    async def take(self) -> OutboundRecord:
        return await self._queue.get()

    def take_ready(self, limit: int) -> list[OutboundRecord]:
        """Up to ``limit`` more records already queued, without waiting."""
        out: list[OutboundRecord] = []
        queue = self._queue
        while len(out) < limit and not queue.empty():
            out.append(queue.get_nowait())
        return out

    def done(self, count: int = 1) -> None:
        for _ in range(count):
            self._queue.task_done()

    async def join(self) -> None:
        await self._queue.join()

    def __len__(self) -> int:
        return self._queue.qsize()


class KafkaPublisher(OutboxPublisher):
    """Sends what is queued in order, in batches: whatever piled up while the previous batch
    was being queued goes in the next (``Producer.publish_many``, one Kafka batch per
    partition), which costs a fraction of a ``send`` per record."""

    def __init__(
        self,
        outbox: Outbox,
        producer: Callable[[], Producer | None],
        wait_s: float = 0.2,
        max_batch: int = 5_000,
        on_lost: OnLost = _ignore,
    ) -> None:
        super().__init__(outbox.join, producer, wait_s)
        self._outbox = outbox
        self._max_batch = max_batch
        self._on_lost = on_lost
        self.lost = 0

    async def run(self) -> None:
        """Send queued records in order until cancelled."""
        while True:
            first = await self._outbox.take()
            records = [first, *self._outbox.take_ready(self._max_batch - 1)]
            try:
                producer = await self._wait_for_producer()
                await self._send(producer, records)
            finally:
                self._outbox.done(len(records))

    async def _send(self, producer: Producer, records: list[OutboundRecord]) -> None:
        # One publish_many per topic; records of a key share a topic, so per-key order holds.
        by_topic: dict[str, list[OutboundRecord]] = {}
        for record in records:
            by_topic.setdefault(record.spec.name, []).append(record)
        for group in by_topic.values():
            spec = group[0].spec
            try:
                deliveries = await producer.publish_many(spec, [(r.key, r.message) for r in group])
            except PartialSend as exc:
                self._watch(exc.queued, group)
                for index in exc.unsent:
                    self._lost(group[index], exc.cause)
            except Exception:
                # Raised before anything was queued (a record that does not encode, metadata
                # unavailable): one by one, so only the records that fail are counted.
                await self._send_singly(producer, group)
            else:
                self._watch(deliveries, group)

    async def _send_singly(self, producer: Producer, records: list[OutboundRecord]) -> None:
        for record in records:
            try:
                future = await producer.publish_nowait(record.spec, record.key, record.message)
            except Exception as exc:
                self._lost(record, exc)
            else:
                future.add_done_callback(functools.partial(self._delivered, [record]))

    def _watch(self, deliveries: list[BatchDelivery], group: list[OutboundRecord]) -> None:
        for delivery in deliveries:
            batch = [group[i] for i in delivery.indices]
            delivery.future.add_done_callback(functools.partial(self._delivered, batch))

    def _delivered(self, records: list[OutboundRecord], future: Any) -> None:
        if future.cancelled():
            error: BaseException | None = RuntimeError("send cancelled")
        else:
            error = future.exception()
        if error is not None:
            for record in records:
                self._lost(record, error)

    def _lost(self, record: OutboundRecord, exc: BaseException) -> None:
        PUBLISH_FAILURES.labels(record.spec.name).inc()
        self.lost += 1
        if self.lost % 1_000 == 1:  # an outage refuses thousands: a log line per record
            log.warning(  # would keep the event loop busy writing them
                "record not published",
                extra={
                    "topic": record.spec.name,
                    "error": f"{type(exc).__name__}: {exc}",
                    "lost_total": self.lost,
                },
            )
        self._on_lost(record, exc)
