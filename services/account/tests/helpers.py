from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from eip.bus import decode
from eip.events.topics import TopicSpec
from eip.events.v1 import account_pb2


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 30.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s} s")
        await asyncio.sleep(0.1)


async def published_balances(
    bootstrap: str, spec: TopicSpec
) -> list[tuple[str, account_pb2.Balance]]:
    """Every (key, Balance) on the topic, in partition order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    out: list[tuple[str, account_pb2.Balance]] = []
    try:
        partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while True:
            behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
            if not behind:
                break
            batch = await consumer.getmany(*partitions, timeout_ms=300)
            for records in batch.values():
                for r in records:
                    message = decode(spec, r.value, list(r.headers))
                    assert isinstance(message, account_pb2.Balance)
                    out.append((r.key.decode(), message))
    finally:
        await consumer.stop()
    return out
