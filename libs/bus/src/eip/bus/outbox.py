"""What the services' outboxes share: a bounded queue of records on their way to Kafka, and the
one task that sends them in batches with the producer the runtime opens in the background.

What a full queue or a lost record means stays with each service (market data drops and
backfills, the order book starts a new epoch): the service subclasses ``BatchingPublisher`` and
says, in ``_lost``, what it does with a record Kafka will not get.

What is subtle. Records are sent in batches: whatever piled up while the previous batch was
being queued goes in the next, one ``Producer.publish_many`` per topic (one Kafka batch per
partition), which costs a fraction of a ``send`` per record and makes produce requests carry
hundreds of records instead of a handful. Order holds per key: records of one key share a topic
and so a ``publish_many`` call, and ``publish_many`` keeps each partition's order within and
across calls. Every record taken from the queue is either acknowledged or reported to
``_lost``: a batch whose delivery fails reports each of its records, ``PartialSend`` reports the
records that were never handed over, and a call refused before anything was queued (a record
that does not encode, metadata unavailable) is retried record by record so that only the
records that fail are reported.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from google.protobuf.message import Message

from eip.bus.producer import BatchDelivery, PartialSend, Producer
from eip.events.topics import TopicSpec


class Outbound(Protocol):
    """A record a service queues: its topic, key and message (extra fields are the service's)."""

    @property
    def spec(self) -> TopicSpec: ...

    @property
    def key(self) -> bytes: ...

    @property
    def message(self) -> Message: ...


R = TypeVar("R", bound=Outbound)


class RecordQueue(Generic[R]):
    """Bounded: ``offer`` never waits, it says False when the queue is full."""

    def __init__(self, capacity: int) -> None:
        self._queue: asyncio.Queue[R] = asyncio.Queue(capacity)

    def offer(self, record: R) -> bool:
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            return False
        return True

    async def take(self) -> R:
        return await self._queue.get()

    def take_ready(self, limit: int) -> list[R]:
        """Up to ``limit`` more records already queued, without waiting."""
        out: list[R] = []
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


class OutboxPublisher:
    """The producer the runtime opens in the background, waiting for it, and draining what was
    queued before shutdown."""

    def __init__(
        self,
        join: Callable[[], Awaitable[None]],
        producer: Callable[[], Producer | None],
        wait_s: float = 0.2,
    ) -> None:
        self._join = join
        self._producer = producer
        self._wait_s = wait_s

    def connected(self) -> bool:
        return self._producer() is not None

    async def drain(self) -> None:
        """Wait until every queued record was handed to Kafka and acknowledged (or lost)."""
        await self._join()
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


class BatchingPublisher(OutboxPublisher, Generic[R]):
    """Sends what ``queue`` holds in order, in batches of up to ``max_batch`` records, until
    cancelled; ``_lost`` is told of every record that will not reach Kafka."""

    def __init__(
        self,
        queue: RecordQueue[R],
        producer: Callable[[], Producer | None],
        wait_s: float = 0.2,
        max_batch: int = 5_000,
    ) -> None:
        super().__init__(queue.join, producer, wait_s)
        self._queue = queue
        self._max_batch = max_batch

    async def run(self) -> None:
        while True:
            first = await self._queue.take()
            records = [first, *self._queue.take_ready(self._max_batch - 1)]
            try:
                producer = await self._wait_for_producer()
                await self._send(producer, records)
            finally:
                self._queue.done(len(records))

    def _lost(self, record: R, exc: BaseException) -> None:
        raise NotImplementedError

    async def _send(self, producer: Producer, records: list[R]) -> None:
        # One publish_many per topic; records of a key share a topic, so per-key order holds.
        by_topic: dict[str, list[R]] = {}
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
                await self._send_singly(producer, group)
            else:
                self._watch(deliveries, group)

    async def _send_singly(self, producer: Producer, records: list[R]) -> None:
        for record in records:
            try:
                future = await producer.publish_nowait(record.spec, record.key, record.message)
            except Exception as exc:
                self._lost(record, exc)
            else:
                future.add_done_callback(functools.partial(self._delivered, [record]))

    def _watch(self, deliveries: list[BatchDelivery], group: list[R]) -> None:
        for delivery in deliveries:
            batch = [group[i] for i in delivery.indices]
            delivery.future.add_done_callback(functools.partial(self._delivered, batch))

    def _delivered(self, records: list[R], future: Any) -> None:
        if future.cancelled():
            error: BaseException | None = RuntimeError("send cancelled")
        else:
            error = future.exception()
        if error is not None:
            for record in records:
                self._lost(record, error)
