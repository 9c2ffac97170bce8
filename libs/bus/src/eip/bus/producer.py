"""The one Kafka producer wrapper: idempotent, acks=all, compressed, typed by the topic registry."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from google.protobuf.message import Message

from eip.bus.codec import Headers, encode
from eip.bus.errors import KafkaUnavailable
from eip.bus.metrics import PUBLISHED
from eip.events.topics import TopicSpec


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
    request_timeout_ms: int = 30_000


class Producer:
    def __init__(self, config: ProducerConfig) -> None:
        self.config = config
        self._producer: Any = AIOKafkaProducer(
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
        await self._producer.stop()

    async def __aenter__(self) -> Producer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def publish(self, spec: TopicSpec, key: bytes, message: Message) -> Any:
        """Send and wait for the broker's acknowledgement; returns the record metadata."""
        value, headers = encode(spec, message)
        return await self.send_raw(spec.name, key, value, headers)

    async def publish_nowait(self, spec: TopicSpec, key: bytes, message: Message) -> Any:
        """Queue a record and return a future of its acknowledgement, for high-rate publishing.

        Await the returned future (or call flush) before treating the record as delivered.
        """
        value, headers = encode(spec, message)
        future = await self._producer.send(spec.name, value=value, key=key, headers=headers)
        PUBLISHED.labels(spec.name).inc()
        return future

    async def send_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
    ) -> Any:
        metadata = await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)
        PUBLISHED.labels(topic).inc()
        return metadata

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
