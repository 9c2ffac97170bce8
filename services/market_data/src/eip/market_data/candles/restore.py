"""The candle stage's state as published on md.candles.v1, read back.

Every candle record carries the header ``md.trades.position`` (``<partition>:<offset>`` of the
newest trade in it, in md.trades.v1), so a builder restored from the records skips exactly the
replayed trades they already hold. Records published before the header existed restore by
time instead (``CandleBuilder.restore``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from eip.bus import decode
from eip.bus.codec import Headers
from eip.events.topics import TopicSpec
from eip.events.v1 import market_data_pb2
from eip.exchanges.market_data import TIMEFRAME_SECONDS, Timeframe
from eip.market_data.candles.builder import Candle, CandleKey, Position

POSITION_HEADER = "md.trades.position"


def position_header(position: Position) -> tuple[str, bytes]:
    return POSITION_HEADER, f"{position[0]}:{position[1]}".encode()


def position_from_headers(headers: Headers) -> Position | None:
    for name, value in headers:
        if name == POSITION_HEADER:
            partition, _, offset = value.decode().partition(":")
            try:
                return int(partition), int(offset)
            except ValueError:
                return None  # not ours to trust: restore by time
    return None


def candle_from_message(
    message: market_data_pb2.Candle, position: Position | None = None
) -> Candle:
    timeframe: Timeframe = message.timeframe  # type: ignore[assignment]
    if timeframe not in TIMEFRAME_SECONDS:
        raise ValueError(f"unknown timeframe {message.timeframe!r}")
    times = message.times
    return Candle(
        CandleKey(message.instrument.exchange, message.instrument.symbol, timeframe),
        message.open_time.ToDatetime(tzinfo=UTC),
        Decimal(message.open),
        Decimal(message.high),
        Decimal(message.low),
        Decimal(message.close),
        Decimal(message.base_volume),
        Decimal(message.quote_volume or "0"),
        message.trade_count,
        message.closed,
        times.exchange_time.ToDatetime(tzinfo=UTC) if times.HasField("exchange_time") else None,
        times.received_time.ToDatetime(tzinfo=UTC) if times.HasField("received_time") else None,
        position,
    )


async def read_recent_candles(
    bootstrap_servers: str, topic: TopicSpec, since: datetime, timeout_s: float = 30.0
) -> list[Candle]:
    """Every candle record published since ``since`` up to the topic's end at call time, in
    publication order per key. Raises ``TimeoutError`` rather than return part of them: a
    builder restored from part of its state would publish wrong candles."""
    consumer: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await asyncio.wait_for(consumer.start(), timeout_s)
    try:
        # The registry's count, not the consumer's metadata: an unassigned consumer has none yet.
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times(
            {tp: int(since.timestamp() * 1000) for tp in partitions}
        )
        pending = {}
        for tp in partitions:
            start = starts.get(tp)
            if start is None or start.offset >= ends[tp]:
                continue
            consumer.seek(tp, start.offset)
            pending[tp] = ends[tp]
        candles: list[Candle] = []
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
                    if raw.offset < pending.get(tp, 0):
                        headers: Headers = list(raw.headers or [])
                        message = decode(topic, raw.value, headers)
                        candles.append(
                            candle_from_message(
                                message,  # type: ignore[arg-type]
                                position_from_headers(headers),
                            )
                        )
                if records and records[-1].offset + 1 >= pending.get(tp, 0):
                    pending.pop(tp, None)
        return candles
    finally:
        await consumer.stop()
