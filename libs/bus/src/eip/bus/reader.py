"""Reading a topic back: every record from an instant up to the topic's end as it stands now.

For state rebuilt from what was published (the candle stage restores its candles from
md.candles.v1; market-data's live side finds the last trade it published per market on
md.trades.v1). No consumer group and no commit: a reader of its own, assigned every partition
(or the ones asked for), starting where ``offsets_for_times`` says and stopping at each
partition's end offset taken when the read began. Records newer than that are not waited for.

What is subtle: stopping part-way would hand the caller a state that looks whole and is not,
so a read that cannot finish within its timeout raises ``TimeoutError`` instead of returning.
A key filter runs before anything else looks at a record, so records of keys the caller does
not want cost no decoding.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from eip.events.topics import TopicSpec

RawRecord = Any  # aiokafka's ConsumerRecord: topic, partition, offset, key, value, headers …


async def read_since(
    bootstrap_servers: str,
    topic: TopicSpec,
    since: datetime,
    handle: Callable[[RawRecord], None],
    *,
    timeout_s: float = 30.0,
    keep_key: Callable[[bytes | None], bool] | None = None,
    partitions: Iterable[int] | None = None,
) -> int:
    """Hand every record of ``topic`` published at or after ``since`` (of ``partitions``,
    else of every partition the registry gives the topic) to ``handle``, in order within each
    partition, up to the end the partitions had when the read began. Returns how many records
    were handed over. Raises ``TimeoutError`` rather than stop part-way."""
    consumer: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await asyncio.wait_for(consumer.start(), timeout_s)
    handed = 0
    try:
        # The registry's count, not the consumer's metadata: an unassigned consumer has none yet.
        ids = range(topic.partitions) if partitions is None else sorted(set(partitions))
        assigned = [TopicPartition(topic.name, p) for p in ids]
        if not assigned:
            return 0
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        starts = await consumer.offsets_for_times(
            {tp: int(since.timestamp() * 1000) for tp in assigned}
        )
        pending = {}
        for tp in assigned:
            start = starts.get(tp)
            if start is None or start.offset >= ends[tp]:
                continue
            consumer.seek(tp, start.offset)
            pending[tp] = ends[tp]
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"reading {topic.name} back took over {timeout_s}s; "
                    f"{len(pending)} partitions unfinished"
                )
            batches = await consumer.getmany(*pending, timeout_ms=500, max_records=5000)
            for tp, records in batches.items():
                for raw in records:
                    if raw.offset >= pending.get(tp, 0):
                        continue
                    if keep_key is not None and not keep_key(raw.key):
                        continue
                    handle(raw)
                    handed += 1
                if records and records[-1].offset + 1 >= pending.get(tp, 0):
                    pending.pop(tp, None)
        return handed
    finally:
        await consumer.stop()
