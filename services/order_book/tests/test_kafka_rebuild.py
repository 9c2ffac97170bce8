"""Against a real broker: the manager publishes, a consumer rebuilds the same books from the
latest snapshot per key plus the deltas after it, across a resync (new epoch)."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from eip.bus import Producer, decode
from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS, TopicSpec
from eip.events.v1 import order_book_pb2
from eip.order_book.manager import BookManager
from eip.order_book.outbox import KafkaPublisher, Outbox
from eip.order_book.rebuild import BookRebuilder
from eip.order_book.service import OrderBookService
from eip.order_book.settings import OrderBookSettings
from eip.testing.plugin import TopicFactory

from .helpers import ScriptedBook

pytestmark = pytest.mark.integration

DEPTH = 3


async def read_topic(bootstrap: str, spec: TopicSpec, expected: int = 0) -> list[object]:
    """Every record of the topic up to its end offsets now (at least ``expected``), decoded."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    messages: list[object] = []
    try:
        partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ends = await consumer.end_offsets(partitions)
            positions = {tp: await consumer.position(tp) for tp in partitions}
            caught_up = all(positions[tp] >= ends[tp] for tp in partitions)
            if caught_up and sum(ends.values()) >= expected:
                break
            batch = await consumer.getmany(*partitions, timeout_ms=300)
            for records in batch.values():
                messages.extend(decode(spec, r.value, list(r.headers)) for r in records)
    finally:
        await consumer.stop()
    return messages


async def test_consumer_rebuilds_the_published_books_across_a_resync(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    deltas_topic = await make_topic(MD_BOOK_DELTAS)
    snapshots_topic = await make_topic(MD_BOOK_SNAPSHOTS)
    outbox = Outbox(1000)
    manager = BookManager(outbox, DEPTH, deltas_topic, snapshots_topic)
    publisher = KafkaPublisher(outbox, lambda: producer, manager.publication_lost)
    pump = asyncio.create_task(publisher.run())
    btc, eth = ScriptedBook(symbol="BTC/USDT"), ScriptedBook(symbol="ETH/USDT")
    try:
        for feed in (btc, eth):
            manager.handle(
                feed.snapshot(
                    [("100.00", "1.0000"), ("99.00", "2.0000"), ("98.00", "3.0000")],
                    [("101.00", "1.0000"), ("102.00", "2.0000"), ("103.00", "3.0000")],
                )
            )
        manager.handle(btc.delta(bids=[("100.00", "1.5000")]))
        manager.handle(eth.delta(asks=[("101.00", "0")]))  # 103 stays, nothing surfaces
        manager.handle(btc.delta(bids=[("97.00", "4.0000")]))  # below depth: not published
        manager.publish_snapshots()  # periodic snapshots mid-epoch
        manager.handle(btc.delta(bids=[("100.00", "0")]))  # 97.00 surfaces into the top 3
        manager.handle(eth.delta(asks=[("101.50", "0.2500")]))
        old_epoch_snapshot_position = (1, 1)
        # BTC loses sync and comes back: a new epoch from a new venue snapshot
        manager.handle(btc.desync("gap"))
        manager.handle(btc.delta(bids=[("99.00", "9.0000")]))  # dropped: not in sync
        manager.handle(btc.snapshot([("95.00", "1.0000")], [("96.00", "1.0000")]))
        manager.handle(btc.delta(asks=[("96.50", "2.0000")]))
        manager.handle(btc.delta(bids=[("94.00", "1.0000"), ("95.00", "1.2500")]))
        await asyncio.wait_for(publisher.drain(), 20)
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)

    snapshots = await read_topic(kafka_bootstrap_servers, snapshots_topic, 6)
    deltas = await read_topic(kafka_bootstrap_servers, deltas_topic, 6)
    assert len(snapshots) == 6  # 2 initial, 2 periodic, BTC's out-of-sync marker, 1 resync
    markers = [m for m in snapshots if m.out_of_sync]  # type: ignore[attr-defined]
    assert [(m.instrument.symbol, m.epoch, m.desync_reason) for m in markers] == [  # type: ignore[attr-defined]
        ("BTC/USDT", 1, "gap")
    ]
    assert len(deltas) == 6  # BTC 2 + 2 (the deep-only update is not published), ETH 2

    # Compaction does not run in a test: the latest snapshot per key is the last record.
    latest: dict[tuple[str, str], order_book_pb2.BookSnapshot] = {}
    for message in snapshots:
        assert isinstance(message, order_book_pb2.BookSnapshot)
        latest[(message.instrument.exchange, message.instrument.symbol)] = message
    assert (latest[("binance", "BTC/USDT")].epoch, latest[("binance", "BTC/USDT")].sequence) == (
        2,
        0,
    )
    eth_latest = latest[("binance", "ETH/USDT")]
    assert (eth_latest.epoch, eth_latest.sequence) == (1, 1)

    rebuilder = BookRebuilder()
    for message in latest.values():
        rebuilder.on_snapshot(message)
    for message in deltas:
        assert isinstance(message, order_book_pb2.BookDelta)
        rebuilder.on_delta(message)
    for feed in (btc, eth):
        copy = rebuilder.get(feed.key)
        assert copy is not None
        assert copy.in_sync
        assert copy.book.bid_strings() == feed.book.bid_strings(DEPTH)
        assert copy.book.ask_strings() == feed.book.ask_strings(DEPTH)
    btc_copy = rebuilder.get(btc.key)
    assert btc_copy is not None
    assert (btc_copy.epoch, btc_copy.sequence) == (2, 2)
    assert btc_copy.book.bid_strings() == [("95.00", "1.2500"), ("94.00", "1.0000")]

    # A consumer that only had BTC's mid-epoch snapshot must not follow the new epoch blindly.
    stale = BookRebuilder()
    [old] = [
        m
        for m in snapshots
        if isinstance(m, order_book_pb2.BookSnapshot)
        and m.instrument.symbol == "BTC/USDT"
        and (m.epoch, m.sequence) == old_epoch_snapshot_position
    ]
    stale.on_snapshot(old)
    for message in deltas:
        stale.on_delta(message)  # type: ignore[arg-type]
    stale_copy = stale.get(btc.key)
    assert stale_copy is not None
    assert not stale_copy.in_sync
    assert stale_copy.problem == "epoch"


async def test_records_queued_at_shutdown_still_reach_kafka(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    deltas_topic = await make_topic(MD_BOOK_DELTAS)
    snapshots_topic = await make_topic(MD_BOOK_SNAPSHOTS)
    service = OrderBookService(
        OrderBookSettings(snapshot_interval_s=3600),
        lambda: producer,
        deltas_topic=deltas_topic,
        snapshots_topic=snapshots_topic,
    )
    feed = ScriptedBook()
    async with service.running():
        service.manager.handle(feed.snapshot([("100.00", "1.0000")], [("101.00", "1.0000")]))
        for n in range(50):
            service.manager.handle(feed.delta(bids=[("99.00", f"{n + 1}.0000")]))
    # the context exited right after queueing: nothing was awaited in between
    deltas = await read_topic(kafka_bootstrap_servers, deltas_topic, 50)
    assert [m.sequence for m in deltas] == list(range(1, 51))  # type: ignore[attr-defined]
