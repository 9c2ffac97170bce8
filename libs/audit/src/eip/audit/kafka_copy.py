"""Reading the chain's Kafka copy (``audit.events.v1``) from its beginning to its end as it
stands when reading starts, in batches, so a long trail never has to fit in memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from eip.bus import DecodeError, KafkaUnavailable, decode
from eip.bus.admin import admin_client
from eip.events.topics import AUDIT_EVENTS, TopicSpec
from eip.events.v1 import auth_pb2


class CopyUnreadable(Exception):
    """The copy could not be read (Kafka away, no such topic, reading stalled)."""


@dataclass(frozen=True)
class CopyRecord:
    partition: int
    offset: int
    # None when the record is not an AuditEvent (wrong or missing schema header, bad bytes).
    event: auth_pb2.AuditEvent | None

    @property
    def where(self) -> str:
        return f"partition {self.partition} offset {self.offset}"


async def read_copy(
    bootstrap_servers: str,
    topic: str,
    *,
    timeout_s: float = 10.0,
    stall_s: float = 30.0,
    batch: int = 1000,
) -> AsyncIterator[list[CopyRecord]]:
    """Yield the topic's records in batches, up to the end offsets taken at the start (records
    published meanwhile belong to a later comparison). Raises ``CopyUnreadable``."""
    spec = replace(AUDIT_EVENTS, name=topic)  # the registered topic, or a copy of it
    partitions = [
        TopicPartition(topic, p) for p in await _partitions(bootstrap_servers, topic, timeout_s)
    ]
    consumer: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id="eip-audit-compare",
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=int(timeout_s * 1000) * 3,
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout_s)
    except (TimeoutError, KafkaError, OSError) as exc:
        await consumer.stop()
        raise CopyUnreadable(
            f"Kafka at {bootstrap_servers} did not answer ({type(exc).__name__}); is it "
            "running? `make up` starts a local broker"
        ) from None
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        progress = time.monotonic()
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=1000, max_records=batch)
            records = [
                CopyRecord(tp.partition, raw.offset, _event(spec, raw))
                for tp, raws in fetched.items()
                for raw in raws
                if raw.offset < ends[tp]
            ]
            if records:
                progress = time.monotonic()
                yield records
            elif time.monotonic() - progress > stall_s:
                raise CopyUnreadable(f"reading {topic!r} made no progress for {stall_s:.0f}s")
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    except KafkaError as exc:
        raise CopyUnreadable(f"reading {topic!r} failed ({type(exc).__name__})") from None
    finally:
        await consumer.stop()


async def _partitions(bootstrap_servers: str, topic: str, timeout_s: float) -> list[int]:
    """The topic's partitions as the broker has them (listing topics never creates one)."""
    try:
        async with admin_client(bootstrap_servers, timeout_s) as admin:
            described = {t["topic"]: t for t in await admin.describe_topics()}
    except KafkaUnavailable as exc:
        raise CopyUnreadable(str(exc)) from None
    except KafkaError as exc:
        raise CopyUnreadable(f"listing Kafka topics failed ({type(exc).__name__})") from None
    if topic not in described:
        raise CopyUnreadable(f"no topic {topic!r} on Kafka")
    return sorted(int(p["partition"]) for p in described[topic]["partitions"])


def _event(spec: TopicSpec, raw: Any) -> auth_pb2.AuditEvent | None:
    try:
        message = decode(spec, raw.value, list(raw.headers or []))
    except DecodeError:
        return None
    assert isinstance(message, auth_pb2.AuditEvent)
    return message
