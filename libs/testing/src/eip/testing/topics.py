"""Everything on a topic, for a test's assertions: every partition read from the beginning to
the end offsets as they were when the read began (committed records only), decoded by the
registry's codec."""

from __future__ import annotations

import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from eip.bus import decode
from eip.events.topics import TopicSpec


async def read_topic(bootstrap: str, spec: TopicSpec, timeout_s: float = 20) -> list[Any]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    out: list[Any] = []
    try:
        partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                break
            batch = await consumer.getmany(*partitions, timeout_ms=300)
            for records in batch.values():
                out.extend(decode(spec, r.value, list(r.headers)) for r in records)
    finally:
        await consumer.stop()
    return out
