"""The protobuf records of the published book.

Built from plain dicts (nested message fields, levels, timestamps): with the upb runtime that is
several times cheaper than building each sub-message and copying it in, and one is built per
published delta."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eip.events.v1 import order_book_pb2
from eip.exchanges.contract.book_events import BookKey
from eip.order_book.view import Levels

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TimestampFields = dict[str, int]


def _timestamp(value: datetime) -> TimestampFields:
    """Exact (integer microseconds), and a third of ``Timestamp.FromDatetime``'s cost, which
    was two of the manager's most expensive calls per delta."""
    if value.tzinfo is None:  # naive means UTC, as FromDatetime reads it
        value = value.replace(tzinfo=UTC)
    since = value - _EPOCH
    return {"seconds": since.days * 86_400 + since.seconds, "nanos": since.microseconds * 1_000}


def _fields(
    key: BookKey,
    epoch: int,
    sequence: int,
    bids: Levels,
    asks: Levels,
    exchange_time: datetime | None,
    received_time: datetime | None,
) -> dict[str, Any]:
    """What both records carry, as the constructor's keyword arguments (dicts for the nested
    messages, which the generated stubs do not type: hence ``Any``)."""
    times = {}
    if exchange_time is not None:
        times["exchange_time"] = _timestamp(exchange_time)
    if received_time is not None:
        times["received_time"] = _timestamp(received_time)
    return {
        "instrument": {"exchange": key.exchange, "symbol": key.symbol},
        "times": times,
        "epoch": epoch,
        "sequence": sequence,
        # dicts, not PriceLevel objects: upb builds the repeated field from them in one pass
        "bids": [{"price": p, "quantity": q} for p, q in bids],
        "asks": [{"price": p, "quantity": q} for p, q in asks],
    }


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
        **_fields(key, epoch, sequence, bids, asks, exchange_time, received_time),
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
        **_fields(key, epoch, sequence, bids, asks, exchange_time, received_time),
        depth=depth,
        price_decimals=price_decimals,
        size_decimals=size_decimals,
        out_of_sync=desync_reason is not None,
        desync_reason=desync_reason or "",
    )
