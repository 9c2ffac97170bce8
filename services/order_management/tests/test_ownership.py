"""More than one instance: each owns the accounts of the command partitions it was given; an
HTTP command for another instance's account goes through orders.commands.v1 to its owner; a
partition taken over is fenced (the old owner can no longer write for it) and its calls left in
flight are resolved by asking the venue, never sent again blindly."""

from __future__ import annotations

from collections import Counter

import pytest
from aiokafka import TopicPartition

from eip.exchange_simulator.client import SimulatorClient
from eip.order_management.ledger import Tx
from eip.order_management.runtime import Partitions
from eip.order_management.storage import Fenced

from .harness import EXCHANGE, Desk, Instance, until

pytestmark = pytest.mark.integration


def _owner(instances: list[Instance], account: str) -> Instance:
    owners = [i for i in instances if i.runtime.ownership.owns_account(account)]
    assert len(owners) == 1, [i.runtime.ownership.owned() for i in instances]
    return owners[0]


async def _account_owned_by(desk: Desk, instances: list[Instance], wanted: Instance) -> str:
    for _ in range(40):
        account = await desk.account()
        if _owner(instances, account) is wanted:
            return account
    raise AssertionError("no account hashed to the wanted instance")


async def test_a_command_for_an_account_another_instance_owns_reaches_its_owner(desk: Desk) -> None:
    a = await desk.instance(wait_for_partitions=False)
    b = await desk.instance()
    await until(
        lambda: a.runtime.ownership.owned() and b.runtime.ownership.owned(),
        60,
        "both to own partitions",
    )
    account = await _account_owned_by(desk, [a, b], b)
    response = await desk.place(a, account, "via-topic")  # sent to a, owned by b
    assert response.status_code == 201, response.text
    order = response.json()["order"]
    assert order["state"] in ("pending_new", "submitted", "accepted")
    await desk.state_of(b, order["order_id"], "accepted")
    again = await desk.place(a, account, "via-topic")
    assert again.status_code == 200
    assert again.json()["order"]["order_id"] == order["order_id"]


async def test_a_partition_assigned_again_after_another_took_its_lease_is_taken_over_again(
    desk: Desk,
) -> None:
    """A rebalance while this instance's take-overs were still running: another instance was
    given the partition and took its lease, and the next generation gives it back here with no
    revocation in between. The old epoch must not be kept (every transaction would be fenced
    and the partition dropped for good): the assignment takes the lease over again, and the
    account's commands are handled."""
    a = await desk.instance()
    partitions = a.runtime.ownership.owned()
    partition = partitions[0]
    stale = a.runtime.ownership.epoch(partition)
    taken = await a.runtime.leases.acquire(partition, "an-instance-of-an-older-generation")
    assert taken == stale + 1
    topic = desk.topics.commands.name
    await Partitions(a.runtime).on_partitions_assigned(
        {TopicPartition(topic, p) for p in partitions}
    )
    assert a.runtime.ownership.epoch(partition) == taken + 1  # the lease is this one's again
    account = await _account_in_partition(desk, a, partition)
    placed = await desk.place(a, account, "after-the-takeover")
    assert placed.status_code == 201, placed.text
    await desk.state_of(a, placed.json()["order"]["order_id"], "accepted")


async def _account_in_partition(desk: Desk, instance: Instance, partition: int) -> str:
    for _ in range(40):
        account = await desk.account()
        if instance.runtime.ownership.partition_of(account) == partition:
            return account
    raise AssertionError(f"no account hashed to partition {partition}")


async def test_a_fenced_out_instance_can_no_longer_write_for_the_partition(desk: Desk) -> None:
    a = await desk.instance()
    partition = a.runtime.ownership.owned()[0]
    epoch = a.runtime.ownership.epoch(partition)
    assert await a.runtime.leases.acquire(partition, "someone-else") == epoch + 1

    async def work(tx: Tx) -> None:
        raise AssertionError("ran while fenced")

    with pytest.raises(Fenced):
        await a.runtime.ledger.run(partition, work)
    assert not a.runtime.ownership.owns(partition)  # dropped at once: nothing more is claimed


async def test_a_placement_left_in_flight_by_a_stopped_owner_is_resolved_by_the_next(
    desk: Desk, sim: SimulatorClient
) -> None:
    a = await desk.instance()
    account = await desk.account()
    await sim.drop_responses("/api/v3/order", method="POST", venue=EXCHANGE)
    placed = await desk.place(a, account, "orphan", wait="none")
    order_id = placed.json()["order"]["order_id"]
    await until(lambda: _sent(a, order_id), 10, "the placement to leave")
    await a.stop()  # its answer was lost and it never learned what happened
    b = await desk.instance()
    order = await desk.state_of(b, order_id, "accepted", timeout_s=40)
    assert order["venue_order_id"]
    counts = Counter(o["clientOrderId"] for o in await desk.venue_orders(account))
    assert counts == Counter({order["client_order_id"]: 1})


async def _sent(instance: Instance, order_id: str) -> bool:
    async with instance.runtime.db.connection() as conn:
        order = await instance.runtime.repo.get(conn, order_id)
    return order is not None and order.sent
