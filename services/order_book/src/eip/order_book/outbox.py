"""Records on their way to Kafka, and the task that sends them with the one producer wrapper.

The manager never awaits Kafka: it queues records and goes on, so a slow or absent broker never
holds a feed back. A record that cannot be queued or that Kafka refuses is reported lost for its
book, which then starts a new epoch with a fresh snapshot: consumers see an epoch change, never
a silent hole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from eip.bus import Producer
from eip.bus.outbox import OutboxPublisher
from eip.events.topics import TopicSpec
from eip.exchanges.contract.book_events import BookKey
from eip.order_book.metrics import OUTBOX, PUBLISH_FAILURES

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    book: BookKey
    spec: TopicSpec
    key: bytes
    message: Message


class Outbox:
    def __init__(self, capacity: int) -> None:
        self._queue: asyncio.Queue[OutboundRecord] = asyncio.Queue(capacity)

    def offer(self, record: OutboundRecord) -> bool:
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            return False
        OUTBOX.set(self._queue.qsize())
        return True

    async def take(self) -> OutboundRecord:
        record = await self._queue.get()
        OUTBOX.set(self._queue.qsize())
        return record

    def done(self) -> None:
        self._queue.task_done()

    async def join(self) -> None:
        await self._queue.join()

    def __len__(self) -> int:
        return self._queue.qsize()


class KafkaPublisher(OutboxPublisher):
    def __init__(
        self,
        outbox: Outbox,
        producer: Callable[[], Producer | None],
        on_lost: Callable[[BookKey], None],
        wait_s: float = 0.2,
    ) -> None:
        super().__init__(outbox.join, producer, wait_s)
        self._outbox = outbox
        self._on_lost = on_lost

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

    def _delivered(self, record: OutboundRecord, future: Any) -> None:
        if future.cancelled():
            self._lost(record, RuntimeError("send cancelled"))
        elif (exc := future.exception()) is not None:
            self._lost(record, exc)

    def _lost(self, record: OutboundRecord, exc: BaseException) -> None:
        PUBLISH_FAILURES.labels(record.spec.name).inc()
        log.warning(
            "record not published; the book will start a new epoch",
            extra={
                "topic": record.spec.name,
                "exchange": record.book.exchange,
                "symbol": record.book.symbol,
                "error": f"{type(exc).__name__}: {exc}",
            },
        )
        self._on_lost(record.book)
