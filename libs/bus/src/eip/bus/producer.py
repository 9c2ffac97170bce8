"""The one Kafka producer wrapper: idempotent, acks=all, compressed, typed by the topic registry.

What is subtle: an idempotent producer numbers its batches per partition, and the broker
accepts only the next number. A batch that expired while the broker was down (a Kafka outage
longer than the request timeout) leaves a hole in the numbering, and aiokafka then fails every
later batch with ``OutOfOrderSequenceNumber``, forever: a service would publish nothing after
Kafka came back. So a non-transactional producer whose delivery fails that way (or with a
fenced epoch) replaces its aiokafka producer with a new one — a new producer id, numbering from
zero — once, in the background (``eip_bus_producer_resets_total``). Records of the broken one
fail as they would have; the callers' failure handling (the outboxes') sends them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber, ProducerFenced
from aiokafka.partitioner import DefaultPartitioner
from google.protobuf.message import Message

from eip.bus.codec import Headers, encode, encode_value, headers_for
from eip.bus.errors import KafkaUnavailable
from eip.bus.metrics import PRODUCER_RESETS, PUBLISHED
from eip.events.topics import TopicSpec

log = logging.getLogger(__name__)
# Deliveries failing with these mean the producer's id or numbering is broken, not the record.
_BROKEN_SEQUENCE = (OutOfOrderSequenceNumber, ProducerFenced)


@dataclass(frozen=True)
class ProducerConfig:
    bootstrap_servers: str
    client_id: str
    compression: str = "lz4"
    linger_ms: int = 5
    max_batch_bytes: int = 256 * 1024
    # Set for exactly-once pipelines; one id per producing instance, stable across restarts so
    # the broker fences a zombie predecessor.
    transactional_id: str | None = None
    connect_timeout_s: float = 5.0
    # How long a batch may wait for the broker before it fails (and each request its answer).
    # Two minutes, not aiokafka's 40 s: a batch that expires while the broker is down is a
    # record lost while later ones may land, so a Kafka outage of up to this long delays
    # records instead of losing them (the chaos suite stops Kafka for 30 s).
    request_timeout_ms: int = 120_000


def partition_for_key(key: bytes, partitions: Sequence[int]) -> int:
    """The partition a keyed record goes to: aiokafka's default partitioner (murmur2 over the
    sorted partition ids), as ``send`` and ``send_many`` place records. Consumers that keep
    per-key state use it to tell which keys a partition holds."""
    ordered = sorted(partitions)
    return int(_PARTITIONER(key, ordered, ordered))


_PARTITIONER = DefaultPartitioner()

OutRecord = tuple[bytes | None, bytes | None, Headers]
"""(key, value, headers) of one record for ``send_many``."""


@dataclass(frozen=True, slots=True)
class BatchDelivery:
    """One partition batch queued by ``send_many``: ``future`` resolves when the broker
    acknowledged all of it (or fails for all of it); ``indices`` are the positions of its
    records in the ``records`` argument."""

    future: asyncio.Future[Any]
    partition: int
    indices: list[int]


class PartialSend(Exception):
    """``send_many`` could not queue every batch (producer closed, queue timeout). ``queued``
    are on their way as usual; the records at ``unsent`` were not handed to Kafka."""

    def __init__(self, queued: list[BatchDelivery], unsent: list[int], cause: BaseException):
        super().__init__(f"{len(unsent)} records not queued: {type(cause).__name__}: {cause}")
        self.queued = queued
        self.unsent = unsent
        self.cause = cause


class Producer:
    def __init__(self, config: ProducerConfig) -> None:
        self.config = config
        self._producer: Any = self._new_producer()
        # murmur2 is pure Python in aiokafka: computed once per (topic, key, partition count)
        self._partitioner = DefaultPartitioner()
        self._partition_cache: dict[tuple[str, bytes, int], int] = {}
        self._reset: asyncio.Task[None] | None = None
        self.resets = 0

    def _new_producer(self) -> Any:
        config = self.config
        return AIOKafkaProducer(
            bootstrap_servers=config.bootstrap_servers,
            client_id=config.client_id,
            enable_idempotence=True,
            acks="all",
            compression_type=config.compression,
            linger_ms=config.linger_ms,
            max_batch_size=config.max_batch_bytes,
            transactional_id=config.transactional_id,
            request_timeout_ms=config.request_timeout_ms,
        )

    def _watch(self, future: Any) -> Any:
        """``future`` (a delivery of the current aiokafka producer), watched for a broken
        sequence; returned as it is."""
        if self.config.transactional_id is None:
            future.add_done_callback(functools.partial(self._delivered, self._producer))
        return future

    def _delivered(self, producer: Any, future: Any) -> None:
        if not future.cancelled():
            self._check(producer, future.exception())

    def _check(self, producer: Any, error: BaseException | None) -> None:
        # Only a failure of the producer in use: its predecessor's last batches fail too.
        if not isinstance(error, _BROKEN_SEQUENCE) or producer is not self._producer:
            return
        if self._reset is None or self._reset.done():
            log.warning(
                "producer sequence broken; replacing the producer",
                extra={"client": self.config.client_id, "error": type(error).__name__},
            )
            self._reset = asyncio.get_running_loop().create_task(
                self._replace(producer), name="eip-bus-producer-reset"
            )

    async def _replace(self, broken: Any) -> None:
        delay = 0.5
        while True:
            fresh = self._new_producer()
            try:
                await asyncio.wait_for(fresh.start(), self.config.connect_timeout_s)
            except (TimeoutError, KafkaError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await fresh.stop()
                log.warning("replacing the producer failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            break
        self._producer = fresh
        self.resets += 1
        PRODUCER_RESETS.labels(self.config.client_id).inc()
        with contextlib.suppress(Exception):  # its batches fail as they would have anyway
            await asyncio.wait_for(broken.stop(), 10)

    async def start(self) -> None:
        try:
            await asyncio.wait_for(self._producer.start(), self.config.connect_timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            await self._close_quietly()
            raise KafkaUnavailable(
                f"Kafka at {self.config.bootstrap_servers} did not answer within "
                f"{self.config.connect_timeout_s}s ({type(exc).__name__}: {exc}); "
                "is it running? `make up` starts a local broker"
            ) from None

    async def stop(self) -> None:
        if self._reset is not None:
            self._reset.cancel()
            await asyncio.gather(self._reset, return_exceptions=True)
        await self._producer.stop()

    async def ping(self) -> None:
        """One metadata round trip to a broker over the producer's own connections (no new
        client, so cheap enough for a readiness check every second); ``KafkaUnavailable``
        when no broker answers. The caller bounds how long it may take."""
        try:
            await self._producer.client.fetch_all_metadata()
        except (KafkaError, OSError) as exc:
            raise KafkaUnavailable(
                f"no broker of {self.config.bootstrap_servers} answered a metadata request"
                f" ({type(exc).__name__}: {exc})"
            ) from None

    async def __aenter__(self) -> Producer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def publish(self, spec: TopicSpec, key: bytes, message: Message) -> Any:
        """Send and wait for the broker's acknowledgement; returns the record metadata."""
        value, headers = encode(spec, message)
        return await self.send_raw(spec.name, key, value, headers)

    async def publish_nowait(
        self,
        spec: TopicSpec,
        key: bytes,
        message: Message,
        extra_headers: Sequence[tuple[str, bytes]] = (),
    ) -> Any:
        """Queue a record and return a future of its acknowledgement, for high-rate publishing.

        Await the returned future (or call flush) before treating the record as delivered.
        ``extra_headers`` go after the ``schema`` and ``content-type`` headers.
        """
        value, headers = encode(spec, message)
        if extra_headers:
            headers = [*headers, *extra_headers]
        future = await self._producer.send(spec.name, value=value, key=key, headers=headers)
        PUBLISHED.labels(spec.name).inc()
        return self._watch(future)

    async def send_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
    ) -> Any:
        producer = self._producer
        try:
            metadata = await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        except KafkaError as exc:
            self._check(producer, exc)
            raise
        PUBLISHED.labels(topic).inc()
        return metadata

    async def publish_many(
        self, spec: TopicSpec, items: Sequence[tuple[bytes, Message]]
    ) -> list[BatchDelivery]:
        """``send_many`` for typed messages of one topic (key, message), in order."""
        headers = headers_for(spec)
        return await self.send_many(
            spec.name, [(key, encode_value(spec, message), headers) for key, message in items]
        )

    async def send_many(self, topic: str, records: Sequence[OutRecord]) -> list[BatchDelivery]:
        """Queue records as one batch per partition and return without waiting for the broker.

        Same guarantees as ``send`` one by one: each keyed record goes to the partition
        aiokafka's default partitioner (murmur2) picks for its key, records of a partition keep
        their order (so per-key order holds across and within calls), and the batches go
        through the idempotent, acks=all sender with its retries. Await every returned
        ``future`` (or call ``flush``) before treating the records as delivered; a failed
        future means every record of that batch was not delivered. Raises ``PartialSend`` if
        some batches could not be queued.
        """
        if not records:
            return []
        partitions = sorted(await self._producer.partitions_for(topic))
        by_partition: dict[int, list[int]] = {}
        for index, (key, _, _) in enumerate(records):
            partition = self._partition_for(topic, key, partitions)
            by_partition.setdefault(partition, []).append(index)
        queued: list[BatchDelivery] = []
        pending = sorted(by_partition.items())
        try:
            for partition, indices in pending:
                for builder, chunk_indices in self._batches(records, indices):
                    future = await self._producer.send_batch(builder, topic, partition=partition)
                    queued.append(BatchDelivery(self._watch(future), partition, chunk_indices))
                    del indices[: len(chunk_indices)]
        except Exception as exc:
            # queued chunks were taken off their partition's list: what is left never left
            unsent = sorted(i for _, indices in pending for i in indices)
            raise PartialSend(queued, unsent, exc) from exc
        PUBLISHED.labels(topic).inc(len(records))
        return queued

    def _partition_for(self, topic: str, key: bytes | None, partitions: list[int]) -> int:
        if key is None:
            return int(self._partitioner(None, partitions, partitions))
        cache_key = (topic, key, len(partitions))
        partition = self._partition_cache.get(cache_key)
        if partition is None:
            if len(self._partition_cache) > 100_000:  # keys are exchange x symbol, bounded anyway
                self._partition_cache.clear()
            partition = self._partition_cache[cache_key] = partition_for_key(key, partitions)
        return partition

    def _batches(
        self, records: Sequence[OutRecord], indices: list[int]
    ) -> list[tuple[Any, list[int]]]:
        # Built before any is queued: send_batch waits while the partition has a batch in
        # flight, and a builder must not be appended to after it was handed over.
        out: list[tuple[Any, list[int]]] = []
        builder = self._producer.create_batch()
        members: list[int] = []
        for index in indices:
            key, value, headers = records[index]
            if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                if not members:
                    raise ValueError(f"record {index} is larger than max_batch_bytes")
                out.append((builder, members))
                builder = self._producer.create_batch()
                members = []
                if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise ValueError(f"record {index} is larger than max_batch_bytes")
            members.append(index)
        if members:
            out.append((builder, members))
        return out

    async def flush(self) -> None:
        await self._producer.flush()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Records published inside are visible to read_committed consumers all or none."""
        if self.config.transactional_id is None:
            raise RuntimeError("transaction() needs ProducerConfig.transactional_id")
        async with self._producer.transaction():
            yield

    async def _close_quietly(self) -> None:
        with contextlib.suppress(Exception):  # already reporting the connect failure
            await self._producer.stop()
