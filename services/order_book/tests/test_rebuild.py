from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from eip.events.v1 import common_pb2, order_book_pb2
from eip.exchanges.contract.book_events import BookKey
from eip.order_book.manager import BookManager
from eip.order_book.outbox import Outbox
from eip.order_book.rebuild import BookRebuilder

from .helpers import ScriptedBook

KEY = BookKey("binance", "BTC/USDT")
INSTRUMENT = common_pb2.Instrument(exchange="binance", symbol="BTC/USDT")


def level(price: str, quantity: str) -> common_pb2.PriceLevel:
    return common_pb2.PriceLevel(price=price, quantity=quantity)


def snapshot(epoch: int, sequence: int, bid: str = "1.0") -> order_book_pb2.BookSnapshot:
    return order_book_pb2.BookSnapshot(
        instrument=INSTRUMENT,
        epoch=epoch,
        sequence=sequence,
        bids=[level("100.0", bid)],
        asks=[level("101.0", "1.0")],
        depth=10,
        price_decimals=1,
        size_decimals=1,
    )


def delta(epoch: int, sequence: int, bid: str) -> order_book_pb2.BookDelta:
    return order_book_pb2.BookDelta(
        instrument=INSTRUMENT, epoch=epoch, sequence=sequence, bids=[level("100.0", bid)]
    )


def test_applies_the_next_delta_and_skips_what_the_snapshot_includes() -> None:
    r = BookRebuilder()
    r.on_delta(delta(1, 1, "9.0"))  # before any snapshot: nothing to apply it to
    assert r.get(KEY) is None
    r.on_snapshot(snapshot(1, 2, bid="2.0"))
    r.on_delta(delta(1, 2, "7.0"))  # included in the snapshot already
    r.on_delta(delta(1, 3, "3.0"))
    r.on_delta(delta(1, 3, "8.0"))  # redelivered
    copy = r.get(KEY)
    assert copy is not None
    assert copy.in_sync
    assert copy.sequence == 3
    assert copy.book.bid_strings() == [("100.0", "3.0")]


def test_a_sequence_jump_is_a_gap_until_a_snapshot_repairs_it() -> None:
    r = BookRebuilder()
    r.on_snapshot(snapshot(1, 0))
    r.on_delta(delta(1, 2, "5.0"))
    copy = r.get(KEY)
    assert copy is not None
    assert not copy.in_sync
    assert copy.problem == "gap"
    r.on_delta(delta(1, 3, "6.0"))  # not applied while out of sync
    assert copy.book.bid_strings() == [("100.0", "1.0")]
    r.on_snapshot(snapshot(1, 3, bid="6.0"))
    repaired = r.get(KEY)
    assert repaired is not None
    assert repaired.in_sync
    assert repaired.sequence == 3


def test_a_new_epoch_without_its_snapshot_is_not_in_sync() -> None:
    r = BookRebuilder()
    r.on_snapshot(snapshot(1, 0))
    r.on_delta(delta(2, 1, "5.0"))
    copy = r.get(KEY)
    assert copy is not None
    assert not copy.in_sync
    assert copy.problem == "epoch"
    r.on_snapshot(snapshot(1, 5))  # an older epoch never repairs it
    assert not r.get(KEY).in_sync  # type: ignore[union-attr]
    r.on_snapshot(snapshot(2, 0))
    r.on_delta(delta(2, 1, "5.0"))
    copy = r.get(KEY)
    assert copy is not None
    assert copy.in_sync
    assert copy.book.bid_strings() == [("100.0", "5.0")]


def test_a_snapshot_that_disagrees_at_the_same_position_is_a_mismatch() -> None:
    r = BookRebuilder()
    r.on_snapshot(snapshot(1, 0))
    r.on_delta(delta(1, 1, "5.0"))
    r.on_snapshot(snapshot(1, 1, bid="5.0"))  # agrees
    assert r.get(KEY).in_sync  # type: ignore[union-attr]
    r.on_snapshot(snapshot(1, 1, bid="4.0"))
    copy = r.get(KEY)
    assert copy is not None
    assert not copy.in_sync
    assert copy.problem == "mismatch"


def test_the_services_out_of_sync_marker_stops_the_copy_until_a_newer_epoch() -> None:
    r = BookRebuilder()
    r.on_snapshot(snapshot(1, 0))
    r.on_delta(delta(1, 1, "5.0"))
    marker = snapshot(1, 1)
    del marker.bids[:]
    del marker.asks[:]
    marker.out_of_sync, marker.desync_reason = True, "checksum"
    r.on_snapshot(marker)
    copy = r.get(KEY)
    assert copy is not None
    assert not copy.in_sync
    assert copy.problem == "source:checksum"
    assert copy.book.bid_count == 0  # a book known to be wrong is not kept
    r.on_snapshot(snapshot(1, 1, bid="5.0"))  # the same epoch never comes back
    assert not r.get(KEY).in_sync  # type: ignore[union-attr]
    r.on_snapshot(snapshot(2, 0, bid="6.0"))
    copy = r.get(KEY)
    assert copy is not None
    assert copy.in_sync
    assert copy.book.bid_strings() == [("100.0", "6.0")]


def test_a_late_joiner_whose_latest_snapshot_is_a_marker_is_not_in_sync() -> None:
    marker = snapshot(3, 7)
    del marker.bids[:]
    marker.out_of_sync, marker.desync_reason = True, "gap"
    r = BookRebuilder()
    r.on_snapshot(marker)
    r.on_delta(delta(3, 8, "1.0"))
    copy = r.get(KEY)
    assert copy is not None
    assert not copy.in_sync
    assert copy.problem == "source:gap"


def test_an_older_snapshot_does_not_roll_the_copy_back() -> None:
    r = BookRebuilder()
    r.on_snapshot(snapshot(2, 0, bid="2.0"))
    r.on_snapshot(snapshot(1, 9, bid="9.0"))
    copy = r.get(KEY)
    assert copy is not None
    assert (copy.epoch, copy.sequence) == (2, 0)
    assert copy.book.bid_strings() == [("100.0", "2.0")]


prices = st.integers(min_value=9_900, max_value=10_100)
sizes = st.sampled_from(["0", "0.5000", "1.0000", "2.2500", "7.0000"])
update = st.tuples(
    st.lists(st.tuples(prices, sizes), max_size=4), st.lists(st.tuples(prices, sizes), max_size=4)
)


def fmt(ticks: int) -> str:
    return f"{ticks // 100}.{ticks % 100:02d}"


@settings(max_examples=150, deadline=None)
@given(
    depth=st.integers(min_value=1, max_value=6),
    updates=st.lists(update, max_size=40),
    snapshot_every=st.integers(min_value=1, max_value=15),
)
def test_a_consumer_holds_exactly_the_published_top_levels(
    depth: int,
    updates: list[tuple[list[tuple[int, str]], list[tuple[int, str]]]],
    snapshot_every: int,
) -> None:
    """Whatever the adapter does to its book, snapshot + deltas rebuild its top ``depth``
    levels; and a consumer starting from any later snapshot agrees."""
    outbox = Outbox(10_000)
    manager = BookManager(outbox, depth=depth)
    feed = ScriptedBook()
    manager.handle(feed.snapshot([("99.00", "1.0000")], [("101.00", "1.0000")]))
    for n, (raw_bids, raw_asks) in enumerate(updates):
        # keep the adapter's book uncrossed as a real venue would: bids below 100, asks above
        bids = [(fmt(min(p, 9_999)), s) for p, s in raw_bids]
        asks = [(fmt(max(p, 10_001)), s) for p, s in raw_asks]
        manager.handle(feed.delta(bids=bids, asks=asks))
        state = manager.get(feed.key)
        assert state is not None
        assert state.view.bids() == feed.book.bid_strings(depth)
        assert state.view.asks() == feed.book.ask_strings(depth)
        if n % snapshot_every == 0:
            manager.publish_snapshots()
    records = [outbox._queue.get_nowait() for _ in range(len(outbox))]
    full = BookRebuilder()
    for record in records:
        if isinstance(record.message, order_book_pb2.BookSnapshot):
            full.on_snapshot(record.message)
        else:
            full.on_delta(record.message)  # type: ignore[arg-type]
    last_snapshot = max(
        i for i, r in enumerate(records) if isinstance(r.message, order_book_pb2.BookSnapshot)
    )
    late = BookRebuilder()
    late.on_snapshot(records[last_snapshot].message)  # type: ignore[arg-type]
    for record in records:  # a late joiner reads every retained delta, old ones are skipped
        if isinstance(record.message, order_book_pb2.BookDelta):
            late.on_delta(record.message)
    for copy in (full.get(feed.key), late.get(feed.key)):
        assert copy is not None
        assert copy.in_sync
        assert copy.book.bid_strings() == feed.book.bid_strings(depth)
        assert copy.book.ask_strings() == feed.book.ask_strings(depth)
