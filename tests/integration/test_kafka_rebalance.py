"""The consumer wrapper's rebalance listener against a real broker: partitions moving between
members of a group while records flow are handled once, never after they were given up, and
a failed state load stops the consumer instead of letting it consume without state."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from eip.bus import Consumer, ConsumerConfig, Producer, RebalanceFailed, Record
from eip.events.topics import MD_TRADES, TopicSpec
from eip.events.v1 import common_pb2, market_data_pb2
from eip.testing.plugin import TopicFactory

pytestmark = pytest.mark.integration


def trade(n: int) -> market_data_pb2.Trade:
    return market_data_pb2.Trade(
        instrument=common_pb2.Instrument(exchange="binance", symbol=f"S{n % 12}/USDT"),
        trade_id=str(n),
        price="1.5",
        amount="2",
    )


class Member:
    """A consumer with a listener that tracks what it holds and flags records handled for a
    partition it does not hold."""

    def __init__(
        self, name: str, bootstrap: str, group: str, spec: TopicSpec, producer: Producer
    ) -> None:
        self.name = name
        self.held: set[int] = set()
        self.events: list[tuple[str, frozenset[int]]] = []
        self.handled: list[tuple[int, int]] = []
        self.trade_ids: set[str] = set()
        self.violations: list[tuple[int, int]] = []
        self.consumer = Consumer(
            ConsumerConfig(bootstrap, group_id=group, client_id=f"rebalance-{name}"),
            [spec],
            self.handle,
            producer,
            rebalance_listener=self,
        )
        self.task: asyncio.Task[None] | None = None

    async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        self.held = {tp.partition for tp in partitions}
        self.events.append(("assigned", frozenset(self.held)))

    async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        self.held -= {tp.partition for tp in partitions}
        self.events.append(("revoked", frozenset(tp.partition for tp in partitions)))

    async def handle(self, record: Record) -> None:
        if record.partition not in self.held:
            self.violations.append((record.partition, record.offset))
        await asyncio.sleep(0.01)  # slow enough that rebalances land mid-batch
        self.handled.append((record.partition, record.offset))
        assert isinstance(record.message, market_data_pb2.Trade)
        self.trade_ids.add(record.message.trade_id)

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self.consumer.run())

    async def stop(self) -> None:
        self.consumer.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, 60)


async def wait_until(predicate: object, timeout_s: float = 120.0, state: object = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time; {state() if callable(state) else ''}")
        await asyncio.sleep(0.2)


async def test_partitions_move_between_members_and_every_record_is_handled_once(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    spec = await make_topic(MD_TRADES)
    group = f"rebalance-{uuid.uuid4().hex[:8]}"
    x = Member("x", kafka_bootstrap_servers, group, spec, producer)
    y = Member("y", kafka_bootstrap_servers, group, spec, producer)

    async def produce(first: int, count: int) -> None:
        trades = [trade(n) for n in range(first, first + count)]
        deliveries = await producer.publish_many(
            spec, [(t.instrument.symbol.encode(), t) for t in trades]
        )
        await asyncio.gather(*(d.future for d in deliveries))

    def handled() -> Counter[tuple[int, int]]:
        return Counter(x.handled + y.handled)

    try:
        await x.start()
        await wait_until(lambda: len(x.held) == spec.partitions, state=lambda: x.events)
        await produce(0, 400)  # seconds of work: the rebalances below land mid-batch
        await y.start()  # x gives up some partitions while working through the backlog
        await wait_until(lambda: x.held and y.held, state=lambda: (x.events, y.events))
        await produce(400, 400)
        await wait_until(lambda: len(y.handled) > 20, state=lambda: y.events)
        await y.stop()  # mid-backlog: its partitions go back to x
        await wait_until(
            lambda: len(x.trade_ids | y.trade_ids) == 800,
            state=lambda: (len(handled()), x.events, y.events),
        )
    finally:
        for member in (x, y):
            if member.task is not None and not member.task.done():
                await member.stop()

    assert x.violations == []
    assert y.violations == []
    assert max(handled().values()) == 1, "a record was handled twice"
    # y was told of giving everything back at stop (aiokafka itself does not report it)
    assert y.events[-1][0] == "revoked"
    assert y.held == set()
    assert any(kind == "assigned" and len(p) == spec.partitions for kind, p in x.events[1:])


async def test_a_failed_state_load_stops_the_consumer_before_any_record(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    spec = await make_topic(MD_TRADES)
    await producer.publish(spec, b"k", trade(1))
    handled: list[Record] = []

    class Broken:
        async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
            raise RuntimeError("state store down")

        async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None:
            pass

    async def handle(record: Record) -> None:
        handled.append(record)

    consumer = Consumer(
        ConsumerConfig(
            kafka_bootstrap_servers, group_id=f"broken-{uuid.uuid4().hex[:8]}", client_id="broken"
        ),
        [spec],
        handle,
        producer,
        rebalance_listener=Broken(),
    )
    await consumer.start()
    with pytest.raises(RebalanceFailed, match="state store down"):
        await asyncio.wait_for(consumer.run(), 60)
    assert handled == []


async def test_a_load_longer_than_the_session_timeout_keeps_the_membership(
    kafka_bootstrap_servers: str, make_topic: TopicFactory, producer: Producer
) -> None:
    """aiokafka calls the assignment hook while heartbeats are stopped; the consumer loads in
    the background instead, so a slow load (a big state topic) does not get the member evicted
    and start a rebalance storm."""
    spec = await make_topic(MD_TRADES)
    await producer.publish(spec, b"k", trade(1))
    events: list[str] = []
    handled: list[Record] = []

    class Slow:
        async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
            events.append("assigned")
            await asyncio.sleep(13)  # beyond the 10 s session timeout

        async def on_partitions_revoked(self, partitions: set[TopicPartition]) -> None:
            events.append("revoked")

    async def handle(record: Record) -> None:
        handled.append(record)

    group = f"slow-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        ConsumerConfig(kafka_bootstrap_servers, group_id=group, client_id="slow"),
        [spec],
        handle,
        producer,
        rebalance_listener=Slow(),
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        await wait_until(lambda: events == ["assigned"], state=lambda: events)
        assert handled == []  # paused while loading
        await wait_until(lambda: len(handled) == 1, state=lambda: events)
        # Its offset was committed (the lag is reported after a commit): the membership of the
        # first assignment was still valid after the load (an evicted member's commit fails).
        await wait_until(
            lambda: (
                REGISTRY.get_sample_value(
                    "eip_bus_consumer_lag",
                    {"topic": spec.name, "partition": str(handled[0].partition), "group": group},
                )
                == 0
            ),
            state=lambda: events,
        )
        assert events == ["assigned"]
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 60)
    assert events == ["assigned", "revoked"]
