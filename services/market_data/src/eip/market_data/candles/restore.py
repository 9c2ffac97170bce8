"""The candle stage's state as published on md.candles.v1, read back.

Every candle record carries the header ``md.trades.position`` (``<partition>:<offset>`` of the
newest trade in it, in md.trades.v1), so a builder restored from the records skips exactly the
replayed trades they already hold. Records published before the header existed restore by
time instead (``CandleBuilder.restore``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from eip.bus import decode
from eip.bus.codec import Headers
from eip.bus.reader import RawRecord, read_since
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


class CandleCollector(Protocol):
    """What ``read_recent_candles`` gives the records it reads to, in each key's order."""

    def add(self, candle: Candle) -> None: ...

    def candles(self) -> list[Candle]: ...


class RestoreState:
    """Of the candle records a builder is restored from, only what ``CandleBuilder.restore``
    uses, in publication order: per key the closed record of its latest interval, the newest
    record of each interval not closed by it, and the record with the newest position (the
    key's replay mark). It gives the same state as every record would, without holding a day
    of in-progress updates: memory is bounded by the keys and their open intervals."""

    def __init__(self) -> None:
        self._closed: dict[CandleKey, tuple[int, Candle]] = {}  # the latest interval closed
        self._open: dict[CandleKey, dict[datetime, tuple[int, Candle]]] = {}
        self._marks: dict[CandleKey, tuple[int, Candle]] = {}
        self._seen = 0

    def add(self, candle: Candle) -> None:
        """``candle`` published after every candle of its key added before."""
        self._seen += 1
        key = candle.key
        if candle.position is not None:
            mark = self._marks.get(key)
            if mark is None or mark[1].position is None or candle.position > mark[1].position:
                self._marks[key] = (self._seen, candle)
        latest = self._closed.get(key)
        if candle.closed:
            if latest is None or candle.close_time >= latest[1].close_time:
                self._closed[key] = (self._seen, candle)
                intervals = self._open.get(key, {})
                for start in [s for s in intervals if s < candle.close_time]:
                    del intervals[start]
            return
        if latest is not None and candle.open_time < latest[1].close_time:
            return  # closed before: restore ignores it (bar its position, kept above)
        self._open.setdefault(key, {})[candle.open_time] = (self._seen, candle)

    def candles(self) -> list[Candle]:
        kept = {id(c): (seen, c) for seen, c in self._closed.values()}
        kept.update((id(c), (seen, c)) for seen, c in self._marks.values())
        for intervals in self._open.values():
            kept.update((id(c), (seen, c)) for seen, c in intervals.values())
        return [candle for _, candle in sorted(kept.values(), key=lambda item: item[0])]


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
    collect: CandleCollector | None = None,
) -> list[Candle]:
    """What a builder needs (``RestoreState``) of the candle records published since ``since``
    up to the topic's end at call time. ``keep`` selects keys, by the record key before
    decoding. Raises ``TimeoutError`` rather than return part of the state: a builder
    restored from part of it would publish wrong candles. ``collect`` keeps something else of
    the records than a builder's state (the automation service: every closed candle, for its
    indicators' history)."""
    state = collect if collect is not None else RestoreState()

    def keep_key(raw_key: bytes | None) -> bool:
        if keep is None or raw_key is None:
            return True
        key = key_parts(raw_key)
        return key is None or keep(key)  # another instance's key: not even decoded

    def restore(raw: RawRecord) -> None:
        headers: Headers = list(raw.headers or [])
        message = decode(topic, raw.value, headers)
        candle = candle_from_message(
            message,  # type: ignore[arg-type]
            position_from_headers(headers),
        )
        if keep is None or keep(candle.key):
            state.add(candle)  # a key's records share a partition: in their order

    await read_since(
        bootstrap_servers, topic, since, restore, timeout_s=timeout_s, keep_key=keep_key
    )
    return state.candles()
