"""Orders that wait for a price: stops and take-profits untriggered until the market crosses,
trailing stops that follow the best price and fire on the retrace, and one-cancels-the-other
lists — native where the venue's capabilities say so, ``NotSupported`` where they do not."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from decimal import Decimal

import pytest

from eip.exchanges.contract.errors import NotSupported
from eip.exchanges.contract.trading import (
    OcoRequest,
    OrderRequest,
    OrderType,
    Support,
    TrailingOffset,
    VenueOrderStatus,
)

from .harness import PRICE, QUANTITY, Desk, Trader

pytestmark = pytest.mark.integration


async def print_price(desk: Desk, price: Decimal) -> None:
    """A trade at ``price`` between two accounts of their own: the market's last price."""
    maker, taker = await desk.trader(), await desk.trader()
    await maker.place(maker.limit("sell", price=price))
    await taker.place(taker.market("buy"))


async def status_of(trader: Trader, venue_order_id: str) -> VenueOrderStatus:
    order = await trader.adapter.fetch_order(
        trader.desk.harness.symbol, venue_order_id=venue_order_id
    )
    return order.status


async def until_status(
    trader: Trader, venue_order_id: str, status: VenueOrderStatus, timeout_s: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while (now := await status_of(trader, venue_order_id)) is not status:
        if time.monotonic() > deadline:
            raise AssertionError(f"order {venue_order_id} is {now.value}, never {status.value}")
        await asyncio.sleep(0.05)


async def test_a_stop_waits_untriggered_until_the_price_crosses(desk: Desk) -> None:
    alice = await desk.trader()
    bob = await desk.trader()
    rules = await desk.rules(alice)
    assert OrderType.TAKE_PROFIT_LIMIT in rules.order_types
    await print_price(desk, PRICE)
    market_stop = OrderRequest(
        symbol=desk.harness.symbol,
        side="sell",
        type=OrderType.STOP_MARKET,
        client_order_id=alice.next_client_id(),
        quantity=QUANTITY,
        stop_price=PRICE - 100,
    )
    if OrderType.STOP_MARKET not in rules.order_types:
        # a venue with stop-limits only (Coinbase): a stop-market is the platform's to emulate,
        # and the same stop is sent as a stop-limit reaching down to where it will sell
        assert OrderType.STOP_LIMIT in rules.order_types
        with pytest.raises(NotSupported):
            await alice.place(market_stop)
        market_stop = dataclasses.replace(market_stop, type=OrderType.STOP_LIMIT, price=PRICE - 200)
    stop = await alice.place(market_stop)
    assert stop.status is VenueOrderStatus.UNTRIGGERED
    assert stop.stop_price == PRICE - 100
    await bob.place(bob.limit("buy", price=PRICE - 200))  # where the stop will sell
    await print_price(desk, PRICE - 50)
    assert await status_of(alice, stop.venue_order_id) is VenueOrderStatus.UNTRIGGERED
    await print_price(desk, PRICE - 100)
    await until_status(alice, stop.venue_order_id, VenueOrderStatus.FILLED)
    (fill,) = (await alice.adapter.fetch_fills(desk.harness.symbol)).fills
    assert fill.price == PRICE - 200


async def test_a_trailing_stop_follows_the_best_price_and_fires_on_the_retrace(
    desk: Desk,
) -> None:
    alice = await desk.trader()
    trailing = OrderRequest(
        symbol=desk.harness.symbol,
        side="sell",
        type=OrderType.TRAILING_STOP_MARKET,
        client_order_id=alice.next_client_id(),
        quantity=QUANTITY,
        trailing=TrailingOffset(Decimal("100"), "bps"),  # 1 %
    )
    if alice.adapter.capabilities.trailing_stop is not Support.NATIVE:
        with pytest.raises(NotSupported):
            await alice.place(trailing)
        return
    assert OrderType.TRAILING_STOP_MARKET in (await desk.rules(alice)).order_types
    bob = await desk.trader()
    await print_price(desk, PRICE)
    order = await alice.place(trailing)
    assert order.type is OrderType.TRAILING_STOP_MARKET
    assert order.status is VenueOrderStatus.UNTRIGGERED
    await bob.place(bob.limit("buy", price=Decimal("900")))  # where it will sell
    await print_price(desk, Decimal("1100"))  # the best price moves up: the trigger follows
    await print_price(desk, Decimal("1090"))  # 0.9 % below the best: still waiting
    assert await status_of(alice, order.venue_order_id) is VenueOrderStatus.UNTRIGGERED
    await print_price(desk, Decimal("1089"))  # 1 % below 1100: fires (1000 - 1 % would not)
    await until_status(alice, order.venue_order_id, VenueOrderStatus.FILLED)
    (fill,) = (await alice.adapter.fetch_fills(desk.harness.symbol)).fills
    assert fill.price == Decimal("900")


async def test_one_leg_of_an_oco_executing_cancels_the_other(desk: Desk) -> None:
    alice = await desk.trader()
    request = OcoRequest(
        symbol=desk.harness.symbol,
        side="sell",
        quantity=QUANTITY,
        price=PRICE + 100,  # take profit above the market
        stop_price=PRICE - 100,  # stop below it
        list_client_id=alice.next_client_id(),
        limit_client_order_id=alice.next_client_id(),
        stop_client_order_id=alice.next_client_id(),
    )
    if alice.adapter.capabilities.oco is not Support.NATIVE:
        with pytest.raises(NotSupported):
            await alice.adapter.place_oco(request)
        return
    assert (await desk.rules(alice)).oco
    await print_price(desk, PRICE)
    legs = await alice.adapter.place_oco(request)
    by_id = {leg.client_order_id: leg for leg in legs}
    limit, stop = by_id[request.limit_client_order_id], by_id[request.stop_client_order_id]
    assert limit.list_id is not None
    assert limit.list_id == stop.list_id
    assert (limit.status, limit.price) == (VenueOrderStatus.OPEN, PRICE + 100)
    assert (stop.status, stop.stop_price) == (VenueOrderStatus.UNTRIGGERED, PRICE - 100)
    assert await alice.balance("BTC") == (Decimal("10") - QUANTITY, QUANTITY)  # locked once

    buyer = await desk.trader()
    await buyer.place(buyer.market("buy"))  # takes the limit leg
    await until_status(alice, limit.venue_order_id, VenueOrderStatus.FILLED)
    other = await alice.adapter.fetch_order(desk.harness.symbol, venue_order_id=stop.venue_order_id)
    assert not other.status.is_open
    assert other.filled_quantity == 0
    assert await alice.balance("BTC") == (Decimal("10") - QUANTITY, Decimal(0))
