from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import REGISTRY

from eip.events.v1 import order_book_pb2
from eip.order_book.manager import BookManager
from eip.order_book.outbox import OutboundRecord, Outbox
from eip.order_book.rebuild import BookRebuilder

from .helpers import ScriptedBook

BIDS = [("100.00", "1.0000"), ("99.50", "2.0000"), ("99.00", "3.0000")]
ASKS = [("100.50", "1.5000"), ("101.00", "2.5000"), ("102.00", "4.0000")]


def drain(outbox: Outbox) -> list[OutboundRecord]:
    records: list[OutboundRecord] = []
    while len(outbox):
        records.append(outbox._queue.get_nowait())
    return records


def deltas(records: list[OutboundRecord]) -> list[order_book_pb2.BookDelta]:
    return [r.message for r in records if isinstance(r.message, order_book_pb2.BookDelta)]


def snapshots(records: list[OutboundRecord]) -> list[order_book_pb2.BookSnapshot]:
    return [r.message for r in records if isinstance(r.message, order_book_pb2.BookSnapshot)]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_snapshot_starts_an_epoch_and_deltas_are_contiguous() -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook()
    manager.handle(feed.snapshot(BIDS, ASKS))
    manager.handle(feed.delta(bids=[("100.00", "1.5000")]))
    manager.handle(feed.delta(asks=[("100.50", "0")]))
    records = drain(outbox)
    [snap] = snapshots(records)
    assert (snap.epoch, snap.sequence, snap.depth) == (1, 0, 10)
    assert (snap.price_decimals, snap.size_decimals) == (2, 4)
    assert [(lv.price, lv.quantity) for lv in snap.bids] == BIDS
    assert [r.key for r in records] == [b"binance:BTC/USDT"] * 3
    ds = deltas(records)
    assert [(d.epoch, d.sequence) for d in ds] == [(1, 1), (1, 2)]
    assert [(lv.price, lv.quantity) for lv in ds[1].asks] == [("100.50", "0.0000")]
    assert ds[1].exchange_sequence == "3"
    state = manager.get(feed.key)
    assert state is not None
    assert state.in_sync
    assert (state.epoch, state.sequence, state.snapshots, state.deltas) == (1, 2, 1, 2)


def test_desync_stops_publishing_until_the_next_snapshot_starts_a_new_epoch() -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="ETH/USDT")
    before = metric(
        "eip_order_book_desyncs_total", exchange="binance", symbol="ETH/USDT", reason="checksum"
    )
    manager.handle(feed.snapshot(BIDS, ASKS))
    manager.handle(feed.desync("checksum"))
    manager.handle(feed.delta(bids=[("100.00", "9.0000")]))  # an adapter should not send this
    state = manager.get(feed.key)
    assert state is not None
    assert not state.in_sync
    assert (state.desync_reason, state.dropped, state.desyncs) == ("checksum", 1, 1)
    first, marker = snapshots(drain(outbox))
    assert (first.epoch, first.out_of_sync) == (1, False)
    assert (marker.epoch, marker.sequence, marker.out_of_sync) == (1, 0, True)
    assert marker.desync_reason == "checksum"
    assert list(marker.bids) == []
    assert len(outbox) == 0
    assert (
        metric(
            "eip_order_book_desyncs_total", exchange="binance", symbol="ETH/USDT", reason="checksum"
        )
        == before + 1
    )
    assert metric("eip_order_book_in_sync", exchange="binance", symbol="ETH/USDT") == 0

    manager.handle(feed.snapshot(BIDS[:1], ASKS[:1]))
    manager.handle(feed.delta(bids=[("99.90", "1.0000")]))
    records = drain(outbox)
    assert [(m.epoch, m.sequence) for m in snapshots(records)] == [(2, 0)]
    assert [(m.epoch, m.sequence) for m in deltas(records)] == [(2, 1)]
    assert state.in_sync
    assert state.desync_reason is None


def test_a_delta_that_crosses_the_book_takes_it_out_of_sync_unpublished() -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="SOL/USDT")
    manager.handle(feed.snapshot(BIDS, ASKS))
    drain(outbox)
    manager.handle(feed.delta(bids=[("100.60", "1.0000")]))
    state = manager.get(feed.key)
    assert state is not None
    assert not state.in_sync
    assert state.desync_reason == "crossed"
    [marker] = drain(outbox)  # no delta: only the out-of-sync marker
    assert marker.message.out_of_sync  # type: ignore[attr-defined]


def test_a_crossed_snapshot_is_never_published() -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="XRP/USDT")
    manager.handle(feed.snapshot([("101.00", "1.0000")], ASKS))
    state = manager.get(feed.key)
    assert state is not None
    assert not state.in_sync
    assert state.epoch == 0
    assert len(outbox) == 0


def test_a_delta_before_any_snapshot_is_dropped() -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="ADA/USDT")
    feed.book.replace(BIDS, ASKS)
    manager.handle(feed.delta(bids=[("100.00", "2.0000")]))
    state = manager.get(feed.key)
    assert state is not None
    assert not state.in_sync
    assert state.dropped == 1
    assert len(outbox) == 0


def test_the_published_view_follows_the_top_depth_levels() -> None:
    """Levels beyond the depth are not published; one surfacing into the top is, one pushed
    out of it is removed: a consumer always holds exactly the top ``depth`` levels."""
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=2)
    feed = ScriptedBook()
    rebuilt = BookRebuilder()
    manager.handle(feed.snapshot(BIDS, ASKS))
    manager.handle(feed.delta(bids=[("98.00", "5.0000")]))  # below the top 2: not published
    manager.handle(feed.delta(bids=[("100.00", "0")]))  # 99.00 surfaces into the top 2
    manager.handle(feed.delta(bids=[("100.20", "1.0000")]))  # pushes 99.00 out again
    manager.handle(feed.delta(asks=[("100.50", "0"), ("101.00", "0")]))  # one left: 102.00
    records = drain(outbox)
    for record in records:
        if isinstance(record.message, order_book_pb2.BookSnapshot):
            rebuilt.on_snapshot(record.message)
        else:
            rebuilt.on_delta(record.message)  # type: ignore[arg-type]
    ds = deltas(records)
    assert [d.sequence for d in ds] == [1, 2, 3]  # the deep-only update published nothing
    assert {(lv.price, lv.quantity) for lv in ds[0].bids} == {
        ("100.00", "0.0000"),
        ("99.00", "3.0000"),
    }
    assert {(lv.price, lv.quantity) for lv in ds[1].bids} == {
        ("100.20", "1.0000"),
        ("99.00", "0.0000"),
    }
    copy = rebuilt.get(feed.key)
    assert copy is not None
    assert copy.in_sync
    assert copy.book.bid_strings() == feed.book.bid_strings(2)
    assert copy.book.ask_strings() == feed.book.ask_strings(2) == [("102.00", "4.0000")]


def test_outbox_overflow_starts_a_new_epoch_instead_of_a_gap() -> None:
    outbox = Outbox(2)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="DOT/USDT")
    manager.handle(feed.snapshot(BIDS, ASKS))  # 1 record
    manager.handle(feed.delta(bids=[("100.00", "1.1000")]))  # 2 records: full
    manager.handle(feed.delta(bids=[("100.00", "1.2000")]))  # lost
    state = manager.get(feed.key)
    assert state is not None
    assert state.republish
    drain(outbox)
    manager.handle(feed.delta(bids=[("100.00", "1.3000")]))
    [snap] = snapshots(drain(outbox))
    assert (snap.epoch, snap.sequence) == (2, 0)
    assert ("100.00", "1.3000") in [(lv.price, lv.quantity) for lv in snap.bids]


def test_publication_lost_republishes_at_the_next_periodic_snapshot() -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="LTC/USDT")
    manager.handle(feed.snapshot(BIDS, ASKS))
    manager.handle(feed.delta(bids=[("100.00", "1.1000")]))
    drain(outbox)
    assert manager.publish_snapshots() == 1
    [periodic] = snapshots(drain(outbox))
    assert (periodic.epoch, periodic.sequence) == (1, 1)
    manager.publication_lost(feed.key)
    manager.publish_snapshots()
    [fresh] = snapshots(drain(outbox))
    assert (fresh.epoch, fresh.sequence) == (2, 0)


@pytest.mark.parametrize("bad", ["abc", "NaN-ish"])
def test_an_unreadable_delta_level_is_a_desync(bad: str) -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="BNB/USDT")
    manager.handle(feed.snapshot(BIDS, ASKS))
    drain(outbox)
    manager.handle(dataclasses.replace(feed.delta(), bids=[(bad, "1")]))
    state = manager.get(feed.key)
    assert state is not None
    assert not state.in_sync
    assert state.desync_reason == "error"
    [marker] = drain(outbox)  # no delta: only the out-of-sync marker
    assert marker.message.out_of_sync  # type: ignore[attr-defined]


def test_a_view_that_drifted_from_the_book_is_republished_from_the_book() -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="TRX/USDT")
    manager.handle(feed.snapshot(BIDS, ASKS))
    feed.book.apply([("100.00", "7.0000")], [])
    # a feed whose delta does not say what it did to its book
    manager.handle(dataclasses.replace(feed.delta(), bids=[("100.00", "6.0000")]))
    drain(outbox)
    manager.publish_snapshots()
    [snap] = snapshots(drain(outbox))
    assert (snap.epoch, snap.sequence) == (2, 0)
    assert ("100.00", "7.0000") in [(lv.price, lv.quantity) for lv in snap.bids]
    assert (
        metric("eip_order_book_view_mismatches_total", exchange="binance", symbol="TRX/USDT") == 1
    )


@pytest.mark.parametrize(
    ("price", "size"),
    [("99.5", "2.5"), ("099.50", "2.50000"), ("+99.50", "25E-1"), ("9.95E+1", "2.5000")],
)
def test_delta_levels_are_published_in_the_books_own_spelling(price: str, size: str) -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="AVAX/USDT")
    manager.handle(feed.snapshot(BIDS, ASKS))
    drain(outbox)
    feed.book.apply([(price, size)], [])
    manager.handle(dataclasses.replace(feed.delta(), bids=[(price, size)]))
    [delta] = deltas(drain(outbox))
    assert [(lv.price, lv.quantity) for lv in delta.bids] == [("99.50", "2.5000")]


@pytest.mark.parametrize("zero", ["0.0000", "0", "0E-8", "-0.0", "00.00"])
def test_a_level_removed_in_any_spelling_of_zero_is_published_as_removed(zero: str) -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="DOT/USDT")
    manager.handle(feed.snapshot(BIDS, ASKS))
    drain(outbox)
    feed.book.apply([("99.50", zero)], [])
    manager.handle(dataclasses.replace(feed.delta(), bids=[("99.50", zero)]))
    [delta] = deltas(drain(outbox))
    assert [(lv.price, lv.quantity) for lv in delta.bids] == [("99.50", "0.0000")]
    state = manager.get(feed.key)
    assert state is not None
    assert state.view.bids() == [("100.00", "1.0000"), ("99.00", "3.0000")]


def test_forgetting_a_book_tells_consumers() -> None:
    outbox = Outbox(100)
    manager = BookManager(outbox, depth=10)
    feed = ScriptedBook(symbol="ATOM/USDT")
    manager.handle(feed.snapshot(BIDS, ASKS))
    drain(outbox)
    manager.forget(feed.key)
    assert manager.get(feed.key) is None
    [marker] = snapshots(drain(outbox))
    assert marker.out_of_sync
    assert marker.desync_reason == "unsubscribed"


def test_a_restarted_manager_starts_above_every_epoch_of_the_one_before() -> None:
    """A consumer ignores epochs below the highest it has seen: counting from 1 again after a
    restart would leave it holding the old book, marked in sync."""
    first = BookManager(Outbox(100), 10, epoch_floor=1_000)
    feed = ScriptedBook("binance", "BTC/USDT")
    first.handle(feed.snapshot(BIDS, ASKS))
    first.handle(feed.desync("gap"))
    first.handle(feed.snapshot(BIDS, ASKS))
    before = first.get(feed.key)
    assert before is not None
    assert before.epoch == 1_002

    restarted = BookManager(Outbox(100), 10, epoch_floor=2_000)
    restarted.handle(feed.snapshot(BIDS, ASKS))
    after = restarted.get(feed.key)
    assert after is not None
    assert after.epoch > before.epoch
