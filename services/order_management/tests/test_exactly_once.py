"""Exactly once, one fault at a time, against the simulator: the same idempotency key never
makes a second order, whichever path it comes by, and a placement whose answer was lost, timed
out or failed with a 5xx ends as exactly one venue order (found by its client order id, or
proven absent and sent again with the same id)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from eip.events.topics import record_key
from eip.events.v1 import common_pb2, orders_pb2
from eip.exchange_simulator.client import SimulatorClient

from .harness import EXCHANGE, PRICE, QUANTITY, SYMBOL, Desk, Instance, until

pytestmark = pytest.mark.integration
ORDER_PATH = "/api/v3/order"


async def _one_venue_order_per_key(desk: Desk, account: str) -> dict[str, int]:
    counts = Counter(o["clientOrderId"] for o in await desk.venue_orders(account))
    assert counts, "the venue has no order of the account"
    assert max(counts.values()) == 1, counts
    return dict(counts)


async def test_the_same_key_twice_answers_the_first_order(shared: tuple[Desk, Instance]) -> None:
    desk, om = shared
    account = await desk.account()
    first = await desk.place(om, account, "same")
    again = await desk.place(om, account, "same")
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["duplicate"] is True
    assert again.json()["order"]["order_id"] == first.json()["order"]["order_id"]
    assert len(await _one_venue_order_per_key(desk, account)) == 1


async def test_a_key_reused_for_another_request_is_refused(shared: tuple[Desk, Instance]) -> None:
    desk, om = shared
    account = await desk.account()
    assert (await desk.place(om, account, "reused")).status_code == 201
    other = await desk.place(om, account, "reused", price=PRICE - 1)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


async def test_a_key_sent_on_kafka_and_over_http_makes_one_order(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    account = await desk.account()
    command = orders_pb2.OrderCommand(
        command_id="c1", idempotency_key="both-ways", account_id=account, requested_by="trader"
    )
    spec = command.place.spec
    spec.instrument.exchange, spec.instrument.symbol = EXCHANGE, SYMBOL
    spec.side, spec.type = common_pb2.SIDE_BUY, orders_pb2.ORDER_TYPE_LIMIT
    spec.time_in_force = orders_pb2.TIME_IN_FORCE_GTC
    spec.quantity, spec.price = str(QUANTITY), str(PRICE)
    for _ in range(3):
        await desk.producer.publish(desk.topics.commands, record_key(account), command)
    http = await desk.place(om, account, "both-ways")
    assert http.status_code in (200, 201), http.text
    order_id = http.json()["order"]["order_id"]
    await desk.state_of(om, order_id, "accepted")
    listed = await om.http.get(f"/v1/orders?account_id={account}", headers=desk.headers())
    assert [o["order_id"] for o in listed.json()["orders"]] == [order_id]
    assert len(await _one_venue_order_per_key(desk, account)) == 1


async def test_a_lost_answer_is_resolved_by_the_client_order_id(
    shared: tuple[Desk, Instance], sim: SimulatorClient
) -> None:
    desk, om = shared
    account = await desk.account()
    await sim.drop_responses(ORDER_PATH, method="POST", venue=EXCHANGE)
    placed = await desk.place(om, account, "dropped", wait="none")
    assert placed.status_code == 201
    order = await desk.state_of(om, placed.json()["order"]["order_id"], "accepted")
    assert order["venue_order_id"]
    assert len(await _one_venue_order_per_key(desk, account)) == 1


@pytest.mark.parametrize("mode", ["timeout", "error"])
async def test_a_placement_that_never_arrived_is_proven_absent_and_sent_again_once(
    shared: tuple[Desk, Instance], sim: SimulatorClient, mode: str
) -> None:
    desk, om = shared
    account = await desk.account()
    await sim.fail_requests(1, 503, ORDER_PATH, mode, method="POST", venue=EXCHANGE)
    placed = await desk.place(om, account, f"never-{mode}", wait="none")
    order_id = placed.json()["order"]["order_id"]
    order = await desk.state_of(om, order_id, "accepted", timeout_s=45)
    history = await om.http.get(f"/v1/orders/{order_id}/events", headers=desk.headers())
    events = [e["event"] for e in history.json()["events"]]
    assert events.count("send") == 2, events  # sent, proven absent, sent again
    assert "venue_not_found" in events
    assert order["venue_order_id"]
    assert len(await _one_venue_order_per_key(desk, account)) == 1


async def test_a_placement_cancelled_while_in_doubt_that_never_arrived_ends_canceled_not_lost(
    desk: Desk, sim: SimulatorClient
) -> None:
    """The chaos test's "ALERT order lost": a cancel requested while the placement is in doubt
    makes the order PENDING_CANCEL, which the reconcile pass checks at the venue; the venue
    rightly does not know it. Reconcile passes here come much faster than the in-doubt horizon,
    as they do when a loaded machine slows the resolver down: they must leave the order to the
    resolver, which proves the placement absent and ends the order CANCELED, never LOST."""
    om = await desk.instance(reconcile_interval_s=0.3, lost_after=2, in_doubt_horizon_s=8.0)
    account = await desk.account()
    await sim.fail_requests(1, 503, ORDER_PATH, "timeout", method="POST", venue=EXCHANGE)
    placed = await desk.place(om, account, "in-doubt-then-cancelled", wait="none")
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order"]["order_id"]
    await desk.state_of(om, order_id, "submitted")  # sent, held unanswered by the venue
    cancel = await om.http.post(f"/v1/orders/{order_id}/cancel", headers=desk.headers())
    assert cancel.status_code == 202, cancel.text
    await desk.state_of(om, order_id, "pending_cancel")
    order = await desk.state_of(om, order_id, "canceled", "lost", timeout_s=45)
    history = await om.http.get(f"/v1/orders/{order_id}/events", headers=desk.headers())
    events = [e["event"] for e in history.json()["events"]]
    assert order["state"] == "canceled", events
    assert "declare_lost" not in events, events
    assert events[-1] == "venue_not_found", events  # proven never placed: nothing to cancel
    assert events.count("send") == 1, events  # and not sent again after the cancel
    assert await desk.venue_orders(account) == []


async def test_a_market_order_fills_against_the_book_with_its_fills_and_average_price(
    shared: tuple[Desk, Instance],
) -> None:
    desk, om = shared
    await desk.maker("sell", Decimal("1001"), Decimal("0.006"))
    await desk.maker("sell", Decimal("1002"), Decimal("0.01"))
    account = await desk.account()
    placed = await desk.place(om, account, "market", type="market", price=None, quantity="0.01")
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order"]["order_id"]
    order = await desk.state_of(om, order_id, "filled")
    assert Decimal(order["filled_quantity"]) == Decimal("0.01")
    assert Decimal(order["average_price"]) == (Decimal("1001") * 6 + Decimal("1002") * 4) / 10

    async def fills() -> list[dict[str, str]]:
        got = await om.http.get(f"/v1/orders/{order_id}/fills", headers=desk.headers())
        return list(got.json()["fills"])

    recorded = await until(lambda: _two(fills), what="both fills to be recorded")
    assert sorted(Decimal(f["quantity"]) for f in recorded) == [Decimal("0.004"), Decimal("0.006")]


async def _two(fills: object) -> object:
    got = await fills()  # type: ignore[operator]
    return got if len(got) == 2 else None
