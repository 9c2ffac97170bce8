"""The candle stage's state as published on md.candles.v1, read back.

Every candle record carries the header ``md.trades.position`` (``<partition>:<offset>`` of the
newest trade in it, in md.trades.v1), so a builder restored from the records skips exactly the
replayed trades they already hold. Records published before the header existed restore by
time instead (``CandleBuilder.restore``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from eip.bus import decode
from eip.bus.codec import Headers
from eip.events.topics import TopicSpec
from eip.events.v1 import market_data_pb2
from eip.exchanges.contract.market_data import TIMEFRAME_SECONDS, Timeframe
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


class RestoreState:
    """Of the candle records a builder is restored from, only what ``CandleBuilder.restore``
    uses: per key, the newest closed and the newest open record, in publication order. It gives
    the same state as every record would, without holding a day of in-progress updates."""

    def __init__(self) -> None:
        self._newest: dict[tuple[CandleKey, bool], tuple[int, Candle]] = {}
        self._seen = 0

    def add(self, candle: Candle) -> None:
        """``candle`` published after every candle of its key added before."""
        self._seen += 1
        self._newest[(candle.key, candle.closed)] = (self._seen, candle)

    def candles(self) -> list[Candle]:
        return [candle for _, candle in sorted(self._newest.values(), key=lambda item: item[0])]


def key_parts(raw_key: bytes) -> CandleKey | None:
    """A candle record's key (``exchange:symbol:timeframe``; symbols may hold ``:``)."""
    exchange, _, rest = raw_key.decode(errors="replace").partition(":")
    symbol, _, timeframe = rest.rpartition(":")
    if not exchange or not symbol or timeframe not in TIMEFRAME_SECONDS:
        return None
    return CandleKey(exchange, symbol, timeframe)


async def read_recent_candles(
    bootstrap_servers: str,
    topic: TopicSpec,
    since: datetime,
    timeout_s: float = 30.0,
    keep: Callable[[CandleKey], bool] | None = None,
) -> list[Candle]:
    """What a builder needs (``RestoreState``) of the candle records published since ``since``
    up to the topic's end at call time. ``keep`` selects keys, by the record key before
    decoding. Raises ``TimeoutError`` rather than return part of the state: a builder
    restored from part of it would publish wrong candles."""
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
        state = RestoreState()
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
                    if keep is not None and raw.key is not None:
                        key = key_parts(raw.key)
                        if key is not None and not keep(key):
                            continue  # another instance's key: not even decoded
                    headers: Headers = list(raw.headers or [])
                    message = decode(topic, raw.value, headers)
                    candle = candle_from_message(
                        message,  # type: ignore[arg-type]
                        position_from_headers(headers),
                    )
                    if keep is not None and not keep(candle.key):
                        continue
                    state.add(candle)  # a key's records share a partition: in their order
                if records and records[-1].offset + 1 >= pending.get(tp, 0):
                    pending.pop(tp, None)
        return state.candles()
    finally:
        await consumer.stop()
