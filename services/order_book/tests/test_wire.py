"""The published records' timestamps and levels are exactly what the protobuf helpers would
have built (the wire module builds them from plain values, for speed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from eip.exchanges.contract.book_events import BookKey
from eip.order_book.wire import delta_record, snapshot_record

KEY = BookKey("kraken", "BTC/USD")


def from_datetime(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


@pytest.mark.parametrize(
    "when",
    [
        datetime(2021, 4, 15, 10, 11, 12, 345678, tzinfo=UTC),
        datetime(2026, 12, 7, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 58, 1, tzinfo=UTC),  # before the epoch: nanos stay >= 0
        datetime(2021, 4, 15, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(2021, 4, 15, 12, 0, 0, 5),  # naive is UTC, as FromDatetime reads it
    ],
)
def test_record_times_are_the_exact_instants_given(when: datetime) -> None:
    later = when + timedelta(microseconds=1)
    delta = delta_record(
        KEY,
        epoch=3,
        sequence=4,
        bids=[("100.0", "1.50")],
        asks=[],
        exchange_sequence="9",
        exchange_time=when,
        received_time=later,
    )
    assert delta.times.exchange_time == from_datetime(when)
    assert delta.times.received_time == from_datetime(later)


def test_records_carry_the_levels_in_order_and_leave_absent_times_unset() -> None:
    snapshot = snapshot_record(
        KEY,
        epoch=1,
        sequence=0,
        bids=[("100.0", "1.50"), ("99.5", "2.00")],
        asks=[("100.5", "0.25")],
        depth=10,
        price_decimals=1,
        size_decimals=2,
        exchange_time=None,
        received_time=None,
    )
    assert [(lv.price, lv.quantity) for lv in snapshot.bids] == [
        ("100.0", "1.50"),
        ("99.5", "2.00"),
    ]
    assert [(lv.price, lv.quantity) for lv in snapshot.asks] == [("100.5", "0.25")]
    assert (snapshot.instrument.exchange, snapshot.instrument.symbol) == ("kraken", "BTC/USD")
    assert not snapshot.times.HasField("exchange_time")
    assert not snapshot.times.HasField("received_time")
    assert not snapshot.out_of_sync
