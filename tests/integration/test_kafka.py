"""The bus against a real broker: idempotence, transactions, compaction, dead letters."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber
from prometheus_client import REGISTRY
from psycopg_pool import PoolTimeout

from eip.bus import (
    Consumer,
    ConsumerConfig,
    KafkaUnavailable,
    PoisonMessage,
    Producer,
    ProducerConfig,
    Record,
)
from eip.bus import dead_letter as dl
from eip.bus.admin import admin_client, ensure_topics, topic_config
from eip.events.topics import MD_BOOK_SNAPSHOTS, MD_TRADES, TOPICS, all_topic_specs
from eip.events.v1 import common_pb2, market_data_pb2
from eip.resilience import RetryPolicy
from eip.storage import DatabaseUnavailable
from eip.testing.plugin import TopicFactory

pytestmark = pytest.mark.integration


def trade(n: int) -> market_data_pb2.Trade:
    return market_data_pb2.Trade(
        instrument=common_pb2.Instrument(exchange="binance", symbol="BTC/USDT"),
        trade_id=str(n),
        price=f"{65000 + n}.5",
        amount="0.001",
    )


async def read_all(
    bootstrap: str,
    topic: str,
    expected: int,
    isolation: str = "read_committed",
    timeout_s: float = 15,
) -> list[object]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level=isolation,
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[object] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for items in batch.values():
                records.extend(items)
        # Give unexpected extra records (duplicates) a chance to show up too.
        batch = await consumer.getmany(timeout_ms=500)
        for items in batch.values():
            records.extend(items)
    finally:
        await consumer.stop()
    return records


async def consume_until(consumer: Consumer, done: asyncio.Event) -> None:
    """Run the consumer until the handler sets ``done``, then stop it gracefully."""
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(done.wait(), 30)
    consumer.stop()
    await asyncio.wait_for(task, 15)


async def test_idempotent_produce_and_consume(
    kafka_bootstrap_servers: str,
    make_topic: TopicFactory,
    producer: Producer,
) -> None:
    spec = await make_topic(MD_TRADES)
    for n in range(20):
        await producer.publish(spec, b"binance:BTC/USDT", trade(n))
    records = await read_all(kafka_bootstrap_servers, spec.name, 20)
    decoded = [market_data_pb2.Trade.FromString(r.value).trade_id for r in records]  # type: ignore[attr-defined]
    assert decoded == [str(n) for n in range(20)]  # one key, one partition: order kept, no dupes
    assert all(dict(r.headers)["schema"] == b"eip.events.v1.Trade" for r in records)  # type: ignore[attr-defined]


async def test_committed_transaction_visible_aborted_invisible(
    kafka_bootstrap_servers: str,
    make_topic: TopicFactory,
) -> None:
    spec = await make_topic(MD_TRADES)
    tx = Producer(
        ProducerConfig(
            kafka_bootstrap_servers,
            client_id="tx-test",
            transactional_id=f"tx-test-{uuid.uuid4().hex[:8]}",
        )
    )
    await tx.start()
    try:
        async with tx.transaction():
            await tx.publish(spec, b"k", trade(1))
            await tx.publish(spec, b"k", trade(2))

        async def publish_then_fail() -> None:
            async with tx.transaction():
                await tx.publish(spec, b"k", trade(3))
                await tx.flush()
                raise RuntimeError("abort on purpose")

        with pytest.raises(RuntimeError, match="abort on purpose"):
            await publish_then_fail()
        async with tx.transaction():
            await tx.publish(spec, b"k", trade(4))
    finally:
        await tx.stop()
    committed = await read_all(kafka_bootstrap_servers, spec.name, 3)
    ids = [market_data_pb2.Trade.FromString(r.value).trade_id for r in committed]  # type: ignore[attr-defined]
    assert ids == ["1", "2", "4"]
    # read_uncommitted sees the aborted record: the abort really reached the broker.
    raw = await read_all(kafka_bootstrap_servers, spec.name, 4, isolation="read_uncommitted")
    assert "3" in [market_data_pb2.Trade.FromString(r.value).trade_id for r in raw]  # type: ignore[attr-defined]


async def test_compacted_topic_config_read_back(
    kafka_bootstrap_servers: str,
    make_topic: TopicFactory,
) -> None:
    spec = await make_topic(MD_BOOK_SNAPSHOTS)
    async with admin_client(kafka_bootstrap_servers) as admin:
        config = await topic_config(admin, spec.name)
        assert config["cleanup.policy"] == "compact"
        assert config["min.cleanable.dirty.ratio"] == "0.1"
        described = await admin.describe_topics([spec.name])
        assert len(described[0]["partitions"]) == spec.partitions


async def test_create_topics_is_idempotent_and_reconciles(kafka_bootstrap_servers: str) -> None:
    async with admin_client(kafka_bootstrap_servers) as admin:
        await ensure_topics(admin, all_topic_specs())
        second = await ensure_topics(admin, all_topic_specs())
        assert {c.action for c in second} == {"unchanged"}
        assert len(second) == 2 * len(TOPICS)
        # Drift (someone changed retention by hand) is put back by the next run.
        probe = dataclasses.replace(MD_TRADES, name=f"test.drift.{uuid.uuid4().hex[:8]}")
        await ensure_topics(admin, [probe])
        drifted = dataclasses.replace(probe, retention_ms=1234567)
        changes = await ensure_topics(admin, [drifted])
        assert [c.action for c in changes] == ["config"]
        assert (await topic_config(admin, probe.name))["retention.ms"] == "1234567"
        await admin.delete_topics([probe.name])


async def test_create_topics_reconciles_a_topic_its_listing_missed(
    kafka_bootstrap_servers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metadata can lag a creation (another process made the topic a moment ago): the topic is
    then "already there" to the create call, and must still be reconciled, not called created."""
    async with admin_client(kafka_bootstrap_servers) as admin:
        probe = dataclasses.replace(MD_TRADES, name=f"test.lag.{uuid.uuid4().hex[:8]}")
        await ensure_topics(admin, [probe])
        describe = admin.describe_topics

        async def stale_listing(topics: list[str] | None = None) -> list[Any]:
            described = await describe(topics)
            return described if topics else [t for t in described if t["topic"] != probe.name]

        monkeypatch.setattr(admin, "describe_topics", stale_listing)
        drifted = dataclasses.replace(probe, retention_ms=7654321)
        changes = await ensure_topics(admin, [drifted])
        assert [(c.topic, c.action) for c in changes] == [(probe.name, "config")]
        assert (await topic_config(admin, probe.name))["retention.ms"] == "7654321"
        await admin.delete_topics([probe.name])


async def test_poison_message_goes_to_dlq_and_next_is_processed(
    kafka_bootstrap_servers: str,
    make_topic: TopicFactory,
    producer: Producer,
) -> None:
    spec = await make_topic(MD_TRADES)
    key = b"binance:BTC/USDT"
    await producer.publish(spec, key, trade(1))
    await producer.send_raw(
        spec.name, key, b"\x08\x96\x01garbage", [("schema", b"eip.events.v1.Trade")]
    )
    await producer.send_raw(spec.name, key, trade(2).SerializeToString(), [("schema", b"x.Other")])
    await producer.publish(spec, key, trade(3))  # handler rejects this one as poison
    await producer.publish(spec, key, trade(4))

    handled: list[str] = []
    done = asyncio.Event()

    async def handler(record: Record) -> None:
        assert isinstance(record.message, market_data_pb2.Trade)
        if record.message.trade_id == "3":
            raise PoisonMessage("trade 3 refers to an unknown instrument")
        handled.append(record.message.trade_id)
        if record.message.trade_id == "4":
            done.set()

    group = f"dlq-test-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        ConsumerConfig(
            kafka_bootstrap_servers,
            group_id=group,
            client_id="dlq-test",
            handler_retry=RetryPolicy(attempts=2, base_delay_s=0),
        ),
        [spec],
        handler,
        producer,
    )
    await consume_until(consumer, done)
    assert handled == ["1", "4"]
    # every record was handled or dead-lettered and committed: the partition shows no lag
    lags = [
        REGISTRY.get_sample_value(
            "eip_bus_consumer_lag",
            {"topic": spec.name, "partition": str(p), "group": group},
        )
        for p in range(spec.partitions)
    ]
    assert [x for x in lags if x is not None] == [0.0]  # one key, so one partition was read

    dead = await read_all(kafka_bootstrap_servers, spec.dlq_name, 3)
    assert len(dead) == 3
    headers = [dict(r.headers) for r in dead]  # type: ignore[attr-defined]
    reasons = [h[dl.REASON].decode() for h in headers]
    assert reasons[0].startswith("undecodable: not a valid eip.events.v1.Trade")
    assert reasons[1].startswith("undecodable: schema header says 'x.Other'")
    assert reasons[2] == "rejected: trade 3 refers to an unknown instrument"
    assert [int(h[dl.SOURCE_OFFSET]) for h in headers] == [1, 2, 3]
    assert all(h[dl.SOURCE_TOPIC].decode() == spec.name for h in headers)
    assert dead[0].value == b"\x08\x96\x01garbage"  # type: ignore[attr-defined]  # bytes kept as they came

    # Offsets were committed: a new consumer in the same group sees nothing left to do.
    again: list[str] = []

    async def second_handler(record: Record) -> None:
        again.append(str(record.offset))

    consumer2 = Consumer(
        ConsumerConfig(kafka_bootstrap_servers, group_id=group, client_id="dlq-test-2"),
        [spec],
        second_handler,
        producer,
    )
    await consumer2.start()
    task2 = asyncio.create_task(consumer2.run())
    await asyncio.sleep(3)
    consumer2.stop()
    await asyncio.wait_for(task2, 15)
    assert again == []


async def test_transient_handler_failure_is_retried_not_dead_lettered(
    kafka_bootstrap_servers: str,
    make_topic: TopicFactory,
    producer: Producer,
) -> None:
    spec = await make_topic(MD_TRADES)
    await producer.publish(spec, b"k", trade(7))
    attempts: list[int] = []
    done = asyncio.Event()

    async def flaky(record: Record) -> None:
        attempts.append(record.offset)
        if len(attempts) < 3:
            raise ConnectionError("database blip")
        done.set()

    consumer = Consumer(
        ConsumerConfig(
            kafka_bootstrap_servers,
            group_id=f"retry-{uuid.uuid4().hex[:8]}",
            client_id="retry-test",
            handler_retry=RetryPolicy(attempts=5, base_delay_s=0.01),
        ),
        [spec],
        flaky,
        producer,
    )
    await consume_until(consumer, done)
    assert attempts == [0, 0, 0]
    assert await read_all(kafka_bootstrap_servers, spec.dlq_name, 0, timeout_s=1) == []


async def test_unreachable_kafka_gives_a_clear_error_instead_of_hanging() -> None:
    # The outer timeouts only catch a hang (the connect timeouts are 3 s); how fast is not
    # asserted, as a loaded machine may take longer.
    producer = Producer(ProducerConfig("127.0.0.1:1", client_id="nowhere", connect_timeout_s=3))
    async with asyncio.timeout(60):
        with pytest.raises(KafkaUnavailable, match=r"127\.0\.0\.1:1 did not answer.*make up"):
            await producer.start()
    async with asyncio.timeout(60):
        with pytest.raises(KafkaUnavailable, match="make up"):
            async with admin_client("127.0.0.1:1", timeout_s=3):
                pass


# What handlers saw during real outages: the candle consumer dead-lettered trades on the pool's
# timeout (issue 11 §9); each of these must pause and redeliver instead.
OUTAGE_ERRORS: dict[str, Callable[[], BaseException]] = {
    "connection refused": lambda: ConnectionError("database unreachable"),
    "pool timeout": lambda: PoolTimeout("couldn't get a connection after 5.00 sec"),
    "lost connection": lambda: psycopg.OperationalError("server closed the connection"),
    "database unavailable": lambda: DatabaseUnavailable("PostgreSQL accepted no connection"),
    "kafka unreachable": lambda: KafkaConnectionError("Unable to bootstrap from [...]"),
    "kafka unavailable": lambda: KafkaUnavailable("Kafka did not answer"),
}


@pytest.mark.parametrize("outage", sorted(OUTAGE_ERRORS))
async def test_dependency_outage_redelivers_instead_of_dead_lettering(
    kafka_bootstrap_servers: str,
    make_topic: TopicFactory,
    producer: Producer,
    outage: str,
) -> None:
    """A handler whose database is down longer than its retries must not lose the record."""
    spec = await make_topic(MD_TRADES)
    await producer.publish(spec, b"k", trade(8))
    await producer.publish(spec, b"k", trade(9))
    calls: list[str] = []
    done = asyncio.Event()

    async def database_down_for_a_while(record: Record) -> None:
        assert isinstance(record.message, market_data_pb2.Trade)
        calls.append(record.message.trade_id)
        if len(calls) <= 5:  # more failures than the retry policy allows
            raise OUTAGE_ERRORS[outage]()
        if record.message.trade_id == "9":
            done.set()

    consumer = Consumer(
        ConsumerConfig(
            kafka_bootstrap_servers,
            group_id=f"outage-{uuid.uuid4().hex[:8]}",
            client_id="outage-test",
            handler_retry=RetryPolicy(attempts=2, base_delay_s=0),
            redeliver_delay_s=0.05,
        ),
        [spec],
        database_down_for_a_while,
        producer,
    )
    await consume_until(consumer, done)
    assert calls[-2:] == ["8", "9"]  # trade 8 was retried until the outage ended, then 9
    assert set(calls[:5]) == {"8"}
    assert await read_all(kafka_bootstrap_servers, spec.dlq_name, 0, timeout_s=1) == []


async def test_a_handler_that_keeps_failing_on_its_own_is_dead_lettered_not_redelivered(
    kafka_bootstrap_servers: str,
    make_topic: TopicFactory,
    producer: Producer,
) -> None:
    """The other side of the classification: a bug is no outage, so the record is diverted
    and the next one handled, instead of blocking the partition forever."""
    spec = await make_topic(MD_TRADES)
    await producer.publish(spec, b"k", trade(10))
    await producer.publish(spec, b"k", trade(11))
    calls: list[str] = []
    done = asyncio.Event()

    async def buggy(record: Record) -> None:
        assert isinstance(record.message, market_data_pb2.Trade)
        calls.append(record.message.trade_id)
        if record.message.trade_id == "10":
            raise KeyError("instrument")
        done.set()

    consumer = Consumer(
        ConsumerConfig(
            kafka_bootstrap_servers,
            group_id=f"bug-{uuid.uuid4().hex[:8]}",
            client_id="bug-test",
            handler_retry=RetryPolicy(attempts=2, base_delay_s=0),
        ),
        [spec],
        buggy,
        producer,
    )
    await consume_until(consumer, done)
    assert calls == ["10", "10", "11"]
    dead = await read_all(kafka_bootstrap_servers, spec.dlq_name, 1)
    assert len(dead) == 1
    headers = dict(dead[0].headers)  # type: ignore[attr-defined]
    assert headers[dl.REASON].decode() == "handler_failed: 'instrument'"
    assert headers[dl.ERROR_TYPE] == b"KeyError"


async def test_a_producer_whose_sequence_broke_is_replaced_and_publishing_goes_on(
    kafka_bootstrap_servers: str, make_topic: TopicFactory
) -> None:
    """After a Kafka outage longer than the request timeout an expired batch leaves a hole in
    the idempotent producer's numbering, and aiokafka fails every later batch with
    OutOfOrderSequenceNumber (seen in the chaos suite). The wrapper replaces its producer."""
    spec = await make_topic(MD_TRADES)
    producer = Producer(ProducerConfig(kafka_bootstrap_servers, client_id="reset-test"))
    await producer.start()
    try:
        broken = producer._producer
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        failed.set_exception(OutOfOrderSequenceNumber())
        producer._delivered(broken, failed)  # a batch failing as aiokafka reports it
        producer._delivered(broken, failed)  # its other batches: one replacement only
        deadline = time.monotonic() + 30
        while producer.resets == 0:
            assert time.monotonic() < deadline, "the producer was not replaced"
            await asyncio.sleep(0.1)
        assert producer._producer is not broken
        await producer.publish(spec, b"binance:BTC/USDT", trade(42))
        records = await read_all(kafka_bootstrap_servers, spec.name, 1)
        assert len(records) == 1
        assert producer.resets == 1
    finally:
        await producer.stop()
