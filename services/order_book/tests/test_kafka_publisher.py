"""Against a real broker: the publisher sends what piled up in the outbox in batches, each book's
records in the order the manager queued them, and a record the broker refuses is reported lost
for its book (which then starts a new epoch) — never silently dropped."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence

import pytest
import pytest_asyncio
from google.protobuf.message import Message

from eip.bus import BatchDelivery, Producer, ProducerConfig, partition_for_key
from eip.events.topics import MD_BOOK_DELTAS, MD_BOOK_SNAPSHOTS, TopicSpec, record_key
from eip.exchanges.contract.book_events import BookKey
from eip.order_book.manager import BookManager
from eip.order_book.outbox import KafkaPublisher, Outbox
from eip.testing.plugin import TopicFactory

from .helpers import ScriptedBook
from .test_kafka_rebuild import read_topic

pytestmark = pytest.mark.integration


class CountingProducer(Producer):
    """The platform producer, counting the batched calls it gets."""

    def __init__(self, config: ProducerConfig) -> None:
        super().__init__(config)
        self.calls: list[int] = []

    async def publish_many(
        self, spec: TopicSpec, items: Sequence[tuple[bytes, Message]]
    ) -> list[BatchDelivery]:
        self.calls.append(len(items))
        return await super().publish_many(spec, items)


@pytest_asyncio.fixture
async def counting_producer(kafka_bootstrap_servers: str) -> AsyncIterator[CountingProducer]:
    producer = CountingProducer(ProducerConfig(kafka_bootstrap_servers, client_id="eip-tests"))
    await producer.start()
    yield producer
    await producer.stop()


def side(start: int, count: int, step: int) -> list[tuple[str, str]]:
    return [(f"{start + step * i}.00", f"{1 + i % 7}.{i % 10000:04d}") for i in range(count)]


async def publish(
    outbox: Outbox, manager: BookManager, producer: Producer, lost: list[BookKey]
) -> None:
    def on_lost(key: BookKey) -> None:
        lost.append(key)
        manager.publication_lost(key)

    pump = asyncio.create_task(KafkaPublisher(outbox, lambda: producer, on_lost).run())
    try:
        await asyncio.wait_for(outbox.join(), 30)
        await producer.flush()
        await asyncio.sleep(0)  # the last delivery callbacks
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)


async def test_queued_records_go_to_kafka_in_batches_in_each_books_order(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, counting_producer: CountingProducer
) -> None:
    deltas_topic = await make_topic(MD_BOOK_DELTAS)
    snapshots_topic = await make_topic(MD_BOOK_SNAPSHOTS)
    outbox = Outbox(10_000)
    manager = BookManager(outbox, 5, deltas_topic, snapshots_topic)
    feeds = [ScriptedBook(symbol=f"C{n}/USDT") for n in range(6)]
    for feed in feeds:
        manager.handle(feed.snapshot(side(100, 5, -1), side(200, 5, 1)))
    for i in range(50):  # interleaved, as feeds of many books deliver them
        for feed in feeds:
            manager.handle(feed.delta(bids=[("100.00", f"{i + 2}.0000")]))
    queued = len(outbox)
    assert queued == 6 + 6 * 50
    lost: list[BookKey] = []

    await publish(outbox, manager, counting_producer, lost)

    assert lost == []
    # all queued before the publisher started: one call per topic, not one send per record
    assert sorted(counting_producer.calls) == [6, 300]
    read = await read_topic(kafka_bootstrap_servers, deltas_topic, 300)
    books: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for message in read:
        books[message.instrument.symbol].append(  # type: ignore[attr-defined]
            (message.sequence, message.bids[0].quantity)  # type: ignore[attr-defined]
        )
    assert set(books) == {feed.key.symbol for feed in feeds}
    for deltas in books.values():
        assert deltas == [(i + 1, f"{i + 2}.0000") for i in range(50)]
    assert len(await read_topic(kafka_bootstrap_servers, snapshots_topic, 6)) == 6


async def test_a_record_the_broker_refuses_is_reported_lost_and_its_book_starts_a_new_epoch(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    # The broker refuses record batches above the topic's max.message.bytes: a deep snapshot.
    small = dataclasses.replace(MD_BOOK_SNAPSHOTS, extra_config={"max.message.bytes": "4096"})
    snapshots_topic = await make_topic(small)
    deltas_topic = await make_topic(MD_BOOK_DELTAS)
    outbox = Outbox(10_000)
    manager = BookManager(outbox, 2_000, deltas_topic, snapshots_topic)
    deep = ScriptedBook(symbol="DEEP/USDT")
    # a shallow book in another partition: its records share no batch with the deep snapshot
    partitions = list(range(snapshots_topic.partitions))
    deep_partition = partition_for_key(record_key("binance", "DEEP/USDT"), partitions)
    symbol = next(
        f"S{n}/USDT"
        for n in range(100)
        if partition_for_key(record_key("binance", f"S{n}/USDT"), partitions) != deep_partition
    )
    shallow = ScriptedBook(symbol=symbol)
    manager.handle(deep.snapshot(side(10_000, 2_000, -1), side(20_000, 2_000, 1)))
    manager.handle(shallow.snapshot(side(100, 3, -1), side(200, 3, 1)))
    manager.handle(shallow.delta(bids=[("100.00", "9.0000")]))
    lost: list[BookKey] = []

    await publish(outbox, manager, producer, lost)

    assert lost == [deep.key]
    deep_state = manager.get(deep.key)
    assert deep_state is not None
    assert deep_state.republish
    epoch = deep_state.epoch
    manager.handle(deep.delta(bids=[("10000.00", "5.0000")]))
    assert deep_state.epoch == epoch + 1  # a new epoch, never a hole in the old one
    snapshots = await read_topic(kafka_bootstrap_servers, snapshots_topic, 1)
    assert [s.instrument.symbol for s in snapshots] == [symbol]  # type: ignore[attr-defined]
    deltas = await read_topic(kafka_bootstrap_servers, deltas_topic, 1)
    assert [(d.instrument.symbol, d.sequence) for d in deltas] == [(symbol, 1)]  # type: ignore[attr-defined]
