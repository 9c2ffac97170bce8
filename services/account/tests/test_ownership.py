"""Several instances: each syncs the connections whose credential lands on the partitions of
auth.credentials.v1 it owns, and a rebalance hands connections over without two owners.

Handing over means the giving instance's syncs really stop (their adapters closed) before the
other starts its own: a sync cancelled inside a PostgreSQL query or an event wait once swallowed
its cancellation and ran on, which this test caught as a hang."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiokafka import TopicPartition

from eip.account.connections import ConnectionState
from eip.account.manager import SyncManager
from eip.account.publisher import BalancePublisher
from eip.account.store import AccountStore, ConnectionRecord
from eip.account.sync import SyncSettings
from eip.account.valuation import PriceGraph
from eip.bus import Producer, partition_for_key
from eip.events.topics import ACCOUNT_BALANCES
from eip.exchanges.contract.trading import TradingAdapter

from .conftest import record
from .helpers import eventually
from .scripted import ScriptedVenue

pytestmark = pytest.mark.integration
SLOW = SyncSettings(reconcile_interval_s=60, trade_sync_interval_s=60)


def tps(*partitions: int) -> set[TopicPartition]:
    return {TopicPartition("auth.credentials.v1", p) for p in partitions}


async def test_instances_split_connections_by_partition_and_hand_them_over(
    store: AccountStore, producer: Producer, make_topic: object
) -> None:
    ids = [f"cred-{i}" for i in range(12)]
    for credential_id in ids:
        await store.upsert_connection(record(credential_id))
    made: dict[str, list[tuple[str, ScriptedVenue]]] = {"a": [], "b": []}

    def adapters_of(instance: str) -> Callable[[ConnectionRecord], TradingAdapter]:
        def adapters(rec: ConnectionRecord) -> TradingAdapter:
            venue = ScriptedVenue()
            venue.set_balance("BTC", "1")
            made[instance].append((rec.credential_id, venue))
            return venue

        return adapters

    topic = await make_topic(ACCOUNT_BALANCES)  # type: ignore[operator]
    publisher = BalancePublisher(store, lambda: producer, topic, PriceGraph(), "USD")
    a = SyncManager(store, adapters_of("a"), publisher, SLOW, partitions=3)
    b = SyncManager(store, adapters_of("b"), publisher, SLOW, partitions=3)
    on = {c: partition_for_key(c.encode(), [0, 1, 2]) for c in ids}
    assert set(on.values()) == {0, 1, 2}  # every instance has something to sync and hand over
    try:
        await a.on_partitions_assigned(tps(0, 1))
        await b.on_partitions_assigned(tps(2))
        assert set(a.syncs) == {c for c, p in on.items() if p in (0, 1)}
        assert set(b.syncs) == {c for c, p in on.items() if p == 2}
        assert set(a.syncs) | set(b.syncs) == set(ids)

        async def all_live() -> bool:
            return all(r.state is ConnectionState.LIVE for r in await store.connections())

        await eventually(all_live, what="every connection live, synced by one instance each")
        moved = {c for c, p in on.items() if p == 1}
        leaving = [a.syncs[c] for c in moved]

        await a.on_partitions_revoked(tps(1))  # a rebalance moves partition 1 to b
        assert not any(s.running for s in leaving)  # stopped, not left running beside b's
        assert all(v.closed for c, v in made["a"] if c in moved)
        await b.on_partitions_assigned(tps(1, 2))
        assert set(a.syncs) == {c for c, p in on.items() if p == 0}
        assert set(b.syncs) == {c for c, p in on.items() if p in (1, 2)}
        assert not set(a.syncs) & set(b.syncs)
        assert {c for c, _ in made["b"]} == {c for c, p in on.items() if p in (1, 2)}
        await eventually(all_live, what="the handed-over connections live again")
        rows = await store.balances(["acct-1"])
        assert sorted(r.credential_id for r in rows if r.asset == "BTC") == sorted(ids)
    finally:
        await a.stop_all()
        await b.stop_all()
    assert all(v.closed for vs in made.values() for _, v in vs)
