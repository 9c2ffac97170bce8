"""``Producer.send_many`` / ``publish_many`` against a real broker: same placement and per-key
order as ``send``, every record once, headers on every record, failures reach the caller."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from eip.bus import PartialSend, Producer, ProducerConfig, decode, headers_for
from eip.bus.codec import CONTENT_TYPE, CONTENT_TYPE_HEADER, SCHEMA_HEADER
from eip.events.topics import MD_TRADES, record_key
from eip.events.v1 import common_pb2, market_data_pb2
from eip.testing.plugin import TopicFactory

pytestmark = pytest.mark.integration

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT", "LTC/BTC"]


def trade(symbol: str, n: int) -> market_data_pb2.Trade:
    return market_data_pb2.Trade(
        instrument=common_pb2.Instrument(exchange="binance", symbol=symbol),
        trade_id=str(n),
        price=f"{100 + n}.25",
        amount="0.001",
    )


async def read_all(bootstrap: str, topic: str, expected: int) -> list[object]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[object] = []
    deadline = time.monotonic() + 20
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for items in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(items)
        for items in (await consumer.getmany(timeout_ms=500)).values():  # duplicates show up
            records.extend(items)
    finally:
        await consumer.stop()
    return records


async def test_publish_many_delivers_each_record_once_in_key_order_on_sends_partition(
    producer: Producer, make_topic: TopicFactory, kafka_bootstrap_servers: str
) -> None:
    spec = await make_topic(MD_TRADES)
    items = [
        (record_key("binance", SYMBOLS[n % len(SYMBOLS)]), trade(SYMBOLS[n % len(SYMBOLS)], n))
        for n in range(3000)
    ]
    deliveries = []
    for start in range(0, len(items), 1000):  # order must hold across calls too
        deliveries += await producer.publish_many(spec, items[start : start + 1000])
    metadata = await asyncio.gather(*(d.future for d in deliveries))
    assert len(metadata) == len(deliveries)
    assert sum(len(d.indices) for d in deliveries) == len(items)
    # send() of one record per key: where the default partitioner puts it
    expected_partition = {}
    for symbol in SYMBOLS:
        key = record_key("binance", symbol)
        md = await producer.publish(spec, key, trade(symbol, -1))
        expected_partition[key] = md.partition

    records = await read_all(kafka_bootstrap_servers, spec.name, len(items) + len(SYMBOLS))
    ids_by_key: dict[bytes, list[int]] = defaultdict(list)
    for r in records:
        message = decode(spec, r.value, list(r.headers))  # type: ignore[attr-defined]
        assert dict(r.headers)[CONTENT_TYPE_HEADER] == CONTENT_TYPE  # type: ignore[attr-defined]
        assert dict(r.headers)[SCHEMA_HEADER] == b"eip.events.v1.Trade"  # type: ignore[attr-defined]
        assert r.partition == expected_partition[r.key]  # type: ignore[attr-defined]
        if message.trade_id != "-1":  # type: ignore[attr-defined]
            ids_by_key[r.key].append(int(message.trade_id))  # type: ignore[attr-defined]
    got = sorted(i for ids in ids_by_key.values() for i in ids)
    assert got == list(range(len(items))), "every record exactly once"
    for key, ids in ids_by_key.items():
        assert ids == sorted(ids), f"order of {key!r} kept"
    assert len(records) == len(items) + len(SYMBOLS)
    assert len(set(expected_partition.values())) > 1, "keys spread over partitions"


async def test_send_many_splits_into_batches_that_fit_max_batch_bytes(
    kafka_bootstrap_servers: str, make_topic: TopicFactory
) -> None:
    spec = await make_topic(MD_TRADES)
    small = Producer(
        ProducerConfig(kafka_bootstrap_servers, client_id="eip-tests-small", max_batch_bytes=4096)
    )
    await small.start()
    try:
        key = record_key("binance", "BTC/USDT")
        deliveries = await small.publish_many(
            spec, [(key, trade("BTC/USDT", n)) for n in range(500)]
        )
        await asyncio.gather(*(d.future for d in deliveries))
    finally:
        await small.stop()
    assert len(deliveries) > 1
    assert [i for d in deliveries for i in d.indices] == list(range(500))
    records = await read_all(kafka_bootstrap_servers, spec.name, 500)
    ids = [int(decode(spec, r.value, list(r.headers)).trade_id) for r in records]  # type: ignore[attr-defined]
    assert ids == list(range(500))


async def test_send_many_on_a_stopped_producer_raises_with_every_record_unsent(
    kafka_bootstrap_servers: str, make_topic: TopicFactory
) -> None:
    spec = await make_topic(MD_TRADES)
    p = Producer(ProducerConfig(kafka_bootstrap_servers, client_id="eip-tests-stopped"))
    await p.start()
    await p.publish(spec, b"k", trade("BTC/USDT", 0))  # metadata known, so the failure is the send
    await p.stop()
    items = [(record_key("binance", s), trade(s, n)) for n, s in enumerate(SYMBOLS)]
    with pytest.raises(PartialSend) as raised:
        await p.publish_many(spec, items)
    assert raised.value.queued == []
    assert raised.value.unsent == list(range(len(items)))


async def test_publish_many_refuses_the_wrong_message_type_before_sending(
    producer: Producer, make_topic: TopicFactory
) -> None:
    spec = await make_topic(MD_TRADES)
    with pytest.raises(TypeError, match=r"carries eip\.events\.v1\.Trade"):
        await producer.publish_many(spec, [(b"k", common_pb2.Instrument(exchange="x"))])


async def test_a_batch_the_broker_refuses_fails_its_future(
    producer: Producer, make_topic: TopicFactory
) -> None:
    # A topic whose batches may not exceed 2 kB, and incompressible records worth 10 kB.
    spec = await make_topic(
        dataclasses.replace(MD_TRADES, extra_config={"max.message.bytes": "2000"})
    )
    records = [(b"k", os.urandom(200), headers_for(spec)) for _ in range(50)]
    deliveries = await producer.send_many(spec.name, records)
    assert [i for d in deliveries for i in d.indices] == list(range(50))
    results = await asyncio.gather(*(d.future for d in deliveries), return_exceptions=True)
    assert results
    assert all(isinstance(r, KafkaError) for r in results), results
