"""Order lists (OCO): one quantity, one reservation, one leg executes and the other expires."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from eip.exchange_simulator.core.engine import ListUpdate, OrderUpdate
from eip.exchange_simulator.core.exchange import Exchange, ListRequest, OrderRequest
from eip.exchange_simulator.core.orders import (
    ExecType,
    ExpiryReason,
    ListChange,
    ListStatus,
    OrderStatus,
    OrderType,
    Rejection,
    Side,
    TimeInForce,
)

from .test_engine import limit, totals


def set_last_price(exchange: Exchange, price: str) -> None:
    exchange.place(limit("bob", Side.SELL, "0.1", price))
    exchange.place(limit("bob", Side.BUY, "0.1", price))


def sell_oco(
    account: str = "alice", qty: str = "1", above: str = "55000", stop: str = "45000"
) -> ListRequest:
    """Take profit with a LIMIT_MAKER above the market, stop-loss-limit below it."""
    return ListRequest(
        [
            OrderRequest(account, "BTCUSDT", Side.SELL, OrderType.LIMIT_MAKER, D(qty), D(above)),
            OrderRequest(
                account,
                "BTCUSDT",
                Side.SELL,
                OrderType.STOP_LOSS_LIMIT,
                D(qty),
                D(stop) - 100,
                stop_price=D(stop),
                time_in_force=TimeInForce.GTC,
            ),
        ],
        client_list_id="my-oco",
    )


def test_a_sell_oco_locks_its_quantity_once(exchange: Exchange) -> None:
    set_last_price(exchange, "50000")
    order_list = exchange.place_list(sell_oco(qty="6"))
    assert order_list.status is ListStatus.EXECUTING
    assert [o.status for o in order_list.orders] == [OrderStatus.NEW, OrderStatus.NEW]
    alice = exchange.accounts["alice"]
    assert alice.balance("BTC").locked == D(6)  # not 12: alice has only 10
    assert sum(o.reserved for o in order_list.orders) == D(6)
    assert exchange.depth("BTCUSDT", 5)[2] == [(D(55000), D(6))]


def test_a_buy_oco_locks_what_its_dearer_leg_needs(exchange: Exchange) -> None:
    set_last_price(exchange, "50000")
    order_list = exchange.place_list(
        ListRequest(
            [
                OrderRequest("alice", "BTCUSDT", Side.BUY, OrderType.LIMIT_MAKER, D(1), D(45000)),
                OrderRequest(
                    "alice",
                    "BTCUSDT",
                    Side.BUY,
                    OrderType.STOP_LOSS_LIMIT,
                    D(1),
                    D(56000),
                    stop_price=D(55000),
                    time_in_force=TimeInForce.GTC,
                ),
            ]
        )
    )
    assert exchange.accounts["alice"].balance("USDT").locked == D(56000)
    exchange.cancel_list("alice", "BTCUSDT", order_list.list_id)
    assert exchange.accounts["alice"].balance("USDT").locked == 0
    assert [o.status for o in order_list.orders] == [OrderStatus.CANCELED] * 2


def test_a_partial_fill_of_one_leg_expires_the_other(exchange: Exchange) -> None:
    before = totals(exchange)
    set_last_price(exchange, "50000")
    updates: list[OrderUpdate] = []
    lists: list[ListUpdate] = []
    exchange.listeners.order.append(lambda _, u: updates.append(u))
    exchange.listeners.order_list.append(lambda _, u: lists.append(u))
    order_list = exchange.place_list(sell_oco())
    maker, stop = order_list.orders
    exchange.place(limit("bob", Side.BUY, "0.4", "55000"))
    assert maker.status is OrderStatus.PARTIALLY_FILLED
    assert (stop.status, stop.expiry_reason) == (OrderStatus.EXPIRED, ExpiryReason.CONTINGENCY)
    assert order_list.status is ListStatus.EXECUTING  # the maker still works its remainder
    assert exchange.accounts["alice"].balance("BTC").locked == D("0.6")
    exchange.place(limit("bob", Side.BUY, "0.6", "55000"))
    assert exchange.orders[maker.order_id].status is OrderStatus.FILLED
    assert exchange.lists[order_list.list_id].status is ListStatus.ALL_DONE
    assert [u.change for u in lists] == [ListChange.CREATED, ListChange.DONE]
    assert lists[-1].order_list.status is ListStatus.ALL_DONE
    assert [(u.order.order_id, u.exec_type) for u in updates if u.order.list_id] == [
        (maker.order_id, ExecType.NEW),
        (stop.order_id, ExecType.NEW),
        (maker.order_id, ExecType.TRADE),
        (stop.order_id, ExecType.EXPIRED),
        (maker.order_id, ExecType.TRADE),
    ]
    assert exchange.accounts["alice"].balance("BTC").locked == 0
    assert totals(exchange) == before


def test_a_triggered_stop_leg_expires_the_limit_leg_before_it_works(exchange: Exchange) -> None:
    set_last_price(exchange, "50000")
    order_list = exchange.place_list(sell_oco())
    maker, stop = order_list.orders
    exchange.place(limit("bob", Side.BUY, "2", "44950"))  # the stop leg's limit is 44900
    set_last_price(exchange, "45000")  # trades at 45000: the stop triggers
    assert maker.status is OrderStatus.EXPIRED
    assert stop.is_working
    assert stop.status is OrderStatus.FILLED  # sold into bob's bid at 44950
    assert stop.fills[0].price == D(44950)
    assert order_list.status is ListStatus.ALL_DONE
    assert exchange.accounts["alice"].balance("BTC").locked == 0
    assert maker.executed_qty + stop.executed_qty == D(1)


def test_cancelling_one_leg_cancels_the_list(exchange: Exchange) -> None:
    set_last_price(exchange, "50000")
    order_list = exchange.place_list(sell_oco())
    exchange.cancel("alice", "BTCUSDT", order_list.orders[1].order_id)
    assert [o.status for o in order_list.orders] == [OrderStatus.CANCELED] * 2
    assert order_list.status is ListStatus.ALL_DONE
    assert exchange.depth("BTCUSDT", 5)[2] == []
    with pytest.raises(Rejection) as again:
        exchange.cancel_list("alice", "BTCUSDT", order_list.list_id)
    assert again.value.reason == "unknown_list"


def test_a_list_is_placed_whole_or_not_at_all(exchange: Exchange) -> None:
    set_last_price(exchange, "50000")
    exchange.place(limit("bob", Side.BUY, "0.5", "49500"))
    locked = exchange.accounts["alice"].balance("BTC").locked
    crossing = sell_oco(above="49000")  # the LIMIT_MAKER leg would take bob's bid
    with pytest.raises(Rejection) as info:
        exchange.place_list(crossing)
    assert info.value.reason == "would_match"
    triggered = sell_oco(stop="51000")  # the stop leg would trigger at once
    with pytest.raises(Rejection) as info:
        exchange.place_list(triggered)
    assert info.value.reason == "would_trigger"
    uneven = sell_oco()
    uneven.legs[1].quantity = D(2)
    with pytest.raises(Rejection) as info:
        exchange.place_list(uneven)
    assert info.value.reason == "invalid_list"
    assert exchange.accounts["alice"].balance("BTC").locked == locked
    assert exchange.open_orders("alice") == []


def test_amending_a_leg_changes_the_list_quantity_and_its_one_reservation(
    exchange: Exchange,
) -> None:
    set_last_price(exchange, "50000")
    order_list = exchange.place_list(sell_oco(qty="2"))
    lists: list[ListUpdate] = []
    exchange.listeners.order_list.append(lambda _, u: lists.append(u))
    exchange.amend("alice", "BTCUSDT", order_list.orders[1].order_id, quantity=D("1.5"))
    assert [o.quantity for o in order_list.orders] == [D("1.5"), D("1.5")]
    assert order_list.quantity == D("1.5")
    assert exchange.accounts["alice"].balance("BTC").locked == D("1.5")
    assert [u.change for u in lists] == [ListChange.UPDATED]


def test_lookups_find_lists_by_id_and_client_id(exchange: Exchange) -> None:
    set_last_price(exchange, "50000")
    order_list = exchange.place_list(sell_oco())
    assert exchange.find_list("alice", list_id=order_list.list_id) is order_list
    assert exchange.find_list("alice", client_list_id="my-oco") is order_list
    assert exchange.find_list("bob", list_id=order_list.list_id) is None
    assert exchange.account_lists("alice", open_only=True) == [order_list]
    exchange.cancel_list("alice", "BTCUSDT", order_list.list_id)
    assert exchange.account_lists("alice", open_only=True) == []
    assert exchange.account_lists("alice") == [order_list]
