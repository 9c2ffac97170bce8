"""Records on their way to Kafka, and the task that sends them with the one producer wrapper.

Adapters never await Kafka: ``offer`` queues and returns at once. The queue is bounded; when
Kafka falls behind and it is full, the *new* record is dropped and counted per topic
(``eip_market_data_outbox_dropped_total``, and a warning every 10,000 drops) — live market data
is worth more fresh than complete, and the history side repairs gaps in stored trades by
backfill. A record Kafka refuses is counted in ``eip_market_data_publish_failures_total``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from eip.bus import Producer
from eip.events.topics import TopicSpec
from eip.market_data.metrics import OUTBOX, OUTBOX_DROPPED, PUBLISH_FAILURES

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    spec: TopicSpec
    key: bytes
    message: Message


class Outbox:
    def __init__(self, capacity: int) -> None:
        self._queue: asyncio.Queue[OutboundRecord] = asyncio.Queue(capacity)
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
            return False
        return True

    async def take(self) -> OutboundRecord:
        return await self._queue.get()

    def done(self) -> None:
        self._queue.task_done()

    async def join(self) -> None:
        await self._queue.join()

    def __len__(self) -> int:
        return self._queue.qsize()


class KafkaPublisher:
    def __init__(
        self, outbox: Outbox, producer: Callable[[], Producer | None], wait_s: float = 0.2
    ) -> None:
        self._outbox = outbox
        self._producer = producer
        self._wait_s = wait_s

    async def run(self) -> None:
        """Send queued records in order until cancelled."""
        while True:
            record = await self._outbox.take()
            try:
                producer = await self._wait_for_producer()
                try:
                    future = await producer.publish_nowait(record.spec, record.key, record.message)
                except Exception as exc:
                    self._lost(record, exc)
                else:
                    future.add_done_callback(lambda f, r=record: self._delivered(r, f))
            finally:
                self._outbox.done()

    def connected(self) -> bool:
        return self._producer() is not None

    async def drain(self) -> None:
        await self._outbox.join()
        producer = self._producer()
        if producer is not None:
            await producer.flush()

    async def _wait_for_producer(self) -> Producer:
        # The runtime opens Kafka in the background and offers no event for it; poll.
        while True:
            producer = self._producer()
            if producer is not None:
                return producer
            await asyncio.sleep(self._wait_s)

    def _delivered(self, record: OutboundRecord, future: Any) -> None:
        if future.cancelled():
            self._lost(record, RuntimeError("send cancelled"))
        elif (exc := future.exception()) is not None:
            self._lost(record, exc)

    @staticmethod
    def _lost(record: OutboundRecord, exc: BaseException) -> None:
        PUBLISH_FAILURES.labels(record.spec.name).inc()
        log.warning(
            "record not published",
            extra={"topic": record.spec.name, "error": f"{type(exc).__name__}: {exc}"},
        )
