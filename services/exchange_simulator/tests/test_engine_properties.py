"""Property tests: whatever sequence of orders arrives, the engine's invariants hold.

The sequences mix every order kind the core offers (limit, market by base and by quote,
post-only, stop-limit, trailing stops priced up front or at trigger, OCO lists), with
amendments, cancels, self-trade prevention modes and trades printed from outside the book.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal as D
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eip.exchange_simulator.core.exchange import Exchange, ListRequest, OrderRequest
from eip.exchange_simulator.core.orders import (
    AmendPriority,
    Order,
    OrderList,
    OrderType,
    Rejection,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from eip.exchange_simulator.core.trailing import Offset, OffsetUnit, Trailing

from .conftest import FakeClock, btcusdt

ACCOUNTS = ["a", "b", "c"]
KINDS = [
    "limit",
    "limit",
    "limit",
    "market",
    "market_quote",
    "maker",
    "stop",
    "trailing",
    "trailing_limit",
    "oco",
    "amend",
    "amend_price",
    "cancel",
    "print",
]


class Step(NamedTuple):
    account: str
    side: Side
    kind: str
    qty: D
    price: D
    tif: TimeInForce
    stp: SelfTradePrevention
    offset: D  # a trailing offset, a list's price gap, an amendment's new quantity factor
    bps: bool


steps = st.builds(
    lambda account, side, kind, qty_steps, price_ticks, tif, stp, offset, bps: Step(
        account,
        side,
        kind,
        D(qty_steps) / 100,
        D(49900) + D(price_ticks),
        tif,
        stp,
        D(offset),
        bps,
    ),
    st.sampled_from(ACCOUNTS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from(KINDS),
    st.integers(min_value=1, max_value=300),
    st.integers(min_value=0, max_value=200),
    st.sampled_from(list(TimeInForce)),
    st.sampled_from(list(SelfTradePrevention)),
    st.integers(min_value=1, max_value=60),
    st.booleans(),
)


def request(step: Step, kind: OrderType, **extra: object) -> OrderRequest:
    fields: dict[str, object] = {
        "account_id": step.account,
        "symbol": "BTCUSDT",
        "side": step.side,
        "type": kind,
        "quantity": step.qty,
        "self_trade_prevention": step.stp,
    }
    fields.update(extra)
    return OrderRequest(**fields)  # type: ignore[arg-type]


def trailing(step: Step, limit_offset: bool = False) -> Trailing:
    offset = Offset(step.offset, OffsetUnit.BPS) if step.bps else Offset(step.offset)
    if not limit_offset:
        return Trailing(offset)
    direction = -1 if step.side is Side.SELL else 1
    return Trailing(offset, limit_offset=Offset(direction * step.offset / 2))


def oco(step: Step) -> ListRequest:
    """A LIMIT_MAKER at the step's price and a stop-limit on the other side of the market."""
    away = step.offset * 2 * (-1 if step.side is Side.SELL else 1)
    stop = step.price + away
    return ListRequest(
        [
            request(step, OrderType.LIMIT_MAKER, price=step.price),
            request(
                step,
                OrderType.STOP_LOSS_LIMIT,
                price=stop + away,
                stop_price=stop,
                time_in_force=TimeInForce.GTC,
            ),
        ]
    )


def apply(ex: Exchange, step: Step, placed: list[Order], lists: list[OrderList]) -> None:
    account, kind = step.account, step.kind
    mine = ex.open_orders(account)
    if kind == "cancel":
        if mine:
            ex.cancel(account, "BTCUSDT", mine[0].order_id)
    elif kind == "amend":
        if mine and mine[0].quantity is not None:
            new_qty = mine[0].executed_qty + step.qty * step.offset / 30
            priority = AmendPriority.LOSE if step.bps else AmendPriority.KEEP_ON_DECREASE
            quantity = new_qty.quantize(D("0.00001"))
            ex.amend(account, "BTCUSDT", mine[0].order_id, quantity=quantity, priority=priority)
    elif kind == "amend_price":
        if mine:
            ex.amend(account, "BTCUSDT", mine[-1].order_id, price=step.price)
    elif kind == "print":
        ex.print_trade("BTCUSDT", step.price, step.qty, step.side)
    elif kind == "oco":
        lists.append(ex.place_list(oco(step)))
        placed.extend(lists[-1].orders)
    elif kind == "limit":
        placed.append(
            ex.place(request(step, OrderType.LIMIT, price=step.price, time_in_force=step.tif))
        )
    elif kind == "maker":
        placed.append(ex.place(request(step, OrderType.LIMIT_MAKER, price=step.price)))
    elif kind == "market":
        placed.append(ex.place(request(step, OrderType.MARKET)))
    elif kind == "market_quote":
        placed.append(
            ex.place(request(step, OrderType.MARKET, quantity=None, quote_quantity=step.qty * 1000))
        )
    elif kind == "stop":
        placed.append(
            ex.place(
                request(
                    step,
                    OrderType.STOP_LOSS_LIMIT,
                    price=step.price,
                    stop_price=step.price,
                    time_in_force=TimeInForce.GTC,
                )
            )
        )
    elif kind == "trailing":
        placed.append(ex.place(request(step, OrderType.STOP_LOSS, trailing=trailing(step))))
    else:  # trailing_limit: priced when it triggers
        placed.append(
            ex.place(
                request(
                    step,
                    OrderType.STOP_LOSS_LIMIT,
                    time_in_force=TimeInForce.GTC,
                    trailing=trailing(step, limit_offset=True),
                )
            )
        )


def run(actions: list[Step]) -> tuple[Exchange, list[Order], list[OrderList]]:
    ex = Exchange([btcusdt()], clock=FakeClock())
    for name in ACCOUNTS:
        ex.create_account(name, {"USDT": D(300_000), "BTC": D(6)})
    placed: list[Order] = []
    lists: list[OrderList] = []
    for step in actions:
        with contextlib.suppress(Rejection):
            apply(ex, step, placed, lists)
    return ex, placed, lists


@settings(max_examples=200, deadline=None)
@given(st.lists(steps, max_size=60))
def test_balances_are_conserved_and_consistent(actions: list[Step]) -> None:
    ex, _placed, _lists = run(actions)
    totals: dict[str, D] = {}
    for account in ex.accounts.values():
        for asset, bal in account.balances.items():
            assert bal.free >= 0, (account.account_id, asset, bal)
            assert bal.locked >= 0, (account.account_id, asset, bal)
            totals[asset] = totals.get(asset, D(0)) + bal.total
    assert totals == {"USDT": D(900_000), "BTC": D(18)}
    # locked funds are exactly what open orders still reserve: lists and trailing stops too
    for name in ACCOUNTS:
        reserved: dict[str, D] = {}
        for order in ex.open_orders(name):
            reserved[order.reserved_asset] = (
                reserved.get(order.reserved_asset, D(0)) + order.reserved
            )
        for asset, bal in ex.accounts[name].balances.items():
            assert bal.locked == reserved.get(asset, D(0)), (name, asset)


@settings(max_examples=200, deadline=None)
@given(st.lists(steps, max_size=60))
def test_an_oco_never_fills_beyond_its_quantity(actions: list[Step]) -> None:
    _ex, _placed, lists = run(actions)
    for order_list in lists:
        executed = [leg.executed_qty for leg in order_list.orders]
        assert sum(executed) <= order_list.quantity
        assert sum(1 for qty in executed if qty > 0) <= 1, order_list
        assert sum(1 for leg in order_list.orders if leg.status.is_open) <= 1 or not any(executed)


@settings(max_examples=200, deadline=None)
@given(st.lists(steps, max_size=60))
def test_book_never_crossed_at_rest_and_fills_respect_limits(actions: list[Step]) -> None:
    ex, placed, _lists = run(actions)
    book = ex.engines["BTCUSDT"].book
    best_bid, best_ask = book.bids.best(), book.asks.best()
    if best_bid and best_ask:
        assert best_bid.price < best_ask.price
    for order in placed:
        # (an amended order may have filled at the price it had before)
        if (
            order.effective_type.has_limit_price
            and order.price is not None
            and not order.amendments
        ):
            for fill in order.fills:
                if order.side is Side.BUY:
                    assert fill.price <= order.price
                else:
                    assert fill.price >= order.price
        assert order.executed_qty == sum((f.qty for f in order.fills), D(0))
        if order.quantity is not None:
            assert order.executed_qty <= order.quantity
    for level in list(book.bids.iter_levels()) + list(book.asks.iter_levels()):
        assert level.total == sum((o.remaining for o in level.orders), D(0))
        assert level.total > 0
    open_ids = {o.order_id for o in ex.open_orders("a") + ex.open_orders("b") + ex.open_orders("c")}
    for level in list(book.bids.iter_levels()) + list(book.asks.iter_levels()):
        assert all(o.order_id in open_ids for o in level.orders if o.account_id in ACCOUNTS)


# -- trailing stops fire exactly when the price comes back by their offset ---------------------


def reaches(price: D, level: D, side: Side, kind: OrderType) -> bool:
    """A buy stop-loss and a sell take-profit wait for a rise to ``level``, the others a fall."""
    rises = (kind is OrderType.STOP_LOSS) is (side is Side.BUY)
    return price >= level if rises else price <= level


def expected_trigger(
    prices: list[D], side: Side, offset: Offset, activation: D | None, kind: OrderType
) -> int | None:
    """Index of the print that fires the stop, by the definition: after activation (the first
    print reaching the activation price, or the print before the order), the first print at or
    beyond the extreme since activation moved back by the offset."""
    start = 0
    if activation is not None:
        reached = [i for i, p in enumerate(prices) if i > 0 and reaches(p, activation, side, kind)]
        if not reached:
            return None
        start = reached[0]
    for i in range(start + 1, len(prices)):
        window = prices[start : i + 1]
        if side is Side.SELL:
            level = offset.shift(max(window), -1)
            if prices[i] <= level:
                return i
        else:
            level = offset.shift(min(window), 1)
            if prices[i] >= level:
                return i
    return None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=40_000, max_value=60_000), min_size=2, max_size=40),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=3000),
    st.booleans(),
    st.sampled_from([OrderType.STOP_LOSS, OrderType.TAKE_PROFIT]),
    st.one_of(st.none(), st.integers(min_value=40_000, max_value=60_000)),
)
def test_a_trailing_stop_triggers_exactly_when_the_price_retraces_by_its_offset(
    raw_prices: list[int],
    side: Side,
    amount: int,
    bps: bool,
    kind: OrderType,
    raw_activation: int | None,
) -> None:
    prices = [D(p) for p in raw_prices]
    offset = Offset(D(amount), OffsetUnit.BPS) if bps else Offset(D(amount) / 10)
    activation = D(raw_activation) if raw_activation is not None else None
    ex = Exchange([btcusdt()], clock=FakeClock())
    ex.create_account("a", {"USDT": D(10**9), "BTC": D(100)})
    ex.print_trade("BTCUSDT", prices[0], D(1), Side.BUY)
    request = OrderRequest("a", "BTCUSDT", side, kind, D(1), trailing=Trailing(offset, activation))
    if activation is not None and reaches(prices[0], activation, side, kind):
        with pytest.raises(Rejection, match="would trigger immediately"):
            ex.place(request)
        return
    stop = ex.place(request)
    fired_at = None
    for i, price in enumerate(prices[1:], start=1):
        ex.print_trade("BTCUSDT", price, D(1), Side.BUY)
        if stop.is_working and fired_at is None:
            fired_at = i
    assert fired_at == expected_trigger(prices, side, offset, activation, kind)
