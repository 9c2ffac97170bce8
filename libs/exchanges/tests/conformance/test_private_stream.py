"""The private stream: order updates in order, every fill once, balance changes; a dropped
stream resubscribes by itself, and what happened while it was down arrives by the REST
catch-up before ``StreamResumed``."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal

import pytest

from eip.exchanges.contract.trading import (
    BalanceUpdate,
    FillEvent,
    OrderUpdate,
    StreamResumed,
    Support,
    VenueOrderStatus,
)
from eip.resilience import CircuitBreaker

from .harness import Desk, EventLog, until

pytestmark = pytest.mark.integration


def check_order_updates_only_move_forward(log: EventLog) -> dict[str, list[OrderUpdate]]:
    by_order: dict[str, list[OrderUpdate]] = defaultdict(list)
    for update in log.of(OrderUpdate):
        by_order[update.order.venue_order_id].append(update)
    for updates in by_order.values():
        keys = [u.order.update_key() for u in updates]
        assert keys == sorted(keys), keys
        assert len(set(keys)) == len(keys), f"an update delivered twice: {keys}"
    return by_order


def check_each_fill_once(log: EventLog) -> list[FillEvent]:
    fills = log.of(FillEvent)
    idents = [(f.fill.trade_id, f.fill.venue_order_id) for f in fills]
    assert len(set(idents)) == len(idents), f"a fill delivered twice: {idents}"
    return fills


def streamed_balances(log: EventLog) -> dict[str, tuple[Decimal, Decimal]]:
    """(free, locked) per asset as the stream reported them last."""
    streamed: dict[str, tuple[Decimal, Decimal]] = {}
    for update in log.of(BalanceUpdate):
        streamed.update({b.asset: (b.free, b.locked) for b in update.balances})
    return streamed


def final(log: EventLog, venue_order_id: str) -> VenueOrderStatus | None:
    updates = [u for u in log.of(OrderUpdate) if u.order.venue_order_id == venue_order_id]
    return updates[-1].order.status if updates else None


async def test_order_updates_fills_and_balances_stream_in_order(desk: Desk) -> None:
    alice = await desk.trader()
    bob = await desk.trader()
    log = await desk.events(alice)
    resting = await alice.place(alice.limit("buy", Decimal("0.03")))
    await bob.place(bob.market("sell", Decimal("0.01")))
    await bob.place(bob.market("sell", Decimal("0.02")))
    canceled = await alice.place(alice.limit("buy", price=Decimal("900")))
    amends = alice.adapter.capabilities.amend.quantity_down is Support.NATIVE
    if amends:  # an amendment streams as an update of the same order
        await alice.adapter.amend_order(
            desk.harness.symbol, venue_order_id=canceled.venue_order_id, quantity=Decimal("0.008")
        )
    await alice.adapter.cancel_order(desk.harness.symbol, venue_order_id=canceled.venue_order_id)
    await until(
        lambda: (
            final(log, resting.venue_order_id) is VenueOrderStatus.FILLED
            and final(log, canceled.venue_order_id) is VenueOrderStatus.CANCELED
        ),
        what="the orders' last updates",
    )
    by_order = check_order_updates_only_move_forward(log)
    statuses = [u.order.status for u in by_order[resting.venue_order_id]]
    assert statuses[0] is VenueOrderStatus.OPEN
    assert statuses[-1] is VenueOrderStatus.FILLED
    assert VenueOrderStatus.PARTIALLY_FILLED in statuses
    last = by_order[resting.venue_order_id][-1].order
    assert last.client_order_id == resting.client_order_id
    assert last.filled_quantity == Decimal("0.03")
    assert by_order[canceled.venue_order_id][-1].order.client_order_id == canceled.client_order_id
    if amends:
        quantities = [u.order.quantity for u in by_order[canceled.venue_order_id]]
        assert quantities[0] == Decimal("0.01")
        assert quantities[-1] == Decimal("0.008")

    fills = check_each_fill_once(log)
    rest = (await alice.adapter.fetch_fills(desk.harness.symbol)).fills
    assert sorted((f.fill.trade_id, f.fill.quantity, f.fill.fee) for f in fills) == sorted(
        (f.trade_id, f.quantity, f.fee) for f in rest
    )
    assert all(f.fill.liquidity == "maker" for f in fills)
    assert all(f.fill.client_order_id == resting.client_order_id for f in fills)
    # the balances the stream reported last become the account's (a venue that streams totals
    # only — Kraken — has them read after each change, a moment later)
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        streamed = streamed_balances(log)
        rows = {b.asset: (b.free, b.locked) for b in await alice.adapter.fetch_balances()}
        if all(streamed.get(asset) == rows.get(asset) for asset in ("BTC", "USDT")):
            break
        assert asyncio.get_running_loop().time() < deadline, (streamed, rows)
        await asyncio.sleep(0.5)  # one read a time: reads count against the venue's limits
    assert streamed["BTC"][0] == Decimal("10.02997")  # 0.03 less the 0.1 % maker fee


async def test_a_dropped_stream_resubscribes_and_goes_on(desk: Desk) -> None:
    alice = await desk.trader()
    log = await desk.events(alice)
    dropped = await desk.sim.drop_streams(desk.harness.private_stream)
    assert dropped >= 1
    await until(lambda: bool(log.of(StreamResumed)), what="the stream to resume")
    assert alice.adapter.status().connected
    placed = await alice.place(alice.limit("buy"))
    await until(
        lambda: final(log, placed.venue_order_id) is not None, what="the new order's update"
    )
    assert log.error is None


async def test_fills_made_while_the_stream_was_down_arrive_before_it_resumes(desk: Desk) -> None:
    relay = await desk.proxy()
    alice = await desk.trader(stream_via=relay)
    bob = await desk.trader()
    log = await desk.events(alice)
    resting = await alice.place(alice.limit("buy", Decimal("0.03")))
    smaller = await alice.place(alice.limit("buy", Decimal("0.02"), price=Decimal("950")))
    await until(lambda: final(log, smaller.venue_order_id) is not None, what="the orders' updates")

    await relay.stop()  # the network between the adapter and the venue's stream is gone
    await until(lambda: not alice.adapter.status().connected, what="the stream to notice")
    down_at = len(log.events)
    await bob.place(bob.market("sell", Decimal("0.01")))
    await bob.place(bob.market("sell", Decimal("0.02")))
    other = await alice.place(alice.limit("buy", price=Decimal("900")))  # made while down
    amends = alice.adapter.capabilities.amend.quantity_down is Support.NATIVE
    if amends:  # an order the stream knew, amended while it was down
        await alice.adapter.amend_order(
            desk.harness.symbol, venue_order_id=smaller.venue_order_id, quantity=Decimal("0.01")
        )
    await asyncio.sleep(0.3)
    assert len(log.events) == down_at  # nothing can arrive meanwhile
    await relay.start()

    await until(lambda: bool(log.of(StreamResumed)), what="the stream to resume")
    resumed_at = next(i for i, e in enumerate(log.events) if isinstance(e, StreamResumed))
    caught_up = log.events[down_at:resumed_at]
    fills = [e for e in caught_up if isinstance(e, FillEvent)]
    assert sorted(f.fill.quantity for f in fills) == [Decimal("0.01"), Decimal("0.02")]
    orders = {e.order.venue_order_id: e.order for e in caught_up if isinstance(e, OrderUpdate)}
    assert orders[resting.venue_order_id].status is VenueOrderStatus.FILLED
    assert orders[other.venue_order_id].status is VenueOrderStatus.OPEN
    if amends:
        assert orders[smaller.venue_order_id].quantity == Decimal("0.01")
    assert any(isinstance(e, BalanceUpdate) and e.snapshot for e in caught_up)

    # live again, and nothing of the gap comes twice
    later = await alice.place(alice.limit("buy", price=Decimal("800")))
    await until(lambda: final(log, later.venue_order_id) is not None, what="a live update")
    check_order_updates_only_move_forward(log)
    check_each_fill_once(log)
    assert log.error is None


async def test_a_stream_started_while_the_venue_is_out_of_reach_connects_once_it_is_back(
    desk: Desk,
) -> None:
    relay = await desk.proxy()
    # REST and stream both through the relay; the breaker opened by the outage probes soon
    alice = await desk.trader(rest_via=relay, breaker=CircuitBreaker("venue", cooldown_s=0.5))
    await relay.stop()
    log = EventLog(alice.adapter)
    starting = asyncio.create_task(log.start())
    try:
        await asyncio.sleep(1.0)
        assert not starting.done()  # waiting, not failed
        assert log.error is None
        assert not alice.adapter.status().connected
        await relay.start()
        await asyncio.wait_for(starting, 15)
        placed = await alice.place(alice.limit("buy"))
        await until(lambda: final(log, placed.venue_order_id) is not None, what="a live update")
    finally:
        starting.cancel()
        await log.stop()


async def test_a_stalled_private_stream_reads_stale_then_fresh_and_goes_on(desk: Desk) -> None:
    alice = await desk.trader()  # the harness's stale_after_s: 3 s
    log = await desk.events(alice)
    assert not alice.adapter.status().stale
    # the venue holds every message of its streams: a quiet account and a dead connection look
    # alike unless the adapter hears something (Binance: its probes; Coinbase: heartbeats)
    await desk.sim.stall_streams(6, venue=desk.harness.venue)
    await until(lambda: alice.adapter.status().stale, timeout_s=10, what="the stream to go stale")
    await until(
        lambda: not alice.adapter.status().stale, timeout_s=20, what="the stream to be fresh"
    )
    placed = await alice.place(alice.limit("buy"))
    await until(lambda: final(log, placed.venue_order_id) is not None, what="a live update")
    assert log.error is None
