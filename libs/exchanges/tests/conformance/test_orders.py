"""Orders through a venue's trading adapter, signed by the auth service, against the simulator:
place, fill, partial fill, cancel, amend, query by either id, history, balances, good-till-date."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from eip.exchanges.contract.errors import (
    NotSupported,
    OrderNotFound,
    OrderRejected,
    RejectReason,
)
from eip.exchanges.contract.trading import (
    OrderType,
    Support,
    TimeInForce,
    VenueOrderStatus,
)

from .harness import PRICE, QUANTITY, ZERO, Desk

pytestmark = pytest.mark.integration


async def test_a_resting_limit_order_is_found_by_either_id_and_locks_its_funds(desk: Desk) -> None:
    alice = await desk.trader()
    request = alice.limit("buy")
    placed = await alice.place(request)
    assert placed.status is VenueOrderStatus.OPEN
    assert placed.client_order_id == request.client_order_id
    assert (placed.symbol, placed.side, placed.type) == (
        desk.harness.symbol,
        "buy",
        OrderType.LIMIT,
    )
    assert (placed.quantity, placed.price, placed.filled_quantity) == (QUANTITY, PRICE, ZERO)
    assert placed.time_in_force is TimeInForce.GTC

    by_client = await alice.adapter.fetch_order(
        desk.harness.symbol, client_order_id=request.client_order_id
    )
    by_venue = await alice.adapter.fetch_order(
        desk.harness.symbol, venue_order_id=placed.venue_order_id
    )
    for found in (by_client, by_venue):
        assert found.venue_order_id == placed.venue_order_id
        assert found.client_order_id == request.client_order_id
        assert found.status is VenueOrderStatus.OPEN
    assert [o.venue_order_id for o in await alice.adapter.fetch_open_orders()] == [
        placed.venue_order_id
    ]
    assert await alice.balance("USDT") == (Decimal("100000") - 10, Decimal("10"))


async def test_an_order_fills_against_a_counterparty_with_fees_liquidity_and_balances(
    desk: Desk,
) -> None:
    maker = await desk.trader({"BTC": "1"})
    taker = await desk.trader({"USDT": "1000"})
    resting = await maker.place(maker.limit("sell", Decimal("0.02")))
    filled = await taker.place(taker.market("buy", Decimal("0.02")))
    assert filled.status is VenueOrderStatus.FILLED
    assert filled.filled_quantity == Decimal("0.02")
    assert filled.average_price == PRICE

    after = await maker.adapter.fetch_order(
        desk.harness.symbol, venue_order_id=resting.venue_order_id
    )
    assert after.status is VenueOrderStatus.FILLED
    assert after.average_price == PRICE

    (maker_fill,) = (await maker.adapter.fetch_fills(desk.harness.symbol)).fills
    (taker_fill,) = (await taker.adapter.fetch_fills(desk.harness.symbol)).fills
    assert maker_fill.trade_id == taker_fill.trade_id
    assert (maker_fill.side, maker_fill.liquidity) == ("sell", "maker")
    assert (taker_fill.side, taker_fill.liquidity) == ("buy", "taker")
    assert maker_fill.venue_order_id == resting.venue_order_id
    assert maker_fill.client_order_id == resting.client_order_id
    assert (maker_fill.price, maker_fill.quantity) == (PRICE, Decimal("0.02"))
    # fees in what each side receives: 0.1 % of 20 USDT, 0.1 % of 0.02 BTC (a venue that
    # reports fees in quote says the buyer's in USDT at the fill price)
    assert (maker_fill.fee, maker_fill.fee_asset) == (Decimal("0.02"), "USDT")
    if desk.harness.fees_in_quote:
        assert (taker_fill.fee, taker_fill.fee_asset) == (Decimal("0.02"), "USDT")
    else:
        assert (taker_fill.fee, taker_fill.fee_asset) == (Decimal("0.00002"), "BTC")

    assert await maker.balance("BTC") == (Decimal("0.98"), ZERO)
    assert await maker.balance("USDT") == (Decimal("19.98"), ZERO)
    assert await taker.balance("BTC") == (Decimal("0.01998"), ZERO)
    assert await taker.balance("USDT") == (Decimal("980"), ZERO)


async def test_a_market_order_sized_in_quote_spends_that_much(desk: Desk) -> None:
    maker = await desk.trader({"BTC": "1"})
    taker = await desk.trader({"USDT": "100"})
    # every simulated venue takes quote-sized market orders
    assert taker.adapter.capabilities.quote_quantity_market is Support.NATIVE
    await maker.place(maker.limit("sell", Decimal("0.05")))
    bought = await taker.place(taker.market("buy", None, quote_quantity=Decimal("30")))
    assert bought.status is VenueOrderStatus.FILLED
    assert bought.filled_quantity == Decimal("0.03")
    assert await taker.balance("USDT") == (Decimal("70"), ZERO)


async def test_a_partial_fill_leaves_the_rest_open_until_it_fills(desk: Desk) -> None:
    buyer = await desk.trader()
    seller = await desk.trader()
    resting = await buyer.place(buyer.limit("buy", Decimal("0.03")))
    first = await seller.place(seller.limit("sell", Decimal("0.01"), time_in_force=TimeInForce.IOC))
    assert first.status is VenueOrderStatus.FILLED
    partly = await buyer.adapter.fetch_order(
        desk.harness.symbol, venue_order_id=resting.venue_order_id
    )
    assert partly.status is VenueOrderStatus.PARTIALLY_FILLED
    assert partly.filled_quantity == Decimal("0.01")
    assert partly.remaining_quantity == Decimal("0.02")
    assert await buyer.balance("USDT") == (Decimal("100000") - 30, Decimal("20"))

    await seller.place(seller.market("sell", Decimal("0.02")))
    done = await buyer.adapter.fetch_order(
        desk.harness.symbol, venue_order_id=resting.venue_order_id
    )
    assert done.status is VenueOrderStatus.FILLED
    assert done.filled_quantity == Decimal("0.03")
    page = await buyer.adapter.fetch_fills(desk.harness.symbol)
    assert sum(f.quantity for f in page.fills) == Decimal("0.03")
    assert len({f.trade_id for f in page.fills}) == 2
    # resuming from the cursor: nothing new yet, then exactly the next fill
    again = await buyer.adapter.fetch_fills(desk.harness.symbol, page.next_cursor)
    assert again.fills == []
    assert again.next_cursor == page.next_cursor
    await buyer.place(buyer.limit("buy", Decimal("0.01")))
    await seller.place(seller.market("sell", Decimal("0.01")))
    (newest,) = (await buyer.adapter.fetch_fills(desk.harness.symbol, page.next_cursor)).fills
    assert newest.trade_id not in {f.trade_id for f in page.fills}
    closed = await buyer.adapter.fetch_closed_orders(
        desk.harness.symbol, datetime.now(UTC) - timedelta(minutes=1)
    )
    assert {o.venue_order_id for o in closed} >= {resting.venue_order_id}
    assert all(not o.status.is_open for o in closed)


async def test_cancel_works_by_either_id_is_idempotent_and_unknown_orders_are_not_found(
    desk: Desk,
) -> None:
    alice = await desk.trader()
    one = await alice.place(alice.limit("buy"))
    two = await alice.place(alice.limit("buy", price=PRICE - 1))
    canceled = await alice.adapter.cancel_order(
        desk.harness.symbol, client_order_id=one.client_order_id
    )
    assert canceled.status is VenueOrderStatus.CANCELED
    assert canceled.client_order_id == one.client_order_id
    assert canceled.venue_order_id == one.venue_order_id
    # a repeated cancel answers with the order as it is, not an error
    again = await alice.adapter.cancel_order(
        desk.harness.symbol, client_order_id=one.client_order_id
    )
    assert again.status is VenueOrderStatus.CANCELED
    by_venue = await alice.adapter.cancel_order(
        desk.harness.symbol, venue_order_id=two.venue_order_id
    )
    assert by_venue.status is VenueOrderStatus.CANCELED
    assert await alice.adapter.fetch_open_orders(desk.harness.symbol) == []
    assert await alice.balance("USDT") == (Decimal("100000"), ZERO)
    with pytest.raises(OrderNotFound):
        await alice.adapter.cancel_order(desk.harness.symbol, client_order_id="never-placed-1")
    with pytest.raises(OrderNotFound):
        await alice.adapter.fetch_order(desk.harness.symbol, client_order_id="never-placed-1")


async def test_amend_lowers_the_quantity_keeping_the_ids_where_native(desk: Desk) -> None:
    alice = await desk.trader()
    support = alice.adapter.capabilities.amend
    order = await alice.place(alice.limit("buy", Decimal("0.03")))
    if support.price is not Support.NATIVE:
        with pytest.raises(NotSupported):
            await alice.adapter.amend_order(
                desk.harness.symbol, client_order_id=order.client_order_id, price=PRICE - 1
            )
    if support.quantity_down is not Support.NATIVE or "amend" in desk.harness.pending:
        # the venue has it, the simulator does not serve it yet: the adapter says so plainly
        with pytest.raises(NotSupported):
            await alice.adapter.amend_order(
                desk.harness.symbol,
                client_order_id=order.client_order_id,
                quantity=Decimal("0.02"),
            )
        unchanged = await alice.adapter.fetch_order(
            desk.harness.symbol, venue_order_id=order.venue_order_id
        )
        assert unchanged.quantity == Decimal("0.03")
        return
    amended = await alice.adapter.amend_order(
        desk.harness.symbol, client_order_id=order.client_order_id, quantity=Decimal("0.02")
    )
    assert (amended.venue_order_id, amended.client_order_id) == (
        order.venue_order_id,
        order.client_order_id,
    )
    assert amended.quantity == Decimal("0.02")
    assert amended.status is VenueOrderStatus.OPEN
    assert await alice.balance("USDT") == (Decimal("100000") - 20, Decimal("20"))
    # by the venue's id too, and the order keeps its client id
    again = await alice.adapter.amend_order(
        desk.harness.symbol, venue_order_id=order.venue_order_id, quantity=Decimal("0.015")
    )
    assert again.client_order_id == order.client_order_id
    found = await alice.adapter.fetch_order(
        desk.harness.symbol, client_order_id=order.client_order_id
    )
    assert found.quantity == Decimal("0.015")
    # the same amend again (a retry after a lost answer) is done, not an error
    repeated = await alice.adapter.amend_order(
        desk.harness.symbol, client_order_id=order.client_order_id, quantity=Decimal("0.015")
    )
    assert (repeated.venue_order_id, repeated.quantity) == (order.venue_order_id, Decimal("0.015"))
    if support.quantity_up is not Support.NATIVE:
        with pytest.raises(NotSupported):
            await alice.adapter.amend_order(
                desk.harness.symbol, client_order_id=order.client_order_id, quantity=QUANTITY * 5
            )


async def test_a_good_till_date_order_rests_until_its_time_where_the_venue_has_them(
    desk: Desk,
) -> None:
    alice = await desk.trader()
    rules = await desk.rules(alice)
    until_time = datetime.now(UTC) + timedelta(seconds=3)
    request = alice.limit("buy", time_in_force=TimeInForce.GTD, expire_time=until_time)
    if "gtd" in desk.harness.pending:
        # the venue has it, the simulator refuses it yet: the entry goes once it serves it
        with pytest.raises(OrderRejected):
            await alice.place(request)
        return
    if TimeInForce.GTD not in rules.time_in_force:
        with pytest.raises(OrderRejected) as caught:  # refused before sending
            await alice.place(request)
        assert caught.value.reason is RejectReason.INVALID_ORDER
        assert caught.value.venue_code is None
        return
    placed = await alice.place(request)
    assert (placed.status, placed.time_in_force) == (VenueOrderStatus.OPEN, TimeInForce.GTD)
    assert await alice.balance("USDT") == (Decimal("100000") - 10, Decimal("10"))
    deadline = time.monotonic() + 15
    while (
        now := await alice.adapter.fetch_order(
            desk.harness.symbol, venue_order_id=placed.venue_order_id
        )
    ).status.is_open:
        assert time.monotonic() < deadline, "the GTD order never expired"
        await asyncio.sleep(0.2)
    assert now.status is VenueOrderStatus.EXPIRED
    assert datetime.now(UTC) >= until_time
    assert await alice.balance("USDT") == (Decimal("100000"), ZERO)
