"""A placement whose answer never came is ``OutcomeUnknown`` — never retried — and the client
order id settles it: absent when the request died on the way (the venue held it unexecuted),
present when only the answer was lost (the venue's drop-response fault, or a relay between
adapter and venue that swallows answers)."""

from __future__ import annotations

import time

import pytest

from eip.exchanges.contract.errors import OrderNotFound, OutcomeUnknown
from eip.exchanges.contract.trading import VenueOrderStatus

from .harness import QUANTITY, Desk

pytestmark = pytest.mark.integration

TIMEOUT_S = 1.5


async def test_a_placement_that_timed_out_is_outcome_unknown_then_proven_absent(
    desk: Desk,
) -> None:
    alice = await desk.trader(timeout_s=TIMEOUT_S)
    assert await alice.adapter.fetch_open_orders() == []  # rules and clock known: one request
    # the venue holds the request and never executes it (the fault comes before the handler)
    await desk.sim.fail_requests(count=1, mode="timeout", path_prefix=desk.harness.order_path)
    request = alice.limit("buy")
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown):
        await alice.place(request)
    assert time.monotonic() - started < TIMEOUT_S * 3  # one attempt: no retry behind it
    with pytest.raises(OrderNotFound):
        await alice.adapter.fetch_order(
            desk.harness.symbol, client_order_id=request.client_order_id
        )
    assert await alice.adapter.fetch_open_orders() == []


async def test_a_placement_whose_answer_was_lost_is_outcome_unknown_then_found_by_client_id(
    desk: Desk,
) -> None:
    relay = await desk.proxy()
    alice = await desk.trader(rest_via=relay, timeout_s=TIMEOUT_S)
    assert await alice.adapter.fetch_open_orders() == []  # rules and clock known: one request
    request = alice.limit("buy")
    relay.drop_responses = True  # the venue gets it and acts; its answer never arrives
    with pytest.raises(OutcomeUnknown):
        await alice.place(request)
    relay.drop_responses = False
    found = await alice.adapter.fetch_order(
        desk.harness.symbol, client_order_id=request.client_order_id
    )
    assert found.status is VenueOrderStatus.OPEN
    assert found.quantity == QUANTITY
    # exactly one order: the adapter did not send it again behind the caller's back
    assert [o.client_order_id for o in await alice.adapter.fetch_open_orders()] == [
        request.client_order_id
    ]


async def test_a_placement_the_venue_executed_but_never_answered_is_found_by_client_id(
    desk: Desk,
) -> None:
    alice = await desk.trader(timeout_s=TIMEOUT_S)
    assert await alice.adapter.fetch_open_orders() == []  # rules and clock known: one request
    # the venue places the order and its answer is lost on the way back (drop-response)
    await desk.sim.drop_responses(desk.harness.order_path, method="POST")
    request = alice.limit("buy")
    with pytest.raises(OutcomeUnknown):
        await alice.place(request)
    found = await alice.adapter.fetch_order(
        desk.harness.symbol, client_order_id=request.client_order_id
    )
    assert found.status is VenueOrderStatus.OPEN
    assert [o.client_order_id for o in await alice.adapter.fetch_open_orders()] == [
        request.client_order_id
    ]


async def test_a_server_error_on_a_placement_is_outcome_unknown(desk: Desk) -> None:
    alice = await desk.trader()
    assert await alice.adapter.fetch_open_orders() == []
    await desk.sim.fail_requests(count=1, status=503, path_prefix=desk.harness.order_path)
    with pytest.raises(OutcomeUnknown):
        await alice.place(alice.limit("buy"))
    # reads are retried through the same fault
    await desk.sim.fail_requests(count=1, status=503, path_prefix=desk.harness.open_orders_path)
    assert await alice.adapter.fetch_open_orders() == []
