"""The protobuf records of the published book."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from eip.events.v1 import common_pb2, order_book_pb2
from eip.exchanges.contract.book_events import BookKey
from eip.order_book.view import Levels


def _times(exchange_time: datetime | None, received_time: datetime | None) -> common_pb2.EventTimes:
    times = common_pb2.EventTimes()
    if exchange_time is not None:
        times.exchange_time.CopyFrom(_timestamp(exchange_time))
    if received_time is not None:
        times.received_time.CopyFrom(_timestamp(received_time))
    return times


def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _levels(levels: Levels) -> list[common_pb2.PriceLevel]:
    return [common_pb2.PriceLevel(price=p, quantity=q) for p, q in levels]


def delta_record(
    key: BookKey,
    *,
    epoch: int,
    sequence: int,
    bids: Levels,
    asks: Levels,
    exchange_sequence: str,
    exchange_time: datetime | None,
    received_time: datetime | None,
) -> order_book_pb2.BookDelta:
    return order_book_pb2.BookDelta(
        instrument=common_pb2.Instrument(exchange=key.exchange, symbol=key.symbol),
        times=_times(exchange_time, received_time),
        sequence=sequence,
        epoch=epoch,
        bids=_levels(bids),
        asks=_levels(asks),
        exchange_sequence=exchange_sequence,
    )


def snapshot_record(
    key: BookKey,
    *,
    epoch: int,
    sequence: int,
    bids: Levels,
    asks: Levels,
    depth: int,
    price_decimals: int,
    size_decimals: int,
    exchange_time: datetime | None,
    received_time: datetime | None,
    desync_reason: str | None = None,
) -> order_book_pb2.BookSnapshot:
    """With ``desync_reason``: the out-of-sync marker (no levels)."""
    return order_book_pb2.BookSnapshot(
        instrument=common_pb2.Instrument(exchange=key.exchange, symbol=key.symbol),
        times=_times(exchange_time, received_time),
        sequence=sequence,
        epoch=epoch,
        bids=_levels(bids),
        asks=_levels(asks),
        depth=depth,
        price_decimals=price_decimals,
        size_decimals=size_decimals,
        out_of_sync=desync_reason is not None,
        desync_reason=desync_reason or "",
    )
