"""Every reason the simulator can refuse an order for, as the platform's ``RejectReason`` — the
closed set a caller acts on — with nothing placed."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from eip.exchanges.contract.errors import OrderRejected, RejectReason
from eip.exchanges.contract.trading import OrderRequest

from .harness import PRICE, ZERO, Desk, Trader

pytestmark = pytest.mark.integration


async def refused(trader: Trader, request: OrderRequest) -> OrderRejected:
    with pytest.raises(OrderRejected) as caught:
        await trader.place(request)
    # nothing rests, nothing is locked
    assert await trader.adapter.fetch_open_orders() == []
    return caught.value


@pytest.mark.parametrize(
    ("reason", "change"),
    [
        (RejectReason.PRICE_FILTER, {"price": PRICE + Decimal("0.001")}),  # off the tick
        (RejectReason.LOT_SIZE, {"quantity": Decimal("0.000001")}),  # off the step
        (RejectReason.MIN_NOTIONAL, {"quantity": Decimal("0.001")}),  # 1 USDT < 5
        (RejectReason.INSUFFICIENT_FUNDS, {"quantity": Decimal("200")}),  # 200,000 USDT
    ],
    ids=lambda v: v.value if isinstance(v, RejectReason) else "",
)
async def test_an_order_outside_the_rules_or_the_funds_is_rejected_with_its_reason(
    desk: Desk, reason: RejectReason, change: dict[str, Decimal]
) -> None:
    alice = await desk.trader()
    rejection = await refused(alice, alice.limit("buy", **change))
    assert rejection.reason is reason
    assert rejection.venue_code  # the venue's own code, kept for the audit trail
    assert await alice.balance("USDT") == (Decimal("100000"), ZERO)


async def test_a_post_only_order_that_would_take_is_rejected(desk: Desk) -> None:
    maker = await desk.trader()
    await maker.place(maker.limit("sell"))
    alice = await desk.trader()
    rejection = await refused(alice, alice.limit("buy", post_only=True))
    assert rejection.reason is RejectReason.POST_ONLY_WOULD_TAKE
    # one that would rest is taken
    rests = await alice.place(alice.limit("buy", price=PRICE - 1, post_only=True))
    assert rests.status.is_open


async def test_a_second_open_order_with_the_same_client_id_is_rejected_or_answers_the_first(
    desk: Desk,
) -> None:
    alice = await desk.trader()
    first = await alice.place(alice.limit("buy"))
    again = alice.limit("buy", client_order_id=first.client_order_id)
    if alice.adapter.capabilities.idempotent_client_order_id:
        # the id is an idempotency key (Coinbase): nothing new, the first order is the answer
        answered = await alice.place(again)
        assert (answered.venue_order_id, answered.client_order_id) == (
            first.venue_order_id,
            first.client_order_id,
        )
    else:
        with pytest.raises(OrderRejected) as caught:
            await alice.place(again)
        assert caught.value.reason is RejectReason.DUPLICATE_CLIENT_ORDER_ID
    assert [o.venue_order_id for o in await alice.adapter.fetch_open_orders()] == [
        first.venue_order_id
    ]


async def test_an_order_on_a_halted_market_is_rejected_as_market_closed(desk: Desk) -> None:
    alice = await desk.trader()
    await desk.sim.halt(desk.sim_symbol)
    try:
        rules = await desk.rules(alice)
        assert rules.trading is False
        rejection = await refused(alice, alice.limit("buy"))
        assert rejection.reason is RejectReason.MARKET_CLOSED
    finally:
        await desk.sim.resume_symbol(desk.sim_symbol)
    assert (await alice.place(alice.limit("buy"))).status.is_open


async def test_too_many_orders_are_rejected_as_rate_limited(desk: Desk) -> None:
    alice = await desk.trader()
    async with desk.order_rate(2):
        await alice.place(alice.limit("buy"))
        await alice.place(alice.limit("buy"))
        if "order_rate_limit" in desk.harness.pending:
            # the simulator does not limit this dialect yet: the third is placed (this fails
            # once it does, and the entry is removed)
            await alice.place(alice.limit("buy"))
            assert len(await alice.adapter.fetch_open_orders()) == 3
            return
        with pytest.raises(OrderRejected) as caught:
            await alice.place(alice.limit("buy"))
        assert caught.value.reason is RejectReason.RATE_LIMITED
        assert len(await alice.adapter.fetch_open_orders()) == 2


async def test_an_order_for_a_symbol_the_venue_does_not_list_is_rejected_unsent(
    desk: Desk,
) -> None:
    alice = await desk.trader()
    request = alice.limit("buy")
    rejection = await refused(alice, dataclasses.replace(request, symbol="NOPE/USDT"))
    assert rejection.reason is RejectReason.UNKNOWN_SYMBOL


async def test_a_key_without_the_trading_permission_is_refused_as_permission_denied(
    desk: Desk,
) -> None:
    reader = await desk.trader(profile="read-only")
    assert await reader.balance("USDT") == (Decimal("100000"), ZERO)  # the key works
    rejection = await refused(reader, reader.limit("buy"))
    assert rejection.reason is RejectReason.PERMISSION_DENIED


async def test_a_client_order_id_the_venue_would_refuse_is_rejected_before_sending(
    desk: Desk,
) -> None:
    alice = await desk.trader()
    rules = alice.adapter.capabilities.client_order_ids
    for bad in ("has space", "x" * (rules.max_length + 1), "semi;colon"):
        rejection = await refused(alice, alice.limit("buy", client_order_id=bad))
        assert rejection.reason is RejectReason.INVALID_ORDER
        assert rejection.venue_code is None  # refused here: the venue never saw it
