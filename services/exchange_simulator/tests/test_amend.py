"""Amending an open order in place: priority rules, reservations, refusals, events."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from eip.exchange_simulator.core.engine import OrderUpdate
from eip.exchange_simulator.core.exchange import Exchange, OrderRequest
from eip.exchange_simulator.core.orders import (
    AmendPriority,
    ExecType,
    OrderStatus,
    OrderType,
    Rejection,
    Side,
)

from .test_engine import alice_sells_at_50000_to_bob, limit, stop_limit_sell, totals


def queue(exchange: Exchange, side: Side, price: str) -> list[int]:
    book = exchange.engines["BTCUSDT"].book.side(side)
    return [o.order_id for o in book.levels[D(price)].orders]


def test_a_quantity_decrease_keeps_the_place_in_the_queue(exchange: Exchange) -> None:
    first = exchange.place(limit("alice", Side.BUY, "1", "40000"))
    second = exchange.place(limit("bob", Side.BUY, "1", "40000"))
    exchange.amend("alice", "BTCUSDT", first.order_id, quantity=D("0.4"))
    assert queue(exchange, Side.BUY, "40000") == [first.order_id, second.order_id]
    assert exchange.depth("BTCUSDT", 1)[1] == [(D(40000), D("1.4"))]
    assert first.order_id == exchange.orders[first.order_id].order_id
    assert (first.quantity, first.status) == (D("0.4"), OrderStatus.NEW)


def test_an_increase_or_a_new_price_goes_to_the_back(exchange: Exchange) -> None:
    first = exchange.place(limit("alice", Side.BUY, "1", "40000"))
    second = exchange.place(limit("bob", Side.BUY, "1", "40000"))
    exchange.amend("alice", "BTCUSDT", first.order_id, quantity=D("1.5"))
    assert queue(exchange, Side.BUY, "40000") == [second.order_id, first.order_id]
    exchange.amend("bob", "BTCUSDT", second.order_id, price=D("39000"))
    assert queue(exchange, Side.BUY, "39000") == [second.order_id]
    assert exchange.depth("BTCUSDT", 5)[1] == [(D(40000), D("1.5")), (D(39000), D(1))]


def test_the_lose_rule_sends_even_a_decrease_to_the_back(exchange: Exchange) -> None:
    first = exchange.place(limit("alice", Side.SELL, "1", "60000"))
    second = exchange.place(limit("bob", Side.SELL, "1", "60000"))
    exchange.amend(
        "alice", "BTCUSDT", first.order_id, quantity=D("0.5"), priority=AmendPriority.LOSE
    )
    assert queue(exchange, Side.SELL, "60000") == [second.order_id, first.order_id]


def test_reservations_follow_the_amendment_exactly(exchange: Exchange) -> None:
    alice = exchange.accounts["alice"]
    buy = exchange.place(limit("alice", Side.BUY, "1", "40000"))
    exchange.amend("alice", "BTCUSDT", buy.order_id, quantity=D("0.5"))
    assert alice.balance("USDT").locked == D(20000) == buy.reserved
    exchange.amend("alice", "BTCUSDT", buy.order_id, price=D("41000"), quantity=D("2"))
    assert alice.balance("USDT").locked == D(82000)
    sell = exchange.place(limit("alice", Side.SELL, "3", "90000"))
    exchange.amend("alice", "BTCUSDT", sell.order_id, quantity=D("1"))
    assert alice.balance("BTC").locked == D(1)
    assert alice.balance("USDT").free + alice.balance("USDT").locked == D(100000)


def test_a_partly_filled_order_amends_its_total_and_keeps_what_executed(
    exchange: Exchange,
) -> None:
    before = totals(exchange)
    ask = exchange.place(limit("alice", Side.SELL, "1", "50000"))
    exchange.place(limit("bob", Side.BUY, "0.3", "50000"))
    with pytest.raises(Rejection) as below:
        exchange.amend("alice", "BTCUSDT", ask.order_id, quantity=D("0.2"))
    assert below.value.reason == "quantity_below_executed"
    exchange.amend("alice", "BTCUSDT", ask.order_id, quantity=D("0.5"))
    assert (ask.remaining, ask.status) == (D("0.2"), OrderStatus.PARTIALLY_FILLED)
    assert exchange.accounts["alice"].balance("BTC").locked == D("0.2")
    exchange.amend("alice", "BTCUSDT", ask.order_id, quantity=D("0.3"))  # = executed: done
    assert ask.status is OrderStatus.FILLED
    assert exchange.accounts["alice"].balance("BTC").locked == 0
    assert exchange.depth("BTCUSDT", 5)[2] == []
    assert totals(exchange) == before


def test_a_refused_amendment_changes_nothing(exchange: Exchange) -> None:
    buy = exchange.place(limit("bob", Side.BUY, "1", "40000"))
    locked = exchange.accounts["bob"].balance("USDT").locked
    for changes in (
        {"quantity": D("3")},  # 120,000 USDT: more than bob has
        {"price": D("40000.001")},  # off the tick
        {"quantity": D("0.000001")},  # below the lot
    ):
        with pytest.raises(Rejection):
            exchange.amend("bob", "BTCUSDT", buy.order_id, **changes)  # type: ignore[arg-type]
        assert (buy.quantity, buy.price) == (D(1), D(40000))
        assert exchange.accounts["bob"].balance("USDT").locked == locked
        assert queue(exchange, Side.BUY, "40000") == [buy.order_id]
    with pytest.raises(Rejection, match="Unknown order"):
        exchange.amend("alice", "BTCUSDT", buy.order_id, quantity=D("0.5"))


def test_a_price_that_crosses_trades_unless_the_order_is_post_only(exchange: Exchange) -> None:
    exchange.place(limit("alice", Side.SELL, "1", "50000"))
    maker = exchange.place(
        OrderRequest("bob", "BTCUSDT", Side.BUY, OrderType.LIMIT_MAKER, D(1), D(49000))
    )
    with pytest.raises(Rejection) as refused:
        exchange.amend("bob", "BTCUSDT", maker.order_id, price=D("50000"))
    assert refused.value.reason == "would_match"
    buy = exchange.place(limit("bob", Side.BUY, "0.5", "49500"))
    exchange.amend("bob", "BTCUSDT", buy.order_id, price=D("50000"))
    assert buy.status is OrderStatus.FILLED
    assert buy.fills[0].price == D(50000)


def test_listeners_hear_replaced_with_the_new_values(exchange: Exchange) -> None:
    heard: list[tuple[str, OrderUpdate]] = []
    exchange.listeners.order.append(lambda account, update: heard.append((account, update)))
    buy = exchange.place(limit("bob", Side.BUY, "1", "40000"))
    exchange.amend("bob", "BTCUSDT", buy.order_id, quantity=D("0.7"), client_order_id="renamed")
    account, update = heard[-1]
    assert account == "bob"
    assert update.exec_type is ExecType.REPLACED
    assert (update.order.quantity, update.order.client_order_id) == (D("0.7"), "renamed")
    assert exchange.find_order("bob", "BTCUSDT", client_order_id="renamed") is buy
    other = exchange.place(limit("bob", Side.BUY, "0.1", "40000"))
    with pytest.raises(Rejection) as duplicate:
        exchange.amend("bob", "BTCUSDT", other.order_id, client_order_id="renamed")
    assert duplicate.value.reason == "duplicate"


def test_a_waiting_stop_moves_its_trigger_but_not_onto_the_market(exchange: Exchange) -> None:
    alice_sells_at_50000_to_bob(exchange)
    stop = exchange.place(stop_limit_sell("0.5", "48000", "49000"))
    exchange.amend("alice", "BTCUSDT", stop.order_id, stop_price=D("48500"), quantity=D("0.4"))
    assert (stop.stop_price, stop.quantity) == (D(48500), D("0.4"))
    assert exchange.accounts["alice"].balance("BTC").locked == D("0.4") + D("0.9")
    with pytest.raises(Rejection) as info:
        exchange.amend("alice", "BTCUSDT", stop.order_id, stop_price=D("50100"))
    assert info.value.reason == "would_trigger"
